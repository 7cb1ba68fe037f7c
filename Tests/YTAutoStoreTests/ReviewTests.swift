import Foundation
import Testing
import YTAutoCore
import YTAutoStore

/// Review before publish, on every engine: a held job waits in state `review` with no lease and
/// no worker, no lease takes it, an approval queues it to publish (and a second hold lets it
/// through), a rejection cancels it with the reason, and a redo forgets the decision.
@Suite struct ReviewTests {
    /// A job whose stages before publish succeeded, its lease still held.
    func readyToPublish(_ s: any OperatorStore, topic: String = "octopus") async throws -> Lease {
        let id = try await s.enqueue(NewJob(channel: "facts", topic: topic, maxAttempts: 2)).job.id
        let lease = try #require(try await s.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60), only: id))
        for stage in Stage.allCases where stage != .publish {
            try await s.checkpoint(lease, stage: stage.rawValue, state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        }
        return lease
    }

    @Test(arguments: StoreEngine.all) func aHeldJobWaitsWithoutAWorkerUntilApprovedThenPublishes(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let lease = try await readyToPublish(s)
        guard case .held(let held) = try await s.holdForReview(lease, stage: "publish") else {
            Issue.record("an undecided job was let through to publish"); return
        }
        #expect(held.state == .review && held.leaseOwner == nil && held.leaseExpiresAt == nil)
        #expect(held.attempt == 0, "waiting for review does not spend an attempt")
        let attempt = try #require(try await s.attempts(jobID: lease.jobID).last)
        #expect(attempt.outcome == .review && attempt.stage == "publish" && attempt.errorCode == ReviewRules.heldCode)
        // The old lease can write nothing, no lease form takes the job, and reclaim leaves it alone.
        await #expect(throws: LeaseLost.self) { _ = try await s.complete(lease) }
        #expect(try await s.lease(worker: "w2", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60)) == nil)
        #expect(try await s.lease(worker: "w2", channels: ["facts"], kind: .video, pipeline: nil, duration: .seconds(60)) == nil)
        #expect(try await s.lease(worker: "w2", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: lease.jobID) == nil)
        f.clock.advance(3600)
        _ = try await s.reclaim()
        #expect(try await f.row(lease.jobID).state == .review)
        #expect(try await s.stats().counts["facts"]?[.review] == 1)
        #expect(try await s.waitingForReview(limit: 10).map(\.id) == [lease.jobID])
        let waiting = try #require(try await s.review(jobID: lease.jobID))
        #expect(waiting.decision == nil && waiting.decidedAt == nil)

        let approved = try await s.approve(jobID: lease.jobID, by: "cli:ana")
        #expect(approved.state == .queued && approved.finishedAt == nil)
        #expect(try await s.review(jobID: lease.jobID)?.decision == .approved)
        #expect(try await s.review(jobID: lease.jobID)?.decidedBy == "cli:ana")
        #expect(try await s.waitingForReview(limit: 10).isEmpty)
        // The next lease is let through: the worker publishes and completes.
        let again = try #require(try await s.lease(worker: "w3", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        #expect(again.jobID == lease.jobID && again.attempt == 1, "the held attempt was not counted")
        #expect(try await s.holdForReview(again, stage: "publish") == .approved)
        #expect(try await f.row(lease.jobID).state == .running, "an approved job is not held again")
        try await s.checkpoint(again, stage: "publish", state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        #expect(try await s.complete(again).state == .succeeded)
        #expect(try await s.attempts(jobID: lease.jobID).map(\.outcome) == [.review, .succeeded])
        // Approving or rejecting what does not wait for review is refused.
        let twice = await #expect(throws: JobStoreError.self) { _ = try await s.approve(jobID: lease.jobID, by: "cli:ana") }
        #expect("\(twice!)".contains("succeeded") && "\(twice!)".contains("only a job waiting for review"))
        await #expect(throws: JobStoreError.self) { _ = try await s.reject(jobID: lease.jobID, reason: "late", by: "cli:ana") }
        await #expect(throws: JobStoreError.self) { _ = try await s.approve(jobID: 999_999, by: "cli:ana") }
    }

    /// An approved job whose run had to make a stage again (its files were gone) is held again:
    /// the approval was of another video. Its run that made nothing again is let through.
    @Test(arguments: StoreEngine.all) func anApprovalDoesNotCoverStagesMadeAgain(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let lease = try await readyToPublish(s)
        _ = try await s.holdForReview(lease, stage: "publish")
        _ = try await s.approve(jobID: lease.jobID, by: "cli:ana")
        let remade = try #require(try await s.lease(worker: "w2", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        guard case .held(let held) = try await s.holdForReview(remade, stage: "publish", remade: true) else {
            Issue.record("a video made again after its approval was let through to publish"); return
        }
        #expect(held.state == .review && held.attempt == 0)
        #expect(try await s.review(jobID: lease.jobID)?.decision == nil)
        #expect(try await s.waitingForReview(limit: 10).map(\.id) == [lease.jobID])
        _ = try await s.approve(jobID: lease.jobID, by: "cli:ana")
        let again = try #require(try await s.lease(worker: "w3", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        #expect(try await s.holdForReview(again, stage: "publish", remade: false) == .approved)
    }

    @Test(arguments: StoreEngine.all) func aRejectionCancelsWithTheReasonAndARetryAsksAgain(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let lease = try await readyToPublish(s)
        _ = try await s.holdForReview(lease, stage: "publish")
        let empty = await #expect(throws: JobStoreError.self) { _ = try await s.reject(jobID: lease.jobID, reason: "  ", by: "web (loopback)") }
        #expect("\(empty!)".contains("needs a reason"))
        #expect(try await f.row(lease.jobID).state == .review, "a refused rejection changes nothing")

        let rejected = try await s.reject(jobID: lease.jobID, reason: "the thumbnail shows the wrong animal", by: "web (loopback)")
        #expect(rejected.state == .cancelled && rejected.finishedAt != nil)
        #expect(rejected.lastErrorCode == ReviewRules.rejectedCode)
        #expect(rejected.lastErrorMessage?.contains("the thumbnail shows the wrong animal") == true)
        #expect(rejected.lastErrorMessage?.contains("web (loopback)") == true)
        let review = try #require(try await s.review(jobID: lease.jobID))
        #expect(review.decision == .rejected && review.reason == "the thumbnail shows the wrong animal")

        // A retry queues it; its stages are kept, and it stops for review again, undecided.
        _ = try await s.retry(jobID: lease.jobID)
        let again = try #require(try await s.lease(worker: "w2", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        guard case .held = try await s.holdForReview(again, stage: "publish") else {
            Issue.record("a rejected job was let through to publish after a retry"); return
        }
        #expect(try await s.review(jobID: lease.jobID)?.decision == nil)
        // Cancel takes a waiting job at once.
        #expect(try await s.cancel(jobID: lease.jobID) == .cancelled)
        #expect(try await f.row(lease.jobID).state == .cancelled)
        // A cancel requested while the job ran wins over the hold: it ends cancelled, not waiting.
        let running = try await readyToPublish(s, topic: "cancelled meanwhile")
        #expect(try await s.cancel(jobID: running.jobID) == .requested)
        guard case .held(let ended) = try await s.holdForReview(running, stage: "publish") else {
            Issue.record("a job with a cancel request was let through to publish"); return
        }
        let lastOutcome = try await s.attempts(jobID: running.jobID).last?.outcome
        #expect(ended.state == .cancelled && lastOutcome == .cancelled)
        #expect(try await s.review(jobID: running.jobID) == nil)
    }

    @Test(arguments: StoreEngine.all) func aRedoForgetsTheApprovalAndAStaleLeaseCannotHold(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let s = f.store
        let lease = try await readyToPublish(s)
        _ = try await s.holdForReview(lease, stage: "publish")
        _ = try await s.approve(jobID: lease.jobID, by: "cli:ana")
        // Before it publishes, an operator wants a new thumbnail: what is made again is reviewed again.
        _ = try await s.redo(jobID: lease.jobID, from: "thumbnail")
        #expect(try await s.review(jobID: lease.jobID) == nil)
        let again = try #require(try await s.lease(worker: "w2", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60)))
        try await s.checkpoint(again, stage: "thumbnail", state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        guard case .held = try await s.holdForReview(again, stage: "publish") else {
            Issue.record("a redone job was published on its earlier approval"); return
        }
        // A lease that is no longer the job's cannot hold it (the fence).
        await #expect(throws: LeaseLost.self) { _ = try await s.holdForReview(lease, stage: "publish") }
        #expect(try await f.row(lease.jobID).state == .review)
    }
}
