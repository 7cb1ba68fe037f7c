import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport
import YTAutoSupport

/// The real `ytauto` and `ytauto-admin` binaries, run as a user would.
@Suite struct CLITests {
    let dir = TempDir("ytauto-e2e")
    var env: [String: String] { ["YTAUTO_DB": dir.path("ytauto.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func ytauto(_ args: String...) async throws -> ProcessResult { try await run("ytauto", args, cwd: dir.url, environment: env) }
    func admin(_ args: String...) async throws -> ProcessResult { try await run("ytauto-admin", args, cwd: dir.url, environment: env) }
    func admin(_ args: [String]) async throws -> ProcessResult { try await run("ytauto-admin", args, cwd: dir.url, environment: env) }
    /// `ytauto` for a command that should stop at once (a worker refusing to start): killed if it
    /// still runs after 20 s, so a regression fails the test instead of hanging it.
    /// `ytauto init`, then the sample configuration it wrote: its path and text.
    func initSample() async throws -> (path: String, text: String) {
        _ = try await ytauto("init")
        let path = dir.path("ytauto.yaml")
        return (path, try String(contentsOfFile: path, encoding: .utf8))
    }
    /// A worker on the configuration as it stands registers, and SIGTERM stops it cleanly.
    func aWorkerStartsAndStops() async throws {
        let w = try Child(binary("ytauto"), ["worker"], cwd: dir.url, environment: env)
        #expect(await eventually(timeout: .seconds(20)) { (try? await SQLiteJobStore(path: dir.path("ytauto.db")).workers().isEmpty) == false })
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }
    func ytautoExitingSoon(_ args: String...) async throws -> ProcessResult { try await ytautoExitingSoon(args) }
    func ytautoExitingSoon(_ args: [String]) async throws -> ProcessResult {
        await (try Child(binary("ytauto"), args, cwd: dir.url, environment: env)).wait(atMost: .seconds(20)).result
    }

    @Test func initThenStatusShowsAnEmptyQueue() async throws {
        let initResult = try await ytauto("init")
        #expect(initResult.status == 0, "\(initResult.stderr)")
        #expect(initResult.stdout.contains("wrote"))
        let config = try String(contentsOfFile: dir.path("ytauto.yaml"), encoding: .utf8)
        for channel in ["horror", "facts", "finance"] { #expect(config.contains("name: \(channel)")) }
        #expect(try await ytauto("init").stdout.contains("kept"))

        let status = try await ytauto("status", "--json")
        #expect(status.status == 0, "\(status.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(json["schema_version"] as? Int == Migration.embedded.last?.version)
        #expect((json["jobs"] as? [String: Int])?["queued"] == 0)
        let human = try await ytauto("status")
        #expect(human.stdout.contains("jobs: queued 0"))
        // Empty folders are "0 bytes", not Foundation's "Zero KB".
        #expect(human.stdout.contains("0 bytes") && !human.stdout.contains("Zero"), "\(human.stdout)")
    }

    /// The engine is chosen from the location: a path or a `sqlite:` URL (relative or absolute)
    /// is SQLite, a `postgres://` URL PostgreSQL; a URL of another scheme, from `--db` or
    /// `$YTAUTO_DB`, is refused by its scheme alone. No error echoes a URL's password.
    @Test func theDatabaseIsAPathASQLiteURLOrAPostgresURLAndOtherSchemesAreRefused() async throws {
        #expect(try await ytauto("init", "--db", "sqlite:jobs.db").status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path("jobs.db")))
        let relative = try await ytauto("status", "--db", "sqlite:jobs.db")
        #expect(relative.status == 0 && relative.stdout.contains("database: jobs.db"), "\(relative.stderr)")
        let absolute = try await ytauto("status", "--db", "sqlite://" + dir.path("jobs.db"))
        #expect(absolute.status == 0 && absolute.stdout.contains("database: \(dir.path("jobs.db"))"), "\(absolute.stderr)")

        // A postgres:// URL is PostgreSQL: a server that cannot be reached is an error naming it, without its password.
        let postgres = try await ytauto("status", "--db", "postgres://ops:hunter2@127.0.0.1:1/ytauto?sslmode=disable")
        #expect(postgres.status == 1)
        #expect(postgres.stderr.contains("PostgreSQL at postgres://ops@127.0.0.1:1/ytauto"), "\(postgres.stderr)")
        // One that says nothing of its database is refused before anything is tried.
        let noDatabase = try await ytauto("status", "--db", "postgres://ops:hunter2@db.example")
        #expect(noDatabase.status == 2 && noDatabase.stderr.contains("names no database"), "\(noDatabase.stderr)")
        var other = env
        other["YTAUTO_DB"] = "mysql://root:s3cret@db/ytauto"
        let mysql = try await run("ytauto-admin", ["list-failed"], cwd: dir.url, environment: other)
        #expect(mysql.status == 2 && mysql.stderr.contains("a mysql: URL (from $YTAUTO_DB)"), "\(mysql.stderr)")
        for r in [postgres, noDatabase, mysql] {
            #expect(!(r.stdout + r.stderr).contains("hunter2") && !(r.stdout + r.stderr).contains("s3cret"))
        }
        // A path with a colon in it is still a path.
        #expect(try await ytauto("init", "--db", "jobs:2026.db").status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path("jobs:2026.db")))
    }

    @Test func enqueueCancelRetryShowAndHistory() async throws {
        _ = try await ytauto("init")
        let a = try await ytauto("enqueue", "facts", "--json")
        #expect(a.status == 0, "\(a.stderr)")
        let job = try #require(try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])
        let id = try #require(job["id"] as? Int)
        #expect(job["topic"] as? String == ChannelConfig.defaults(for: .facts).topics[0])
        // The next enqueue takes the topic used least recently.
        let b = try await ytauto("enqueue", "facts", "--json", "--at", "2030-01-01T00:00:00Z", "--unique-key", "k")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(b.stdout.utf8)) as? [String: Any])
        #expect(second["topic"] as? String == ChannelConfig.defaults(for: .facts).topics[1])
        #expect(second["run_at"] as? String == "2030-01-01T00:00:00.000Z")
        let dup = try await ytauto("enqueue", "facts", "--unique-key", "k")
        #expect(dup.stdout.contains("already exists"))
        // A key names one job across channels: the existing job is named with its own channel.
        let elsewhere = try await ytauto("enqueue", "horror", "--unique-key", "k")
        #expect(elsewhere.stdout.contains("already exists (same unique key): channel facts"), "\(elsewhere.stdout)")

        #expect(try await admin("cancel", "\(id)").stdout.contains("cancelled"))
        let again = try await admin("cancel", "\(id)")
        #expect(again.status == 1 && again.stderr.contains("already finished"))
        #expect(try await admin("retry", "\(id)").status == 0)
        let show = try await admin("show", "\(id)", "--json")
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        #expect(shown["state"] as? String == "queued")
        #expect(try await admin("show", "999").status == 1)
        #expect(try await admin("history").stdout.contains("no attempts yet"))
        let failed = try await admin("list-failed", "--json")
        #expect(try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [Any] != nil)
        #expect(try await admin("list-failed").stdout.contains("no failed jobs"))
        #expect(try await admin("workers").stdout.contains("no workers"))
        #expect(try await admin("prune", "--older-than", "30d").stdout.contains("pruned 0"))
    }

    /// `list-failed --code` lists the failed jobs whose last error has that code; a code of
    /// another shape is refused (exit 2), and an empty answer names the code it looked for.
    /// `show` says a job waits for review only while it does: cancelled while waiting, its review
    /// was never decided, and approve or reject would be refused.
    @Test func showSaysAReviewWaitsOnlyWhileTheJobDoes() async throws {
        _ = try await ytauto("init")
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "held")).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        guard case .held = try await store.holdForReview(lease, stage: "publish") else { Issue.record("not held"); return }
        let waiting = try await admin("show", "\(id)")
        #expect(waiting.stdout.contains("review: waiting since") && waiting.stdout.contains("approve|reject \(id)"), "\(waiting.stdout)")
        #expect(try await admin("cancel", "\(id)").status == 0)
        let cancelled = try await admin("show", "\(id)")
        #expect(!cancelled.stdout.contains("waiting since") && cancelled.stdout.contains("never decided (the job is cancelled)"), "\(cancelled.stdout)")
        #expect(try await admin("approve", "\(id)").status == 1)
    }

