import Testing
import YTAutoCore

/// The bookkeeping by which a worker takes up leases whose answer it lost (``LeaseDoubt``).
@Suite struct LeaseDoubtTests {
    @Test func aCallThatEndsWithAnAnswerLeavesNoDoubt() {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: false)
        d.jobEnded(7, inDoubt: false)
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
        let answer = d.settle(held: [3, 4, 5], since: mark, running: [4], freeSlots: 2)
        let settled = try #require(answer)
        #expect(settled.run == [3, 5])
        #expect(settled.handBack.isEmpty)
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
        let voided = d.settle(held: [8, 9], since: mark, running: [], freeSlots: 4)
        #expect(voided == nil)
        #expect(d.isInDoubt)
        // Asked again, with job 9 registered as running by then.
        let again = try #require(d.quietMark())
        let second = d.settle(held: [8, 9], since: again, running: [9], freeSlots: 4)
        #expect(try #require(second).run == [8])
    }

    @Test func aCallUnderWayWhenTheAnswerArrivesVoidsIt() throws {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: true)
        let mark = try #require(d.quietMark())
        d.callBegan()
        let voided = d.settle(held: [1], since: mark, running: [], freeSlots: 1)
        #expect(voided == nil)
    }

    @Test func jobsBeyondTheFreeSlotsAreHandedBack() throws {
        var d = LeaseDoubt()
        d.callBegan()
        d.callEnded(inDoubt: true)
        let mark = try #require(d.quietMark())
        let answer = d.settle(held: [1, 2, 3], since: mark, running: [], freeSlots: 1)
        let settled = try #require(answer)
        #expect(settled.run == [1])
        #expect(settled.handBack == [2, 3])
    }

    /// A job whose own write failed is left to its lease's expiry: taking it up would run its
    /// stage again without spending an attempt, over and over while the write keeps failing.
    @Test func aJobWhoseOwnWriteFailedIsNeverTakenUp() throws {
        var d = LeaseDoubt()
        d.jobEnded(5, inDoubt: true)
        let mark = try #require(d.quietMark())
        let answer = d.settle(held: [5, 6], since: mark, running: [], freeSlots: 4)
        let settled = try #require(answer)
        #expect(settled.run == [6])
        #expect(settled.handBack.isEmpty)
        // Still not taken up the next time, while the store still says this worker holds it.
        d.callBegan()
        d.callEnded(inDoubt: true)
        let next = try #require(d.quietMark())
        let later = d.settle(held: [5], since: next, running: [], freeSlots: 4)
        #expect(try #require(later).run.isEmpty)
    }
}
