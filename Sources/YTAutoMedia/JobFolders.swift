import Foundation
import YTAutoCore

/// Where a job's files live, and their removal: the work folder `<work_dir>/<job id>/` (every
/// stage's intermediate files, hundreds of MB for a short, GBs for a long video) and the local
/// publisher's output folder `<output_dir>/<channel>/<job id>-<topic slug>/`.
///
/// One place for the naming, so the pipeline that writes the folders and the commands that
/// remove them (`ytauto-admin prune`) or measure them (`ytauto status`) agree.
public struct JobFolders: Sendable, Hashable {
    public let work: URL
    public let output: URL

    public init(work: URL, output: URL) {
        self.work = work
        self.output = output
    }

    /// `<work_dir>/<job id>/`.
    public func work(jobID: Int64) -> URL { work.appending(path: String(jobID)) }

    /// `<output_dir>/<channel>/<job id>-<topic slug>/`, the slug at most 50 characters of
    /// letters, digits and single dashes.
    public func output(channel: String, jobID: Int64, topic: String?) -> URL {
        let slug = (topic ?? "video").lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let name = String(String(slug).split(separator: "-").joined(separator: "-").prefix(50))
        return output.appending(path: channel).appending(path: "\(jobID)-\(name)")
    }

    /// The files the jobs' work folders still use from elsewhere: every path named in a
    /// `<work_dir>/<job id>/media.json` (the footage the images stage chose, which the motion
    /// stage and a retry read again). A succeeded job's folder is gone, so this is what failed,
    /// cancelled and unfinished jobs hold. A `media.json` that cannot be read is a problem: the
    /// caller cannot know what that job uses.
    public func footageInUse() -> (paths: Set<String>, problems: [String]) {
        var paths = Set<String>(), problems: [String] = []
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: work.path)
        } catch CocoaError.fileReadNoSuchFile {
            names = []
        } catch {
            return ([], ["cannot list \(work.path), so what its jobs use is unknown: \(error.localizedDescription)"])
        }
        let jobs = names.filter { name in !name.isEmpty && name.allSatisfy(\.isASCII) && name.allSatisfy(\.isNumber) }
        for job in jobs.sorted() {
            let media = work.appending(path: job).appending(path: "media.json")
            guard FileManager.default.fileExists(atPath: media.path) else { continue }
            do {
                let assets = try JSONDecoder().decode([FootageAsset].self, from: Data(contentsOf: media))
                for asset in assets { paths.insert(URL(fileURLWithPath: asset.path).standardizedFileURL.path) }
            } catch {
                problems.append("cannot read \(media.path), so what job \(job) uses is unknown: \(error.localizedDescription)")
            }
        }
        return (paths, problems)
    }

    /// Removes `folder` and everything in it; a folder already gone is not an error.
    /// - Returns: the bytes it held on disk.
    @discardableResult
    public static func remove(_ folder: URL) throws -> Int64 {
        guard FileManager.default.fileExists(atPath: folder.path) else { return 0 }
        let bytes = diskUsage(folder)
        try FileManager.default.removeItem(at: folder)
        return bytes
    }

    /// The bytes the files under `folder` occupy on disk (allocated blocks, as `du` counts
    /// them), without following symbolic links; 0 for a folder that does not exist.
    public static func diskUsage(_ folder: URL) -> Int64 { diskUsage(folder, part: nil).total }

    /// ``diskUsage(_:)``, and in the same walk the part of it under `folder/part` (a name or
    /// relative path; 0 if there is none).
    public static func diskUsage(_ folder: URL, part: String?) -> (total: Int64, part: Int64) {
        var total: Int64 = 0, inPart: Int64 = 0
        var info = stat()
        guard lstat(folder.path, &info) == 0 else { return (0, 0) }
        total += Int64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR, let walk = FileManager.default.enumerator(atPath: folder.path) else { return (total, 0) }
        while let relative = walk.nextObject() as? String {
            guard lstat(folder.path + "/" + relative, &info) == 0 else { continue }
            let bytes = Int64(info.st_blocks) * 512
            total += bytes
            if let part, relative == part || relative.hasPrefix(part + "/") { inPart += bytes }
        }
        return (total, inPart)
    }
}

