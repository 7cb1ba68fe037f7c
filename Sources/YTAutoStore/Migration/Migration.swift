import Foundation
import YTAutoCore

/// One schema step, from `migrations/NNNN_name.sql`.
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

    /// The migrations embedded in this binary at build time, in version order.
    public static let embedded: [Migration] = {
        // The build plugin only embeds files it found, so a bad name is a packaging bug;
        // it is reported by `Migrator.validateEmbedded()` and its test, not hidden here.
        EmbeddedMigrations.files.compactMap { try? Migration(fileName: $0.name, sql: $0.sql) }
            .sorted { $0.version < $1.version }
    }()

    /// The raw file names and texts that were embedded.
    public static var embeddedFiles: [(name: String, sql: String)] { EmbeddedMigrations.files }

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
