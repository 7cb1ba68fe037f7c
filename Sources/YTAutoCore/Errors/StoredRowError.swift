import Foundation

/// A stored row that does not hold what the schema says it holds: a column that is NULL, or of
/// the wrong type, or a state no code writes. The database was changed outside ytauto (an SQL
/// tool, another program) or is damaged; the store refuses to read the row rather than turn the
/// value into a zero, 1970 or a default state that would then be acted on.
///
/// Both engines throw it, naming the table, the row and the column the same way.
public struct StoredRowError: YTAutoError, Hashable {
    /// The table read, such as `jobs`.
    public let table: String
    /// Which row, such as `job 7` or `stage narration of job 7`.
    public let row: String
    /// The column whose value cannot be read.
    public let column: String
    /// What the column holds, as SQL shows it: `NULL`, `'bogus'`, `12.5`.
    public let found: String
    /// What it should hold, such as `a job state` or `a UTC ISO-8601 timestamp`.
    public let expected: String

    public init(table: String, row: String, column: String, found: String, expected: String) {
        self.table = table
        self.row = row
        self.column = column
        self.found = found
        self.expected = expected
    }

    public var code: String { "store.corrupt_row" }
    public var message: String {
        "\(table): \(row) cannot be read: column \(column) holds \(found), not \(expected) "
            + "(the database was changed outside ytauto or is damaged)"
    }
    /// Reading the row again finds the same value.
    public var isRetryable: Bool { false }
}
