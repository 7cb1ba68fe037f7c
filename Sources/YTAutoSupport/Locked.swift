import Synchronization

/// A value that several tasks read and write, each access under a lock: a `Mutex` that a class
/// can share (a `Mutex` itself cannot be copied into closures or stored in several places).
public final class Locked<Value: Sendable>: Sendable {
    private let stored: Mutex<Value>

    public init(_ value: Value) { stored = Mutex(value) }

    public var value: Value {
        get { stored.withLock { $0 } }
        set { stored.withLock { $0 = newValue } }
    }

    /// Reads and changes the value in one hold of the lock.
    @discardableResult
    public func update<R>(_ body: (inout sending Value) -> sending R) -> sending R { stored.withLock { body(&$0) } }
}
