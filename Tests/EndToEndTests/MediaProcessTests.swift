import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport

/// The real media pipeline run by real `ytauto` processes.
@Suite(.serialized) struct MediaProcessTests {
    let dir = TempDir("ytauto-render")
    var dbPath: String { dir.path("ytauto.db") }

    init() throws {
        // As `ytauto init` would: every command but init and migrate needs an existing database.
        _ = try SQLiteJobStore(path: dir.path("ytauto.db"))
    }
    var env: [String: String] { ["YTAUTO_DB": dbPath, "YTAUTO_CONFIG": dir.path("ytauto.yaml")] }

    func writeConfig(min: Int, max: Int, format: String = "short", review: Bool = false) throws {
        try """
            output_dir: ./published
            work_dir: ./work
            channels:
              - name: facts
                format: \(format)
                duration: {min: \(min), max: \(max)}
                review: \(review)
            """.write(toFile: dir.path("ytauto.yaml"), atomically: true, encoding: .utf8)
    }

    /// A channel with `review: true`: the worker makes the video and stops before publishing, the
    /// job waits in `review` with no worker holding it, `ytauto-admin approve` lets a worker publish
    /// it without making anything again, and `reject` cancels another with its reason.
    @Test func aReviewedChannelPublishesOnlyWhatIsApproved() async throws {
        try writeConfig(min: 2, max: 14, review: true)
        var ids: [Int64] = []
        for topic in ["the loudest sound ever recorded", "why octopuses have three hearts"] {
            let e = try await run("ytauto", ["enqueue", "facts", "--topic", topic, "--json"], cwd: dir.url, environment: env)
            #expect(e.status == 0, "\(e.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
            ids.append(try #require((json["id"] as? NSNumber)?.int64Value))
        }
        let s = try SQLiteJobStore(path: dbPath)
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) {
            let waiting = try await s.waitingForReview(limit: 10).count
            let stats = try await s.stats()
            return waiting == 2 || (stats.byState[.failed] ?? 0) + (stats.byState[.succeeded] ?? 0) > 0
        })
        for id in ids {
            let job = try #require(try await s.job(id: id))
            #expect(job.state == .review && job.leaseOwner == nil, "\(job.state) \(job.lastErrorMessage ?? "")")
            let stages = try await s.stages(jobID: id)
            #expect(stages.map(\.stage) == ["script", "narration", "images", "clips", "compose", "thumbnail"], "nothing published yet")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("published/facts")), "a video was published before review")
        // The list a reviewer reads, with the video to watch.
        let list = try await run("ytauto-admin", ["review", "--json"], cwd: dir.url, environment: env)
        let waiting = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(waiting.compactMap { ($0["id"] as? NSNumber)?.int64Value } == ids)
        #expect(waiting.allSatisfy { ($0["video"] as? String).map(FileManager.default.fileExists(atPath:)) == true }, "\(waiting)")

        // The console's review page plays each and shows what would be published with it.
        let port = try PostgresServer.freePort()
        let web = try Child(binary("ytauto"), ["web", "--listen", "127.0.0.1:\(port)"], cwd: dir.url, environment: env)
        defer { web.kill(SIGKILL) }
        let console = WebConsoleTests.Console(child: web, base: "http://127.0.0.1:\(port)")
        var page = ""
        _ = await eventually(timeout: .seconds(30)) {
            page = (try? await console.get("/review").body) ?? ""
            return !page.isEmpty
        }
        #expect(page.components(separatedBy: "<video").count == 3, "two players")
        #expect(page.components(separatedBy: "Metadata (to be published)").count == 3 && page.contains("octopuses have three hearts"), "\(page)")
        web.kill(SIGTERM)
        _ = await web.wait()

        let rejected = try await run("ytauto-admin", ["reject", String(ids[1]), "--reason", "the narration mispronounces octopus"],
                                     cwd: dir.url, environment: env)
        #expect(rejected.status == 0, "\(rejected.stderr)")
        let approve = try await run("ytauto-admin", ["approve", String(ids[0])], cwd: dir.url, environment: env)
        #expect(approve.status == 0, "\(approve.stderr)")
        #expect(try await eventually(timeout: .seconds(120)) { try await s.job(id: ids[0])?.state.isFinished == true })
        let published = try #require(try await s.job(id: ids[0]))
        #expect(published.state == .succeeded, "\(published.lastErrorMessage ?? "")")
        #expect(FileManager.default.fileExists(atPath: dir.path("published/facts/\(ids[0])-the-loudest-sound-ever-recorded/video.mp4")))
        // Every stage ran once: the approval made nothing again.
        let runs = try await s.stageRuns(jobID: ids[0])
        #expect(runs.map(\.stage) == Stage.names, "\(runs.map(\.stage))")
        #expect(try await s.attempts(jobID: ids[0]).map(\.outcome) == [.review, .succeeded])
        let other = try #require(try await s.job(id: ids[1]))
        #expect(other.state == .cancelled && other.lastErrorCode == "review.rejected")
        #expect(other.lastErrorMessage?.contains("the narration mispronounces octopus") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path("published/facts/\(ids[1])-why-octopuses-have-three-hearts")))
        let audit = try await run("ytauto-admin", ["audit", "--json"], cwd: dir.url, environment: env)
        #expect(audit.stdout.contains("\"approve\"") && audit.stdout.contains("\"reject\""), "\(audit.stdout)")
        let shown = try await run("ytauto-admin", ["show", String(ids[1])], cwd: dir.url, environment: env)
        #expect(shown.stdout.contains("review: rejected by cli:") && shown.stdout.contains("the narration mispronounces octopus"), "\(shown.stdout)")
        // Held for review, then published: two runs of attempt 1, numbered; each stage's files named, not listed in full.
        let approved = try await run("ytauto-admin", ["show", String(ids[0])], cwd: dir.url, environment: env)
        let lines = approved.stdout.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count < 240 }, "\(lines.map(\.count).max() ?? 0) characters: \(approved.stdout)")
        #expect(lines.contains { $0.hasPrefix("publish ") && $0.contains("video.mp4, thumbnail.jpg, metadata.json +1 more (") }, "\(approved.stdout)")
        #expect(lines.contains { $0.hasPrefix("1    1 ") } && lines.contains { $0.hasPrefix("2    1 ") }, "\(approved.stdout)")
        let shownJSON = try await run("ytauto-admin", ["show", String(ids[0]), "--json"], cwd: dir.url, environment: env)
        let review = (try JSONSerialization.jsonObject(with: Data(shownJSON.stdout.utf8)) as? [String: Any])?["review"] as? [String: Any]
        #expect(review?["decision"] as? String == "approved", "\(shownJSON.stdout)")
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    @Test func enqueueThenAWorkerPublishesAVideo() async throws {
        try writeConfig(min: 2, max: 14)
        let e = try await run("ytauto", ["enqueue", "facts", "--topic", "the loudest sound ever recorded", "--json"], cwd: dir.url, environment: env)
        #expect(e.status == 0, "\(e.stderr)")
        let s = try SQLiteJobStore(path: dbPath)
        let enqueued = try #require(try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])
        let id = try #require((enqueued["id"] as? NSNumber)?.int64Value)
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state.isFinished == true })
        let ended = try await s.job(id: id)
        #expect(ended?.state == .succeeded, "\(ended?.lastErrorMessage ?? "")")
        let folder = dir.url.appending(path: "published/facts/\(id)-the-loudest-sound-ever-recorded")
        for name in ["video.mp4", "thumbnail.jpg", "metadata.json"] {
            #expect(FileManager.default.fileExists(atPath: folder.appending(path: name).path), "\(name)")
        }
        // Published in title case; a short's description carries its hashtags.
        let meta = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appending(path: "metadata.json"))) as? [String: Any])
        let title = try #require(meta["title"] as? String)
        #expect(title.contains("Loudest Sound Ever Recorded"), "\(title)")
        #expect((meta["description"] as? String)?.hasSuffix("#shorts #facts #TheLoudestSoundEverRecorded") == true, "\(meta)")
        // The captions beside it as subtitles: one cue a sentence, in order.
        let vtt = try String(contentsOf: folder.appending(path: "captions.vtt"), encoding: .utf8)
        let cues = vtt.split(separator: "\n").filter { $0.contains(" --> ") }
        #expect(vtt.hasPrefix("WEBVTT\n") && cues.count >= 3 && cues.first?.hasPrefix("00:00:00.000 --> ") == true, "\(vtt)")
        #expect(cues.map { String($0.prefix(12)) } == cues.map { String($0.prefix(12)) }.sorted(), "cues out of order: \(cues)")
        // Published, so the job's intermediate files are gone; status counts what the video takes.
        let work = dir.path("work/\(id)")
        #expect(await eventually(timeout: .seconds(10)) { !FileManager.default.fileExists(atPath: work) }, "\(work) is still there")
        let status = try await run("ytauto", ["status", "--json"], cwd: dir.url, environment: env)
        let disk = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["disk"] as? [String: Any])
        let video = try #require(try FileManager.default.attributesOfItem(atPath: folder.appending(path: "video.mp4").path)[.size] as? Int)
        #expect((disk["output_bytes"] as? Int ?? 0) >= video && (disk["work_bytes"] as? Int ?? .max) < 1 << 20, "\(disk)")
        let show = try await run("ytauto-admin", ["show", String(id), "--json"], cwd: dir.url, environment: env)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let stages = try #require(json["stages"] as? [[String: Any]])
        #expect(stages.map { $0["stage"] as? String } == ["script", "narration", "images", "clips", "compose", "thumbnail", "publish"])
        #expect(stages.allSatisfy { $0["state"] as? String == "succeeded" })
        // The channel's history is in the store, where a worker on another host would read it, with the thumbnail's hash.
        let history = try await s.channelHistory(channel: "facts", limit: 10)
        #expect(history.map(\.jobID) == [id] && history.first?.topic == "the loudest sound ever recorded", "\(history)")
        #expect(history.first?.thumbnailHash?.count == 16 && history.first?.script.contains("\"hook\"") == true, "\(history)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("work/history")), "no history files beside the store's")
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    /// A failure injected at compose, then a retry that skips script, narration, images and clips.
    @Test func aRetryAfterAComposeFailureSkipsTheFinishedStages() async throws {
        try writeConfig(min: 2, max: 14)
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "the shortest war in history", maxAttempts: 1)).job.id
        // Something in the way of the finished video: compose cannot write it.
        let blocker = dir.url.appending(path: "work/\(id)/video.mp4/in-the-way")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state == .failed })
        let failed = try await s.job(id: id)
        #expect(failed?.lastErrorCode == "media.file" && failed?.currentStage == "compose", "\(failed?.lastErrorMessage ?? "")")
        #expect(failed?.lastErrorMessage?.contains("video.mp4") == true)
        // The folder's last holder, compose, wrote itself in with the worker that ran the attempt.
        let lockText = try String(contentsOfFile: dir.path("work/\(id)/.lock"), encoding: .utf8)
        let ranBy = try #require(try await s.attempts(jobID: id).first).workerID
        #expect(lockText.hasPrefix("stage compose of process ") && lockText.contains(", worker \(ranBy), since "), "\(lockText)")
        let before = try await s.stages(jobID: id)
        #expect(before.filter { $0.state == .succeeded }.map(\.stage) == ["script", "narration", "images", "clips"])
        // A failed job keeps its work folder, for diagnosis and for the retry to reuse: every
        // recorded artifact is there, unchanged.
        for a in before.flatMap(\.artifacts) {
            let (hex, bytes) = try Checksum.sha256Hex(fileAt: URL(fileURLWithPath: a.path))
            #expect(hex == a.sha256 && bytes == a.bytes)
        }

        try FileManager.default.removeItem(at: blocker.deletingLastPathComponent())
        let retry = try await run("ytauto-admin", ["retry", String(id)], cwd: dir.url, environment: env)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state.isFinished == true })
        #expect(try await s.job(id: id)?.state == .succeeded)
        let after = try await s.stages(jobID: id)
        for stage in ["script", "narration", "images", "clips"] {
            let b = try #require(before.first { $0.stage == stage }), a = try #require(after.first { $0.stage == stage })
            #expect(a.attempt == 1 && a.artifacts == b.artifacts && a.startedAt == b.startedAt, "\(stage) ran again")
        }
        #expect(after.filter { ["compose", "thumbnail", "publish"].contains($0.stage) }.allSatisfy { $0.attempt == 2 && $0.state == .succeeded })
        // The sound track, made by clips while the picture rendered, is among the first attempt's artifacts.
        #expect(after.first(where: { $0.stage == "clips" })!.artifacts.contains { $0.path.hasSuffix("/audio.m4a") })
        // Succeeded, so its work folder went (its checked artifacts above were the ones the retry reused).
        #expect(await eventually(timeout: .seconds(10)) { !FileManager.default.fileExists(atPath: dir.path("work/\(id)")) })
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    /// A stage never runs beside another run of its job in the same work folder (a stage an earlier
    /// attempt gave up on by `--stage-timeout`, whose work ignored the cancel): here another process
    /// holds the folder's lock. The job waits a minute without spending its one attempt, and runs
    /// once the lock is free.
    @Test func aStageWaitsWhileItsWorkFolderIsInUse() async throws {
        let (s, id, folder) = try await aShortWithItsWorkFolder(maxAttempts: 1)
        let holder = try Child(URL(fileURLWithPath: "/usr/bin/flock"), ["--exclusive", "--no-fork", folder + "/.lock", "sleep", "600"], cwd: dir.url, environment: env)
        #expect(await eventually(timeout: .seconds(10)) { Self.isLocked(folder + "/.lock") })
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        // Long: beside the whole suite, a debug worker took over a minute to start and lease.
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.lastErrorCode == "work.busy" })
        let parked = try #require(try await s.job(id: id))
        #expect(parked.state == .queued && parked.attempt == 0, "\(parked.state) attempt \(parked.attempt)")
        #expect(parked.runAt.timeIntervalSinceNow > 30, "due \(parked.runAt)")
        #expect(parked.lastErrorMessage?.contains(folder) == true, "\(parked.lastErrorMessage ?? "")")
        let attempt = try #require(try await s.attempts(jobID: id).first)
        #expect(attempt.outcome == .retrying && attempt.errorCode == "work.busy" && attempt.stage == "script")
        // The other run ends (its process dies: the kernel drops the lock); a minute on, the job runs.
        holder.kill(SIGKILL)
        _ = await holder.wait()
        try await s.database.write { db in try db.run("UPDATE jobs SET run_at = ?1 WHERE id = ?2", [Date(), id]) }
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state.isFinished == true })
        let done = try #require(try await s.job(id: id))
        #expect(done.state == .succeeded && done.attempt == 1, "\(done.state) \(done.lastErrorMessage ?? "")")
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    /// A run that has held the folder for longer than the worker's `--stage-timeout` lets any stage
    /// run (its own stop never ended its work) is not waited for forever: the job fails `work.stuck`,
    /// not retried, naming that run as it wrote itself into the lock file. Once that run is killed,
    /// the worker queues the job again by itself.
    @Test func aJobWhoseFolderIsHeldLongerThanAnyStageRunsFailsStuck() async throws {
        let (s, id, folder) = try await aShortWithItsWorkFolder(maxAttempts: 3)
        // Another run wrote itself in two hours ago and still holds the lock.
        let lock = folder + "/.lock"
        // (On this host: a worker queues the job again only for a run of its own host.)
        let host = ProcessInfo.processInfo.hostName
        // Its text and the file's time agree, as a holder's write leaves them.
        let then = time(nil) - 7200
        let since = Timestamp.string(Date(timeIntervalSince1970: TimeInterval(then)))
        try "stage clips of process 4242 on \(host), since \(since)".write(toFile: lock, atomically: false, encoding: .utf8)
        let twoHoursAgo = timeval(tv_sec: then, tv_usec: 0)
        #expect(utimes(lock, [twoHoursAgo, twoHoursAgo]) == 0)
        let holder = try Child(URL(fileURLWithPath: "/usr/bin/flock"), ["--exclusive", "--no-fork", lock, "sleep", "600"], cwd: dir.url, environment: env)
        defer { holder.kill(SIGKILL) }
        #expect(await eventually(timeout: .seconds(10)) { Self.isLocked(lock) })
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1", "--stage-timeout", "30m"], cwd: dir.url, environment: env)
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state == .failed })
        let failed = try #require(try await s.job(id: id))
        #expect(failed.lastErrorCode == "work.stuck" && failed.attempt == 1, "\(failed.lastErrorCode ?? "") attempt \(failed.attempt)")
        let message = failed.lastErrorMessage ?? ""
        #expect(message.contains("(stage clips of process 4242 on \(host), since \(since))")
                    && message.contains("--stage-timeout (30m)") && message.contains(folder), "\(message)")
        // The holder dies (as a restart of its worker ends it): the worker finds the folder free
        // and queues the job again by itself, within its 30 s look.
        holder.kill(SIGKILL)
        _ = await holder.wait()
        #expect(try await eventually(timeout: .seconds(90)) { try await s.job(id: id)?.state != .failed },
                "the job stays failed though nothing holds its folder")
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    /// A short's job on a fresh configuration, and its work folder, made before any worker runs.
    func aShortWithItsWorkFolder(maxAttempts: Int) async throws -> (store: SQLiteJobStore, id: Int64, folder: String) {
        try writeConfig(min: 2, max: 14)
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "why cats purr", maxAttempts: maxAttempts)).job.id
        let folder = dir.path("work/\(id)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return (s, id, folder)
    }

    /// Whether another process holds `path`'s flock.
    static func isLocked(_ path: String) -> Bool {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_EX | LOCK_NB) != 0
    }

    @Test func cancelOfARunningJobEndsItsChildProcesses() async throws {
        // Long enough that the clips stage runs ffmpeg for a while.
        try writeConfig(min: 40, max: 80, format: "long")
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "how honey never spoils")).job.id
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1", "--lease-seconds", "3"], cwd: dir.url, environment: env)
        let work = dir.path("work/\(id)/")
        #expect(try await eventually(timeout: .seconds(600)) {
            try await s.job(id: id)?.currentStage == "clips" && !Self.ffmpegs(in: work).isEmpty
        })
        let children = Self.ffmpegs(in: work)
        let cancel = try await run("ytauto-admin", ["cancel", String(id)], cwd: dir.url, environment: env)
        #expect(cancel.status == 0, "\(cancel.stderr)")
        #expect(try await eventually(timeout: .seconds(15)) { try await s.job(id: id)?.state == .cancelled })
        #expect(await eventually(timeout: .seconds(5)) { Self.ffmpegs(in: work).isEmpty }, "still running: \(Self.ffmpegs(in: work)) of \(children)")
        #expect(children.allSatisfy { kill($0, 0) != 0 })
        w.kill(SIGTERM)
        #expect(await w.wait().status == 0)
    }

    /// A worker killed with SIGKILL leaves its ffmpeg running, re-parented, writing into the job's
    /// folder (a clip's render goes on for seconds, a long one's for minutes) while the job's next
    /// attempt writes the same files. Here the leftover is a real ffmpeg writing into the folder
    /// for ten minutes, its parent gone: the job's attempt stops it when it takes the folder's
    /// lock, and still ends with its video.
    @Test func aToolADeadWorkerLeftInTheJobsFolderIsStoppedBeforeTheJobRuns() async throws {
        try writeConfig(min: 2, max: 14)
        let s = try SQLiteJobStore(path: dbPath)
        let id = try await s.enqueue(NewJob(channel: "facts", topic: "how honey never spoils")).job.id
        let work = dir.path("work/\(id)")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        // Started through a shell that exits at once, so its parent is gone as a killed worker's is.
        let shell = try Child(URL(fileURLWithPath: "/bin/sh"), ["-c", "ffmpeg -nostdin -loglevel error -re -f lavfi -i anullsrc -t 600 -y \(work)/leftover.wav >/dev/null 2>&1 &"])
        #expect(await shell.wait().status == 0)
        #expect(await eventually(timeout: .seconds(10)) { !Self.ffmpegs(in: work + "/").isEmpty })
        let leftover = Self.ffmpegs(in: work + "/")
        #expect(leftover.count == 1)
        defer { leftover.forEach { kill($0, SIGKILL) } }
        let w = try Child(binary("ytauto"), ["worker", "--concurrency", "1"], cwd: dir.url, environment: env)
        defer { w.kill(SIGKILL) }
        #expect(await eventually(timeout: .seconds(60)) { leftover.allSatisfy { kill($0, 0) != 0 } }, "still running: \(leftover)")
        #expect(try await eventually(timeout: .seconds(600)) { try await s.job(id: id)?.state == .succeeded })
        w.kill(SIGTERM)
        let ended = await w.wait()
        #expect(ended.status == 0)
        #expect(ended.stderr.contains("stopped tool processes a dead worker left running in the job's folder"), "\(ended.stderr.suffix(1000))")
    }

    @Test func runOnceRendersAndPrintsWhereTheVideoIs() async throws {
        try writeConfig(min: 2, max: 14)
        let r = try await run("ytauto", ["run-once", "facts"], cwd: dir.url, environment: env)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let videoLine = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("video:") })
        let path = videoLine.dropFirst("video:".count).trimmingCharacters(in: .whitespaces)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(r.stdout.contains("thumbnail: ") && r.stdout.contains("✓ [5/7] compose: done in"))
    }

    /// Live ffmpeg processes whose command line mentions `folder`.
    static func ffmpegs(in folder: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard parts.first.map({ $0.hasSuffix("ffmpeg") }) == true else { return false }
            // A zombie has an empty cmdline; a live child lists its files.
            return parts.contains { $0.contains(folder) }
        }
    }
}