/// One run of a job's stage at a time in its work folder.
///
/// A stage stopped by the worker's `--stage-timeout`, or by a lease its worker could no longer
/// prove, is cancelled; work that ignores cancellation (a library call in this process, such as
/// espeak-ng's) runs on until it returns. The job's retry must not write the same files beside
/// it, on this host or another sharing the folder. So each stage holds an exclusive `flock` on
/// `<work folder>/.lock` for as long as its work runs, and a stage that finds it held fails with
/// ``WorkFolderBusyError`` (the job parked for a minute, no attempt spent). The kernel drops the
/// lock the instant its holder returns or its process dies, however it dies.
///
/// The holder writes who it is into the lock file (its process, host, worker, stage and since when), so
/// a busy stage names the run it waits for: the operator can see which worker to restart when a
/// stage's work never returns.
///
/// A wait is bounded: a run that has held the folder for longer than any stage may run (the
/// worker's `--stage-timeout`, `stuckAfter`, plus ``WorkFolderStuckError/margin`` for clocks that
/// differ between hosts sharing the folder) was stopped and its work never returned. Its job then
/// fails ``WorkFolderStuckError`` (`work.stuck`, not retried), naming that run, instead of waiting
/// a minute at a time forever. Since when is the lock file's modification time, which its holder
/// set by writing itself in; a lock file with no holder's text is only busy. (Workers sharing a
/// `work_dir` should share `--stage-timeout` too.)
public enum WorkFolderLock {
    /// Runs `body` holding the lock of `folder` (which must exist), or throws
    /// ``WorkFolderBusyError``, or ``WorkFolderStuckError`` if the holder has held it for longer
    /// than `stuckAfter` (plus the margin).
    /// `worker` (the id of the worker running the stage) is written into the lock file with the
    /// process and host: the store's record of that worker says whether its run has ended.
    public static func holding<T>(_ folder: URL, stage: String, worker: String? = nil, stuckAfter: Duration? = nil,
                                  _ body: () async throws -> T) async throws -> T {
        let path = folder.appending(path: ".lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        // Named in the error: "Permission denied" alone did not say that the job's folder was read-only.
        guard fd >= 0 else { throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSFilePathErrorKey: path]) }
        defer { close(fd) }  // closing the last descriptor releases the lock
        // A process being spawned anywhere in this process (another job's ffmpeg) holds a copy of
        // every descriptor from its fork until its exec, the previous stage's lock included: a
        // moment, so a held lock is tried again for a few seconds before it counts as busy.
        let deadline = ContinuousClock.now + busyAfter
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO) }
            guard ContinuousClock.now < deadline else {
                // Stuck only when the holder wrote itself in: a file with no text (a holder of an
                // older ytauto) keeps an earlier holder's time.
                let (holder, since) = (currentHolder(fd), heldSince(fd))
                if let limit = stuckAfter, holder != nil, let since, Date().timeIntervalSince(since) > limit.seconds + WorkFolderStuckError.margin {
                    throw WorkFolderStuckError(stage: stage, folder: folder.path, holder: holder, since: since, stageTimeout: limit)
                }
                throw WorkFolderBusyError(stage: stage, folder: folder.path, holder: holder,
                                          retryAt: Date().addingTimeInterval(WorkFolderBusyError.wait))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let me = "stage \(stage) of process \(getpid()) on \(ProcessInfo.processInfo.hostName)"
            + (worker.map { ", worker \($0)" } ?? "") + ", since \(Timestamp.string(Date()))"
        // Written over the last holder's text, then cut to length: a reader never sees it empty.
        // (Best effort on a folder shared between hosts: another host may read a cached older text.)
        let written = me.utf8CString.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count - 1, 0) }
        // Its modification time is the holder's start (``heldSince(_:)``), written or not (a full disk).
        if written > 0 { _ = ftruncate(fd, off_t(written)) } else { _ = futimens(fd, nil) }
        return try await body()
    }

    /// Whether `folder`'s lock is free now (nobody runs a stage in it); nil if it has no lock file
    /// or it cannot be opened. Taken and let go at once: a stage starting meanwhile waits a moment.
    public static func isFree(_ folder: URL) -> Bool? {
        let fd = open(folder.appending(path: ".lock").path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return errno == EWOULDBLOCK ? false : nil }
        flock(fd, LOCK_UN)
        return true
    }

    /// The host of the holder named in `text` (a `work.stuck` or `work.busy` message, or a lock
    /// file's text: "stage clips of process 4242 on host-a, since …"); nil if it names none.
    public static func holderHost(in text: String) -> String? {
        holder(in: text)?.host
    }

    /// The holder a text names, as the holder wrote itself into the lock file ("stage clips of
    /// process 4242 on host-a, worker w-4242-1a2b3c, since 2026-12-02T01:00:00.000Z"; an older
    /// ytauto, or a run outside a worker, names no worker); nil if it names none.
    public static func holder(in text: String) -> HeldWorkHolder? {
        guard let match = text.firstMatch(of: /of process (\d+) on (.+?)(?:, worker ([^\s,]+))?, since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)/),
              let pid = Int32(match.output.1), let since = Timestamp.date(String(match.output.4)) else { return nil }
        return HeldWorkHolder(host: String(match.output.2), pid: pid, since: since, worker: match.output.3.map(String.init))
    }

    /// Who holds the lock, as its holder wrote it; nil if it wrote nothing readable, or if the
    /// text is an earlier holder's: its own time differs from the file's by more than
    /// ``WorkFolderStuckError/margin`` (this holder could not write itself in, such as on a full
    /// disk, and only touched the file; or another host's cached copy of a folder shared between
    /// hosts). The margin, not less: on a shared mount the file's time is the file server's clock.
    /// Naming an earlier holder would have its worker's record judge a run that is not its own.
    static func currentHolder(_ fd: Int32) -> String? {
        guard let text = holder(fd) else { return nil }
        guard let written = holder(in: text)?.since, let since = heldSince(fd) else { return text }
        return abs(written.timeIntervalSince(since)) <= WorkFolderStuckError.margin ? text : nil
    }

    /// The lock file's text, as its last holder wrote it (nil if nothing readable).
    static func holder(_ fd: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 512)
        let n = pread(fd, &bytes, bytes.count, 0)
        guard n > 0 else { return nil }
        let text = String(decoding: bytes[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Since when the lock's holder holds it: when it wrote itself in (nil if unreadable).
    static func heldSince(_ fd: Int32) -> Date? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }

    /// How long a held lock is tried again before the stage fails ``WorkFolderBusyError``.
    static let busyAfter: Duration = .seconds(5)
}

