import Foundation
import Synchronization

/// A counter that waiters sleep on until it moves: on PostgreSQL "there may be new work" (this
/// process's own enqueues, a slot freed, every `NOTIFY ytauto_work` a worker's session hears) and
/// "something changed" (the console's listener); in the web console, the one feed its live
/// streams wait on. Nothing polls while they wait.
public final class SequenceSignal: Sendable {
    private struct State {
        public init() {}

    public var sequence: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
        /// Waits whose timeout fired before they were registered.
        var expired: Set<UInt64> = []
    }
    private let state = Mutex(State())

    public init() {}

    public var sequence: UInt64 { state.withLock { $0.sequence } }

    public func bump() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.sequence &+= 1
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            return all
        }
        for c in woken { c.resume() }
    }

    /// Returns when the sequence passes `seen`, or after `timeout`.
    public func wait(seen: UInt64, timeout: Duration) async {
        let id = state.withLock { s -> UInt64 in s.nextID &+= 1; return s.nextID }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.resume(id)
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.sequence != seen || s.expired.remove(id) != nil { return true }
                s.waiters[id] = c
                return false
            }
            if now { c.resume() }
        }
        timer.cancel()
        state.withLock { _ = $0.expired.remove(id) }
    }

    private func resume(_ id: UInt64) {
        let c = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let c = s.waiters.removeValue(forKey: id) { return c }
            s.expired.insert(id)
            return nil
        }
        c?.resume()
    }
}