    @Test func listFailedByErrorCode() async throws {
        _ = try await ytauto("init")
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        var ids: [String: Int64] = [:]
        // A long message with a number where 100 characters end.
        let long = String(repeating: "word ", count: 18) + "after 123456789 bytes of the file"
        for code in ["work.stuck", "stage.timeout"] {
            _ = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1))
            let lease = try #require(try await store.lease(worker: "w", channels: nil, duration: .seconds(30)))
            ids[code] = try await store.fail(lease, error: JobFailure(code: code, message: code == "stage.timeout" ? long : "m", isRetryable: false)).id
        }
        // The table cuts a long message between words, and says it did.
        let listed = try await admin("list-failed")
        #expect(listed.stdout.contains("word word after…") && !listed.stdout.contains("12345"), "\(listed.stdout)")
        // Queued again, the job's error is an earlier one.
        _ = try await admin("retry", "\(ids["stage.timeout"]!)")
        let shown = try await admin("show", "\(ids["stage.timeout"]!)")
        #expect(shown.stdout.contains("earlier error (before it was queued again): stage.timeout:") && !shown.stdout.contains("last error"), "\(shown.stdout)")
        let stuck = try await admin("list-failed", "--code", "work.stuck", "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(stuck.stdout.utf8)) as? [[String: Any]], "\(stuck.stderr)")
        #expect(rows.compactMap { ($0["id"] as? Int).map(Int64.init) } == [ids["work.stuck"]!])
        #expect(try await admin("list-failed").stdout.contains("work.stuck"))
        #expect(try await admin("list-failed", "--code", "work.stuk").stdout.contains("no failed jobs whose last error is work.stuk"))
        let bad = try await admin("list-failed", "--code", "Work Stuck")
        #expect(bad.status == 2 && bad.stderr.contains("--code 'Work Stuck' is not an error code"), "\(bad.stderr)")
    }

    /// A database that is no file (`--db ""`, `sqlite:`, `:memory:`) is refused: init said "ready"
    /// and kept nothing. Another program's SQLite file is not turned into a ytauto database by
    /// `init` or `migrate` (they added ytauto's tables to it).
    @Test func aDatabaseThatIsNoFileOrAnotherProgramsIsRefused() async throws {
        for db in ["", "sqlite:", ":memory:", "file::memory:"] {
            let r = try await run("ytauto", ["init", "--db", db], cwd: dir.url, environment: env)
            #expect(r.status == 2 && r.stderr.contains("is no file") && !r.stdout.contains("ready"), "'\(db)': \(r.stdout)\(r.stderr)")
        }
        // A SQLite URI filename naming a file is said as such (it was "kept in memory").
        let uri = try await run("ytauto", ["init", "--db", "file:ytauto.db"], cwd: dir.url, environment: env)
        #expect(uri.status == 2 && uri.stderr.contains("is a SQLite URI filename, which ytauto does not take"), "\(uri.stderr)")
        let foreign = dir.path("notes.db")
        try Connection(path: foreign).execute("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('mine')")
        for (tool, args) in [("ytauto", ["init", "--db", foreign]), ("ytauto-admin", ["migrate", "--db", foreign])] {
            let r = try await run(tool, args, cwd: dir.url, environment: env)
            #expect(r.status == 1 && r.stderr.contains("another program's SQLite file (tables notes)"), "\(args): \(r.stdout)\(r.stderr)")
        }
        var options = Connection.Options()
        options.readOnly = true
        let tables = try Connection(path: foreign, options: options).query("SELECT name FROM sqlite_schema WHERE type = 'table'").compactMap { $0.string("name") }
        #expect(tables == ["notes"])
    }

    /// `retry JOB --from STAGE`: usage errors exit 2 naming the stages; a redo is done and audited.
    @Test func retryFromAStageRedoesItAndTheLaterOnes() async throws {
        _ = try await ytauto("init")
        let bad = try await admin("retry", "1", "--from", "thumbnails")
        #expect(bad.status == 2 && bad.stderr.contains("'thumbnails' is not a stage") && bad.stderr.contains("script, narration"), "\(bad.stderr)")
        let bulk = try await admin("retry", "--all-failed", "--from", "script")
        #expect(bulk.status == 2 && bulk.stderr.contains("--from goes with one job's id"), "\(bulk.stderr)")
        let a = try await ytauto("enqueue", "facts", "--json")
        let id = try #require((try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])?["id"] as? Int)
        #expect(try await admin("cancel", "\(id)").status == 0)
        // Never run: nothing to keep, and it says so.
        let redo = try await admin("retry", "\(id)", "--from", "thumbnail")
        #expect(redo.status == 0 && redo.stdout.contains("to redo thumbnail, publish; no stage is kept; made again too, their files being gone here "
                                                         + "(or never made): script, narration, images, clips, compose"), "\(redo.stdout)\(redo.stderr)")
        // Run as far as the clips, then failed; its narration's file since removed (as a job
        // that succeeded has its work files tidied away): kept is what is still on disk.
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let ran = try await store.enqueue(NewJob(channel: "facts", maxAttempts: 1)).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60), only: ran))
        for stage in ["script", "narration", "images", "clips"] {
            let file = dir.path("\(stage).out")
            try Data(stage.utf8).write(to: URL(fileURLWithPath: file))
            try await store.checkpoint(lease, stage: stage, state: .succeeded, artifacts: [try Files.artifact(file)], startedAt: Date(), error: nil)
        }
        _ = try await store.fail(lease, error: JobFailure(code: "x.y", message: "m", isRetryable: false))
        try FileManager.default.removeItem(atPath: dir.path("narration.out"))
        let partly = try await admin("retry", "\(ran)", "--from", "compose")
        // The images and clips read the narration: kept only if it comes out the same.
        #expect(partly.status == 0 && partly.stdout.contains("to redo compose, thumbnail, publish; kept: script; "
                                                             + "made again too, their files being gone here (or never made): narration; "
                                                             + "kept only if what they read comes out the same: images, clips"), "\(partly.stdout)\(partly.stderr)")
        let whole = try await admin("retry", "\(id)", "--from", "script")
        #expect(whole.status == 0 && whole.stdout.contains("to redo script, narration, images, clips, compose, thumbnail, publish; no stage is kept"),
                "\(whole.stdout)\(whole.stderr)")
        let audit = try await admin("audit", "--json")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(audit.stdout.utf8)) as? [[String: Any]])
        #expect(rows.first?["action"] as? String == "redo" && (rows.first?["detail"] as? String)?.hasPrefix("from script") == true)
        #expect(try await admin("retry", "999", "--from", "script").status == 1)
    }

    /// A `--channel` that names no channel, in the configuration or in the database, is an error
    /// naming the channels there are: a mistyped name would otherwise read as "nothing there" (or,
    /// for a worker, lease nothing for ever). A channel no longer configured keeps its history.
    @Test func aMistypedChannelIsRefusedWhereItWouldAnswerNothing() async throws {
        _ = try await ytauto("init")
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        _ = try await store.enqueue(NewJob(channel: "retired", maxAttempts: 1))  // removed from the configuration since
        for args in [["list-failed", "--channel", "horor"], ["list-failed", "--channel", "horor", "--json"],
                     ["history", "--channel", "horor"], ["slots", "--channel", "horor", "--json"],
                     ["retry", "--all-failed", "--channel", "horor"]] {
            let r = try await run("ytauto-admin", args, cwd: dir.url, environment: env)
            #expect(r.status == 1, "\(args): \(r.stdout)")
            #expect(r.stderr.contains("no channel named 'horor' in the configuration (facts, facts-shorts, finance, finance-shorts, horror, horror-shorts) or the database (retired)"),
                    "\(args): \(r.stderr)")
        }
        #expect(try await admin("audit", "--json").stdout.contains("bulk-retry") == false)
        let worker = try await ytautoExitingSoon("worker", "--channel", "facts", "--channel", "horor")
        #expect(worker.status == 1 && worker.stderr.contains("--channel horor: no channel named 'horor' in the configuration"), "\(worker.stderr)")
        // Known names, configured or only in the database, answer as before.
        for channel in ["horror", "retired"] {
            let r = try await admin("list-failed", "--channel", channel)
            #expect(r.status == 0 && r.stdout.contains("no failed jobs"), "\(channel): \(r.stderr)")
        }
        #expect(try await admin("history", "--channel", "facts").stdout.contains("no attempts yet"))
    }

    /// A voice espeak-ng does not have is found when a worker or run-once starts, naming the
    /// channel, not by the first job that narrates (at 3 a.m., failed for good).
    @Test func aVoiceThisMachineCannotSpeakWithStopsTheWorkerAtStart() async throws {
        let (path, sample) = try await initSample()
        try sample.replacingOccurrences(of: "voice: en-bright", with: "voice: espeak:zz-notavoice")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await ytautoExitingSoon("worker")
        let runOnce = try await ytautoExitingSoon("run-once", "facts", "--dry-run")
        for (what, r) in [("worker", result), ("run-once", runOnce)] {
            #expect(r.status == 1, "\(what) went on: \(r.stderr.suffix(300))")
            #expect(r.stderr.contains("channel facts: voice 'espeak:zz-notavoice' speaks with espeak-ng's 'zz-notavoice', which this machine's espeak-ng does not have"),
                    "\(what): \(r.stderr.suffix(500))")
        }
        #expect(try await SQLiteJobStore(path: dir.path("ytauto.db")).stats().byState.values.reduce(0, +) == 0)
        // A voice espeak-ng has, named directly, is taken.
        try sample.replacingOccurrences(of: "voice: en-bright", with: "voice: espeak:de")
            .write(toFile: path, atomically: true, encoding: .utf8)
        try await aWorkerStartsAndStops()
    }

    /// A topic with characters the channel's font cannot draw (an emoji) is refused when it is
    /// given (`enqueue`, `run-once`) or configured (a worker's start), not found at compose after
    /// the narration, scenes and clips were made. A diagnostic job draws nothing: its topic is free.
    @Test func aTopicTheChannelsFontCannotDrawIsRefusedBeforeAnythingIsMade() async throws {
        let (path, sample) = try await initSample()
        let emoji = "🐙 octopus hearts"
        let enqueued = try await ytauto("enqueue", "facts", "--topic", emoji)
        let runOnce = try await ytautoExitingSoon("run-once", "facts", "--topic", emoji, "--dry-run")
        for (what, r) in [("enqueue", enqueued), ("run-once", runOnce)] {
            #expect(r.status == 1 && r.stderr.contains("--topic: topic '\(emoji)'") && r.stderr.contains("'🐙' (U+1F419)")
                    && r.stderr.contains("has no glyph"), "\(what): \(r.stderr.suffix(500))")
        }
        #expect(try await SQLiteJobStore(path: dir.path("ytauto.db")).stats().byState.values.reduce(0, +) == 0)
        #expect(try await ytauto("enqueue", "facts", "--topic", emoji, "--synthetic").status == 0)
        // A configured one stops the worker at start, naming the channel.
        try sample.replacingOccurrences(of: "  topics:\n", with: "  topics:\n  - \(emoji)\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let worker = try await ytautoExitingSoon("worker")
        #expect(worker.status == 1 && worker.stderr.contains("has topics its channels cannot draw") && worker.stderr.contains("channel horror's font"),
                "\(worker.stderr.suffix(500))")
    }

    /// A credentials file the configuration names must be there: a path mistyped would otherwise
    /// leave every key unset, found only when a provider refuses the first job.
    @Test func aCredentialsFileTheConfigurationNamesMustExist() async throws {
        let (path, sample) = try await initSample()
        try (sample + "providers:\n  credentials_file: ./secrets/credentails.yaml\n").write(toFile: path, atomically: true, encoding: .utf8)
        for args in [["worker"], ["run-once", "facts-shorts", "--dry-run"]] {
            let r = try await ytautoExitingSoon(args)
            #expect(r.status == 1, "\(args): \(r.stderr.suffix(300))")
            #expect(r.stderr.contains("the credentials file \(dir.path("secrets/credentails.yaml")) (providers.credentials_file in"), "\(args): \(r.stderr)")
        }
        // A work_dir or output_dir under a file is named before any job runs.
        #expect(sample.contains("work_dir: ./work\n"))
        try sample.replacingOccurrences(of: "work_dir: ./work\n", with: "work_dir: ./ytauto.yaml/work\n").write(toFile: path, atomically: true, encoding: .utf8)
        let underAFile = try await ytautoExitingSoon("worker")
        #expect(underAFile.status == 1 && underAFile.stderr.contains("work_dir ./ytauto.yaml/work in \(path) cannot hold the jobs' files: \(path) is a file, not a folder"),
                "\(underAFile.stderr.suffix(400))")
        // Left out, the default file may be missing: the environment holds the keys.
        try sample.write(toFile: path, atomically: true, encoding: .utf8)
        try await aWorkerStartsAndStops()
    }

    /// `ytauto web` on an address another server holds says which address and why.
    @Test func aConsoleOnAnAddressInUseSaysSo() async throws {
        _ = try await ytauto("init")
        // A listener of our own on a free loopback port.
        let held = try LoopbackSocket(listening: true)
        let port = held.port
        let r = try await ytautoExitingSoon("web", "--listen", "127.0.0.1:\(port)")
        withExtendedLifetime(held) {}
        #expect(r.status == 1, "\(r.stderr.suffix(400))")
        #expect(r.stderr.contains("cannot listen on 127.0.0.1:\(port): the address is in use"), "\(r.stderr.suffix(400))")
    }

    @Test func usageErrorsExitTwoAndFailuresExitOne() async throws {
        _ = try await ytauto("init")
        let usage = try await admin("retry")
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("either a job id or --all-failed"))
        #expect(try await admin("prune", "--older-than", "soon").status == 2)
        #expect(try await ytauto("enqueue").status == 2)
        #expect(try await ytauto("no-such-command").status == 2)
        let unknown = try await ytauto("enqueue", "gardening")
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no channel named 'gardening'"))
        for command in ["enqueue", "run-once"] {
            let blank = try await ytauto(command, "facts", "--topic", " ")
            #expect(blank.status == 2 && blank.stderr.contains("--topic: a topic must not be blank"), "\(command): \(blank.stderr)")
            let huge = try await ytauto(command, "facts", "--topic", String(repeating: "x", count: 301))
            #expect(huge.status == 2 && huge.stderr.contains("--topic: a topic of 301 characters is out of range"), "\(command): \(huge.stderr)")
            // A terminal's escape, a second line, a reversed direction: the title, captions and a folder's name would carry them.
            for (topic, code) in [("evil\u{1B}[2Jtopic", "U+001B (a control character)"), ("two\nlines", "U+000A (a control character)"),
                                  ("abc\u{202E}fed", "U+202E (an invisible format character)")] {
                let hidden = try await ytauto(command, "facts", "--topic", topic)
                #expect(hidden.status == 2 && hidden.stderr.contains("one line of visible text; it has \(code)"), "\(command): \(hidden.stderr)")
            }
        }
        #expect(try await ytauto("--help").status == 0)
        // A negative job id is read as an option: said so, not only "missing argument".
        let negative = try await run("ytauto-admin", ["cancel", "-1"], cwd: dir.url, environment: env)
        #expect(negative.status == 2 && negative.stderr.contains("'-1' was read as an option: a job id, a count or a duration is never negative"), "\(negative.stderr)")
        // A negative duration too (the parser said only "Missing value for '--grace <grace>'").
        for (name, args) in [("ytauto", ["worker", "--grace", "-1s"]), ("ytauto-admin", ["list-failed", "--since", "-1d"]),
                             ("ytauto-admin", ["prune", "--older-than", "-7d"])] {
            let r = try await run(name, args, cwd: dir.url, environment: env)
            #expect(r.status == 2 && r.stderr.contains("'\(args[2])' was read as an option: a job id, a count or a duration is never negative"),
                    "\(args): \(r.stderr)")
        }
        let limit = try await run("ytauto-admin", ["history", "--limit", "-5"], cwd: dir.url, environment: env)
        #expect(limit.status == 2 && limit.stderr.contains("--limit -5 is out of range") && !limit.stderr.contains("read as an option"), "\(limit.stderr)")
        // A usage error found once the command runs shows that command's usage, not the root's.
        let listen = try await ytauto("web", "--listen", ":18093")
        #expect(listen.status == 2 && listen.stderr.contains("loopback only") && listen.stderr.contains("Usage: ytauto web ["), "\(listen.stderr)")
        // A database location that is a folder is named as one (SQLite said "disk I/O error").
        for (name, args) in [("ytauto", ["status"]), ("ytauto", ["init"]), ("ytauto-admin", ["list-failed"]), ("ytauto-admin", ["check"]),
                             ("ytauto-admin", ["backup", dir.path("b.db")]), ("ytauto-admin", ["retry", "1"])] {
            let r = try await run(name, args + ["--db", dir.url.path], cwd: dir.url, environment: env)
            #expect(r.status == 1 && r.stderr.contains("the database \(dir.url.path) is a folder; name the database file in it"), "\(name) \(args): \(r.stderr)")
        }
    }

    /// Text from outside (a provider's error body, an old reason) is printed with its control
    /// characters made visible: an escape in it cleared or retitled the operator's terminal.
    @Test func controlCharactersInStoredTextArePrintedVisibly() async throws {
        _ = try await ytauto("init")
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "escapes", maxAttempts: 1)).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: id))
        _ = try await store.fail(lease, error: JobFailure(code: "provider.bad_request", message: "400: \u{1B}]0;PWNED\u{07}\u{1B}[2J body\nsecond line", isRetryable: false))
        for args in [["list-failed"], ["show", "\(id)"], ["history"]] {
            let r = try await admin(args)
            #expect(r.status == 0 && !r.stdout.contains("\u{1B}") && !r.stdout.contains("\u{07}"), "\(args): \(r.stdout.debugDescription)")
            #expect(r.stdout.contains("\\u{1B}]0;PWNED\\u{7}\\u{1B}[2J body second line") || args != ["show", "\(id)"], "\(args): \(r.stdout)")
        }
        // Refused where it is taken in: a reason with a terminal's escape.
        let held = try await store.enqueue(NewJob(channel: "facts", topic: "held", maxAttempts: 1)).job.id
        let review = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: held))
        _ = try await store.holdForReview(review, stage: "publish")
        let rejected = try await admin("reject", "\(held)", "--reason", "bad\u{1B}[2J")
        #expect(rejected.status == 2 && rejected.stderr.contains("U+001B (a control character)"), "\(rejected.stderr)")
        #expect(try await admin("reject", "\(held)", "--reason", "the voice\nis too fast").status == 0)
    }

    /// `show` lists the stages in the pipeline's order, though a stage made again started after the later ones.
    @Test func showListsStagesInThePipelinesOrder() async throws {
        _ = try await ytauto("init")
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "order", maxAttempts: 1)).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: "media", duration: .seconds(60), only: id))
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for (n, stage) in ["script", "images", "clips", "narration"].enumerated() {
            try await store.checkpoint(lease, stage: stage, state: .succeeded, artifacts: [], startedAt: start.addingTimeInterval(Double(n)), error: nil)
        }
        let shown = try await admin("show", "\(id)")
        let rows = shown.stdout.split(separator: "\n").compactMap { line in ["script", "narration", "images", "clips"].first { line.hasPrefix($0 + " ") } }
        #expect(rows == ["script", "narration", "images", "clips"], "\(shown.stdout)")
        // Each attempt's pipeline, as admin.md says (only --json had it).
        let attempt = shown.stdout.split(separator: "\n").first { $0.hasPrefix("1 ") && $0.contains(" w ") }
        #expect(shown.stdout.contains(" pipeline ") && attempt?.contains(" media ") == true, "\(shown.stdout)")
    }

    @Test func aBrokenConfigurationIsExplainedWithItsPath() async throws {
        _ = try await ytauto("init")
        try """
            channels:
              - name: facts
                duration: {min: 600, max: 100}
                time_zone: Mars/Olympus
                schedule: ["every day"]
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let r = try await ytauto("enqueue", "facts")
        #expect(r.status == 1)
        #expect(r.stderr.contains(dir.path("ytauto.yaml")))
        #expect(r.stderr.contains("Mars/Olympus"))
        #expect(r.stderr.contains("line 3, channels[0].duration: min 600 and max 100 must satisfy 0 < min <= max"))
        #expect(r.stderr.contains("line 5, channels[0].schedule[0]: cron expression 'every day': needs 5 fields"))
        #expect(r.stderr.contains("line 4, channels[0].time_zone: 'Mars/Olympus'"))
        try "channels: [ {name: facts, duration: {min: x}} ]".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let bad = try await ytauto("enqueue", "facts")
        #expect(bad.status == 1 && bad.stderr.contains("channels[0].duration"))
        let status = try await ytauto("status")
        #expect(status.status == 0)  // status needs only the database
    }

    /// A broken configuration stops the scheduler before it writes anything: a bad cron, an
    /// unknown channel type, a missing field, each named with file, line and field.
    @Test(arguments: [
        ("channels:\n  - name: facts\n    schedule: [\"0 18 * * 1\", \"0 25 * * *\"]\n", "line 3, channels[0].schedule[1]: cron expression '0 25 * * *': hour field '25': 25 is outside 0-23"),
        ("channels:\n  - name: facts\n  - name: weird\n    type: cooking\n", "line 4, channels[1].type: 'cooking' is not a channel type; use one of horror, facts, finance"),
        ("channels:\n  - type: facts\n    topics: [a]\n", "line 2, channels[0].name: the key 'name' is missing"),
        ("output_dir: x\n", "line 1, channels: the key 'channels' is missing"),
    ])
    func theSchedulerRefusesABrokenConfigurationAndWritesNothing(yaml: String, message: String) async throws {
        let config = dir.path("broken.yaml")
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let db = dir.path("untouched.db")
        let r = try await run("ytauto", ["scheduler", "--once", "--config", config, "--db", db], cwd: dir.url, environment: env)
        #expect(r.status == 1)
        #expect(r.stderr.contains("configuration \(config) is not usable"), "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db))
    }

    /// Numbers that used to trap (exit 132) in the real binaries: refused with exit 2, naming the
    /// option and its range, before the database is created.
    @Test(arguments: issueCrashes)
    func hugeNumbersExitTwoNamingTheOptionAndRange(admin: Bool, args: [String], message: String) async throws {
        let r = try await run(admin ? "ytauto-admin" : "ytauto", args, cwd: dir.url, environment: env)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr.contains(message), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("ytauto.db")))
    }

    /// `catch_up_window: 1e300d` trapped when the configuration was read; now the scheduler names
    /// the file, line, key and range, and writes nothing.
    @Test func aHugeDurationInTheConfigurationIsNamed() async throws {
        try """
            channels:
              - name: facts
                catch_up_window: 1e300d
                max_attempts: 9223372036854775807
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let r = try await ytauto("scheduler", "--once")
        #expect(r.status == 1)
        #expect(r.stderr.contains("configuration \(dir.path("ytauto.yaml")) is not usable"), "\(r.stderr)")
        #expect(r.stderr.contains("line 3, channels[0].catch_up_window: '1e300d' is out of range: allowed 0s to 30d"), "\(r.stderr)")
        #expect(r.stderr.contains("line 4, channels[0].max_attempts: 9223372036854775807 is out of range: allowed 1 to 100"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("ytauto.db")))
    }

    /// `schedul:` no longer publishes on the default schedule: it is an error with a suggestion,
    /// and `init` with such a configuration creates nothing.
    @Test func initWithABrokenConfigurationCreatesNothing() async throws {
        let yaml = "channels:\n  - name: facts\n    schedul: [\"0 9 * * *\"]\n"
        try yaml.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        let r = try await ytauto("init")
        #expect(r.status == 1)
        #expect(r.stderr.contains("configuration \(dir.path("ytauto.yaml")) is not usable"), "\(r.stderr)")
        #expect(r.stderr.contains("line 3, channels[0].schedul: unknown key 'schedul'; did you mean 'schedule'?"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("ytauto.db")))
        #expect(try String(contentsOfFile: dir.path("ytauto.yaml"), encoding: .utf8) == yaml)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["ytauto.yaml"])
        // A configuration that cannot be written (its folder is missing) is found before the database is made.
        let missing = try await run("ytauto", ["init", "--config", dir.path("no-such/ytauto.yaml"), "--db", dir.path("fresh.db")],
                                    cwd: dir.url, environment: env)
        #expect(missing.status == 1 && missing.stderr.contains("the folder \(dir.path("no-such")) does not exist"), "\(missing.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path) == ["ytauto.yaml"])
        // A configuration path that is a folder (with --force, so it would be written): found first
        // too (the database was made, then "NSCocoaErrorDomain error 512").
        try FileManager.default.createDirectory(atPath: dir.path("conf.yaml"), withIntermediateDirectories: false)
        let folder = try await run("ytauto", ["init", "--force", "--config", dir.path("conf.yaml"), "--db", dir.path("fresh.db")],
                                   cwd: dir.url, environment: env)
        #expect(folder.status == 1 && folder.stderr.contains("cannot write the configuration \(dir.path("conf.yaml")): it is a folder"), "\(folder.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("fresh.db")))
        // An empty --config is a usage error, as an empty --db is.
        let empty = try await run("ytauto", ["init", "--config", "", "--db", dir.path("fresh.db")], cwd: dir.url, environment: env)
        #expect(empty.status == 2 && empty.stderr.contains("--config is empty"), "\(empty.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("fresh.db")))
    }

    /// A channel's name typed or saved in another Unicode form (decomposed "café") is the same
    /// channel: kept composed, so the database holds one name. (Two byte strings went in: `status`,
    /// counting in a Swift dictionary, showed one job of two, and a pause of one held both.)
    @Test func aChannelNameInAnotherUnicodeFormIsTheSameChannel() async throws {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        try "channels:\n  - name: \"\(decomposed)\"\n    type: facts\n".write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
        #expect(try await ytauto("init").status == 0)
        for name in [composed, decomposed] {
            let r = try await ytauto("enqueue", name, "--synthetic")
            #expect(r.status == 0, "\(r.stderr)")
        }
        let paused = try await admin("pause", decomposed)
        #expect(paused.status == 0, "\(paused.stderr)")
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let names = try await store.database.read { db in
            try db.query("SELECT DISTINCT hex(channel) AS h FROM jobs UNION SELECT hex(channel) FROM channel_pauses").compactMap { $0.string("h") }
        }
        #expect(names == ["636166C3A9"], "\(names)")
        let status = try await ytauto("status", "--json")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.stderr)")
        #expect((json["jobs"] as? [String: Int])?["queued"] == 2, "\(status.stdout)")
    }

    /// `init` closes its database as it ends, so the new schema is in the file itself, not left in
    /// the `-wal` (it was, about half the time: a copy of the file alone had no tables). A
    /// database file that is no ytauto database says what it is, not "run migrate".
    @Test func initLeavesItsSchemaInTheFileAndAForeignFileIsNamed() async throws {
        for n in 0..<6 {
            let db = dir.path("fresh\(n).db")
            let r = try await run("ytauto", ["init", "--db", db], cwd: dir.url, environment: env)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "init \(n) left \(db)-wal")
        }
        FileManager.default.createFile(atPath: dir.path("empty.db"), contents: Data())
        let empty = try await run("ytauto", ["status", "--db", dir.path("empty.db")], cwd: dir.url, environment: env)
        #expect(empty.status == 1 && empty.stderr.contains("has no ytauto tables (an empty SQLite file): run `ytauto init`"), "\(empty.stderr)")
        let other = dir.path("other.db")
        try Connection(path: other).execute("CREATE TABLE t (x TEXT)")
        let foreign = try await run("ytauto", ["status", "--db", other], cwd: dir.url, environment: env)
        #expect(foreign.status == 1 && foreign.stderr.contains("is another program's SQLite file (tables t)"), "\(foreign.stderr)")
    }

    @Test func aCorruptDatabaseIsNamedAndLeftAlone() async throws {
        let junk = Data("this is not sqlite".utf8) + Data(repeating: 7, count: 4096)
        try junk.write(to: URL(fileURLWithPath: dir.path("ytauto.db")))
        let r = try await ytauto("status")
        #expect(r.status == 1)
        #expect(r.stderr.contains(dir.path("ytauto.db")))
        #expect(r.stderr.contains("not a valid ytauto database"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path("ytauto.db"))) == junk)
    }

    @Test func migrateReportsAndRefusesATamperedDatabase() async throws {
        let first = try await admin("migrate")
        #expect(first.status == 0 && first.stdout.contains("applied: 0001_job_store.sql"))
        #expect(try await admin("migrate").stdout.contains("up to date"))
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        try await store.database.write { db in try db.run("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1") }
        let refused = try await admin("migrate")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("was changed after it was applied"))
        let explicit = try await run("ytauto-admin", ["migrate", "--db", dir.path("other.db")], cwd: dir.url)
        #expect(explicit.status == 0)
        #expect(FileManager.default.fileExists(atPath: dir.path("other.db")))
    }
}


