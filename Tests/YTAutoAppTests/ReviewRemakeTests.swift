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

/// A job approved in review is published as it was reviewed, or asked again: a worker that
/// finds the reviewed files gone (another host without a shared work folder, a cleaned folder)
/// makes the stages again, and then holds the job for review again instead of publishing a
/// video nobody saw. A real worker on a real SQLite file, in this process.
@Suite struct ReviewRemakeTests {
    let dir = TempDir("ytauto-review-remake")

    /// Two stages: `make` writes a file named by a counter (each run a new video), `publish`
    /// counts what it published; review before publish.
    final class MakeAndPublish: StagedPipeline, Sendable {
        let folder: URL
        let made = Mutex(0)
        /// Whether each run of `make` writes a new video; else the same bytes every time.
        let differs: Bool
        let published = Mutex<[String]>([])
        init(folder: URL, differs: Bool = true) {
            self.folder = folder
            self.differs = differs
        }
        var stages: [String] { ["make", "publish"] }
        var kind: JobKind { .synthetic }
        var name: String { "make and publish" }
        func needsReview(before stage: String, job: Job) -> Bool { stage == "publish" }
        var file: URL { folder.appending(path: "video.txt") }
        func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
            if stage == "make" {
                let n = made.withLock { $0 += 1; return $0 }
                try Data("video \(differs ? n : 1)".utf8).write(to: file)
                return .done([try Files.artifact(file.path)])
            }
            let text = try String(contentsOf: file, encoding: .utf8)
            published.withLock { $0.append(text) }
            return .done([])
        }
    }

    @Test func anApprovedJobWhoseFilesAreGoneIsAskedAgainNotPublished() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        // The operator's commands, as from another process (the worker sees other connections' commits).
        let admin = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let pipeline = MakeAndPublish(folder: dir.url)
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 2, kind: .synthetic)).job.id
        let (group, running) = startWorker(store, pipeline: pipeline)

        #expect(try await eventually { try await store.job(id: id)?.state == .review })
        // Reviewed: video 1. Approved, but its file is gone before a worker publishes it (gone
        // before the approval: removed after it, a worker quick enough published the file first).
        try FileManager.default.removeItem(at: pipeline.file)
        _ = try await admin.approve(jobID: id, by: "cli:ana")
        #expect(try await eventually { try await store.job(id: id)?.state == .review && pipeline.made.withLock { $0 } == 2 })
        #expect(pipeline.published.withLock { $0 }.isEmpty, "video 2 was published without review")
        #expect(try await store.review(jobID: id)?.decision == nil)
        // Approved again with its files in place: published as reviewed.
        _ = try await admin.approve(jobID: id, by: "cli:ana")
        #expect(try await eventually { try await store.job(id: id)?.state == .succeeded })
        #expect(pipeline.published.withLock { $0 } == ["video 2"] && pipeline.made.withLock { $0 } == 2)

        await group.triggerGracefulShutdown()
        try await running.value
    }

    /// The same reviewed files made again byte for byte (a deterministic stage, its files cleaned
    /// away) are what was approved: published without asking again.
    @Test func anApprovedJobWhoseFilesComeOutTheSameIsPublished() async throws {
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let admin = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let pipeline = MakeAndPublish(folder: dir.url, differs: false)
        let id = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 2, kind: .synthetic)).job.id
        let (group, running) = startWorker(store, pipeline: pipeline)

        #expect(try await eventually { try await store.job(id: id)?.state == .review })
        try FileManager.default.removeItem(at: pipeline.file)
        _ = try await admin.approve(jobID: id, by: "cli:ana")
        #expect(try await eventually { try await store.job(id: id)?.state == .succeeded })
        #expect(pipeline.published.withLock { $0 } == ["video 1"] && pipeline.made.withLock { $0 } == 2)
        #expect(try await store.review(jobID: id)?.decision == .approved)

        await group.triggerGracefulShutdown()
        try await running.value
    }
}
