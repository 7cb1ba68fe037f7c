import Foundation
import YTAutoCore

/// A value bound to or read from a statement.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift value that binds as an SQL value.
public protocol SQLBindable: Sendable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int32: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
/// Dates bind as the stored timestamp text (see ``Timestamp``).
extension Date: SQLBindable { public var sqlValue: SQLValue { .text(Timestamp.string(self)) } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A statement's column names and where each one is, made once per statement and shared by
/// every row it returns: a job's row is read by name, 22 columns, and a lookup by a scan of the
/// names compared about ten names a column (a few per cent of a worker's lease and completion).
final class ColumnNames: Sendable {
    let names: [String]
    /// Each name's first position (a name that appears twice is found at its first, as before).
    let position: [String: Int]

    init(_ names: [String]) {
        self.names = names
        position = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// One result row, with values by column name.
public struct Row: Sendable {
    let names: ColumnNames
    public let values: [SQLValue]

    /// The columns' names, in order.
    public var columns: [String] { names.names }

    init(names: ColumnNames, values: [SQLValue]) {
        self.names = names
        self.values = values
    }

    /// The value of the first column so named; `NULL` when no column is.
    public subscript(_ name: String) -> SQLValue {
        guard let i = names.position[name] else { return .null }
        return values[i]
    }

    public subscript(_ index: Int) -> SQLValue { values[index] }

    public func int(_ name: String) -> Int64? {
        switch self[name] {
        case .integer(let v): v
        case .real(let v): Int64(v)
        case .text(let t): Int64(t)
        default: nil
        }
    }

    public func string(_ name: String) -> String? {
        switch self[name] {
        case .text(let t): t
        case .integer(let v): String(v)
        case .real(let v): String(v)
        default: nil
        }
    }

    public func date(_ name: String) -> Date? { string(name).flatMap(Timestamp.date) }

    public func double(_ name: String) -> Double? {
        switch self[name] {
        case .integer(let v): Double(v)
        case .real(let v): v
        case .text(let t): Double(t)
        default: nil
        }
    }
}
