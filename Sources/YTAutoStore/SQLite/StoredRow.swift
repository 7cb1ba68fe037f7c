import Foundation
import YTAutoCore

/// Reads a stored row's columns, throwing ``StoredRowError`` (naming the table, the row and the
/// column) for a value the schema does not allow, where `Row`'s accessors give nil.
///
/// The required readers refuse NULL; the optional ones take NULL as nil but still refuse a value of
/// the wrong type. Numbers stored as text and text stored as numbers read as `Row` reads them.
struct StoredRow {
    let row: Row
    let table: String
    /// Names the row in an error: `job 7`.
    let name: String

    init(_ row: Row, table: String, name: String) {
        self.row = row
        self.table = table
        self.name = name
    }

    /// `row` of `table`, named by its integer key column (`job 7`, `attempt 12`).
    init(_ row: Row, table: String, key: String, as noun: String) {
        self.init(row, table: table, name: "\(noun) \(row.string(key) ?? "with no \(key)")")
    }

    func corrupt(_ column: String, expected: String) -> StoredRowError {
        StoredRowError(table: table, row: name, column: column, found: Self.sql(row[column]), expected: expected)
    }

    /// A value as SQL would show it, cut short.
    static func sql(_ value: SQLValue) -> String {
        switch value {
        case .null: "NULL"
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .text(let t): "'" + String(t.prefix(60)).replacingOccurrences(of: "'", with: "''") + (t.count > 60 ? "…'" : "'")
        case .blob(let b): "a \(b.count)-byte blob"
        }
    }

    func int(_ column: String) throws -> Int64 {
        guard let v = try optionalInt(column) else { throw corrupt(column, expected: "an integer") }
        return v
    }

    func optionalInt(_ column: String) throws -> Int64? {
        switch row[column] {
        case .null: return nil
        case .integer(let v): return v
        case .real(let v): if let i = Int64(exactly: v) { return i }
        case .text(let t): if let i = Int64(t) { return i }
        case .blob: break
        }
        throw corrupt(column, expected: "an integer")
    }

    func count(_ column: String) throws -> Int {
        let v = try int(column)
        guard let i = Int(exactly: v) else { throw corrupt(column, expected: "an integer") }
        return i
    }

    func string(_ column: String) throws -> String {
        guard let s = try optionalString(column) else { throw corrupt(column, expected: "text") }
        return s
    }

    func optionalString(_ column: String) throws -> String? {
        if case .blob = row[column] { throw corrupt(column, expected: "text") }
        return row.string(column)
    }

    func double(_ column: String) throws -> Double? {
        switch row[column] {
        case .null: return nil
        case .integer(let v): return Double(v)
        case .real(let v): return v
        case .text(let t): if let d = Double(t) { return d }
        case .blob: break
        }
        throw corrupt(column, expected: "a number")
    }

    func date(_ column: String) throws -> Date {
        guard let d = try optionalDate(column) else { throw corrupt(column, expected: "a UTC ISO-8601 timestamp") }
        return d
    }

    func optionalDate(_ column: String) throws -> Date? {
        guard let text = try optionalString(column) else { return nil }
        guard let d = Timestamp.date(text) else { throw corrupt(column, expected: "a UTC ISO-8601 timestamp") }
        return d
    }

    /// A text column that holds one of `T`'s raw values.
    func value<T: RawRepresentable>(_ column: String, _ type: T.Type, expected: String) throws -> T where T.RawValue == String {
        guard let v = try optionalValue(column, type, expected: expected) else { throw corrupt(column, expected: expected) }
        return v
    }

    func optionalValue<T: RawRepresentable>(_ column: String, _ type: T.Type, expected: String) throws -> T? where T.RawValue == String {
        guard let text = try optionalString(column) else { return nil }
        guard let v = T(rawValue: text) else { throw corrupt(column, expected: expected) }
        return v
    }

    /// A JSON text column decoded as `T`.
    func json<T: Decodable>(_ column: String, _ type: T.Type, expected: String) throws -> T {
        let text = try string(column)
        guard let v = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else { throw corrupt(column, expected: expected) }
        return v
    }
}
