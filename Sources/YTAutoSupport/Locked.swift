import Foundation

/// A value that several tasks read and write, each access under a lock.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    // `@unchecked` is safe: `stored` is only touched under `lock`.
    private let lock = NSLock()
    private var stored: Value

    public init(_ value: Value) { stored = value }

    public var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    /// Reads and changes the value in one hold of the lock.
    @discardableResult
    public func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&stored) } }
}