@Suite struct BackupTests {
    /// A backup taken while a worker writes is a consistent, openable database.
    @Test func backupWhileAWorkerRuns() async throws {
        let dir = TempDir("ytauto-backup")
        let env = ["YTAUTO_DB": dir.path("ytauto.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")]
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        for _ in 0..<200 { _ = try await store.enqueue(NewJob(channel: "facts", kind: .synthetic)) }
        let worker = try Child(binary("ytauto"), ["worker", "--synthetic-stage-ms", "1", "--concurrency", "2"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(30)) { try await store.stats().byState[.succeeded, default: 0] > 5 })
        let r = try await run("ytauto-admin", ["backup", dir.path("copy.db")], cwd: dir.url, environment: env)
        #expect(r.status == 0, "\(r.stderr)")
        worker.kill(SIGTERM)
        #expect(await worker.wait().status == 0)
        let copy = try SQLiteJobStore(path: dir.path("copy.db"), migrate: false)
        let integrity = try await copy.database.read { db in try db.queryOne("PRAGMA integrity_check")?.string("integrity_check") }
        #expect(integrity == "ok")
        let counts = try await copy.stats().byState
        #expect(counts.values.reduce(0, +) == 200)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).allSatisfy { !$0.contains(".partial-") })
        let bad = try await run("ytauto-admin", ["backup", "/nonexistent-dir/copy.db"], cwd: dir.url, environment: env)
        #expect(bad.status == 1 && bad.stderr.contains("/nonexistent-dir/copy.db"))
    }

