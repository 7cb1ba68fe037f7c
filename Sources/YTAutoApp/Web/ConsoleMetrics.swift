import Foundation
import Prometheus
import YTAutoCore

extension WebConsole {
    /// `/metrics`: read from the database at each scrape (a registry of its own each time), so one
    /// scrape covers every worker on every host and two consoles agree.
    func metrics() async throws -> String {
        let registry = PrometheusCollectorRegistry()
        let s = try await snapshot()
        for (channel, states) in s.stats.counts {
            for state in JobState.allCases {
                registry.makeGauge(name: "ytauto_jobs", labels: [("channel", channel), ("state", state.rawValue)],
                                   help: "Jobs in the store, by channel and state.").set(Double(states[state] ?? 0))
            }
        }
        registry.makeGauge(name: "ytauto_oldest_due_job_age_seconds", help: "How long the oldest due queued job of a channel not paused has waited (0: none waits).")
            .set(s.oldestAge ?? 0)
        let alive = s.live.filter(\.alive).count
        registry.makeGauge(name: "ytauto_workers", labels: [("state", "alive")], help: "Workers registered as running, by whether they are alive.")
            .set(Double(alive))
        registry.makeGauge(name: "ytauto_workers", labels: [("state", "dead")], help: "Workers registered as running, by whether they are alive.")
            .set(Double(s.live.count - alive))
        // Attempts of the last 24 hours by outcome.
        let history = try await store.history(channel: nil, limit: 10_000)
        let since = s.now.addingTimeInterval(-86_400)
        var outcomes: [String: Int] = [:]
        for a in history where a.startedAt >= since { outcomes[a.outcome?.rawValue ?? "running", default: 0] += 1 }
        for outcome in AttemptOutcome.allCases.map(\.rawValue) + ["running"] {
            registry.makeGauge(name: "ytauto_attempts_last_24h", labels: [("outcome", outcome)],
                               help: "Attempts started in the last 24 hours (up to 10,000), by outcome.").set(Double(outcomes[outcome] ?? 0))
        }
        // How long stages took: every run that started in the last 24 hours (up to 100,000), by
        // stage; every stage of the pipeline is listed, with zeros before its first run.
        var byStage: [String: [Double]] = Dictionary(uniqueKeysWithValues: Stage.allCases.map { ($0.rawValue, []) })
        for run in try await store.stageDurations(since: since, limit: 100_000) { byStage[run.stage, default: []].append(Double(run.durationMS) / 1000) }
        for (stage, durations) in byStage.sorted(by: { $0.key < $1.key }) {
            Self.windowBuckets(registry, "ytauto_stage_duration_seconds_last_24h", labels: [("stage", stage)], bounds: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
                               values: durations, help: "Stage runs of the last 24 hours (up to 100,000) that took at most le seconds (a gauge: it falls as runs leave the window).")
        }
        // How long jobs waited for a worker once due: every attempt of the last 24 hours (up to 100,000).
        // Negative waits (a job leased early by run-once) count as zero.
        Self.windowBuckets(registry, "ytauto_lease_wait_seconds_last_24h", labels: [], bounds: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
                           values: try await store.leaseWaits(since: since, limit: 100_000).map { max(0, $0.seconds) },
                           help: "Attempts of the last 24 hours (up to 100,000) that waited at most le seconds for a worker after their job was due (a gauge: it falls as attempts leave the window).")
        // Today is each provider's own ledger day: YouTube's Pacific, the others' UTC.
        for e in try await store.ledger(since: QuotaDay.first(ofLast: 1, now: s.now)) where e.day == QuotaDay.day(of: e.provider, s.now) {
            registry.makeGauge(name: "ytauto_quota_used", labels: [("provider", e.provider), ("channel", e.channel), ("unit", e.unit)],
                               help: "Provider quota used today (the ledger's day: Pacific for YouTube, UTC for the others).").set(Double(e.amount))
        }
        for (name, limit) in quotaLimits {
            let parts = name.split(separator: " ").map(String.init)
            registry.makeGauge(name: "ytauto_quota_limit", labels: [("provider", parts.first ?? name), ("unit", parts.last ?? "")],
                               help: "A provider's daily quota for all channels.").set(Double(limit))
        }
        if case .success(let d) = s.disk {
            registry.makeGauge(name: "ytauto_disk_bytes", labels: [("folder", "work")], help: "Bytes used by the jobs' folders.").set(Double(d.use.work))
            registry.makeGauge(name: "ytauto_disk_bytes", labels: [("folder", "output")], help: "Bytes used by the jobs' folders.").set(Double(d.use.output))
            // Apart: its bytes are part of the work folder's, and a sum over `folder` must not count them twice.
            registry.makeGauge(name: "ytauto_stock_cache_bytes", help: "Bytes used by the stock footage cache, part of the work folder's.")
                .set(Double(d.use.stock))
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// A distribution over the last 24 hours as gauges with `le` buckets, each the number of
    /// `values` at most its bound (`+Inf`: all of them). Not a Prometheus histogram: a
    /// histogram's buckets and count are counters, which never fall, and these fall as values
    /// leave the window or are pruned, which Prometheus took for resets (rate() and increase()
    /// then lied). histogram_quantile() reads the gauges as they are, without rate().
    static func windowBuckets(_ registry: PrometheusCollectorRegistry, _ name: String, labels: [(String, String)], bounds: [Double],
                              values: [Double], help: String) {
        for bound in bounds {
            let le = bound == bound.rounded() ? String(format: "%.1f", bound) : String(bound)
            registry.makeGauge(name: name, labels: labels + [("le", le)], help: help).set(Double(values.count { $0 <= bound }))
        }
        registry.makeGauge(name: name, labels: labels + [("le", "+Inf")], help: help).set(Double(values.count))
    }
}
