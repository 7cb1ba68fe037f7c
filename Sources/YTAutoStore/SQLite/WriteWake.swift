import CWriteWake
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hands SQLite's write lock from one process to the next without polling.
///
/// SQLite has no queue for its write lock: a connection that finds it taken can only sleep
/// and try again. Short sleeps burn the cores the holder needs (four processes on two cores
/// ran at 0.6 of the raw ceiling); long ones leave the lock idle after it is freed, and let
/// the process that just committed take it again before anyone wakes (SQLite's own handler
/// lets one process starve the rest). So every connection on a file maps one shared word,
/// `<database>-wake`: a connection that ends a write transaction adds one to it and, unless
/// the write was in the middle of a job, wakes one sleeper (a shared futex, first come first
/// woken); a connection whose `BEGIN IMMEDIATE` is refused sleeps on the word until it
/// changes, with a timeout.
///
/// The word is only a hint, so it needs no recovery: a process killed in the middle leaves
/// a number, and a waiter that misses a wake (a writer outside ytauto, such as the
/// `sqlite3` shell, never bumps it) still tries again when its timeout ends. When the file
/// cannot be made (a read-only folder), connections fall back to timed sleeps alone.
///
/// `@unchecked Sendable`: every use of the word is an atomic operation or a futex call.
final class WriteWake: @unchecked Sendable {
    private let word: UnsafeMutablePointer<UInt32>
    private static let size = 4096

    /// Maps `<databasePath>-wake`, creating it; `nil` when that is not possible.
    init?(databasePath: String) {
        guard !databasePath.isEmpty, databasePath != ":memory:", !databasePath.hasPrefix("file:") else { return nil }
        let fd = open(databasePath + "-wake", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Its blocks allocated, not only its length set: a page of a sparse file that a full disk
        // cannot give is SIGBUS at the first touch through the mapping (a crash), where
        // posix_fallocate answers ENOSPC (no word: timed sleeps).
        if posix_fallocate(fd, 0, off_t(Self.size)) != 0 { return nil }
        guard let base = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), base != MAP_FAILED else {
            return nil
        }
        // The lock's sequence and its sleepers' count, then (at word 4) the same pair for "work",
        // then (at word 8) the same pair for "changed".
        word = base.bindMemory(to: UInt32.self, capacity: 10)
    }

    deinit { munmap(word, Self.size) }

    /// The word now; read it before trying the lock, wait on it after a refusal.
    var value: UInt32 { ytauto_wake_load(word) }

    /// After a write transaction ends: the next waiter may try now; `waking` one of them at
    /// once, or letting them find out when their sleep ends. `true` when one was woken.
    @discardableResult
    func bump(waking: Bool = true) -> Bool { ytauto_wake_bump(word, waking ? 1 : 0) > 0 }

    /// How many are asleep on the word now: a writer waiting for the lock is one (its busy
    /// handler sleeps here). Tests watch a waiter arrive with it.
    var sleepers: UInt32 { ytauto_wake_load(word + 1) }

    /// Sleeps until the word moves past `seen` or `nanoseconds` pass.
    func wait(seen: UInt32, nanoseconds: UInt64) { ytauto_wake_wait(word, seen, Int64(nanoseconds)) }

    // A second word in the same mapping says "a job may have become leasable" (an enqueue, a job
    // queued again, a dead worker's jobs freed): idle workers of every process sleep on it instead
    // of polling, and every one of them is woken (each then looks with a read).

    /// The work word now; read it before looking for work, wait on it after finding none.
    var workValue: UInt32 { ytauto_wake_load(word + 4) }

    /// Wakes every idle worker on this file, in any process.
    func signalWork() { _ = ytauto_wake_bump(word + 4, Int32.max) }

    /// Sleeps until the work word moves past `seen` or `nanoseconds` pass.
    func waitWork(seen: UInt32, nanoseconds: UInt64) { ytauto_wake_wait(word + 4, seen, Int64(nanoseconds)) }

    // A third word says "something was written": every write transaction of ytauto adds one, and
    // wakes whoever sleeps on it (the web console's live view; with nobody asleep, no system call).

    /// The change word now.
    var changeValue: UInt32 { ytauto_wake_load(word + 8) }

    /// After any write transaction: wakes every watcher on this file, in any process.
    func bumpChange() { _ = ytauto_wake_bump(word + 8, Int32.max) }

    /// Sleeps until the change word moves past `seen` or `nanoseconds` pass.
    func waitChange(seen: UInt32, nanoseconds: UInt64) { ytauto_wake_wait(word + 8, seen, Int64(nanoseconds)) }
}
