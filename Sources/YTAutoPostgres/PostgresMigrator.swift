import Foundation
import PostgresNIO
import YTAutoCore

extension Migration {
    /// The PostgreSQL migrations embedded at build time (`migrations/postgres/`), in version order.
    public static let postgres: [Migration] = {
        // A bad file name is a packaging bug, reported by `PostgresMigrator.validateEmbedded()` and its test.
        (try? Migration.parse(files: EmbeddedMigrations.files)) ?? []
    }()
}

/// Applies `migrations/postgres/` by the SQLite migrator's rules: each migration recorded with its
/// version, name, checksum and time in `schema_migrations`; an edited applied migration, or a
/// database newer than this binary, is refused. PostgreSQL's DDL is transactional, so a run is one
/// transaction: a failed migration leaves the database as it was. Concurrent starts migrate once:
/// the run holds a transaction-level advisory lock, so the others wait, then find it done.
public struct PostgresMigrator: Sendable {
    /// The advisory lock's key (the bytes of "ytmigrat").
    static let lockKey: Int64 = 0x7974_6d69_6772_6174

    public let migrations: [Migration]

    public init(migrations: [Migration] = Migration.postgres) {
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    public static func validateEmbedded() throws(MigrationError) {
        _ = try Migration.parse(files: EmbeddedMigrations.files)
    }

    func applied(_ pool: PostgresPool) async throws -> [AppliedMigration] {
        guard try await pool.queryOne("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")?.bool("present") == true else { return [] }
        return try await pool.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").map(Self.applied)
    }

    static func applied(_ r: PGRow) throws -> AppliedMigration {
        AppliedMigration(version: Int(try r.required("version", r.int)), name: try r.required("name", r.string),
                         checksum: try r.required("checksum", r.string), appliedAt: try r.date("applied_at"))
    }

    /// Applies every pending migration; returns the ones this call applied.
    @discardableResult
    func migrate(_ pool: PostgresPool) async throws -> [Migration] {
        let migrations = self.migrations
        return try await pool.transaction { tx in
            try await tx.run("SELECT pg_advisory_xact_lock(\(Self.lockKey))")
            try await tx.run("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL
                )
                """)
            let current = try await tx.query("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version").map(Self.applied)
            try Migration.check(applied: current, against: migrations)
            var done: [Migration] = []
            for m in migrations where !current.contains(where: { $0.version == m.version }) {
                do {
                    // A migration is several statements, and postgres-nio speaks only the extended
                    // protocol (one statement a message): PL/pgSQL's EXECUTE runs the whole text.
                    guard !m.sql.contains("$ytauto_migration$") else {
                        throw PostgresStoreError("the migration's text holds the quote $ytauto_migration$ that wraps it")
                    }
                    try await tx.run(PostgresQuery(unsafeSQL: "DO $ytauto_do$ BEGIN EXECUTE $ytauto_migration$\(m.sql)$ytauto_migration$; END $ytauto_do$"))
                } catch {
                    let e = PostgresStoreError.from(error, url: pool.url)
                    throw MigrationError.failed(version: m.version, name: m.name, underlying: "\(e)")
                }
                try await tx.run("""
                    INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (\(m.version), \(m.name), \(m.checksum), now())
                    """)
                done.append(m)
            }
            return done
        }
    }
}
