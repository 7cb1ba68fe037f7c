import Foundation
import Synchronization

/// "There may be new work": a counter this process bumps (its own enqueues, a slot freed) and a
/// worker's session bumps for every `NOTIFY ytauto_work` and every reconnection. Idle workers wait
/// on it with a timeout; nothing polls the database while they wait.
final class WorkSignal: Sendable {
    private struct State {
        var sequence: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextID: UInt64 = 0
        /// Waits whose timeout fired before they were registered.
        var expired: Set<UInt64> = []
    }
    private let state = Mutex(State())

    var sequence: UInt64 { state.withLock { $0.sequence } }

    func bump() {
        let woken = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.sequence &+= 1
            let all = Array(s.waiters.values)
            s.waiters.removeAll()
            return all
        }
        for c in woken { c.resume() }
    }

    /// Returns when the sequence passes `seen`, or after `timeout`.
    func wait(seen: UInt64, timeout: Duration) async {
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
