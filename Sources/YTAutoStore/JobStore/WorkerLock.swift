import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A worker process's liveness, as an exclusive `flock` on a file of its own.
///
/// The kernel drops a flock the instant its holder dies, however it dies (SIGKILL, OOM,
/// a crash), so any process that can take the lock non-blocking knows the worker is gone:
/// no lease has to expire first, and a reused pid cannot fool the check, because the
/// lock belongs to an open file, not to a pid. The file is opened `O_CLOEXEC`, so child
/// processes (ffmpeg) never inherit it and cannot keep a dead worker looking alive.
///
/// The file may be removed from under a live worker (an operator cleaning `<db>-workers/`): the
/// worker's sweep finds that (``renewIfRemoved()``) and makes it again, and until then the store
/// asks the process table whether the worker's process still runs (``LocalProcess``).
public final class WorkerLock: Sendable {
    public let path: String
    /// The open file whose lock is held; another one after ``renewIfRemoved()``.
    private let fd: Mutex<Int32>
    private let released = Atomic(false)

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = Mutex(fd)
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "worker lock \(path): \(reason)" }
    }

    /// Creates the file (mode 0600) and takes its lock. Fails if another process holds it.
    public static func acquire(path: String) throws -> WorkerLock {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "held by another process" : String(cString: strerror(errno))
            close(fd)
            throw Failure(path: path, reason: reason)
        }
        return WorkerLock(path: path, fd: fd)
    }

    /// What a probe of another worker's lock found.
    public enum Probe {
        /// Its holder is alive.
        case alive
        /// Nobody holds it: the worker is dead. The prober now holds the lock; release it when done.
        case dead(WorkerLock)
        /// The file is gone: the worker is not running.
        case missing
        /// The file is there but this process may not open it (another user's worker: lock files
        /// are mode 0600): the lock cannot tell, so ask the process table.
        case unreadable
    }

    /// Tries the lock without blocking.
    public static func probe(path: String) -> Probe {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .missing : .unreadable }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return .dead(WorkerLock(path: path, fd: fd)) }
        close(fd)
        return .alive
    }

    /// What ``peek(path:)`` found.
    public enum Look: Equatable, Sendable {
        /// Its holder is alive.
        case held
        /// Nobody holds it: the worker is dead.
        case free
        /// The file is gone: the worker is not running, or its file was removed from under it.
        case missing
        /// The file cannot be opened by this process (another user's 0600 lock file, a user
        /// looking read-only): the lock cannot tell. It counted as held, so such a user was shown a
        /// dead worker as alive, its jobs `running`, without a word.
        case unreadable
    }

    /// Looks at the lock behind `path` without changing anything: the file is opened read-only
    /// (so this works where the folder is read-only), a shared lock is tried and dropped at once,
    /// and the file stays (the process that frees the worker's jobs removes it).
    public static func peek(path: String) -> Look {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .missing : .unreadable }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return .held }
        flock(fd, LOCK_UN)
        return .free
    }

    /// The workers whose lock files in `folder` (`<db>-workers/`, one `<id>.lock` a worker) are
    /// held, by ``peek(path:)``: read from the files alone, not from the database, so it answers
    /// for a database too damaged to read. A file this process may not open counts as held (it
    /// cannot tell). Empty when the folder is missing.
    public static func held(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasSuffix(".lock") && [.held, .unreadable].contains(peek(path: folder + "/" + $0)) }
            .map { String($0.dropLast(".lock".count)) }.sorted()
    }

    /// Whether the worker behind `path` is gone, by ``peek(path:)``: `true` also when the file is
    /// missing, `false` when it cannot be opened.
    public static func isAbandoned(path: String) -> Bool { ![.held, .unreadable].contains(peek(path: path)) }

    /// Whether the file at ``path`` is still the one whose lock this holds. If it was removed (or
    /// another put in its place), makes it again, its folder too (not the folders above it), and
    /// takes its lock there before it appears (a file locked under a passing name, then renamed
    /// onto ``path``, so no probe finds it unlocked). Returns true when it did. Throws
    /// ``Failure`` when it cannot.
    public func renewIfRemoved() throws -> Bool {
        try fd.withLock { fd in
            guard !released.load(ordering: .acquiring) else { return false }
            var held = stat(), there = stat()
            guard fstat(fd, &held) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
            if stat(path, &there) == 0, there.st_dev == held.st_dev, there.st_ino == held.st_ino { return false }
            // The folder alone, not its parents: a database folder removed whole is not made again here.
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty, mkdir(folder, 0o755) != 0, errno != EEXIST {
                throw Failure(path: path, reason: "its folder could not be made again: \(String(cString: strerror(errno)))")
            }
            let passing = "\(path).\(getpid()).new"
            unlink(passing)
            let new = open(passing, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard new >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
            guard flock(new, LOCK_EX | LOCK_NB) == 0, rename(passing, path) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(passing)
                close(new)
                throw Failure(path: path, reason: reason)
            }
            close(fd)
            fd = new
            return true
        }
    }

    /// Removes the file and drops the lock. Idempotent.
    public func release() {
        // The first caller only: the file is removed and the descriptor closed once.
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        fd.withLock { fd in
            unlink(path)
            close(fd)
        }
    }

    deinit { release() }
}
