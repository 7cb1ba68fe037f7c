import Testing
import YTAutoCore

/// The bookkeeping by which a worker takes up leases whose answer it lost (``LeaseDoubt``).
@Suite struct LeaseDoubtTests {
    func key(_ job: Int64, _ token: Int64 = 1) -> LeaseDoubt.LeaseKey { LeaseDoubt.LeaseKey(jobID: job, token: token) }

    /// A doubt raised by `raise`, then settled against what the store says is held.
    func settled(after raise: (inout LeaseDoubt) -> Void, held: [LeaseDoubt.LeaseKey], running: Set<Int64> = [], free: Int = 4)
        throws -> (doubt: LeaseDoubt, run: [LeaseDoubt.LeaseKey], handBack: [LeaseDoubt.LeaseKey])
    {
        var d = LeaseDoubt()
        raise(&d)
        let mark = try #require(d.quietMark())
        let answer = d.settle(held: held, since: mark, running: running, freeSlots: free)
        let found = try #require(answer)
        return (d, found.run, found.handBack)
    }

    @Test func aCallThatEndsWithAnAnswerLeavesNoDoubt() {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: false)
        d.jobEnded(key(7), outcome: .recorded)
        d.jobEnded(key(8), outcome: .letGo)
        #expect(!d.isInDoubt)
        #expect(d.quietMark() == nil)
    }

    @Test func aFailedCallIsSettledOnceNoCallIsUnderWay() throws {
        var d = LeaseDoubt()
        d.callBegan()
        d.callBegan()
        d.callEnded(inDoubt: true)
        // The other call is still on its way: its lease may already be committed, not yet registered.
        #expect(d.quietMark() == nil)
        d.callEnded(inDoubt: false)
        let mark = try #require(d.quietMark())
        let answer = d.settle(held: [key(3), key(4), key(5)], since: mark, running: [4], freeSlots: 2)
        let found = try #require(answer)
        #expect(found.run == [key(3), key(5)])
        #expect(found.handBack.isEmpty)
        #expect(!d.isInDoubt && d.quietMark() == nil)
    }

    @Test func aCallBegunWhileTheStoreWasAskedVoidsTheAnswer() throws {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: true)
        let mark = try #require(d.quietMark())
        // A completion that leased job 9 began and ended while the store was being asked.
        d.callBegan()
        d.callEnded(inDoubt: false)
        let voided = d.settle(held: [key(8), key(9)], since: mark, running: [], freeSlots: 4)
        #expect(voided == nil)
        #expect(d.isInDoubt)
        // Asked again, with job 9 registered as running by then.
        let again = try #require(d.quietMark())
        let second = d.settle(held: [key(8), key(9)], since: again, running: [9], freeSlots: 4)
        #expect(try #require(second).run == [key(8)])
    }

    /// A job whose task ended while the store was asked may be in its answer with the lease it
    /// just gave up (a failure recorded a moment after the read).
    @Test func aJobEndedWhileTheStoreWasAskedVoidsTheAnswer() throws {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: true)
        let mark = try #require(d.quietMark())
        d.jobEnded(key(6), outcome: .recorded)
        let voided = d.settle(held: [key(6)], since: mark, running: [], freeSlots: 4)
        #expect(voided == nil)
        #expect(d.isInDoubt)
    }

    @Test func aCallUnderWayWhenTheAnswerArrivesVoidsIt() throws {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: true)
        let mark = try #require(d.quietMark())
        d.callBegan()
        let voided = d.settle(held: [key(1)], since: mark, running: [], freeSlots: 1)
        #expect(voided == nil)
    }

    @Test func jobsBeyondTheFreeSlotsAreHandedBack() throws {
        let found = try settled(after: { $0.callBegan(); $0.callEnded(inDoubt: true) }, held: [key(1), key(2), key(3)], free: 1)
        #expect(found.run == [key(1)])
        #expect(found.handBack == [key(2), key(3)])
    }

    /// A job whose own write failed is left to its lease's expiry: taking it up would run its
    /// stage again without spending an attempt, over and over while the write keeps failing.
    @Test func aJobWhoseOwnWriteFailedIsNeverTakenUp() throws {
        let found = try settled(after: { $0.jobEnded(key(5), outcome: .inDoubt) }, held: [key(5), key(6)])
        #expect(found.run == [key(6)])
        #expect(found.handBack.isEmpty)
        var d = found.doubt
        // Still not taken up the next time, while the store still says this worker holds it.
        d.callBegan()
        d.callEnded(inDoubt: true)
        let next = try #require(d.quietMark())
        let later = d.settle(held: [key(5)], since: next, running: [], freeSlots: 4)
        #expect(try #require(later).run.isEmpty)
    }

    /// A lease the worker stopped because it could no longer prove it stays let go, though the
    /// store (not yet swept) still names this worker; the same job leased to it again is new.
    @Test func aLeaseLetGoIsNotTakenUpButTheJobsNextLeaseIs() throws {
        let found = try settled(after: { d in
            d.jobEnded(key(4, 2), outcome: .letGo)
            d.callBegan()
            d.callEnded(inDoubt: true)
        }, held: [key(4, 2)])
        #expect(found.run.isEmpty && found.handBack.isEmpty)
        let again = try settled(after: { d in
            d.jobEnded(key(4, 2), outcome: .letGo)
            d.callBegan()
            d.callEnded(inDoubt: true)
        }, held: [key(4, 3)])
        #expect(again.run == [key(4, 3)])
    }

    /// A worker that is never in doubt does not keep every lease it let go: past
    /// ``LeaseDoubt/remembered`` the oldest is forgotten (it expired long since), the newest kept.
    @Test func onlyTheNewestLetGoLeasesAreRemembered() throws {
        let n = Int64(LeaseDoubt.remembered)
        let found = try settled(after: { d in
            for job in 1...(n + 1) { d.jobEnded(key(job), outcome: .letGo) }
            d.callBegan()
            d.callEnded(inDoubt: true)
        }, held: [key(1), key(2), key(n + 1)])
        #expect(found.run == [key(1)], "the oldest forgotten; the second and the newest still let go")
    }

    /// A hand-back that failed without an answer raises the doubt again.
    @Test func aFailedHandBackIsLookedForAgain() throws {
        let found = try settled(after: { $0.callBegan(); $0.callEnded(inDoubt: true) }, held: [key(1), key(2)], free: 0)
        #expect(found.handBack == [key(1), key(2)] && found.doubt.quietMark() == nil)
        var d = found.doubt
        d.doubtAgain()
        #expect(d.quietMark() != nil)
    }
}