/// A stage found its job's work folder in use by another run of the job (see ``WorkFolderLock``).
/// Retryable at ``retryAt``, without spending an attempt: the job did nothing wrong.
public struct WorkFolderBusyError: YTAutoError {
    /// How long the job waits before it looks again.
    public static let wait: TimeInterval = 60
    public let stage: String
    public let folder: String
    /// The run holding the folder, as it wrote itself into the lock file (``WorkFolderLock``).
    public let holder: String?
    public let retryAt: Date?
    public var code: String { "work.busy" }
    public var message: String {
        "\(stage): the job's work folder \(folder) is in use by another run of this job"
            + (holder.map { " (\($0))" } ?? "")
            + ": a stage stopped by --stage-timeout, or by a lost lease, whose work has not returned yet (restarting that "
            + "worker ends it); the job waits \(Int(Self.wait)) s and tries again, without spending an attempt (held longer "
            + "than the worker's --stage-timeout, it fails work.stuck)"
    }
    public var isRetryable: Bool { true }
    public var spendsAttempt: Bool { false }
}

/// A stage found its job's work folder held by another run of the job for longer than any stage
/// may run (see ``WorkFolderLock``): that run was stopped and its work never returned. Not
/// retried: the job would wait for it forever; restarting the worker named ends that work.
public struct WorkFolderStuckError: YTAutoError {
    /// Added to the stage timeout before a holder counts as stuck: for clocks that differ between
    /// the hosts sharing a folder, and for a stopped run's last moments.
    public static let margin: TimeInterval = 600
    public let stage: String
    public let folder: String
    public let holder: String?
    public let since: Date
    public let stageTimeout: Duration
    public var code: String { JobFailure.workStuckCode }
    public var message: String {
        let held = DurationText.string(seconds: max(60, Int(Date().timeIntervalSince(since)) / 60 * 60))  // in whole minutes
        let limit = DurationText.string(seconds: Int(stageTimeout.seconds.rounded()))
        return "\(stage): the job's work folder \(folder) has been held by another run of this job"
            + (holder.map { " (\($0))" } ?? "")
            + " for \(held), longer than the worker's --stage-timeout (\(limit)) lets a stage run: that run was stopped and "
            + "its work never returned. If that work returns, its worker queues the job again; else restart the worker it "
            + "names (that ends the work and frees the folder): a worker on the host it names then queues the job again "
            + "within 30 s (or retry it: ytauto-admin retry)"
    }
    public var isRetryable: Bool { false }
}
