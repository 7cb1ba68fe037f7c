import Foundation
import YTAutoCore

/// Brings a database's schema up to date with ``Migration/embedded``.
///
/// Each migration applies in its own `BEGIN IMMEDIATE` transaction and records its version,
/// name, checksum and time in `schema_migrations`. Whether a version is applied is decided
/// inside that transaction, under the write lock, so several processes starting at once
/// apply each migration exactly once: the others wait, then see it done.
public struct Migrator: Sendable {
    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.embedded) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    /// Checks the embedded set itself: unique versions and well-formed names.
    public static func validateEmbedded() throws(MigrationError) {
        _ = try Migration.parse(files: Migration.embeddedFiles)
    }

    public typealias Applied = AppliedMigration

    /// The migrations recorded in the database.
    public func applied(_ db: Connection) throws -> [Applied] {
        let exists = try db.queryOne(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'") != nil
        guard exists else { return [] }
        return try db.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").map { row in
            let r = StoredRow(row, table: "schema_migrations", key: "version", as: "migration")
            return Applied(version: try r.count("version"), name: try r.string("name"),
                           checksum: try r.string("checksum"), appliedAt: try r.optionalDate("applied_at"))
        }
    }

    /// Refuses a database that is newer than this binary, or whose applied migrations differ.
    public func check(_ applied: [Applied]) throws(MigrationError) {
        try Migration.check(applied: applied, against: migrations)
    }

    /// Applies every pending migration. Returns the ones this call applied.
    @discardableResult
    public func migrate(_ db: Connection, now: @Sendable () -> Date = Date.init) throws -> [Migration] {
        try db.writeTransaction { db in
            try db.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    INTEGER PRIMARY KEY,
                    name       TEXT NOT NULL,
                    checksum   TEXT NOT NULL,
                    applied_at TEXT NOT NULL
                )
                """)
        }
        try check(try applied(db))
        // Foreign keys are off while migrations run (outside a transaction, where SQLite allows the
        // switch), so a migration may make a parent table again by SQLite's documented procedure
        // without its DROP cascading into the children; each migration's transaction checks every
        // foreign key before it commits, and the switch is restored however this ends.
        let keysWereOn = try db.queryOne("PRAGMA foreign_keys")?.int("foreign_keys") == 1
        if keysWereOn { try db.execute("PRAGMA foreign_keys=OFF") }
        defer { if keysWereOn { try? db.execute("PRAGMA foreign_keys=ON") } }
        var done: [Migration] = []
        for m in migrations {
            let appliedNow: Bool = try db.writeTransaction { db in
                let current = try self.applied(db)
                try self.check(current)
                if current.contains(where: { $0.version == m.version }) { return false }
                do {
                    try db.execute(m.sql)
                    if let broken = try db.queryOne("PRAGMA foreign_key_check") {
                        throw MigrationError.failed(version: m.version, name: m.name, underlying:
                            "it leaves a foreign key broken: a row of \(broken.string("table") ?? "?") (rowid \(broken.string("rowid") ?? "?")) refers to a missing row of \(broken.string("parent") ?? "?")")
                    }
                } catch let error as MigrationError {
                    throw error
                } catch {
                    throw MigrationError.failed(version: m.version, name: m.name, underlying: String(describing: error))
                }
                try db.run(
                    "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
                    [m.version, m.name, m.checksum, now()])
                return true
            }
            if appliedNow { done.append(m) }
        }
        return done
    }
}
