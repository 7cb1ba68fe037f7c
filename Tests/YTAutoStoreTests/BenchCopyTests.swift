import Foundation
import Testing
import YTAutoStore
import YTAutoTestSupport

/// `docs/bench/queue_parts.c` times the store's life-cycle statements in C, so it holds copies of
/// their text: each copy is the store's statement (whitespace aside), so the harness's figures in
/// docs/benchmarks.md stay figures of what the store runs.
@Suite struct BenchCopyTests {
    /// One space for each run of white space, none inside parentheses' edges.
    static func normalized(_ sql: String) -> String {
        let words = sql.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        return words.replacingOccurrences(of: "( ", with: "(").replacingOccurrences(of: " )", with: ")")
    }

    /// The SQL the harness prepares: each `prep(db,"…")` literal, with the `COLS` macro written out.
    static func harnessStatements() throws -> [String] {
        let text = try String(contentsOf: packageRoot.appending(path: "docs/bench/queue_parts.c"), encoding: .utf8)
        let columns = try #require(text.firstMatch(of: /#define COLS "([^"]*)"/)).1
        return text.matches(of: /prep\(db,"([^"]*)"( COLS)?\)/).map {
            normalized(String($0.1) + ($0.2 == nil ? "" : String(columns)))
        }
    }

    @Test func theHarnessRunsTheStoresOwnLifeCycleStatements() throws {
        let copies = try Self.harnessStatements()
        #expect(copies.count >= 6, "found \(copies.count) statements in queue_parts.c")
        let store = [
            "lease": SQLiteJobStore.SQL.leaseNext, "complete": SQLiteJobStore.SQL.completeFenced,
            "attempt": SQLiteJobStore.SQL.insertAttempt, "attempt's end": SQLiteJobStore.SQL.finishAttempt,
        ]
        for (name, sql) in store {
            let copied = copies.contains(Self.normalized(sql))
            #expect(copied, "queue_parts.c has no copy of the store's \(name) statement:\n\(Self.normalized(sql))")
        }
    }
}
