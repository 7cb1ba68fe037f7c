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
}

@Suite struct RunHistoryMigrationTests {
    /// 0004 on a database with history: counts, stage runs, closed stages and cleared errors
    /// are carried over, and the triggers keep the counts true afterwards.
    @Test func migration0004CarriesTheHistoryOver() throws {
        let dir = TempDir()
        let db = try Connection(path: dir.path("v3.db"))
        try Migrator(migrations: Array(Migration.embedded.prefix(3))).migrate(db)
        try db.execute("""
            INSERT INTO jobs (id, channel, state, run_at, attempt, created_at, updated_at, finished_at, last_error_code, last_error_message)
            VALUES (1, 'facts', 'succeeded', '2026-11-01T00:00:00.000Z', 2, '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z',
                    '2026-11-01T01:00:00.000Z', 'tts.failed', 'old error'),
                   (2, 'facts', 'failed', '2026-11-02T00:00:00.000Z', 1, '2026-11-02T00:00:00.000Z', '2026-11-02T00:00:00.000Z',
                    '2026-11-02T01:00:00.000Z', 'worker.lost', 'died'),
                   (3, 'horror', 'queued', '2026-11-03T00:00:00.000Z', 0, '2026-11-03T00:00:00.000Z', '2026-11-03T00:00:00.000Z', NULL, NULL, NULL);
            INSERT INTO job_attempts (job_id, attempt, lease_token, channel, worker_id, started_at, finished_at, outcome)
            VALUES (1, 1, 1, 'facts', 'w', '2026-11-01T00:00:00.000Z', '2026-11-01T00:10:00.000Z', 'handed_back'),
                   (1, 2, 2, 'facts', 'w', '2026-11-01T00:20:00.000Z', '2026-11-01T01:00:00.000Z', 'succeeded'),
                   (2, 1, 1, 'facts', 'w', '2026-11-02T00:00:00.000Z', '2026-11-02T01:00:00.000Z', 'lost');
            INSERT INTO job_stages (job_id, stage, state, attempt, started_at, finished_at, duration_ms)
            VALUES (1, 'script', 'succeeded', 2, '2026-11-01T00:20:00.000Z', '2026-11-01T00:21:00.000Z', 60000),
                   (2, 'clips', 'running', 1, '2026-11-02T00:30:00.000Z', NULL, NULL);
            """)
        let applied = try Migrator(migrations: Array(Migration.embedded.prefix(4))).migrate(db)
        #expect(applied.map(\.version) == [4])
        let counts = try db.query("SELECT channel, state, n FROM job_counts ORDER BY channel, state").map {
            "\($0.string("channel")!)/\($0.string("state")!)=\($0.int("n")!)"
        }
        #expect(counts == ["facts/failed=1", "facts/succeeded=1", "horror/queued=1"])
        #expect(try db.queryOne("SELECT last_error_code FROM jobs WHERE id = 1")?.string("last_error_code") == nil)
        #expect(try db.queryOne("SELECT last_error_code FROM jobs WHERE id = 2")?.string("last_error_code") == "worker.lost")
        #expect(try db.queryOne("SELECT scheduled_at FROM jobs WHERE id = 3")?.string("scheduled_at") == "2026-11-03T00:00:00.000Z")
        // The stage the lost attempt left running is closed, in both tables.
        #expect(try db.queryOne("SELECT state, error_code FROM job_stages WHERE job_id = 2")?.string("error_code") == "attempt.ended")
        let runs = try db.query("SELECT job_id, lease_token, state FROM job_stage_runs ORDER BY job_id").map {
            "\($0.int("job_id")!):\($0.int("lease_token")!):\($0.string("state")!)"
        }
        #expect(runs == ["1:2:succeeded", "2:1:failed"])
        #expect(try db.queryOne("SELECT error_code FROM job_attempts WHERE outcome = 'handed_back'")?.string("error_code") == "worker.shutdown")
        // The triggers keep counting.
        try db.execute("""
            UPDATE jobs SET state = 'running', lease_owner = 'w' WHERE id = 3;
            DELETE FROM jobs WHERE id = 1;
            INSERT INTO jobs (channel, run_at, created_at, updated_at) VALUES ('horror', '2026-11-04T00:00:00.000Z', '2026-11-04T00:00:00.000Z', '2026-11-04T00:00:00.000Z');
            """)
        let after = try db.query("SELECT channel, state, n FROM job_counts WHERE n > 0 ORDER BY channel, state").map {
            "\($0.string("channel")!)/\($0.string("state")!)=\($0.int("n")!)"
        }
        #expect(after == ["facts/failed=1", "horror/queued=1", "horror/running=1"])
    }
}
