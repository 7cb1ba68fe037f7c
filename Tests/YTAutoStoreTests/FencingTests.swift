import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoStore

/// A worker whose lease was taken over is refused every write, and the row is unchanged.
@Suite struct FencingTests {
    /// Leases a job to w1, lets the lease expire and be re-leased by w2; returns both leases.
    func takenOver(_ f: Fixture) async throws -> (stale: Lease, current: Lease) {
        _ = try await f.store.enqueue(NewJob(channel: "a"))
        let stale = try #require(try await f.store.lease(worker: "w1", channels: nil, duration: .seconds(10)))
        f.clock.advance(11)
        _ = try await f.store.reclaim()
        let current = try #require(try await f.store.lease(worker: "w2", channels: nil, duration: .seconds(30)))
        #expect(current.jobID == stale.jobID && current.token == stale.token + 1)
        return (stale, current)
    }

    enum Write: CaseIterable { case heartbeat, checkpoint, markStale, complete, fail, handBack, markCancelled }

    @Test(arguments: Write.allCases, StoreEngine.all)
    func aStaleLeaseIsRefused(_ write: Write, engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let (stale, current) = try await takenOver(f)
        try await f.store.checkpoint(current, stage: "script", state: .running, artifacts: [], startedAt: f.clock.now, error: nil)
        let before = try await f.row(stale.jobID)
        let stagesBefore = try await f.store.stages(jobID: stale.jobID)
        let attemptsBefore = try await f.store.attempts(jobID: stale.jobID)
        let error = await #expect(throws: LeaseLost.self) {
            switch write {
            case .heartbeat: _ = try await f.store.heartbeat(stale, duration: .seconds(30))
            case .checkpoint:
                try await f.store.checkpoint(stale, stage: "script", state: .succeeded, artifacts: [], startedAt: f.clock.now, error: nil)
            case .markStale: try await f.store.markStagesStale(stale, stages: ["script"], because: "a test")
            case .complete: _ = try await f.store.complete(stale)
            case .fail: _ = try await f.store.fail(stale, error: JobFailure(code: "x", message: "y", isRetryable: false))
            case .handBack: _ = try await f.store.handBack(stale)
            case .markCancelled: _ = try await f.store.markCancelled(stale)
            }
        }
        #expect(error?.currentOwner == "w2" && error?.currentToken == current.token && error?.currentState == .running)
        #expect(String(describing: error).contains("w1"))
        #expect(try await f.row(stale.jobID) == before)
        #expect(try await f.store.stages(jobID: stale.jobID) == stagesBefore)
        #expect(try await f.store.attempts(jobID: stale.jobID) == attemptsBefore)
    }

    @Test(arguments: StoreEngine.all) func aFinishedOrCancelledJobRefusesItsOldLease(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        let id = try await f.store.enqueue(NewJob(channel: "a")).job.id
        let lease = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        _ = try await f.store.complete(lease)
        await #expect(throws: LeaseLost.self) { _ = try await f.store.complete(lease) }
        await #expect(throws: LeaseLost.self) { _ = try await f.store.heartbeat(lease, duration: .seconds(1)) }
        #expect(try await f.store.attempts(jobID: id).map(\.outcome) == [.succeeded])

        _ = try await f.store.enqueue(NewJob(channel: "a"))
        let other = try #require(try await f.store.lease(worker: "w", channels: nil, duration: .seconds(30)))
        try await f.execute("DELETE FROM jobs WHERE id = \(other.jobID)")
        let gone = await #expect(throws: LeaseLost.self) { _ = try await f.store.complete(other) }
        #expect(gone?.currentState == nil)
    }

    @Test(arguments: StoreEngine.all) func aForgedOwnerIsRefused(engine: StoreEngine) async throws {
        let f = try await Fixture(engine)
        _ = try await f.store.enqueue(NewJob(channel: "a"))
        var lease = try #require(try await f.store.lease(worker: "w1", channels: nil, duration: .seconds(30)))
        lease.owner = "w2"
        await #expect(throws: LeaseLost.self) { _ = try await f.store.complete(lease) }
    }
}

@Suite struct WorkerLockTests {
    /// A live worker's lock cannot be taken, reclaim leaves its jobs alone, and deregistering it
    /// marks it stopped and removes its lock file. (A dead one, killed with SIGKILL for real:
    /// `QueueProcessTests.reclaimFreesTheJobsOfAWorkerKilledWithSIGKILL`.)
    @Test func aLiveWorkerIsAliveUntilItDeregisters() async throws {
        let f = try await Fixture(.sqlite)
        let store = try f.sqlite()
        let alive = try await store.registerWorker(id: "alive")
        #expect(throws: WorkerLock.Failure.self) { _ = try WorkerLock.acquire(path: alive.lock.path) }
        let a = try await f.store.enqueue(NewJob(channel: "a", maxAttempts: 2)).job.id
        let la = try #require(try await f.store.lease(worker: alive.id, channels: nil, duration: .seconds(3600)))
        #expect(la.jobID == a)
        #expect(try await f.store.reclaim().isEmpty)
        #expect(try await f.store.workers().first { $0.id == "alive" }?.state == .running)
        try await store.deregisterWorker(alive)
        #expect(try await f.store.workers().first { $0.id == "alive" }?.state == .stopped)
        #expect(!FileManager.default.fileExists(atPath: alive.lock.path))
    }

