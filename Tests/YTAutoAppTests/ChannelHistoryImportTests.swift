import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport

/// An installation upgraded from the files under `<work_dir>/history/` to the store's
/// `channel_history`: each channel's file is taken into the store once, so the first videos after
/// the upgrade are still compared with those made before it.
@Suite struct ChannelHistoryImportTests {
    let dir = TempDir("ytauto-history-import")

    @Test func aChannelsFileIsTakenIntoTheStoreOnceInItsOrder() async throws {
        let folder = dir.url.appending(path: "work/history")
        let files = ChannelHistory(folder: folder)
        // Written in the order 3, 1, 2, a minute apart (so ids do not give the order away): 2 is the newest.
        let start = Date().addingTimeInterval(-3600)
        for (i, job) in [Int64(3), 1, 2].enumerated() {
            let script = Script(title: "T\(job)", hook: "Hook \(job).", body: "Body \(job).", cta: "Follow.", channel: .facts)
            try await files.record(.init(job: job, at: start.addingTimeInterval(Double(i) * 60), topic: "topic \(job)", script: script), channel: "facts")
        }
        try await files.recordThumbnail("00000000ffffffff", job: 1, channel: "facts")

        let store = try SQLiteJobStore(path: dir.path("jobs.db"))
        let history = ChannelHistory(store: store, earlier: folder)
        let recent = try await history.recent("facts")
        #expect(recent.map(\.job) == [2, 1, 3] && recent.map(\.script.title) == ["T2", "T1", "T3"], "\(recent.map(\.job))")
        #expect(recent.map(\.thumbnailHash) == [nil, "00000000ffffffff", nil])
        // Each entry keeps its own time (the files kept whole seconds).
        #expect(abs((recent.last?.at ?? .distantPast).timeIntervalSince(start)) < 1, "\(recent.map(\.at))")
        #expect(try await store.channelHistory(channel: "facts", limit: 10).map(\.jobID) == [2, 1, 3])
        #expect(!FileManager.default.fileExists(atPath: folder.appending(path: "facts.json").path))
        #expect(FileManager.default.fileExists(atPath: folder.appending(path: "facts.json.imported").path))
        // Once: a later read finds the store's entries; another channel has nothing to take.
        #expect(try await history.recent("facts").map(\.job) == [2, 1, 3])
        #expect(try await history.recent("horror").isEmpty)
    }

    /// The worker's pipeline looks where the files were: its first script after the upgrade is
    /// compared with the channel's videos from before it, and joins them.
    @Test func thePipelinesFirstScriptAfterTheUpgradeSeesTheEarlierOnes() async throws {
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 20, max: 40)
        let script = Script(title: "Earlier", hook: "An earlier hook.", body: "An earlier body.", cta: "Follow.", channel: .facts)
        try await ChannelHistory(folder: dir.url.appending(path: "work/history"))
            .record(.init(job: 1, at: Date(), topic: "earlier", script: script), channel: channel.name)
        let store = try SQLiteJobStore(path: dir.path("jobs.db"))
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"),
                                     tools: try ToolRunner(), history: store)
        let job = Job.running(2, channel: channel.name, topic: "the lighthouse")
        _ = try await pipeline.run(stage: "script", job: job, dryRun: false)
        #expect(try await store.channelHistory(channel: channel.name, limit: 10).map(\.jobID) == [2, 1])
    }
    /// Several hosts upgraded: each host's file is taken in when that host first reads the channel,
    /// though the store has another host's entries by then, merged with them by time.
    @Test func everyHostsFileIsTakenInNotOnlyTheFirsts() async throws {
        let start = Date().addingTimeInterval(-3600)
        func hostFile(_ host: String, _ jobs: [(Int64, Double)]) async throws -> URL {
            let folder = dir.url.appending(path: "\(host)/work/history")
            for (job, minutes) in jobs {
                let script = Script(title: "T\(job)", hook: "Hook \(job).", body: "Body \(job).", cta: "Follow.", channel: .facts)
                try await ChannelHistory(folder: folder)
                    .record(.init(job: job, at: start.addingTimeInterval(minutes * 60), topic: "topic \(job)", script: script), channel: "facts")
            }
            return folder
        }
        let a = try await hostFile("a", [(1, 0), (3, 2)]), b = try await hostFile("b", [(2, 1), (4, 3)])
        let store = try SQLiteJobStore(path: dir.path("jobs.db"))
        #expect(try await ChannelHistory(store: store, earlier: a).recent("facts").map(\.job) == [3, 1])
        #expect(try await ChannelHistory(store: store, earlier: b).recent("facts").map(\.job) == [4, 3, 2, 1], "host b's file joins host a's")
        #expect(FileManager.default.fileExists(atPath: b.appending(path: "facts.json.imported").path))
    }
}