    /// SQLite restarts a backup whenever another connection writes between its steps; on a big
    /// database under steady writes a stepwise backup may never end. Ours, of more than 10,000
    /// pages while another connection commits all the time, ends in bounded time, the writes go
    /// on landing meanwhile, and the copy is one sound snapshot.
    @Test func aBackupOfABigDatabaseEndsUnderSustainedWrites() async throws {
        let dir = TempDir("ytauto-backup-big")
        let path = dir.path("ytauto.db")
        _ = try SQLiteJobStore(path: path)
        let setup = try Connection(path: path)
        try setup.writeTransaction { db in
            try db.execute("CREATE TABLE ballast (b BLOB)")
            try db.execute("CREATE TABLE ticks (n INTEGER)")
            try db.run("""
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 15000)
                INSERT INTO ballast SELECT randomblob(3000) FROM n
                """)
        }
        let pages = try #require(try setup.queryOne("PRAGMA page_count")?.int("page_count"))
        try #require(pages > 10_000, "\(pages) pages")

        // Another connection commits one row at a time, as fast as it can, until told to stop.
        let stop = Locked(false), written = Locked(0)
        Thread.detachNewThread {
            guard let writer = try? Connection(path: path) else { return }
            var n = 0
            while !stop.value {
                if (try? writer.writeTransaction({ db in try db.run("INSERT INTO ticks VALUES (?)", [Int64(n)]) })) != nil {
                    n += 1
                    written.value = n
                }
            }
        }
        #expect(try await eventually(timeout: .seconds(30)) { written.value > 100 })
        let before = written.value
        let backup = try Child(binary("ytauto-admin"), ["backup", dir.path("copy.db")], cwd: dir.url, environment: ["YTAUTO_DB": path])
        let ended = await eventually(timeout: .seconds(120)) { !backup.isRunning }
        if !ended { backup.kill(SIGKILL) }
        let r = await backup.wait()
        let after = written.value
        stop.value = true
        #expect(ended, "the backup of \(pages) pages had not ended after 120 s of writes")
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(after - before > 100, "writes landed during the backup: \(after - before)")

        var readOnly = Connection.Options()
        readOnly.readOnly = true
        let copy = try Connection(path: dir.path("copy.db"), options: readOnly)
        #expect(try copy.queryOne("PRAGMA integrity_check")?.string("integrity_check") == "ok")
        #expect(try copy.queryOne("SELECT count(*) AS n FROM ballast")?.int("n") == 15000)
        // One snapshot: the ticks it holds are the first k, for a k the writer passed during the backup.
        let ticks = try #require(try copy.queryOne("SELECT count(*) AS n, coalesce(max(n), -1) AS top FROM ticks"))
        let k = try #require(ticks.int("n"))
        #expect(ticks.int("top") == k - 1 && k >= Int64(before) && k <= Int64(after), "\(k) ticks; \(before)…\(after) written")
    }
}
