import Foundation
import Testing
import YTAutoCore
import YTAutoStore

/// Redoing a job from a stage, on every engine: that stage and the later ones are cleared (their
/// runs stay in the history), the earlier ones kept, the job queued again; never a running job,
/// never one already uploaded, never a stage that is not one.
@Suite struct RedoTests {
    /// A job whose stages up to and including `through` succeeded, then ended as `ending`.
    func job(_ s: any OperatorStore, through: Stage, publishedAs video: String? = nil) async throws -> Int64 {
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "octopus", maxAttempts: 1)).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        for stage in Stage.allCases.prefix(through: Stage.allCases.firstIndex(of: through)!) {
            try await s.checkpoint(lease, stage: stage.rawValue, state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        }
        if let video { try await s.saveStageNotes(lease, stage: Stage.publish.rawValue, notes: ["video_id": video]) }
        _ = try await s.fail(lease, error: JobFailure(code: "thumbnail.ugly", message: "a person said so", isRetryable: false))
        return id
    }

    @Test(arguments: StoreEngine.all) func aRedoClearsTheStageAndTheLaterOnesAndKeepsTheEarlier(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let id = try await job(s, through: .thumbnail)
        let runsBefore = try await s.stageRuns(jobID: id).count
        let redone = try await s.redo(jobID: id, from: "thumbnail")
        #expect(redone.state == .queued && redone.maxAttempts == 2, "one more attempt, as a retry gives")
        #expect(Set(try await s.stages(jobID: id).map(\.stage)) == ["script", "narration", "images", "clips", "compose"])
        #expect(try await s.stageRuns(jobID: id).count == runsBefore, "the history of the cleared stages stays")
        // It leases again, and a worker would skip the kept stages and run thumbnail and publish.
        let lease = try #require(try await s.lease(worker: "w2", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60)))
        #expect(lease.jobID == id)
        _ = try await s.complete(lease)
        // A succeeded job that was not uploaded can be redone too (the local publisher), from the first stage.
        #expect(try await s.redo(jobID: id, from: "script").state == .queued)
        #expect(try await s.stages(jobID: id).isEmpty)
    }

    @Test(arguments: StoreEngine.all) func aRunningOrUploadedJobOrAnUnknownStageIsRefusedAndNothingChanges(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let published = try await job(s, through: .publish, publishedAs: "dQw4w9WgXcQ")
        let uploaded = await #expect(throws: JobStoreError.self) { try await s.redo(jobID: published, from: "thumbnail") }
        #expect("\(uploaded!)".contains("dQw4w9WgXcQ") && "\(uploaded!)".contains("second video"))
        #expect(try await s.stages(jobID: published).count == 7)
        #expect(try await f.row(published).state == .failed)

        let running = try await s.enqueue(NewJob(channel: "facts", topic: "busy")).job.id
        _ = try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: running)
        await #expect(throws: JobStoreError.self) { try await s.redo(jobID: running, from: "script") }
        #expect(try await f.row(running).state == .running)

        let failed = try await job(s, through: .images)
        let bad = await #expect(throws: JobStoreError.self) { try await s.redo(jobID: failed, from: "thumbnails") }
        #expect("\(bad!)".contains("'thumbnails' is not a stage"))
        #expect(try await s.stages(jobID: failed).count == 3)
        await #expect(throws: JobStoreError.self) { try await s.redo(jobID: 999_999, from: "script") }
    }

    /// A stage whose input was made again with other files is marked stale, in the running
    /// attempt: no longer done, with its files and notes kept (an upload that began is found
    /// again), and stages without a row stay without one.
    @Test(arguments: StoreEngine.all) func aStageMarkedStaleIsNoLongerDoneAndKeepsItsNotes(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "octopus", maxAttempts: 1)).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        let clip = Artifact(path: "/work/1/clips/seg000.mp4", bytes: 12, sha256: String(repeating: "ab", count: 32))
        for stage in ["script", "narration", "clips"] {
            try await s.checkpoint(lease, stage: stage, state: .succeeded, artifacts: stage == "clips" ? [clip] : [], startedAt: Date(), error: nil)
        }
        try await s.saveStageNotes(lease, stage: "clips", notes: ["session": "kept"])
        try await s.markStagesStale(lease, stages: ["clips", "compose"], because: "narration, which it reads, was made again with other files")
        let rows = Dictionary(uniqueKeysWithValues: try await s.stages(jobID: id).map { ($0.stage, $0) })
        #expect(Set(rows.keys) == ["script", "narration", "clips"], "no row is made for a stage that had none")
        let clips = try #require(rows["clips"])
        #expect(clips.state == .failed && clips.errorCode == JobRules.staleStageCode && clips.errorMessage?.contains("narration") == true)
        #expect(clips.artifacts == [clip] && clips.notes == ["session": "kept"])
        #expect(rows["script"]?.state == .succeeded && rows["narration"]?.state == .succeeded)
    }

    /// A queued job is allowed more attempts (run-once's job handed back to the workers); never
    /// fewer, and a job in another state is left alone.
    @Test(arguments: StoreEngine.all) func aQueuedJobIsAllowedMoreAttemptsAndNoOtherIs(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let queued = try await s.enqueue(NewJob(channel: "facts", topic: "handed back", maxAttempts: 1)).job.id
        try await s.allowAttempts(jobID: queued, atLeast: 3)
        #expect(try await f.row(queued).maxAttempts == 3)
        try await s.allowAttempts(jobID: queued, atLeast: 2)
        #expect(try await f.row(queued).maxAttempts == 3, "never fewer")
        let failed = try await job(s, through: .script)
        try await s.allowAttempts(jobID: failed, atLeast: 5)
        let untouched = try await f.row(failed)
        #expect(untouched.maxAttempts == 1 && untouched.state == .failed)
    }
}
