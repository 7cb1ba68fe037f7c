import CFaultVFS
import CSQLite
import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// A disk that answers reads with EIO: the store opened through a SQLite VFS (`CFaultVFS`) that
/// fails every read of its files while armed, as a failing disk does, with no root needed.
/// Only connections opened through that VFS see the faults.
@Suite(.serialized) struct ReadFaultTests {
    @Test func aReadErrorIsNamedLosesNothingAndTheStoreWorksOnceReadsDo() async throws {
        try #require(ytauto_faultvfs_register() == SQLITE_OK)
        let dir = TempDir("ytauto-eio")
        let path = dir.path("ytauto.db")
        var options = Connection.Options()
        options.vfs = "ytauto-faulty"
        let store = try SQLiteJobStore(path: path, options: options)
        var ids: [Int64] = []
        for i in 0..<3 { ids.append(try await store.enqueue(NewJob(channel: "facts", topic: "t\(i)", kind: .synthetic)).job.id) }
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .synthetic, pipeline: nil, duration: .seconds(300)))
        // Everything into the database file, so that the store's next reads go to the disk.
        let plain = try Connection(path: path)
        _ = try plain.queryOne("PRAGMA wal_checkpoint(TRUNCATE)")

        let failedBefore = ytauto_faultvfs_failed_reads()
        ytauto_faultvfs_fail_reads(1)
        defer { ytauto_faultvfs_fail_reads(0) }
        func isReadError(_ error: any Error) -> Bool {
            guard let e = error as? SQLiteError else { return false }
            return e.extendedCode & 0xff == SQLITE_IOERR && e.description.contains("disk I/O error") && e.description.contains(path)
        }
        // Each kind of call fails with SQLite's I/O error naming the file: a read, a lease, a
        // completion, and opening the database anew.
        await #expect(performing: { _ = try await store.job(id: lease.jobID) }, throws: isReadError)
        await #expect(performing: { _ = try await store.lease(worker: "w2", channels: nil, kind: .synthetic, pipeline: nil, duration: .seconds(30)) }, throws: isReadError)
        await #expect(performing: { _ = try await store.complete(lease) }, throws: isReadError)
        #expect(performing: { _ = try SQLiteJobStore(path: path, options: options) }, throws: isReadError)
        #expect(ytauto_faultvfs_failed_reads() > failedBefore)

        // The disk reads again: nothing was lost or half-written, and the same lease completes.
        ytauto_faultvfs_fail_reads(0)
        #expect(try await store.job(id: lease.jobID)?.state == .running)
        #expect(try await store.job(id: lease.jobID)?.leaseToken == lease.token)
        let done = try await store.complete(lease)
        #expect(done.state == .succeeded)
        let others = try await ids.filter { $0 != lease.jobID }.asyncMap { try await store.job(id: $0)?.state }
        #expect(others == [.queued, .queued])
        #expect(try plain.queryOne("PRAGMA integrity_check")?.string("integrity_check") == "ok")
    }
}
