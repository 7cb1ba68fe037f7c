import Foundation
import YTAutoCore

/// A job store under test, with what only its engine knows how to do: start a worker, kill one
/// (its liveness gone at once, as the kernel drops a SIGKILLed process's lock), stop one
/// gracefully, and list the workers' states.
struct QueueEngine: Sendable {
    var store: any JobStore
    var startWorker: @Sendable (String) async throws -> Void
    var killWorker: @Sendable (String) async throws -> Void
    var stopWorker: @Sendable (String) async throws -> Void
    var workerStates: @Sendable () async throws -> [String: WorkerRecord.State]
    /// Whatever must live as long as the store (its temporary folder).
    var keepAlive: (any Sendable)? = nil
}

/// Makes a fresh, empty engine that reads the time from `clock` and retries with `policy`.
/// The model-based test takes one of these, so the same test runs on every engine.
typealias QueueEngineFactory = @Sendable (_ clock: @escaping @Sendable () -> Date, _ policy: RetryPolicy) async throws -> QueueEngine
