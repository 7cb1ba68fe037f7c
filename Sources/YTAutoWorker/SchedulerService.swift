import Foundation
import Logging
import ServiceLifecycle
import YTAutoCore

/// The scheduler process's service: turns each channel's cron schedule into jobs.
///
/// Every pass decides, per channel, the slots between where the last pass (of any scheduler)
/// stopped and now (``SchedulerStore/schedule(_:now:)``), then sleeps until the next slot of any
/// channel, at most `maxSleep`. Several schedulers may run at once: a slot still becomes one job.
public final class SchedulerService: Service, Sendable {
    let store: any SchedulerStore
    let channels: [ChannelConfig]
    let logger: Logger
    let maxSleep: Duration

    public init(store: any SchedulerStore, channels: [ChannelConfig], logger: Logger, maxSleep: Duration = .seconds(30)) {
        self.store = store
        self.channels = channels
        self.logger = logger
        self.maxSleep = maxSleep
    }

    public func run() async throws {
        logger.info("scheduler started", metadata: ["channels": "\(channels.map(\.name).joined(separator: ","))"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.freeDeadWorkers()
                do {
                    _ = try await self.pass(now: Date())
                } catch {
                    self.logger.error("scheduling pass failed: \(error)")
                }
                let wait = self.sleepDuration(from: Date())
                do { try await Task.sleep(for: wait) } catch { break }
            }
        }
        logger.info("scheduler stopped")
    }

    /// Frees the jobs of workers found dead, as a worker's sweep would: with every worker dead,
    /// the scheduler may be the only ytauto process left running.
    public func freeDeadWorkers() async {
        do {
            let report = try await store.reclaimIfNeeded()
            if !report.isEmpty {
                logger.warning("freed the jobs of dead workers", metadata: [
                    "dead_workers": "\(report.deadWorkers)", "requeued": "\(report.requeued)", "failed": "\(report.failed)",
                ])
            }
        } catch {
            logger.error("looking for dead workers failed: \(error)")
        }
    }

    /// One pass over every channel, as of `now`.
    public func pass(now: Date) async throws -> [SlotDecision] {
        var all: [SlotDecision] = []
        for channel in channels {
            var log = logger
            log[metadataKey: "channel"] = "\(channel.name)"
            let decisions = try await store.schedule(channel, now: now)
            for d in decisions {
                var meta: Logger.Metadata = ["slot_at": "\(Timestamp.string(d.slotAt))", "cron": "\(d.expression)"]
                if let id = d.jobID { meta["job_id"] = "\(id)" }
                if let t = d.topic { meta["topic"] = "\(t)" }
                switch d.kind {
                case .enqueued: log.info("slot enqueued", metadata: meta)
                case .missed: log.notice("slot missed: \(d.detail ?? "")", metadata: meta)
                case .noTopic: log.warning("slot has no topic: \(d.detail ?? "")", metadata: meta)
                case .paused: log.notice("slot paused: \(d.detail ?? "")", metadata: meta)
                }
            }
            all += decisions
        }
        return all
    }

    /// Until the next slot of any channel (plus a second, so it is due), at most `maxSleep`.
    func sleepDuration(from now: Date) -> Duration {
        var next = now.addingTimeInterval(maxSleep.seconds)
        for c in channels {
            guard let zone = TimeZone(identifier: c.timeZone) else { continue }
            for e in c.schedule {
                if let expr = try? CronExpression(e), let t = expr.next(after: now, in: zone), t < next { next = t }
            }
        }
        return .milliseconds(max(50, Int64((next.timeIntervalSince(now) + 0.5) * 1000)))
    }
}
