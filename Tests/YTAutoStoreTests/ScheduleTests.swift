import Foundation
import Testing
import YTAutoCore
import YTAutoStore

/// The scheduler's slot decisions on a real database file.
@Suite struct ScheduleTests {
    func channel(_ policy: MissedSlotPolicy = .all, window: Int = 86_400, topics: Int = 100, recency: Int = 0) -> ChannelConfig {
        var c = ChannelConfig.defaults(for: .facts)
        c.schedule = ["*/10 * * * *"]
        c.timeZone = "Europe/London"
        c.missedSlots = policy
        c.catchUpWindow = window
        c.topics = (0..<topics).map { "topic \($0)" }
        c.topicRecencyDays = recency
        return c
    }

    func date(_ s: String) -> Date { Timestamp.date(s)! }

    @Test(arguments: StoreEngine.all) func aNewChannelDoesNotBackfillAndThenEverySlotBecomesOneJob(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel()
        let first = try await f.store.schedule(c, now: date("2026-11-25T10:05:00.000Z"))
        #expect(first.isEmpty)  // 10:00 is more than two minutes ago: not on time, and not ours to backfill
        let second = try await f.store.schedule(c, now: date("2026-11-25T11:00:30.000Z"))
        #expect(second.map(\.kind) == Array(repeating: .enqueued, count: 6))
        #expect(second.map(\.slotAt) == (1...6).map { date("2026-11-25T10:00:00.000Z").addingTimeInterval(Double($0) * 600) })
        // The same window again: nothing new.
        #expect(try await f.store.schedule(c, now: date("2026-11-25T11:00:30.000Z")).isEmpty)
        #expect(try await f.number("SELECT count(*) AS n FROM jobs") == 6)
        var jobs: [Job] = []
        for decision in second {
            let id = try #require(decision.jobID)
            jobs.append(try #require(try await f.store.job(id: id)))
        }
        #expect(Set(jobs.map(\.runAt)) == Set(second.map(\.slotAt)))
        #expect(Set(jobs.compactMap(\.topic)).count == 6)
        #expect(jobs.allSatisfy { $0.uniqueKey?.hasPrefix("slot:facts:2026-11-25T1") == true })
    }

    /// Slots of several channels at the same time are listed by channel name, on every engine, so
    /// that `ytauto-admin slots --limit` cuts them at the same place: not in the order they were made.
    @Test(arguments: StoreEngine.all) func slotsOfTheSameTimeAreListedByChannel(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        for name in ["mid", "zeta", "alpha"] {
            var c = channel()
            c.name = name
            _ = try await f.store.schedule(c, now: date("2026-11-25T10:00:30.000Z"))
            _ = try await f.store.schedule(c, now: date("2026-11-25T10:20:30.000Z"))
        }
        let listed = try await f.store.slots(channel: nil, limit: 100).map { "\(Timestamp.string($0.slotAt).dropFirst(11).prefix(5)) \($0.channel)" }
        #expect(listed == ["10:20 alpha", "10:20 mid", "10:20 zeta", "10:10 alpha", "10:10 mid", "10:10 zeta",
                           "10:00 alpha", "10:00 mid", "10:00 zeta"], "\(listed)")
        #expect(try await f.store.slots(channel: nil, limit: 4).map(\.channel) == ["alpha", "mid", "zeta", "alpha"])
    }

    @Test(arguments: [MissedSlotPolicy.skip, .latest, .all], StoreEngine.all)
    func missedSlotsFollowThePolicyWithinTheWindow(policy: MissedSlotPolicy, engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel(policy, window: 3_600)
        _ = try await f.store.schedule(c, now: date("2026-11-25T08:00:00.000Z"))
        // Down from 08:00 to 10:31:00. Slots 08:10 … 09:30 are outside the 1 h window; 09:40 … 10:20 are
        // missed within it; 10:30 is on time.
        let d = try await f.store.schedule(c, now: date("2026-11-25T10:31:00.000Z"))
        let enqueued = d.filter { $0.kind == .enqueued }.map { Timestamp.string($0.slotAt) }
        #expect(d.count == 15)
        #expect(d.filter { $0.slotAt < date("2026-11-25T09:31:00.000Z") }.allSatisfy { $0.kind == .missed && $0.detail!.contains("catch_up_window") })
        switch policy {
        case .skip, .latest:
            // latest: the on-time slot is the newest, so no missed slot runs.
            #expect(enqueued == ["2026-11-25T10:30:00.000Z"])
        case .all:
            #expect(enqueued == ["09:40", "09:50", "10:00", "10:10", "10:20", "10:30"].map { "2026-11-25T\($0):00.000Z" })
        }
        // Every slot is recorded, enqueued or not (with 08:00, on time at the first look).
        #expect(try await f.store.slots(channel: "facts", limit: 100).count == 16)
    }

    /// Down for 8 days on a minute's schedule: 11,520 slots, of which the 6 h window holds 360.
    /// Every slot of the window is decided, the one on time runs, and of the older ones the
    /// first 10,000 are listed, the last of them saying the rest were not; the next pass goes on
    /// from now. (The slots were once cut at the oldest 10,000 of the pass: the newest day,
    /// the slot on time with it, had no row and no job.)
    @Test(arguments: StoreEngine.all) func aLongDowntimeKeepsEverySlotOfTheWindowAndTheOneOnTime(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        var c = channel(.latest, window: 6 * 3600)
        c.schedule = ["* * * * *"]
        let down = date("2026-11-17T10:00:30.000Z"), up = date("2026-11-25T10:00:30.000Z")
        _ = try await f.store.schedule(c, now: down)
        let d = try await f.store.schedule(c, now: up)
        let windowStart = up.addingTimeInterval(-6 * 3600)
        let inWindow = d.filter { $0.slotAt >= windowStart }
        #expect(inWindow.count == 360)
        // On time: within two minutes of now.
        #expect(d.filter { $0.kind == .enqueued }.map(\.slotAt) == [date("2026-11-25T09:59:00.000Z"), date("2026-11-25T10:00:00.000Z")])
        let old = d.filter { $0.slotAt < windowStart }
        #expect(old.count == SchedulingRules.maxListedOld && old.allSatisfy { $0.kind == .missed })
        #expect(old.last?.detail?.contains("not listed one by one") == true, "\(old.last?.detail ?? "")")
        // The first pass's two (09:59 and 10:00, on time then), the old ones listed, the window's.
        let rows = try await f.number("SELECT count(*) AS n FROM schedule_slots WHERE channel = 'facts'")
        #expect(rows == Double(2 + SchedulingRules.maxListedOld + 360))
        let next = try await f.store.schedule(c, now: up.addingTimeInterval(60))
        #expect(next.map(\.slotAt) == [date("2026-11-25T10:01:00.000Z")] && next.first?.kind == .enqueued)
    }

    /// Two schedulers on two configurations of a channel (a host not yet updated, a manual
    /// `--once` beside the unit): each moves only its own entries' cursors, so the slot that only
    /// the newer schedule has is still made. (With one cursor a channel, the older scheduler's
    /// pass at 18:16 moved it past 18:15, and the newer one never looked at its 18:15.)
    @Test(arguments: StoreEngine.all) func aSchedulerOnAnOlderConfigurationLeavesTheNewEntrysSlotsToTheNewer(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        var old = channel()
        old.schedule = ["0 18 * * *"]
        var new = old
        new.schedule = ["15 18 * * *"]
        _ = try await f.store.schedule(old, now: date("2026-12-03T17:00:00.000Z"))
        let a = try await f.store.schedule(old, now: date("2026-12-03T18:16:00.000Z"))
        let b = try await f.store.schedule(new, now: date("2026-12-03T18:16:30.000Z"))
        #expect(a.map(\.slotAt) == [date("2026-12-03T18:00:00.000Z")] && b.map(\.slotAt) == [date("2026-12-03T18:15:00.000Z")])
        #expect(b.first?.kind == .enqueued && b.first?.expression == "15 18 * * *")
        #expect(try await f.store.scheduleCursor(channel: "facts") == date("2026-12-03T18:16:30.000Z"))
        // The older one again: nothing of the newer's decided twice, its own entry goes on.
        #expect(try await f.store.schedule(old, now: date("2026-12-03T18:17:00.000Z")).isEmpty)

        // A database from before entries had cursors: each entry starts at the channel's cursor, once.
        try await f.execute("DELETE FROM schedule_expression_cursors")
        var both = old
        both.schedule = ["0 18 * * *", "15 18 * * *", "30 18 * * *"]
        let c = try await f.store.schedule(both, now: date("2026-12-03T18:40:00.000Z"))
        #expect(c.map(\.slotAt) == [date("2026-12-03T18:30:00.000Z")], "\(c.map(\.slotAt))")
    }

    @Test(arguments: StoreEngine.all) func latestRunsTheNewestMissedSlotWhenNoneIsOnTime(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel(.latest, window: 3_600)
        _ = try await f.store.schedule(c, now: date("2026-11-25T10:00:00.000Z"))
        let d = try await f.store.schedule(c, now: date("2026-11-25T10:35:00.000Z"))
        #expect(d.filter { $0.kind == .enqueued }.map(\.slotAt) == [date("2026-11-25T10:30:00.000Z")])
        #expect(d.filter { $0.kind == .missed }.count == 2)
    }

    @Test(arguments: StoreEngine.all) func slotsSurvivePruneAndALostCursorMakesNoSecondJob(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel()
        _ = try await f.store.schedule(c, now: date("2026-11-25T10:00:00.000Z"))
        let made = try await f.store.schedule(c, now: date("2026-11-25T11:00:00.000Z"))
        #expect(made.count == 6)
        // Finish and prune every job (10:00, on time at the first look, and the six).
        while let lease = try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)) {
            _ = try await f.store.complete(lease)
        }
        let pruned = try await f.store.prune(finishedBefore: Date.distantFuture, batchSize: 500)
        #expect(pruned == 7)
        // A scheduler that lost its cursor (say, a restored backup) goes over the same window.
        try await f.execute("DELETE FROM schedule_cursors")
        try await f.execute("DELETE FROM schedule_expression_cursors")
        _ = try await f.store.schedule(c, now: date("2026-11-25T09:59:00.000Z"))
        let again = try await f.store.schedule(c, now: date("2026-11-25T11:00:00.000Z"))
        #expect(again.isEmpty)
        #expect(try await f.store.stats().byState.values.reduce(0, +) == 0)
    }

    /// `ytauto scheduler --once --now <past>` replays: the cursor never moves back, a slot never
    /// gets a second job, and the schedulers carry on from where they were.
    @Test(arguments: StoreEngine.all) func aReplayBehindTheCursorDecidesNothingAgainAndLeavesTheCursor(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel()
        _ = try await f.store.schedule(c, now: date("2026-11-25T10:00:00.000Z"))
        #expect(try await f.store.schedule(c, now: date("2026-11-25T11:00:00.000Z")).count == 6)
        #expect(try await f.store.scheduleCursor(channel: "facts") == date("2026-11-25T11:00:00.000Z"))
        for replay in ["2026-11-25T10:30:00.000Z", "2026-11-25T09:00:00.000Z", "2026-11-25T11:00:00.000Z"] {
            #expect(try await f.store.schedule(c, now: date(replay)).isEmpty)
            #expect(try await f.store.scheduleCursor(channel: "facts") == date("2026-11-25T11:00:00.000Z"))
        }
        // A replay between the cursor and the clock decides that window, as of that time.
        let window = try await f.store.schedule(c, now: date("2026-11-25T11:20:30.000Z"))
        #expect(window.map(\.slotAt) == [date("2026-11-25T11:10:00.000Z"), date("2026-11-25T11:20:00.000Z")])
        let next = try await f.store.schedule(c, now: date("2026-11-25T11:30:10.000Z"))
        #expect(next.map(\.slotAt) == [date("2026-11-25T11:30:00.000Z")])
        #expect(try await f.number("SELECT count(*) AS n FROM jobs") == 10)  // 10:00 at the first look, six to 11:00, two to 11:20, 11:30
        #expect(try await f.number("SELECT count(DISTINCT unique_key) AS n FROM jobs") == 10)
        #expect(try await f.store.slots(channel: "facts", limit: 100).count == 10)
        #expect(try await f.store.scheduleCursor(channel: "nobody") == nil)
    }

    @Test(arguments: StoreEngine.all) func topicsUsedWithinTheRecencyWindowAreNotPickedAgainEvenAfterPrune(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        // Three topics, seven days: a daily schedule uses each once, then has none left.
        var c = channel(topics: 3, recency: 7)
        c.schedule = ["0 9 * * *"]
        _ = try await f.store.schedule(c, now: date("2026-11-20T08:00:00.000Z"))
        var topics: [String?] = []
        var kinds: [SlotDecision.Kind] = []
        for day in 20...24 {
            let now = date("2026-11-\(day)T09:00:30.000Z")
            let d = try await f.store.schedule(c, now: now)
            topics += d.map(\.topic)
            kinds += d.map(\.kind)
            // Prune whatever finished, to show recency comes from slots that outlive jobs.
            while let lease = try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)) {
                _ = try await f.store.complete(lease)
            }
            _ = try await f.store.prune(finishedBefore: .distantFuture, batchSize: 500)
        }
        #expect(topics.prefix(3).map { $0 } == ["topic 0", "topic 1", "topic 2"])
        #expect(kinds == [.enqueued, .enqueued, .enqueued, .noTopic, .noTopic])
        // Eight days after its use, topic 0 is free again (topic 1, used seven days ago, is not).
        let later = try await f.store.schedule(c, now: date("2026-11-28T09:00:30.000Z"))
        #expect(later.last?.kind == .enqueued)
        #expect(later.last?.topic == "topic 0")
    }

    /// A diagnostic job's topic is not a use of it: `enqueue --synthetic` and `run-once
    /// --synthetic-stage-ms` took the channel's least recent topics, and its next videos skipped them.
    @Test(arguments: StoreEngine.all) func aDiagnosticJobDoesNotUseUpATopic(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel(topics: 2, recency: 7)
        _ = try await f.store.enqueue(NewJob(channel: c.name, topic: "topic 0", kind: .synthetic))
        let first = try await f.store.suggestTopic(for: c)
        #expect(first.topic == "topic 0" && !first.recent, "\(first)")
        _ = try await f.store.enqueue(NewJob(channel: c.name, topic: "topic 0"))
        #expect(try await f.store.suggestTopic(for: c).topic == "topic 1")
    }

    /// A pruned job keeps its topic used for the channel's `topic_recency_days`: a job `ytauto
    /// enqueue` made was its topic's only record, so pruning it freed the topic at once. Its use
    /// goes to `pruned_topic_uses`; a job a slot names does not (its slot keeps the topic, and the
    /// run-history query would count it twice), nor does a diagnostic one.
    @Test(arguments: StoreEngine.all) func aPrunedJobKeepsItsTopicUsed(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel(topics: 3, recency: 7)
        var jobs: [Int64] = []
        for _ in 0..<2 { jobs.append(try await f.store.enqueue(NewJob(channel: c.name, topic: "topic 0")).job.id) }
        jobs.append(try await f.store.enqueue(NewJob(channel: c.name, topic: "topic 1", kind: .synthetic)).job.id)
        f.clock.advance(30)
        let slotted = try await f.store.schedule(c, now: f.clock.now)
        #expect(slotted.map(\.topic) == ["topic 1"], "\(slotted)")
        jobs += slotted.compactMap(\.jobID)
        for id in jobs { #expect(try await f.store.cancel(jobID: id) == .cancelled) }
        f.clock.advance(60)
        #expect(try await f.store.prune(finishedBefore: f.clock.now, batchSize: 3) == 4)
        #expect(try await f.number("SELECT count(*) AS n FROM jobs") == 0)

        #expect(try await f.number("SELECT count(*) AS n FROM pruned_topic_uses") == 1)
        #expect(try await f.number("SELECT uses AS n FROM pruned_topic_uses WHERE channel = 'facts' AND topic = 'topic 0'") == 2)
        let next = try await f.store.suggestTopic(for: c)
        #expect(next.topic == "topic 2" && !next.recent, "topic 0 was pruned, not unused: \(next)")
        // Another prune of the same topic adds to its row and moves its time forward.
        f.clock.advance(86_400)
        let later = try await f.store.enqueue(NewJob(channel: c.name, topic: "topic 0")).job.id
        _ = try await f.store.cancel(jobID: later)
        f.clock.advance(60)
        #expect(try await f.store.prune(finishedBefore: f.clock.now, batchSize: 500) == 1)
        #expect(try await f.number("SELECT uses AS n FROM pruned_topic_uses WHERE topic = 'topic 0'") == 3)
        // Eight days after the first uses, topic 1 (its slot's) is free again; topic 0, used seven
        // days ago by the job pruned later, is not.
        f.clock.advance(7 * 86_400 - 600)
        _ = try await f.store.enqueue(NewJob(channel: c.name, topic: "topic 2"))
        let free = try await f.store.suggestTopic(for: c)
        #expect(free.topic == "topic 1" && !free.recent, "\(free)")
    }

    /// A catch-up pass with fewer topics than slots and `topic_recency_days: 0` rotates through
    /// the topics, the one used longest ago first, though the pass decides all its slots at one
    /// instant (it gave the first topic to every slot once the others were used).
    @Test(arguments: StoreEngine.all) func aCatchUpPassRotatesThroughFewTopics(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let c = channel(topics: 3, recency: 0)
        let first = try await f.store.schedule(c, now: date("2026-11-25T10:00:30.000Z"))
        #expect(first.map(\.topic) == ["topic 0"])
        let pass = try await f.store.schedule(c, now: date("2026-11-25T11:00:30.000Z"))
        #expect(pass.map(\.topic) == ["topic 1", "topic 2", "topic 0", "topic 1", "topic 2", "topic 0"], "\(pass.map(\.topic))")
    }
}