    @Test func probeSeesALockHeldByAnotherOpenFile() throws {
        let dir = TempDir()
        let lock = try WorkerLock.acquire(path: dir.path("w.lock"))
        guard case .alive = WorkerLock.probe(path: lock.path) else { Issue.record("held lock probed as not alive"); return }
        lock.release()
        guard case .missing = WorkerLock.probe(path: lock.path) else { Issue.record("released lock file still there"); return }
        let again = try WorkerLock.acquire(path: dir.path("x.lock"))
        guard case .alive = WorkerLock.probe(path: again.path) else { Issue.record("expected alive"); return }
        let attrs = try FileManager.default.attributesOfItem(atPath: again.path)
        #expect((attrs[.posixPermissions] as? Int) == 0o600)
    }

    /// A lock file removed from under its holder (its folder too), or replaced by another file,
    /// is made again and locked; a file still in place is left as it is; a released lock is not
    /// made again, nor a folder above the lock's own.
    @Test func aRemovedLockFileIsMadeAgainAndHeld() throws {
        let dir = TempDir()
        let folder = dir.path("db-workers")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let lock = try WorkerLock.acquire(path: folder + "/w.lock")
        #expect(try lock.renewIfRemoved() == false)
        try FileManager.default.removeItem(atPath: folder)
        #expect(WorkerLock.peek(path: lock.path) == .missing)
        #expect(try lock.renewIfRemoved() == true)
        #expect(WorkerLock.peek(path: lock.path) == .held)
        #expect(throws: WorkerLock.Failure.self) { _ = try WorkerLock.acquire(path: lock.path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["w.lock"], "no passing file is left")
        #expect(try lock.renewIfRemoved() == false)
        // Another file put in its place (a restored backup of the folder) is not the held one.
        try FileManager.default.removeItem(atPath: lock.path)
        FileManager.default.createFile(atPath: lock.path, contents: nil)
        #expect(WorkerLock.peek(path: lock.path) == .free)
        #expect(WorkerLock.held(in: folder).isEmpty, "a file nobody locks is no running worker")
        #expect(try lock.renewIfRemoved() == true)
        // What restore asks, from the files alone: the held lock, not other files beside it.
        let other = try WorkerLock.acquire(path: folder + "/w.lock.77.new")
        #expect(WorkerLock.held(in: folder) == ["w"])
        other.release()
        #expect(WorkerLock.held(in: dir.path("nowhere")).isEmpty)
        #expect(WorkerLock.peek(path: lock.path) == .held)
        lock.release()
        #expect(WorkerLock.peek(path: lock.path) == .missing)
        #expect(WorkerLock.held(in: folder).isEmpty)
        #expect(try lock.renewIfRemoved() == false)
        #expect(WorkerLock.peek(path: lock.path) == .missing)

        // A database folder removed whole is not made again: that is an error.
        let whole = dir.path("install")
        try FileManager.default.createDirectory(atPath: whole + "/db-workers", withIntermediateDirectories: true)
        let gone = try WorkerLock.acquire(path: whole + "/db-workers/w.lock")
        try FileManager.default.removeItem(atPath: whole)
        #expect(throws: WorkerLock.Failure.self) { _ = try gone.renewIfRemoved() }
        #expect(!FileManager.default.fileExists(atPath: whole))
    }

    /// The process table tells the process that registered from one given its pid later: this
    /// process runs and started before now, not after a time before it started; an exited and
    /// reaped child runs no more.
    @Test func aProcessRunsOnlyIfItStartedByItsRegistration() throws {
        let me = try #require(LocalProcess.read(getpid()))
        #expect(me.isAlive && me.parent == getppid())
        let started = try #require(me.startedAt)
        #expect(started <= Date().addingTimeInterval(1) && started > Date().addingTimeInterval(-3600), "\(started)")
        #expect(LocalProcess.isRunning(getpid(), registeredAt: Date()))
        #expect(!LocalProcess.isRunning(getpid(), registeredAt: started.addingTimeInterval(-60)))
        let child = try Child(URL(fileURLWithPath: "/bin/true"), [])
        #expect(child.waitForExit() == 0)
        // (Its pid given to another process since, which is not this one's child, would be running.)
        #expect(!LocalProcess.isRunning(child.pid, registeredAt: Date()) || LocalProcess.read(child.pid)?.parent != getpid())
    }
}
