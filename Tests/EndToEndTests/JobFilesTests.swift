import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport

/// `ytauto-admin prune` removes the files of the jobs it deletes, and `ytauto status` shows what
/// the jobs' files take on disk: real folders under the configuration's `work_dir` and `output_dir`.
@Suite struct JobFilesTests {
    let dir = TempDir("ytauto-files")
    var env: [String: String] { ["YTAUTO_DB": dir.path("ytauto.db"), "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func ytauto(_ args: String...) async throws -> ProcessResult { try await run("ytauto", args, cwd: dir.url, environment: env) }
    func admin(_ args: String...) async throws -> ProcessResult { try await run("ytauto-admin", args, cwd: dir.url, environment: env) }
    func exists(_ relative: String) -> Bool { FileManager.default.fileExists(atPath: dir.path(relative)) }
    func present(_ absolute: String) -> Bool { FileManager.default.fileExists(atPath: absolute) }

    /// A work folder and a published folder for job `id`, 1 MB each.
    func makeFiles(_ id: Int64, slug: String) throws {
        for folder in ["work/\(id)/clips", "output/facts/\(id)-\(slug)"] {
            try FileManager.default.createDirectory(atPath: dir.path(folder), withIntermediateDirectories: true)
            try Data(repeating: 7, count: 1 << 20).write(to: dir.url.appending(path: "\(folder)/file.bin"))
        }
    }

    func disk() async throws -> [String: Any] {
        let status = try await ytauto("status", "--json")
        #expect(status.status == 0, "\(status.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        return try #require(json["disk"] as? [String: Any])
    }

    @Test func pruneRemovesWorkFoldersAndOutputsOnlyWhenAsked() async throws {
        #expect(try await ytauto("init").status == 0)
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let a = try await store.enqueue(NewJob(channel: "facts", topic: "Why is the sky blue?")).job.id
        let b = try await store.enqueue(NewJob(channel: "facts", topic: "octopus hearts")).job.id
        let c = try await store.enqueue(NewJob(channel: "facts", topic: "honey")).job.id
        try makeFiles(a, slug: "why-is-the-sky-blue")
        try makeFiles(b, slug: "octopus-hearts")
        try makeFiles(c, slug: "honey")

        let before = try await disk()
        #expect(before["work_dir"] as? String == dir.url.appending(path: "work").standardizedFileURL.path)
        #expect((before["work_bytes"] as? Int ?? 0) >= 3 << 20 && (before["output_bytes"] as? Int ?? 0) >= 3 << 20, "\(before)")
        let human = try await ytauto("status")
        #expect(human.stdout.contains(dir.url.appending(path: "work").standardizedFileURL.path) && human.stdout.contains(" MB"), "\(human.stdout)")

        // a and b finish; c stays queued.
        for id in [a, b] { _ = try await store.cancel(jobID: id) }
        // finished_at is before the cutoff of "0s": the prune process starts later than that.
        let prune = try await admin("prune", "--older-than", "0s")
        #expect(prune.status == 0, "\(prune.stdout)\(prune.stderr)")
        #expect(prune.stdout.contains("pruned 2") && prune.stdout.contains("removed 2 folder(s)"), "\(prune.stdout)")
        #expect(prune.stderr.isEmpty, "\(prune.stderr)")
        #expect(!exists("work/\(a)") && !exists("work/\(b)"))
        #expect(exists("work/\(c)/clips/file.bin"))  // not finished: untouched
        #expect(exists("output/facts/\(a)-why-is-the-sky-blue/file.bin") && exists("output/facts/\(b)-octopus-hearts/file.bin"))

        _ = try await store.cancel(jobID: c)
        let withOutput = try await admin("prune", "--older-than", "0s", "--with-output")
        #expect(withOutput.status == 0 && withOutput.stdout.contains("pruned 1") && withOutput.stdout.contains("removed 2 folder(s)"),
                "\(withOutput.stdout)\(withOutput.stderr)")
        #expect(!exists("work/\(c)") && !exists("output/facts/\(c)-honey"))
        #expect(exists("output/facts/\(a)-why-is-the-sky-blue/file.bin"))  // pruned earlier without the flag: kept

        let after = try await disk()
        #expect((after["work_bytes"] as? Int ?? .max) < 1 << 20, "\(after)")
        #expect((after["output_bytes"] as? Int ?? 0) >= 2 << 20, "\(after)")
    }

    /// A job `ytauto enqueue` made keeps its topic used once it is pruned, however soon: the next
    /// `ytauto enqueue` without --topic takes another. (Its job was the topic's only record, and
    /// prune freed it at once; prune said so when --older-than was shorter than the recency.)
    @Test func aPrunedEnqueuedJobKeepsItsTopicUsed() async throws {
        #expect(try await ytauto("init").status == 0)
        func enqueued() async throws -> (id: Int64, topic: String) {
            let r = try await ytauto("enqueue", "facts", "--json")
            #expect(r.status == 0, "\(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
            return (try #require((json["id"] as? NSNumber)?.int64Value), try #require(json["topic"] as? String, "\(json)"))
        }
        let first = try await enqueued()
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        #expect(try await store.cancel(jobID: first.id) == .cancelled)
        // No work_dir yet (no worker ran), and that is no reason to refuse: the job never had folders.
        #expect(!exists("work"))
        let prune = try await admin("prune", "--older-than", "0s")
        #expect(prune.status == 0 && prune.stdout.contains("pruned 1"), "\(prune.stdout)\(prune.stderr)")
        #expect(try await store.job(id: first.id) == nil)
        let second = try await enqueued()
        #expect(second.topic != first.topic, "\(first.topic) was taken again a moment after its job was pruned")
    }

    /// A stock download under `work/stock/pexels/`, last used `daysAgo`.
    func stockFile(_ name: String, daysAgo: Double) throws -> String {
        let url = dir.url.appending(path: "work/stock/pexels/\(name)")
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(repeating: 3, count: 1 << 16).write(to: url)
        let then = Date().addingTimeInterval(-daysAgo * 86400).timeIntervalSince1970
        var times = [timespec(tv_sec: Int(then), tv_nsec: 0), timespec(tv_sec: Int(then), tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, url.path, &times, 0) == 0)
        return url.standardizedFileURL.path
    }

    /// `work/<id>/media.json` naming `paths` as the footage the job's images stage chose.
    func mediaJSON(_ id: Int64, naming paths: [String]) throws {
        let assets = paths.map { FootageAsset(kind: .clip, path: $0, source: "pexels", tags: ["sea"], seconds: 10) }
        try FileManager.default.createDirectory(atPath: dir.path("work/\(id)"), withIntermediateDirectories: true)
        try JSONEncoder().encode(assets).write(to: dir.url.appending(path: "work/\(id)/media.json"))
    }

    @Test func pruneRemovesStockDownloadsNoJobStillUses() async throws {
        #expect(try await ytauto("init").status == 0)
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let failed = try await store.enqueue(NewJob(channel: "facts", topic: "tides")).job.id
        _ = try await store.cancel(jobID: failed)  // finished now: not pruned by a 30-day cutoff, its folder stays
        let unused = try stockFile("clip-1-1080x1920.mp4", daysAgo: 45)
        let heldByTheJob = try stockFile("clip-2-1080x1920.mp4", daysAgo: 45)
        let lately = try stockFile("clip-3-1080x1920.mp4", daysAgo: 3)
        try mediaJSON(failed, naming: [heldByTheJob])
        let before = try await disk()
        #expect(before["stock_dir"] as? String == dir.url.appending(path: "work/stock").standardizedFileURL.path, "\(before)")
        #expect((before["stock_bytes"] as? Int ?? 0) >= 3 << 16 && (before["work_bytes"] as? Int ?? 0) >= before["stock_bytes"] as? Int ?? .max, "\(before)")
        #expect(try await ytauto("status").stdout.contains("stock footage"))

        let prune = try await admin("prune", "--older-than", "30d")
        #expect(prune.status == 0, "\(prune.stdout)\(prune.stderr)")
        #expect(prune.stdout.contains("removed 1 stock download(s)") && prune.stdout.contains("kept 1 older one(s)"), "\(prune.stdout)")
        #expect(!prune.stderr.contains("topic_recency_days"), "30 days is longer than every channel's: \(prune.stderr)")
        #expect(!present(unused) && present(heldByTheJob) && present(lately))
        let after = try await disk()
        #expect((after["stock_bytes"] as? Int ?? .max) < (before["stock_bytes"] as? Int ?? 0), "status sees the cache shrink: \(after)")

        // A media.json that cannot be read: what that job uses is unknown, so no download goes.
        try Data("{not json".utf8).write(to: dir.url.appending(path: "work/\(failed)/media.json"))
        let blind = try await admin("prune", "--older-than", "1d")
        #expect(blind.status == 1 && blind.stderr.contains("stock footage not pruned") && blind.stderr.contains("work/\(failed)/media.json"),
                "\(blind.stdout)\(blind.stderr)")
        #expect(present(heldByTheJob) && present(lately))

        // Once the job is pruned, its folder no longer holds the download.
        let all = try await admin("prune", "--older-than", "0s")
        #expect(all.status == 0 && all.stdout.contains("pruned 1") && all.stdout.contains("removed 2 stock download(s)"), "\(all.stdout)\(all.stderr)")
        #expect(!present(heldByTheJob) && !present(lately))
    }

    /// prune run from another folder than the worker's: the relative work_dir is not there, so
    /// it deletes nothing and says where to run it (it deleted the rows and left their folders,
    /// which nothing names any more, for good).
    @Test func pruneFromAnotherFolderDeletesNothing() async throws {
        #expect(try await ytauto("init").status == 0)
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "honey")).job.id
        try makeFiles(id, slug: "honey")
        // A job a worker ran (one cancelled before that has no folders to leave behind).
        _ = try await store.complete(try #require(try await store.lease(worker: "w", channels: nil, duration: .seconds(60))))
        let elsewhere = TempDir("ytauto-elsewhere")
        let prune = try await run("ytauto-admin", ["prune", "--older-than", "0s"], cwd: elsewhere.url, environment: env)
        #expect(prune.status == 1 && prune.stderr.contains("\(elsewhere.url.appending(path: "work").standardizedFileURL.path) is not a folder here")
                && prune.stderr.contains("nothing was pruned") && prune.stderr.contains("Run prune from the folder the worker runs in"),
                "\(prune.stdout)\(prune.stderr)")
        #expect(try await store.job(id: id) != nil && exists("work/\(id)/clips/file.bin"))
        let status = try await run("ytauto", ["status"], cwd: elsewhere.url, environment: env)
        #expect(status.stdout.contains("not a folder here"), "\(status.stdout)")
        // A missing output folder matters only with --with-output.
        try FileManager.default.createDirectory(at: elsewhere.url.appending(path: "work"), withIntermediateDirectories: true)
        let withOutput = try await run("ytauto-admin", ["prune", "--older-than", "0s", "--with-output"], cwd: elsewhere.url, environment: env)
        #expect(withOutput.status == 1 && withOutput.stderr.contains("/output is not a folder here"), "\(withOutput.stderr)")
        #expect(try await store.job(id: id) != nil)
        // From the worker's folder it prunes the job and its folder.
        let here = try await admin("prune", "--older-than", "0s")
        #expect(here.status == 0 && here.stdout.contains("pruned 1") && !exists("work/\(id)"), "\(here.stdout)\(here.stderr)")
    }

    @Test func pruneWithoutAConfigurationDeletesNothing() async throws {
        #expect(try await ytauto("init").status == 0)
        let store = try SQLiteJobStore(path: dir.path("ytauto.db"))
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "t")).job.id
        _ = try await store.cancel(jobID: id)
        try FileManager.default.removeItem(atPath: dir.path("ytauto.yaml"))
        let prune = try await admin("prune", "--older-than", "0s")
        #expect(prune.status == 1 && prune.stderr.contains("needs the configuration"), "\(prune.stderr)")
        #expect(try await store.job(id: id) != nil)
        // status still answers, and says why it cannot measure the folders.
        let status = try await ytauto("status")
        #expect(status.status == 0 && status.stdout.contains("disk: unknown"), "\(status.stdout)\(status.stderr)")
    }
}
