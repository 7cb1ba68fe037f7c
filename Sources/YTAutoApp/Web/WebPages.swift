import Foundation
import Hummingbird
import YTAutoCore
import YTAutoMedia

/// The console's pages. Every value from the store, the configuration or a job's files passes
/// through ``HTML/escape(_:)``.
extension WebConsole {
    typealias E = HTML

    // MARK: - Overview

    func overviewPage(csrf: String) async throws -> String {
        let s = try await snapshot()
        let now = s.now
        let week = try await cache.finishedByHour(store, since: now.addingTimeInterval(-7 * 86_400), now: now)
        let dayStart = ConsoleCache.hour(now).addingTimeInterval(-23 * 3600)
        let day = week.filter { $0.hour >= dayStart }
        let codes = try await cache.weekFailures(store, now: now)
        let ledger = try await store.ledger(since: Self.utcDay(now.addingTimeInterval(-86_400)))
        var out = "<h1>Overview</h1><div class=\"cards\">"
        let totals = JobState.allCases.map { "\(E.state($0.rawValue)) \(s.stats.byState[$0, default: 0])" }.joined(separator: " ")
        out += "<div class=\"card\"><h2>Jobs</h2><p>\(totals)</p></div>"
        let oldest = s.oldestAge.map { "\(Output.duration($0)) ago" } ?? "none"
        out += "<div class=\"card\"><h2>Oldest due job</h2><p id=\"oldest-due\">\(E.escape(oldest))</p></div>"
        let alive = s.live.filter(\.alive).count
        out += "<div class=\"card\"><h2>Workers</h2><p><a href=\"/workers\">\(alive) alive</a>, \(s.live.count - alive) dead (not yet reclaimed)</p></div>"
        switch s.disk {
        case .success(let d):
            out += "<div class=\"card\"><h2>Disk</h2><p>work \(E.escape(Self.bytes(d.use.work))) (stock footage \(E.escape(Self.bytes(d.use.stock))))"
                + " · output \(E.escape(Self.bytes(d.use.output)))</p>"
                + "<p class=\"muted\">\(E.escape(d.folders.work.path)) · \(E.escape(d.folders.output.path))</p></div>"
        case .failure(let error):
            out += "<div class=\"card\"><h2>Disk</h2><p class=\"error\">unknown: \(E.escape("\(error)"))</p></div>"
        }
        out += "</div>"

        out += "<h2>Jobs by channel</h2><div class=\"wide\"><table><thead><tr><th>channel</th>"
            + JobState.allCases.map { "<th class=\"num\">\($0.rawValue)</th>" }.joined() + "</tr></thead><tbody>"
        for channel in s.stats.counts.keys.sorted() {
            let paused = s.paused.contains { $0.channel == channel } ? " " + E.state("paused") : ""
            out += "<tr><td>\(E.escape(channel))\(paused)</td>" + JobState.allCases.map { state in
                let n = s.stats.counts[channel]?[state] ?? 0
                return "<td class=\"num\"><a href=\"/jobs\(Self.link(JobQuery(state: state, channel: channel)))\">\(n)</a></td>"
            }.joined() + "</tr>"
        }
        out += "</tbody></table></div>"

        out += "<h2>Finished per hour, last 24 hours</h2>" + Chart.hourly(day, hours: 24, now: now)
        out += "<h2>Finished per hour, last 7 days</h2>" + Chart.hourly(week, hours: 168, now: now)

        out += "<h2>Failures by error code, last 7 days</h2>"
        if codes.isEmpty {
            out += "<p class=\"muted\">none</p>"
        } else {
            out += "<table><thead><tr><th>code</th><th class=\"num\">failed jobs</th></tr></thead><tbody>"
            for c in codes {
                let q = JobQuery(state: .failed, errorCode: c.code == "(none)" ? nil : c.code)
                out += "<tr><td><a href=\"/jobs\(Self.link(q))\">\(E.escape(c.code))</a></td><td class=\"num\">\(c.count)</td></tr>"
            }
            out += "</tbody></table>"
        }

        out += "<h2>Quota ledger, since yesterday (UTC)</h2>"
        if ledger.isEmpty {
            out += "<p class=\"muted\">nothing used</p>"
        } else {
            out += "<table><thead><tr><th>day</th><th>provider</th><th>channel</th><th>unit</th><th class=\"num\">used</th><th class=\"num\">daily limit</th></tr></thead><tbody>"
            for e in ledger {
                let limit = quotaLimits["\(e.provider) \(e.unit)"].map { String($0) + " (for all channels)" } ?? "—"
                out += "<tr><td>\(E.escape(e.day))</td><td>\(E.escape(e.provider))</td><td>\(E.escape(e.channel))</td><td>\(E.escape(e.unit))</td>"
                    + "<td class=\"num\">\(e.amount)</td><td class=\"num\">\(E.escape(limit))</td></tr>"
            }
            out += "</tbody></table>"
        }
        // Live: which jobs run and in which stage, kept current by /events (no reload).
        out += "<h2>Live</h2><div id=\"live\" aria-live=\"polite\"><p class=\"muted\">connecting…</p></div>"
        if !s.running.isEmpty {
            out += "<h2>Running</h2>" + jobTable(s.running, starts: s.starts, now: now)
        }
        return E.page(title: "Overview", active: "Overview", csrf: csrf, body: out)
    }

