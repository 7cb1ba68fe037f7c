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
}
