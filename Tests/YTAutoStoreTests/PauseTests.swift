import Foundation
import Testing
import YTAutoCore
import YTAutoStore

/// A paused channel, on every engine: its slots are recorded `paused`, no lease takes its queued
/// jobs (in any lease form: all channels, a list of channels), the look for the next due job does
/// not see them (an idle worker would spin), and resuming gives them back in their order.
@Suite struct PauseTests {
    func channel(_ name: String) -> ChannelConfig {
        var c = ChannelConfig.defaults(for: .facts)
        c.name = name
        c.schedule = ["*/10 * * * *"]
        c.timeZone = "UTC"
        c.topics = (0..<20).map { "\(name) topic \($0)" }
        c.topicRecencyDays = 0
        c.missedSlots = .all
        c.catchUpWindow = 86_400
        return c
    }

    @Test(arguments: StoreEngine.all) func aPausedChannelsJobsWaitAndItsSlotsMakeNoJob(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        // Two jobs of "horror" first in lease order (higher priority), one of "facts" after them.
        let h1 = try await s.enqueue(NewJob(channel: "horror", topic: "h1", priority: -5, maxAttempts: 3)).job.id
        let h2 = try await s.enqueue(NewJob(channel: "horror", topic: "h2", priority: -5, maxAttempts: 3)).job.id
        let f1 = try await s.enqueue(NewJob(channel: "facts", topic: "f1", maxAttempts: 3)).job.id

        let (pause, isNew) = try await s.pause(channel: "horror", by: "cli:test")
        #expect(isNew && pause.channel == "horror" && pause.pausedBy == "cli:test")
        // Pausing again keeps the first pause, and says it did not make one.
        f.clock.advance(60)
        let again = try await s.pause(channel: "horror", by: "web (loopback)")
        #expect(again.pause == pause && !again.isNew)
        #expect(try await s.pausedChannels() == [pause])

        // The next due job is facts' (horror's are not due to anyone), and every lease form takes it, never horror's.
        #expect(try await s.nextRunAt(channels: nil, kind: .video) != nil)
        #expect(try await s.nextRunAt(channels: ["horror"], kind: .video) == nil)
        #expect(try await s.lease(worker: "w", channels: ["horror"], kind: .video, pipeline: nil, duration: .seconds(60)) == nil)
        let first = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60)))
        #expect(first.jobID == f1)
        #expect(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60)) == nil)
        #expect(try await s.lease(worker: "w", channels: ["horror", "facts"], kind: .video, pipeline: nil, duration: .seconds(60)) == nil)
        #expect(try await s.nextRunAt(channels: nil, kind: .video) == nil, "only a paused channel's jobs are queued: nothing is due")
        // Nor does the age of the oldest due job count them (`status`, the console's metric): they wait on purpose.
        #expect(try await s.stats().oldestDueQueuedAt == nil)
        #expect(try await s.stats().counts["horror"]?[.queued] == 2)
        #expect(try await f.row(h1).state == .queued)
        #expect(try await f.row(h2).state == .queued)

        // The scheduler records the channel's slots as paused, with who paused it; another channel's still run.
        let t0 = Timestamp.date("2026-11-25T10:00:30.000Z")!
        _ = try await s.schedule(channel("horror"), now: t0)
        _ = try await s.schedule(channel("facts"), now: t0)
        let later = t0.addingTimeInterval(1_800)
        let paused = try await s.schedule(channel("horror"), now: later)
        #expect(paused.count == 3 && paused.allSatisfy { $0.kind == .paused && $0.jobID == nil })
        #expect(paused.allSatisfy { $0.detail?.contains("cli:test") == true })
        #expect(try await s.schedule(channel("facts"), now: later).map(\.kind) == [.enqueued, .enqueued, .enqueued])
        // (10:00 was decided paused by the first pass, on time.)
        #expect(try await s.slots(channel: "horror", limit: 10).map(\.decision) == Array(repeating: "paused", count: 4))

        // Resumed: its jobs lease in their order, and the slots of the pause are not made up.
        let ended = try #require(try await s.resume(channel: "horror"))
        #expect(ended == pause)
        #expect(try await s.resume(channel: "horror") == nil)
        #expect(try await s.pausedChannels().isEmpty)
        #expect(try await s.stats().oldestDueQueuedAt != nil)
        let next = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60)))
        #expect(next.jobID == h1)
        #expect(try await s.lease(worker: "w", channels: ["horror"], kind: .video, pipeline: nil, duration: .seconds(60))?.jobID == h2)
        #expect(try await s.schedule(channel("horror"), now: later.addingTimeInterval(1)).isEmpty)
    }
}