    static func utcDay(_ date: Date) -> String { String(Timestamp.string(date).prefix(10)) }

    static func bytes(_ n: Int64) -> String { Output.bytes(n) }

    func jobTable(_ jobs: [Job], starts: [Int64: Date] = [:], now: Date = Date()) -> String {
        var out = "<div class=\"wide\"><table><thead><tr><th class=\"num\">job</th><th>channel</th><th>topic</th><th>state</th>"
            + "<th>stage</th><th class=\"num\">attempt</th><th class=\"hide-narrow\">error</th><th class=\"hide-narrow\">updated</th></tr></thead><tbody>"
        for j in jobs {
            let error = j.lastErrorCode.map { "<span class=\"error\">\(E.escape($0))</span>" } ?? ""
            out += "<tr><td class=\"num\"><a href=\"/jobs/\(j.id)\">\(j.id)</a></td><td>\(E.escape(j.channel))</td>"
                + "<td>\(E.escape(j.topic ?? "—"))</td><td>\(E.state(j.state.rawValue))\(j.cancelRequested ? " <span class=\"muted\">cancel asked</span>" : "")</td>"
                + "<td>\(E.escape(j.currentStage ?? "—"))</td><td class=\"num\">\(j.attempt)/\(j.maxAttempts)</td>"
                + "<td class=\"hide-narrow\">\(error)</td><td class=\"hide-narrow\">\(E.time(j.updatedAt))</td></tr>"
        }
        return out + "</tbody></table></div>"
    }

    // MARK: - Jobs

    func jobsPage(_ query: JobQuery, csrf: String, notice: String? = nil) async throws -> String {
        // One more than a page, to know whether an older page has any job ("Older →" led to "no
        // jobs match" when exactly a page's worth was left).
        let fetched = try await store.jobs(matching: query, limit: Self.pageSize + 1)
        let jobs = Array(fetched.prefix(Self.pageSize))
        // A mistyped channel (from a link or the address bar) showed "no jobs match" under a
        // channel list that said "any": refused as the API and the bulk actions refuse it.
        if jobs.isEmpty { try await checkChannelKnown(query.channel, status: .badRequest) }
        var out = "<h1>Jobs</h1>"
        if let notice { out += "<p class=\"notice\">\(E.escape(notice))</p>" }
        let states = "<option value=\"\">any</option>" + JobState.allCases.map {
            "<option\(query.state == $0 ? " selected" : "")>\($0.rawValue)</option>"
        }.joined()
        // A channel the database knows and the configuration no longer does is listed when chosen.
        let names = Set(channels.map(\.name)).union(query.channel.map { [$0] } ?? [])
        let channelOptions = "<option value=\"\">any</option>" + names.sorted().map {
            "<option\(query.channel == $0 ? " selected" : "")>\(E.escape($0))</option>"
        }.joined()
        out += """
            <form class="filters" method="get" action="/jobs">
            <label>state<select name="state">\(states)</select></label>
            <label>channel<select name="channel">\(channelOptions)</select></label>
            <label>error code<input name="code" value="\(E.escape(query.errorCode ?? ""))" size="18"></label>
            <label>topic contains<input name="q" value="\(E.escape(query.topicContains ?? ""))" size="18"></label>
            <button type="submit">Filter</button></form>
            """
        if query.state != nil || query.channel != nil || query.errorCode != nil || query.topicContains != nil {
            var all = query
            all.beforeID = nil
            out += "<p>"
            for action in ["retry", "cancel"] {
                out += "<form class=\"inline\" method=\"post\" action=\"/jobs/bulk\">\(Self.hidden(all, csrf: csrf))"
                    + "<input type=\"hidden\" name=\"action\" value=\"\(action)\">"
                    + "<button type=\"submit\"\(action == "cancel" ? " class=\"danger\"" : "")>\(action == "retry" ? "Retry" : "Cancel") every matching job…</button></form> "
            }
            out += "<span class=\"muted\">(asks first, saying how many)</span></p>"
        }
        out += jobs.isEmpty ? "<p class=\"muted\">no jobs match</p>" : jobTable(jobs)
        if fetched.count > Self.pageSize, let last = jobs.last {
            var next = query
            next.beforeID = last.id
            out += "<p><a id=\"older\" href=\"/jobs\(Self.link(next))\">Older →</a></p>"
        }
        return E.page(title: "Jobs", active: "Jobs", csrf: csrf, body: out)
    }

    static func hidden(_ q: JobQuery, csrf: String) -> String {
        [("csrf", csrf), ("state", q.state?.rawValue), ("channel", q.channel), ("code", q.errorCode), ("q", q.topicContains)]
            .compactMap { k, v in v.map { "<input type=\"hidden\" name=\"\(k)\" value=\"\(E.escape($0))\">" } }
            .joined()
    }

    func confirmPage(action: String, filter: JobQuery, described: String, count: Int, csrf: String, confirmedBefore: Int? = nil) -> String {
        let verb = action == "retry" ? "Retry" : "Cancel"
        let which = action == "retry" ? "failed or cancelled" : "queued or running"
        var out = "<h1>\(verb) \(count) jobs?</h1>"
        if let before = confirmedBefore {
            out += "<p class=\"notice\">Nothing was done: you confirmed \(before) jobs, and \(count) match now. Confirm again.</p>"
        }
        out += "<p>\(count) \(which) jobs match \(E.escape(described)). Jobs in other states are left alone.</p>"
        if count > 0 {
            out += "<form method=\"post\" action=\"/jobs/bulk\">\(Self.hidden(filter, csrf: csrf))"
                + "<input type=\"hidden\" name=\"action\" value=\"\(action)\"><input type=\"hidden\" name=\"confirm\" value=\"\(count)\">"
                + "<button type=\"submit\" id=\"confirm\"\(action == "cancel" ? " class=\"danger\"" : "")>\(verb) \(count) jobs</button></form>"
        }
        out += "<p><a href=\"/jobs\(Self.link(filter))\">Back to the jobs</a></p>"
        return E.page(title: "\(verb) jobs", active: "Jobs", csrf: csrf, body: out)
    }

    // MARK: - A job

    func jobPage(_ id: Int64, csrf: String, notice: String?) async throws -> String {
        guard let job = try await store.job(id: id) else { throw HTTPError(.notFound, message: "no job \(id)") }
        let stages = try await store.stages(jobID: id)
        let runs = try await store.stageRuns(jobID: id)
        let attempts = try await store.attempts(jobID: id)
        let workers = Dictionary(try await store.workers().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var out = "<h1>Job \(job.id): \(E.escape(job.topic ?? "(no topic)"))</h1>"
        if let notice { out += "<p class=\"notice\">\(E.escape(notice))</p>" }
        out += "<p>\(E.state(job.state.rawValue)) · channel <a href=\"/jobs\(Self.link(JobQuery(channel: job.channel)))\">\(E.escape(job.channel))</a>"
            + " · \(E.escape(job.kind.rawValue)) · attempt \(job.attempt) of \(job.maxAttempts) · priority \(job.priority)"
            + " · created \(E.time(job.createdAt)) · due \(E.time(job.runAt))"
            + (job.finishedAt.map { " · finished \(E.time($0))" } ?? "") + "</p>"
        if let code = job.lastErrorCode {
            out += "<p class=\"error\">\(E.escape(code)): \(E.escape(job.lastErrorMessage ?? ""))</p>"
        }
        // A queued job of a paused channel waits however long it has been due: say why, and where to resume.
        if job.state == .queued, let pause = try await store.pausedChannels().first(where: { $0.channel == job.channel }) {
            out += "<p class=\"notice\" id=\"paused\">its channel was paused \(E.time(pause.pausedAt)) by \(E.escape(pause.pausedBy)):"
                + " this job waits until the channel is resumed"
                + " (<a href=\"/channels#channel-\(E.escape(Self.fragment(job.channel)))\">channels</a>)</p>"
        }
        out += "<p>"
        if job.state == .failed || job.state == .cancelled {
            out += "<form class=\"inline\" method=\"post\" action=\"/jobs/\(id)/retry\"><input type=\"hidden\" name=\"csrf\" value=\"\(E.escape(csrf))\">"
                + "<button type=\"submit\" id=\"retry\">Retry</button></form> "
        }
        let published = stages.first { $0.stage == Stage.publish.rawValue }?.notes["video_id"]
        if job.state != .running && published == nil {
            // Redo from a stage: that stage and the later ones run again, the earlier ones are kept.
            out += "<form class=\"inline\" method=\"post\" action=\"/jobs/\(id)/redo\"><input type=\"hidden\" name=\"csrf\" value=\"\(E.escape(csrf))\">"
                + "<select name=\"stage\" id=\"redo-stage\" aria-label=\"stage to redo from\">"
                + Stage.names.map { "<option value=\"\($0)\">\($0)</option>" }.joined()
                + "</select> <button type=\"submit\" id=\"redo\">Redo from this stage</button></form> "
        }
        if job.state == .review { out += reviewForms(job, csrf: csrf) }
        if job.state == .queued || job.state == .running || job.state == .review {
            out += "<form class=\"inline\" method=\"post\" action=\"/jobs/\(id)/cancel\" data-confirm=\"Cancel job \(id)?\">"
                + "<input type=\"hidden\" name=\"csrf\" value=\"\(E.escape(csrf))\"><button type=\"submit\" class=\"danger\" id=\"cancel\">Cancel</button></form>"
        }
        out += " <a href=\"/api/jobs/\(id)\">JSON</a></p>"
        if let review = try await store.review(jobID: id) { out += Self.reviewLine(review) }
        if job.state == .running {
            // Kept current by /events: the stage it is in, and when it ends.
            out += "<p id=\"live-job\" data-job=\"\(job.id)\" aria-live=\"polite\">running: \(E.escape(job.currentStage ?? "starting"))</p>"
        }

        out += mediaSection(job, stages)

        out += "<h2>Stages, every run</h2>"
        if runs.isEmpty {
            out += "<p class=\"muted\">none has run</p>"
        } else {
            let start = runs.map(\.startedAt).min() ?? job.createdAt
            let end = max(runs.compactMap(\.finishedAt).max() ?? Date(), start.addingTimeInterval(1))
            out += "<div class=\"wide\"><table><thead><tr><th>attempt</th><th>stage</th><th>state</th><th class=\"num\">duration</th>"
                + "<th style=\"min-width:140px\">timeline</th><th>error</th></tr></thead><tbody>"
            for r in runs {
                let span = end.timeIntervalSince(start)
                let left = r.startedAt.timeIntervalSince(start) / span * 100
                let width = max(0.5, ((r.finishedAt ?? Date()).timeIntervalSince(r.startedAt)) / span * 100)
                let bar = "<svg viewBox=\"0 0 100 6\" preserveAspectRatio=\"none\" width=\"100%\" height=\"8\" role=\"img\" aria-label=\"when it ran\">"
                    + "<rect x=\"\(String(format: "%.2f", left))\" y=\"0\" width=\"\(String(format: "%.2f", width))\" height=\"6\" fill=\"\(Chart.colour(r.state.rawValue))\"/></svg>"
                out += "<tr><td>\(r.attempt)</td><td>\(E.escape(r.stage))</td><td>\(E.state(r.state.rawValue))</td>"
                    + "<td class=\"num\">\(E.duration(ms: r.durationMS))</td><td>\(bar)</td>"
                    + "<td class=\"error\">\(E.escape([r.errorCode, r.errorMessage].compactMap { $0 }.joined(separator: ": ")))</td></tr>"
            }
            out += "</tbody></table></div>"
        }

        out += "<h2>Attempts</h2>"
        if attempts.isEmpty {
            out += "<p class=\"muted\">none yet</p>"
        } else {
            out += "<div class=\"wide\"><table><thead><tr><th>attempt</th><th>worker</th><th>host</th><th>outcome</th><th>started</th>"
                + "<th>finished</th><th>reason</th></tr></thead><tbody>"
            for a in attempts {
                let host = workers[a.workerID]?.hostname ?? "—"
                out += "<tr><td>\(a.attempt)</td><td>\(E.escape(a.workerID))</td><td>\(E.escape(host))</td>"
                    + "<td>\(E.state(a.outcome?.rawValue ?? "running"))</td><td>\(E.time(a.startedAt))</td><td>\(E.time(a.finishedAt))</td>"
                    + "<td class=\"error\">\(E.escape([a.errorCode, a.errorMessage].compactMap { $0 }.joined(separator: ": ")))</td></tr>"
            }
            out += "</tbody></table></div>"
        }

        out += "<h2>Artifacts</h2>"
        let files = stages.flatMap { s in s.artifacts.enumerated().map { (s.stage, $0.offset, $0.element) } }
        if files.isEmpty {
            out += "<p class=\"muted\">none recorded</p>"
        } else {
            out += "<div class=\"wide\"><table><thead><tr><th>stage</th><th>file</th><th class=\"num\">size</th><th class=\"hide-narrow\">SHA-256</th></tr></thead><tbody>"
            for (stage, index, a) in files {
                let name = URL(fileURLWithPath: a.path).lastPathComponent
                out += "<tr><td>\(E.escape(stage))</td><td><a href=\"/jobs/\(id)/artifacts/\(E.escape(stage))/\(index)\">\(E.escape(name))</a></td>"
                    + "<td class=\"num\">\(E.escape(Self.bytes(a.bytes)))</td><td class=\"hide-narrow muted\">\(E.escape(String(a.sha256.prefix(16))))…</td></tr>"
            }
            out += "</tbody></table></div>"
        }
        return E.page(title: "Job \(id)", active: "Jobs", csrf: csrf, body: out)
    }

    /// The video in a player, the thumbnail, and what was (or would be) published: title,
    /// description, tags, and the YouTube link when it was uploaded.
    func mediaSection(_ job: Job, _ stages: [StageRecord]) -> String {
        // The newest recorded file of a name (publish's copy over compose's).
        func find(_ name: String) -> (stage: String, index: Int, path: String)? {
            for stage in stages.reversed() {
                if let i = stage.artifacts.lastIndex(where: { URL(fileURLWithPath: $0.path).lastPathComponent == name }) {
                    return (stage.stage, i, stage.artifacts[i].path)
                }
            }
            return nil
        }
        var out = ""
        if let v = find("video.mp4") {
            if FileManager.default.fileExists(atPath: v.path) {
                out += "<h2>Video</h2><video id=\"video\" controls preload=\"metadata\" src=\"/jobs/\(job.id)/artifacts/\(E.escape(v.stage))/\(v.index)\""
                    + (find("thumbnail.jpg").map { " poster=\"/jobs/\(job.id)/artifacts/\(E.escape($0.stage))/\($0.index)\"" } ?? "") + "></video>"
            } else {
                out += "<h2>Video</h2><p class=\"muted\">recorded, but not here: \(E.escape(whyMissing(v.path, jobSucceeded: job.state == .succeeded)))</p>"
            }
        }
        if let t = find("thumbnail.jpg"), FileManager.default.fileExists(atPath: t.path) {
            out += "<h2>Thumbnail</h2><img class=\"thumb\" alt=\"thumbnail\" src=\"/jobs/\(job.id)/artifacts/\(E.escape(t.stage))/\(t.index)\">"
        }
        struct Metadata: Decodable { var title: String?; var description: String?; var tags: [String]? }
        func show(_ heading: String, _ title: String, _ description: String, _ tags: [String]) -> String {
            "<h2>\(heading)</h2><p id=\"meta-title\"><strong>\(E.escape(title))</strong></p>"
                + "<p style=\"white-space:pre-wrap\">\(E.escape(description))</p>"
                + "<p class=\"muted\">tags: \(E.escape(tags.joined(separator: ", ")))</p>"
        }
        if let m = find("metadata.json"), let data = FileManager.default.contents(atPath: m.path),
           let meta = try? JSONDecoder().decode(Metadata.self, from: data) {
            out += show("Metadata", meta.title ?? "", meta.description ?? "", meta.tags ?? [])
        } else if job.state == .review, let script = find("script.json"), let channel = channels.first(where: { $0.name == job.channel }) {
            // Not published yet: what the publish stage will send, from the same script and the same rule.
            do {
                let meta = try MediaPipeline.metadata(scriptFile: URL(fileURLWithPath: script.path), channel: channel)
                out += show("Metadata (to be published)", meta.title, meta.description, meta.tags)
            } catch {
                out += "<h2>Metadata (to be published)</h2><p class=\"error\">\(E.escape("\(error)"))</p>"
            }
        }
        struct Published: Decodable { var video_id: String? }
        if let p = find("publish.json"), let data = FileManager.default.contents(atPath: p.path),
           let published = try? JSONDecoder().decode(Published.self, from: data), let id = published.video_id, !id.hasPrefix("local:") {
            var c = URLComponents(string: "https://www.youtube.com/watch")!
            c.queryItems = [URLQueryItem(name: "v", value: id)]
            out += "<h2>Published</h2><p>YouTube video <a href=\"\(E.escape(c.string ?? ""))\" rel=\"noopener\">\(E.escape(id))</a></p>"
        }
        return out
    }

    // MARK: - Review

    /// The jobs waiting for review, longest waiting first, each with its video, thumbnail and
    /// metadata, and the approve and reject buttons.
    func reviewPage(csrf: String, notice: String?) async throws -> String {
        let found = try await store.waitingForReview(limit: Self.pageSize + 1)
        let jobs = found.prefix(Self.pageSize)
        var out = "<h1>Review</h1>"
        if let notice { out += "<p class=\"notice\">\(E.escape(notice))</p>" }
        out += "<p class=\"muted\">Jobs of channels with <code>review: true</code> stop here before publishing; no worker is held "
            + "while they wait. Approve one and a worker publishes it; reject it and it ends cancelled with your reason.</p>"
        if jobs.isEmpty { out += "<p id=\"no-review\">No job is waiting for review.</p>" }
        // One page, the longest waiting first; more are never hidden without a word.
        if found.count > jobs.count {
            let waiting = try await store.stats().byState[.review, default: found.count]
            out += "<p class=\"notice\" id=\"more-review\">\(waiting) jobs wait for review; these are the \(jobs.count) "
                + "waiting longest. Deciding them brings the next.</p>"
        }
        for job in jobs {
            let review = try await store.review(jobID: job.id)
            out += "<section class=\"review\" id=\"review-\(job.id)\"><h2><a href=\"/jobs/\(job.id)\">Job \(job.id)</a>: "
                + "\(E.escape(job.topic ?? "(no topic)"))</h2><p>channel \(E.escape(job.channel))"
                + (review.map { " · waiting since \(E.time($0.requestedAt))" } ?? "") + "</p>"
                + mediaSection(job, try await store.stages(jobID: job.id)) + "<p>" + reviewForms(job, csrf: csrf) + "</p></section>"
        }
        return E.page(title: "Review", active: "Review", csrf: csrf, body: out)
    }

    /// Approve (asks first: it publishes) and reject (with a reason) for a job waiting for review.
    func reviewForms(_ job: Job, csrf: String) -> String {
        let token = "<input type=\"hidden\" name=\"csrf\" value=\"\(E.escape(csrf))\">"
        return "<form class=\"inline\" method=\"post\" action=\"/jobs/\(job.id)/approve\" data-confirm=\"Approve job \(job.id) and publish it?\">"
            + token + "<button type=\"submit\" id=\"approve-\(job.id)\">Approve and publish</button></form> "
            + "<form class=\"inline\" method=\"post\" action=\"/jobs/\(job.id)/reject\">" + token
            + "<input type=\"text\" name=\"reason\" id=\"reason-\(job.id)\" required maxlength=\"1000\" placeholder=\"why it is rejected\" aria-label=\"reason for rejecting job \(job.id)\"> "
            + "<button type=\"submit\" class=\"danger\" id=\"reject-\(job.id)\">Reject</button></form> "
    }

    /// A job's review as one line: waiting, or who decided what and when.
    static func reviewLine(_ r: ReviewRecord) -> String {
        switch r.decision {
        case nil: "<p>waiting for review since \(E.time(r.requestedAt))</p>"
        case .approved?: "<p>approved by \(E.escape(r.decidedBy ?? "?")) at \(E.time(r.decidedAt))</p>"
        case .rejected?: "<p>rejected by \(E.escape(r.decidedBy ?? "?")) at \(E.time(r.decidedAt)): \(E.escape(r.reason ?? ""))</p>"
        }
    }

    // MARK: - Channels, workers, audit

    func channelsPage(csrf: String, notice: String? = nil) async throws -> String {
        var out = "<h1>Channels</h1>"
        if let notice, ["paused", "resumed"].contains(notice) { out += "<p class=\"notice\">channel \(E.escape(notice))</p>" }
        if channels.isEmpty { out += "<p class=\"muted\">the configuration names no channel</p>" }
        let now = Date()
        let pauses = Dictionary(try await store.pausedChannels().map { ($0.channel, $0) }, uniquingKeysWith: { a, _ in a })
        for channel in channels {
            let name = E.escape(channel.name), path = E.escape(Self.fragment(channel.name))
            out += "<h2 id=\"channel-\(path)\">\(name)" + (pauses[channel.name] != nil ? " \(E.state("paused"))" : "") + "</h2>"
            out += "<p>\(E.escape(channel.type.rawValue)) · \(E.escape(channel.format.rawValue)) · zone \(E.escape(channel.timeZone))"
                + " · missed slots: \(E.escape(channel.missedSlots.rawValue)) · <a href=\"/jobs\(Self.link(JobQuery(channel: channel.name)))\">jobs</a></p>"
            let token = "<input type=\"hidden\" name=\"csrf\" value=\"\(E.escape(csrf))\">"
            out += "<p>"
            if let pause = pauses[channel.name] {
                out += "<span class=\"muted\">paused \(E.time(pause.pausedAt)) by \(E.escape(pause.pausedBy)): its slots make no job and its queued jobs wait</span> "
                    + "<form class=\"inline\" method=\"post\" action=\"/channels/\(path)/resume\">\(token)"
                    + "<button type=\"submit\" id=\"resume-\(path)\">Resume</button></form> "
            } else {
                out += "<form class=\"inline\" method=\"post\" action=\"/channels/\(path)/pause\" data-confirm=\"Pause \(name)? Its slots will make no job until it is resumed.\">\(token)"
                    + "<button type=\"submit\" class=\"danger\" id=\"pause-\(path)\">Pause</button></form> "
            }
            if !channel.topics.isEmpty {
                out += "<form class=\"inline\" method=\"post\" action=\"/channels/\(path)/run-now\" data-confirm=\"Make a job of \(name) now, with its next topic?\">\(token)"
                    + "<button type=\"submit\" id=\"run-now-\(path)\">Run now</button></form>"
            }
            out += "</p>"
            let zone = TimeZone(identifier: channel.timeZone) ?? .gmt
            // One slot an instant, as the scheduler makes them (``SchedulingRules/firings(of:after:through:in:limit:)``).
            let next = SchedulingRules.firings(of: channel.schedule.compactMap { try? CronExpression($0) }, after: now,
                                               through: now.addingTimeInterval(14 * 86_400), in: zone, limit: 5)
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = zone
            formatter.dateFormat = "EEE yyyy-MM-dd HH:mm zzz"
            out += "<p>schedule: \(E.escape(channel.schedule.joined(separator: "; ")))</p>"
            out += "<p>next slots: " + (next.isEmpty ? "none in 14 days" : next.prefix(5).map { E.escape(formatter.string(from: $0.at)) }.joined(separator: " · ")) + "</p>"
            let slots = try await store.slots(channel: channel.name, limit: 10)
            if !slots.isEmpty {
                out += "<div class=\"wide\"><table><thead><tr><th>slot</th><th>decision</th><th>topic</th><th>job</th><th>why</th></tr></thead><tbody>"
                for s in slots {
                    out += "<tr><td>\(E.escape(formatter.string(from: s.slotAt)))</td><td>\(E.escape(s.decision))</td><td>\(E.escape(s.topic ?? "—"))</td>"
                        + "<td>\(s.jobID.map { "<a href=\"/jobs/\($0)\">\($0)</a>" } ?? "—")</td><td class=\"muted\">\(E.escape(s.detail ?? ""))</td></tr>"
                }
                out += "</tbody></table></div>"
            }
            if !channel.topics.isEmpty {
                // When each topic was last taken by the scheduler, from its recorded decisions.
                let recent = try await store.slots(channel: channel.name, limit: 500)
                var lastUse: [String: Date] = [:]
                for s in recent { if let t = s.topic, lastUse[t] == nil { lastUse[t] = s.decidedAt } }
                out += "<p>topics: " + channel.topics.map { t in
                    E.escape(t) + " <span class=\"muted\">(" + (lastUse[t].map { "last " + E.time($0) } ?? "not used recently") + ")</span>"
                }.joined(separator: " · ") + "</p>"
            }
        }
        return E.page(title: "Channels", active: "Channels", csrf: csrf, body: out)
    }

    func workersPage(csrf: String) async throws -> String {
        let workers = try await store.workers()
        let running = try await store.runningJobs()
        var out = "<h1>Workers</h1>"
        if workers.isEmpty { out += "<p class=\"muted\">no worker has registered</p>" }
        out += "<div class=\"wide\"><table><thead><tr><th>worker</th><th>host</th><th class=\"num\">pid</th><th>state</th><th>current jobs</th>"
            + "<th>last seen</th><th class=\"hide-narrow\">started</th></tr></thead><tbody>"
        for w in workers.prefix(200) {
            var state = w.state.rawValue
            if w.state == .running, try await store.isAbandoned(w) == true { state = "dead" }
            let jobs = running.filter { $0.leaseOwner == w.id }.map { "<a href=\"/jobs/\($0.id)\">\($0.id)</a> \(E.escape($0.currentStage ?? ""))" }
            out += "<tr><td>\(E.escape(w.id))</td><td>\(E.escape(w.hostname))</td><td class=\"num\">\(w.pid)</td><td>\(E.state(state))</td>"
                + "<td>\(jobs.isEmpty ? "—" : jobs.joined(separator: ", "))</td><td>\(E.time(w.lastSeenAt))</td><td class=\"hide-narrow\">\(E.time(w.startedAt))</td></tr>"
        }
        out += "</tbody></table></div>"
        return E.page(title: "Workers", active: "Workers", csrf: csrf, body: out)
    }

    func auditPage(csrf: String) async throws -> String {
        let entries = try await store.auditLog(limit: 200)
        var out = "<h1>Audit log</h1>"
        if entries.isEmpty { out += "<p class=\"muted\">no action recorded yet</p>" }
        out += "<div class=\"wide\"><table><thead><tr><th>when</th><th>who</th><th>action</th><th>on</th><th>result</th></tr></thead><tbody>"
        for e in entries {
            out += "<tr><td>\(E.time(e.at))</td><td>\(E.escape(e.actor))</td><td>\(E.escape(e.action))</td><td>\(E.escape(e.target))</td>"
                + "<td>\(E.escape(e.detail ?? ""))</td></tr>"
        }
        out += "</tbody></table></div>"
        return E.page(title: "Audit log", active: "Audit", csrf: csrf, body: out)
    }
}
