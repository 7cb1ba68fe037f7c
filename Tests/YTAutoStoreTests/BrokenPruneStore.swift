import Foundation
import YTAutoCore
@testable import YTAutoStore

/// A store with one planted bug, for the model-based test's test: it forwards everything to a real
/// store except `prune`, which deletes jobs that finished up to a day after the cutoff.
struct BrokenPruneStore: JobStore {
    let base: SQLiteJobStore

    func prune(finishedBefore cutoff: Date, batchSize: Int) async throws -> Int {
        try await base.prune(finishedBefore: cutoff.addingTimeInterval(86_400), batchSize: batchSize)
    }

    func enqueue(_ job: NewJob) async throws -> EnqueueResult { try await base.enqueue(job) }
    func lease(worker: String, channels: [String]?, kind: JobKind, pipeline: String?, duration: Duration) async throws -> Lease? {
        try await base.lease(worker: worker, channels: channels, kind: kind, pipeline: pipeline, duration: duration)
    }
    func heartbeat(_ lease: Lease, duration: Duration) async throws -> HeartbeatStatus { try await base.heartbeat(lease, duration: duration) }
    func checkpoint(_ lease: Lease, stage: String, state: StageState, artifacts: [Artifact], startedAt: Date, error: JobFailure?) async throws {
        try await base.checkpoint(lease, stage: stage, state: state, artifacts: artifacts, startedAt: startedAt, error: error)
    }
    func complete(_ lease: Lease) async throws -> Job { try await base.complete(lease) }
    func fail(_ lease: Lease, error: JobFailure) async throws -> Job { try await base.fail(lease, error: error) }
    func handBack(_ lease: Lease, reason: JobFailure) async throws -> Job { try await base.handBack(lease, reason: reason) }
    func markCancelled(_ lease: Lease) async throws -> Job { try await base.markCancelled(lease) }
    func cancel(jobID: Int64) async throws -> CancelResult { try await base.cancel(jobID: jobID) }
    func retry(jobID: Int64) async throws -> Job { try await base.retry(jobID: jobID) }
    func retry(jobID: Int64, ifUnchangedSince updatedAt: Date) async throws -> Job? {
        try await base.retry(jobID: jobID, ifUnchangedSince: updatedAt)
    }
    func retryAllFailed(channel: String?) async throws -> [Int64] { try await base.retryAllFailed(channel: channel) }
    func listFailed(channel: String?, code: String?, since: Date?, limit: Int) async throws -> [Job] {
        try await base.listFailed(channel: channel, code: code, since: since, limit: limit)
    }
    func history(channel: String?, limit: Int) async throws -> [AttemptRecord] { try await base.history(channel: channel, limit: limit) }
    func job(id: Int64) async throws -> Job? { try await base.job(id: id) }
    func stages(jobID: Int64) async throws -> [StageRecord] { try await base.stages(jobID: jobID) }
    func attempts(jobID: Int64) async throws -> [AttemptRecord] { try await base.attempts(jobID: jobID) }
    func stats() async throws -> QueueStats { try await base.stats() }
    func reclaim() async throws -> ReclaimReport { try await base.reclaim() }
}
