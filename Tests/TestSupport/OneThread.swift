import Foundation

/// One thread for the tasks that prefer it (a serial queue): on it, a task that never gives its
/// turn up keeps every other one waiting, as a loop did on the two cooperative threads of a test
/// run; and a closure put on ``queue`` directly holds the thread for as long as it runs.
public final class OneThread: TaskExecutor, @unchecked Sendable {
    // `@unchecked` is safe: the queue is immutable and serial.
    public let queue = DispatchQueue(label: "ytauto-one-thread")
    public init() {}
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
