import Logging
import ServiceLifecycle
import YTAutoCore
import YTAutoStore
import YTAutoWorker

/// One worker in this process on `store`, running `pipeline` as `configuration` says (one job at
/// a time unless told), its log handled by `log` (dropped unless told). Stop it with the group's
/// `triggerGracefulShutdown()`, then await the task.
func startWorker(_ store: SQLiteJobStore, pipeline: some StagedPipeline, configuration: QueueWorkerConfiguration? = nil,
                 log: @escaping @Sendable (String) -> any LogHandler = { _ in SwiftLogNoOpLogHandler() }) -> (ServiceGroup, Task<Void, any Error>) {
    let worker = QueueWorker(store: store, pipeline: pipeline, configuration: configuration ?? .oneAtATime, logger: Logger(label: "test", factory: log))
    let group = ServiceGroup(configuration: .init(services: [.init(service: worker)], logger: Logger(label: "group") { _ in SwiftLogNoOpLogHandler() }))
    return (group, Task { try await group.run() })
}

extension QueueWorkerConfiguration {
    /// The defaults, one job at a time: what a test's worker starts from.
    static var oneAtATime: QueueWorkerConfiguration {
        var one = QueueWorkerConfiguration()
        one.concurrency = 1
        return one
    }
}
