import Foundation
import YTAutoCore

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
