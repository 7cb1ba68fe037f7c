import Synchronization

/// A call raced against a deadline: its result, or word that the deadline passed first. The call
/// is not waited for past the deadline (a statement on a dead connection, a heartbeat over a cut
/// link may never be called back): it is cancelled and left to end on its own, its result dropped.
/// The timer is cancelled as soon as the call answers, so none pile up at a busy caller's rate.
public enum Deadline {
    public enum Outcome<T: Sendable>: Sendable {
        case finished(Result<T, any Error>)
        case passed
    }

    /// - Parameter discarded: given a value the call returns after the deadline passed, which
    ///   nobody else will see: a connection, say, that must be closed rather than dropped (a
    ///   PostgreSQL connection dropped open leaks its server session, and asserts in debug builds).
    public static func race<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ call: @escaping @Sendable () async throws -> T,
        discarded: (@Sendable (T) async -> Void)? = nil
    ) async -> Outcome<T> {
        let first = FirstOnly()
        return await withCheckedContinuation { (c: CheckedContinuation<Outcome<T>, Never>) in
            let work = Task {
                let result: Result<T, any Error>
                do { result = .success(try await call()) } catch { result = .failure(error) }
                if first.claim() {
                    c.resume(returning: .finished(result))
                } else if case .success(let late) = result {
                    await discarded?(late)
                }
                first.cancelTimer()
            }
            first.setTimer(Task {
                do { try await Task.sleep(until: deadline, clock: .continuous) } catch { return }
                if first.claim() {
                    work.cancel()
                    c.resume(returning: .passed)
                }
            })
        }
    }

    /// True for the first caller only; holds the timer so the answer can cancel it.
    final class FirstOnly: Sendable {
        private let state = Mutex<(taken: Bool, answered: Bool, timer: Task<Void, Never>?)>((false, false, nil))
        func claim() -> Bool { state.withLock { s in defer { s.taken = true }; return !s.taken } }
        /// Called once the call has its answer: the timer, if set, is cancelled (or will be when set).
        func cancelTimer() {
            let timer = state.withLock { s in s.answered = true; return s.timer }
            timer?.cancel()
        }
        func setTimer(_ timer: Task<Void, Never>) {
            let answered = state.withLock { s in s.timer = timer; return s.answered }
            if answered { timer.cancel() }
        }
    }
}
