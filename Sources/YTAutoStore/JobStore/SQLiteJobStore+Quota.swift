import Foundation
import YTAutoCore

/// The quota ledger (``QuotaLedger``) on SQLite: what each provider consumed, per day, channel and unit.
extension SQLiteJobStore: QuotaLedger {
    public func record(provider: String, channel: String, unit: String, amount: Int, day: String) async throws {
        guard amount > 0 else { return }
        let now = self.now()
        try await database.write { db in
            try db.run("""
                INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (day, provider, channel, unit) DO UPDATE SET amount = amount + excluded.amount, updated_at = excluded.updated_at
                """, [day, provider, channel, unit, amount, now])
        }
    }

    public func reserve(provider: String, channel: String, unit: String, amount: Int, limit: Int, day: String) async throws -> Bool {
        let now = self.now()
        return try await database.write { db in
            let used = try Self.used(db, provider: provider, unit: unit, day: day)
            guard used + Int64(amount) <= Int64(limit) else { return false }
            try db.run("""
                INSERT INTO quota_ledger (day, provider, channel, unit, amount, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (day, provider, channel, unit) DO UPDATE SET amount = amount + excluded.amount, updated_at = excluded.updated_at
                """, [day, provider, channel, unit, amount, now])
            return true
        }
    }

    public func used(provider: String, unit: String, day: String) async throws -> Int {
        try await database.read { db in Int(try Self.used(db, provider: provider, unit: unit, day: day)) }
    }

    static func used(_ db: Connection, provider: String, unit: String, day: String) throws -> Int64 {
        guard let row = try db.queryOne(
            "SELECT coalesce(sum(amount), 0) AS used FROM quota_ledger WHERE day = ? AND provider = ? AND unit = ?",
            [day, provider, unit]) else { return 0 }
        return try StoredRow(row, table: "quota_ledger", name: "the \(unit) of \(provider) on \(day)").int("used")
    }

    /// The ledger's rows since `day` (inclusive), newest day first.
    public func ledger(since day: String) async throws -> [LedgerEntry] {
        try await database.read { db in
            try db.query("SELECT * FROM quota_ledger WHERE day >= ? ORDER BY day DESC, provider, channel, unit", [day]).map { row in
                let r = StoredRow(row, table: "quota_ledger", name: "the row of \(row.string("day") ?? "?") "
                                  + "\(row.string("provider") ?? "?") \(row.string("channel") ?? "?") \(row.string("unit") ?? "?")")
                return LedgerEntry(day: try r.string("day"), provider: try r.string("provider"), channel: try r.string("channel"),
                                   unit: try r.string("unit"), amount: try r.int("amount"))
            }
        }
    }
}

extension SQLiteJobStore {
    /// Gives back part of a reservation (``reserve(provider:channel:unit:amount:limit:day:)``):
    /// a YouTube upload whose session never opened (the token refresh failed, YouTube refused
    /// the insert) used none of the units it reserved. The row never goes below zero, and a row
    /// left at zero is removed, so the ledger reads as if the reservation had not been made.
    public func release(provider: String, channel: String, unit: String, amount: Int, day: String) async throws {
        guard amount > 0 else { return }
        let now = self.now()
        try await database.write { db in
            try db.run("""
                UPDATE quota_ledger SET amount = max(0, amount - ?), updated_at = ?
                WHERE day = ? AND provider = ? AND channel = ? AND unit = ?
                """, [amount, now, day, provider, channel, unit])
            try db.run("DELETE FROM quota_ledger WHERE day = ? AND provider = ? AND channel = ? AND unit = ? AND amount = 0",
                       [day, provider, channel, unit])
        }
    }
}
