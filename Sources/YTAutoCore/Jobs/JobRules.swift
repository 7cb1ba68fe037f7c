import Foundation

/// The rules of a job's life cycle that do not depend on the store's engine: what a failed
/// attempt leads to, and what becomes of a job whose worker died or whose lease ran out. Every
/// engine reads the job, asks these, and writes the answer, so two engines cannot disagree.
public enum JobRules {
    /// What a job becomes after an attempt that did not succeed.
    public enum Next: Sendable, Hashable {
        /// A cancel was requested while it ran: it ends cancelled.
        case cancelled
        /// Queued again, due at `at`; `refund` gives the attempt back (the error did not spend it).
        case retry(at: Date, refund: Bool)
        /// It ends failed.
        case failed
    }

    /// After a failed attempt: cancelled if a cancel was requested; queued again after the
    /// policy's backoff (or at the error's own time) if the error is retryable and an attempt
    /// is left (an error that does not spend the attempt, such as a parked quota, always has
    /// one); otherwise failed.
    public static func afterFailure(of job: Job, error: JobFailure, policy: RetryPolicy, now: Date,
                                    using generator: inout some RandomNumberGenerator) -> Next {
        if job.cancelRequested { return .cancelled }
        let attemptsLeft = job.attempt < job.maxAttempts || !error.spendsAttempt
        guard error.isRetryable && attemptsLeft else { return .failed }
        return .retry(at: policy.nextRun(after: error, attempt: job.attempt, now: now, using: &generator), refund: !error.spendsAttempt)
    }

    /// After a failed attempt, with the system's random numbers for the backoff's jitter.
    public static func afterFailure(of job: Job, error: JobFailure, policy: RetryPolicy, now: Date) -> Next {
        var generator = SystemRandomNumberGenerator()
        return afterFailure(of: job, error: error, policy: policy, now: now, using: &generator)
    }

    /// After a lost attempt (its worker died, or its lease ran out): cancelled if a cancel was
    /// requested; failed if it was the last attempt (a job that kills its worker every time
    /// must not loop for ever); else queued again at once, keeping its place in the queue (its
    /// own `run_at`, already past), so a job freed from a dead worker is leased next rather than
    /// after everything enqueued since. The lost attempt is spent.
    public static func afterLoss(of job: Job, now: Date) -> Next {
        if job.cancelRequested { return .cancelled }
        if job.attempt >= job.maxAttempts { return .failed }
        return .retry(at: min(job.runAt, now), refund: false)
    }

    /// Refuses a job no store may insert: fewer than one attempt, no channel, a due time outside
    /// what the store writes. The same on every engine.
    public static func checkNewJob(_ new: NewJob) throws {
        guard new.maxAttempts >= 1 else { throw JobStoreError.invalidArgument("max attempts must be at least 1") }
        guard !new.channel.isEmpty else { throw JobStoreError.invalidArgument("a job needs a channel") }
        if let at = new.runAt { _ = try Timestamp.checked(at, "the job's due time") }
    }

    /// The error code of a stage row marked stale (``WorkerStore/markStagesStale(_:stages:because:)``):
    /// a stage it reads was made again with other files, so it is made again too.
    public static let staleStageCode = "stage.input_changed"

    /// The stages a redo from `stage` clears: it and every later one of the pipeline (``Stage``),
    /// in order; the earlier ones are kept and not run again.
    public static func stagesToRedo(from stage: String) throws -> [String] {
        guard let start = Stage.names.firstIndex(of: stage) else {
            throw JobStoreError.invalidArgument("'\(stage)' is not a stage; the stages are \(Stage.names.joined(separator: ", "))")
        }
        return Array(Stage.names[start...])
    }

    /// Why job `id` in `state` cannot be redone from a stage, or nil if it can. A running job is
    /// its worker's. A job whose video was uploaded (its publish stage recorded `videoID`) is not
    /// redone: its publish stage would run again and upload a second video.
    public static func redoRefusal(jobID id: Int64, state: JobState, publishedVideoID: String?) -> JobStoreError? {
        if state == .running { return .invalidState(jobID: id, state: state, action: "redo it while its worker runs it: cancel it first") }
        if let video = publishedVideoID {
            return .invalidArgument("job \(id) was published as YouTube video \(video); redoing it would upload a second video: enqueue a new job instead")
        }
        return nil
    }

    /// The error recorded for a lost attempt: `code` (`worker.lost`, `lease.expired`) and the
    /// reason, with the attempt and the stage it was in.
    public static func lossFailure(of job: Job, code: String, message: String) -> JobFailure {
        JobFailure(code: code, message: "\(message) (attempt \(job.attempt) of \(job.maxAttempts)"
                       + (job.currentStage.map { ", stage \($0)" } ?? "") + ")",
                   isRetryable: true)
    }
}
