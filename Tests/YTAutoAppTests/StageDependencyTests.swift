import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport
import YTAutoWorker

/// A stage made again with other files than it had recorded makes the later stages that read it
/// made again too, though their own files are intact (clips timed for an old narration never meet
/// a new one); one made again with the same files keeps them. A real worker on a real SQLite
/// file, in this process; the stages' files are real files, checked by their hashes.
@Suite struct StageDependencyTests {
    let dir = TempDir("ytauto-stage-inputs")

    /// `a` writes its version; `b` reads `a`, `c` reads `b`, `d` reads `a`; `publish` reads `c`
    /// and `d`, and fails the job while `failPublish` is set (so that it can be retried).
    final class Chain: StagedPipeline, Sendable {
        let folder: URL
        let version = Mutex(1)
        let failPublish = Mutex(true)
        let failB = Mutex(false)
        let runs = Mutex<[String: Int]>([:])
        let published = Mutex<[String]>([])
        init(folder: URL) { self.folder = folder }
        var stages: [String] { ["a", "b", "c", "d", "publish"] }
        var kind: JobKind { .synthetic }
        var name: String { "chain" }
        func inputs(of stage: String) -> [String] {
            ["b": ["a"], "c": ["b"], "d": ["a"], "publish": ["c", "d"]][stage] ?? []
        }
        func file(_ stage: String) -> URL { folder.appending(path: "\(stage).txt") }
        func text(_ stage: String) throws -> String { try String(contentsOf: file(stage), encoding: .utf8) }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
            runs.withLock { $0[stage, default: 0] += 1 }
            let content: String
            switch stage {
            case "a": content = "a\(version.withLock { $0 })"
            case "b":
                if failB.withLock({ $0 }) { throw JobFailure(code: "test.b", message: "b failed", isRetryable: false) }
                content = "b(\(try text("a")))"
            case "c": content = "c(\(try text("b")))"
            case "d": content = "d(\(try text("a")))"
            default:
                if failPublish.withLock({ $0 }) { throw JobFailure(code: "test.publish", message: "not yet", isRetryable: false) }
                let seen = "\(try text("c")) \(try text("d"))"
                published.withLock { $0.append(seen) }
                return .done([])
            }
            try Data(content.utf8).write(to: file(stage))
            return .done([try Files.artifact(file(stage).path)])
        }
    }

    /// Runs the job once (it fails at publish), then runs `between` and retries it with publish
    /// allowed, each retry waiting for the job to end; returns the runs of each stage and what
    /// was published.
    func run(_ between: (Chain) throws -> Void, retries: Int = 1) async throws -> (runs: [String: Int], published: [String]) {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let admin = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let pipeline = Chain(folder: dir.url)
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1, kind: .synthetic)).job.id
        let (group, running) = startWorker(store, pipeline: pipeline)
        defer { running.cancel() }

        #expect(try await eventually { try await store.job(id: id)?.state == .failed })
        try between(pipeline)
        for n in 0..<retries {
            if n == retries - 1 { pipeline.failPublish.withLock { $0 = false } }
            let before = try #require(try await store.job(id: id)).updatedAt
            _ = try await admin.retry(jobID: id)
            #expect(try await eventually {
                let job = try await store.job(id: id)
                return job?.updatedAt != before && (job?.state == .failed || job?.state == .succeeded)
            })
            if n == 0 { pipeline.failB.withLock { $0 = false } }
        }
        #expect(try await store.job(id: id)?.state == .succeeded)
        await group.triggerGracefulShutdown()
        try await running.value
        return (pipeline.runs.withLock { $0 }, pipeline.published.withLock { $0 })
    }

    @Test func aStageMadeAgainWithOtherFilesMakesItsReadersAgain() async throws {
        let (runs, published) = try await run { chain in
            try FileManager.default.removeItem(at: chain.file("a"))
            chain.version.withLock { $0 = 2 }
        }
        #expect(published == ["c(b(a2)) d(a2)"])
        #expect(runs == ["a": 2, "b": 2, "c": 2, "d": 2, "publish": 2])
    }

    @Test func aStageMadeAgainWithTheSameFilesKeepsItsReaders() async throws {
        let (runs, published) = try await run { chain in try FileManager.default.removeItem(at: chain.file("a")) }
        #expect(published == ["c(b(a1)) d(a1)"])
        #expect(runs == ["a": 2, "b": 1, "c": 1, "d": 1, "publish": 2])
    }

    /// `a` is made again with other files, then `b` fails and the attempt ends: the next attempt
    /// finds `a` done, and still makes `d` again (marked in the store, not only in the worker's
    /// memory), and `c` because `b`'s files changed.
    @Test func theMarkOutlivesTheAttemptThatMadeIt() async throws {
        let (runs, published) = try await run({ chain in
            try FileManager.default.removeItem(at: chain.file("a"))
            chain.version.withLock { $0 = 2 }
            chain.failB.withLock { $0 = true }
        }, retries: 2)
        #expect(published == ["c(b(a2)) d(a2)"])
        #expect(runs == ["a": 2, "b": 3, "c": 2, "d": 2, "publish": 2])
    }
}
