import Foundation
import Logging
import PostgresNIO
import Synchronization
import YTAutoCore

/// What changed, for the web console's live view (``ConsoleStore/waitForChange(seen:timeout:)``):
/// a connection of its own LISTENs on `ytauto_change` (a statement wrote a job's stages) and
/// `ytauto_work` (a job became queued), and reconnects with backoff when it drops. Started by
/// the first wait, so a worker or a command never opens it.
extension PostgresJobStore {
    public var changeSequence: UInt64 {
        changes.startIfNeeded(url: url, logger: logger)
        return changes.signal.sequence
    }

    /// A job's end notifies nobody (``ConsoleStore/changesIncludeJobEnds``); its stages and a job
    /// becoming queued do.
    public var changesIncludeJobEnds: Bool { false }

    public func waitForChange(seen: UInt64, timeout: Duration) async {
        changes.startIfNeeded(url: url, logger: logger)
        await changes.signal.wait(seen: seen, timeout: timeout)
    }
}

/// The console's listening connection and the signal it bumps.
final class ChangeListener: Sendable {
    let signal = SequenceSignal()
    private let task = Mutex<Task<Void, Never>?>(nil)

    func startIfNeeded(url: PostgresURL, logger: Logger) {
        task.withLock { current in
            guard current == nil else { return }
            let signal = self.signal
            current = Task {
                var pause = Duration.milliseconds(500)
                var failures = RepeatedFailure()
                while !Task.isCancelled {
                    do {
                        let conn = try await PostgresWorkerSession.connect(url: url, logger: logger)
                        pause = .milliseconds(500)
                        if let after = failures.succeeded() { logger.notice("the console's change listener is connected again \(after)") }
                        await withTaskGroup(of: Void.self) { group in
                            for channel in ["ytauto_change", "ytauto_work"] {
                                group.addTask {
                                    _ = try? await conn.listen(on: channel) { notifications in
                                        signal.bump()  // what changed while it was being set up
                                        for try await _ in notifications { signal.bump() }
                                    }
                                }
                            }
                            await group.next()
                            group.cancelAll()
                        }
                        try? await conn.close()
                        if Task.isCancelled { return }
                        logger.warning("the console's change listener lost its connection; reconnecting")
                    } catch {
                        let text = "\(PostgresStoreError.from(error, url: url))"
                        if failures.failed(text) {
                            logger.warning("the console's change listener cannot connect: \(text)\(failures.note()); next try in \(pause)")
                        }
                    }
                    try? await Task.sleep(for: pause)
                    pause = min(pause * 2, .seconds(5))
                    signal.bump()
                }
            }
        }
    }

    func stop() { task.withLock { $0?.cancel() } }
}
