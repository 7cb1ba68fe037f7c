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
public final class WorkerLock: Sendable {
    public let path: String
    private let fd: Int32
    private let released = Atomic(false)

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
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
    }

    /// Tries the lock without blocking.
    public static func probe(path: String) -> Probe {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT ? .missing : .alive }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 { return .dead(WorkerLock(path: path, fd: fd)) }
        close(fd)
        return .alive
    }

    /// Whether the worker behind `path` is gone, found without changing anything: the file is
    /// opened read-only (so this works where the folder is read-only), a shared lock is tried
    /// and dropped at once, and the file stays (the process that frees the worker's jobs
    /// removes it). `true` also when the file is missing.
    public static func isAbandoned(path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return errno == ENOENT }
        defer { close(fd) }
        guard flock(fd, LOCK_SH | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }

    /// Removes the file and drops the lock. Idempotent.
    public func release() {
        // The first caller only: the file is removed and the descriptor closed once.
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        unlink(path)
        close(fd)
    }

    deinit { release() }
}
