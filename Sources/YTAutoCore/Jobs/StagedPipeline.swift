import Foundation

/// What a worker runs for a job: an ordered list of stages, each checkpointed.
///
/// A stage must be safe to run again after a crash (it writes to temporary names and
/// renames into place); the worker records it in `job_stages` before and after.
public protocol StagedPipeline: Sendable {
    var stages: [String] { get }
    /// Runs one stage of `job` and returns its artifacts. Honours task cancellation.
    func run(stage: String, job: Job, dryRun: Bool) async throws -> StageOutcome
}

/// How a stage ended when it did not throw.
public enum StageOutcome: Sendable, Hashable {
    case done([Artifact])
    /// Nothing to do (e.g. publish under --dry-run).
    case skipped
}

