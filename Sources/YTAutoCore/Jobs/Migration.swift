import Foundation

/// One schema step, from `migrations/NNNN_name.sql` (SQLite) or `migrations/postgres/NNNN_name.sql`.
/// The engines share the file rules, the checksums and what an applied list may look like
/// (``MigrationError``, ``Migration/check(applied:against:)``).
public struct Migration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the SQL text, recorded when applied; a later change is refused.
    public let checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = Checksum.sha256Hex(sql)
    }

    /// Parses `NNNN_name.sql` into version and name.
    public init(fileName: String, sql: String) throws(MigrationError) {
        guard fileName.hasSuffix(".sql") else { throw .badFileName(fileName) }
        let stem = fileName.dropLast(4)
        guard let underscore = stem.firstIndex(of: "_"),
              let version = Int(stem[..<underscore]), version > 0,
              stem[..<underscore].count == 4
        else { throw .badFileName(fileName) }
        self.init(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql)
    }

    public var fileName: String { String(format: "%04d_%@.sql", version, name) }
}

/// Why the schema could not be brought up to date. Nothing was changed by the failing step.
public enum MigrationError: Error, Sendable, Hashable, CustomStringConvertible {
    case badFileName(String)
    case duplicateVersion(Int)
    /// An applied migration's SQL differs from the one in this binary.
    case checksumMismatch(version: Int, name: String, applied: String, embedded: String)
    /// The database has migrations this binary does not know: it was made by a newer ytauto.
    case databaseNewer(databaseVersion: Int, binaryVersion: Int)
    /// An applied version is unknown but not newer: a migration was removed or renamed.
    case unknownApplied(version: Int, name: String)
    case failed(version: Int, name: String, underlying: String)

    public var description: String {
        switch self {
        case .badFileName(let f):
            "migration file '\(f)' is not named NNNN_name.sql (four digits, an underscore, a name)"
        case .duplicateVersion(let v):
            "two migration files have version \(v)"
        case .checksumMismatch(let v, let n, let a, let e):
            "migration \(String(format: "%04d", v))_\(n) was changed after it was applied to this database "
                + "(applied checksum \(a.prefix(12))…, this binary's \(e.prefix(12))…); "
                + "never edit an applied migration: restore it and add a new migration instead"
        case .databaseNewer(let d, let b):
            "the database is at schema version \(d) but this binary knows versions up to \(b): "
                + "it was migrated by a newer ytauto; upgrade ytauto rather than use an older binary on it"
        case .unknownApplied(let v, let n):
            "the database records migration \(String(format: "%04d", v))_\(n), which this binary does not have; "
                + "was a migration file removed or renamed?"
        case .failed(let v, let n, let u):
            "migration \(String(format: "%04d", v))_\(n) failed and was rolled back: \(u)"
        }
    }
}

/// A migration recorded in a database's `schema_migrations`.
public struct AppliedMigration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let checksum: String
    public let appliedAt: Date?

    public init(version: Int, name: String, checksum: String, appliedAt: Date?) {
        self.version = version
        self.name = name
        self.checksum = checksum
        self.appliedAt = appliedAt
    }
}

extension Migration {
    /// Refuses a database this binary must not touch: one migrated by a newer binary, one that
    /// records a migration this binary lacks, or one whose applied migration was edited since.
    public static func check(applied: [AppliedMigration], against migrations: [Migration]) throws(MigrationError) {
        let known = Dictionary(migrations.map { ($0.version, $0) }, uniquingKeysWith: { a, _ in a })
        let newest = migrations.map(\.version).max() ?? 0
        for a in applied {
            guard let m = known[a.version] else {
                if a.version > newest { throw .databaseNewer(databaseVersion: applied.map(\.version).max() ?? a.version, binaryVersion: newest) }
                throw .unknownApplied(version: a.version, name: a.name)
            }
            if m.checksum != a.checksum {
                throw .checksumMismatch(version: m.version, name: m.name, applied: a.checksum, embedded: m.checksum)
            }
        }
    }

    /// Parses embedded files, refusing a bad name or two files of one version.
    public static func parse(files: [(name: String, sql: String)]) throws(MigrationError) -> [Migration] {
        var seen = Set<Int>()
        var out: [Migration] = []
        for file in files {
            let m = try Migration(fileName: file.name, sql: file.sql)
            guard seen.insert(m.version).inserted else { throw .duplicateVersion(m.version) }
            out.append(m)
        }
        return out.sorted { $0.version < $1.version }
    }
}
