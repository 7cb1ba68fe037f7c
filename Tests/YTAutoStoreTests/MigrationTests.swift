import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

@Suite struct MigrationTests {
    /// The binary carries exactly the files of `migrations/`, byte for byte.
    @Test func embeddedSetEqualsTheFolder() throws {
        let folder = packageRoot.appending(path: "migrations")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(!names.isEmpty)
        #expect(Migration.embeddedFiles.map(\.name) == names)
        for file in Migration.embeddedFiles {
            let disk = try String(contentsOf: folder.appending(path: file.name), encoding: .utf8)
            #expect(file.sql == disk, "\(file.name) differs from the embedded copy")
        }
        try Migrator.validateEmbedded()
        #expect(Migration.embedded.map(\.fileName) == names)
    }

    @Test func fileNamesAreChecked() {
        #expect(throws: MigrationError.badFileName("1_x.sql")) { try Migration(fileName: "1_x.sql", sql: "") }
        #expect(throws: MigrationError.badFileName("0001-x.sql")) { try Migration(fileName: "0001-x.sql", sql: "") }
        #expect((try? Migration(fileName: "0012_add_slots.sql", sql: ""))?.version == 12)
    }

    @Test func migratesAnEmptyDatabase() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        let applied = try Migrator().migrate(db)
        #expect(applied.map(\.version) == Migration.embedded.map(\.version))
        let tables = try db.query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").compactMap { $0.string("name") }
        for t in ["jobs", "job_stages", "job_attempts", "workers", "schema_migrations"] { #expect(tables.contains(t)) }
        let rows = try Migrator().applied(db)
        #expect(rows.map(\.checksum) == Migration.embedded.map(\.checksum))
        #expect(rows.allSatisfy { $0.appliedAt != nil })
        #expect(try Migrator().migrate(db).isEmpty)
    }

    @Test func bringsAnOlderDatabaseUpToDate() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        let base = Migration.embedded
        try Migrator(migrations: base).migrate(db)
        let next = Migration(version: 9000, name: "add_notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);")
        let applied = try Migrator(migrations: base + [next]).migrate(db)
        #expect(applied == [next])
        #expect(try db.queryOne("SELECT name FROM sqlite_schema WHERE name = 'notes'") != nil)
        #expect(try Migrator(migrations: base + [next]).applied(db).last?.name == "add_notes")
    }

    @Test func aFailingMigrationRollsBackAlone() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("a.db"))
        let bad = Migration(version: 9000, name: "broken", sql: "CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);")
        let error = try #require(throws: MigrationError.self) { try Migrator(migrations: Migration.embedded + [bad]).migrate(db) }
        #expect(String(describing: error).contains("0001") == false)
        #expect(String(describing: error).contains("9000_broken"))
        // The good migrations stay applied, the broken one left nothing behind.
        #expect(try Migrator().applied(db).map(\.version) == Migration.embedded.map(\.version))
        #expect(try db.queryOne("SELECT name FROM sqlite_schema WHERE name = 'half'") == nil)
    }

    @Test func aChangedAppliedMigrationIsRefused() throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let db = try Connection(path: path)
        try Migrator().migrate(db)
        try db.run("UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1")
        let error = try #require(throws: MigrationError.self) { try Migrator().migrate(db) }
        guard case .checksumMismatch(let v, _, _, _) = error else { Issue.record("wrong error \(error)"); return }
        #expect(v == 1)
        #expect(error.description.contains("never edit an applied migration"))
        #expect(throws: MigrationError.self) { try SQLiteJobStore(path: path) }
    }

    @Test func aNewerDatabaseIsRefused() throws {
        let dir = TempDir()
        let path = dir.path("a.db")
        let db = try Connection(path: path)
        try Migrator().migrate(db)
        try db.run("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 'x', '2030-01-01T00:00:00.000Z')")
        let error = try #require(throws: MigrationError.self) { try Migrator().migrate(db) }
        #expect(error == .databaseNewer(databaseVersion: 9999, binaryVersion: Migration.embedded.last!.version))
        #expect(error.description.contains("upgrade ytauto"))
        let storeError = try #require(throws: MigrationError.self) { try SQLiteJobStore(path: path, migrate: false) }
        #expect(storeError == error)
    }

    /// Six processes start on a fresh file at once; each migration is applied exactly once.
    @Test func concurrentStartsMigrateOnce() async throws {
        let dir = TempDir()
        let path = dir.path("race.db")
        let children = try (0..<6).map { _ in try Child(binary("ytauto-testworker"), ["--db", path, "--exit-when-idle"]) }
        for c in children {
            let r = await c.wait()
            #expect(r.status == 0, "\(r.stderr)")
        }
        let db = try Connection(path: path)
        let rows = try db.query("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
        #expect(rows.count == Migration.embedded.count)
        #expect(rows.allSatisfy { $0.int("n") == 1 })
    }
}
