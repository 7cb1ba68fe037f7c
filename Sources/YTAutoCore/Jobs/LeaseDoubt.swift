/// What a worker knows of leases it may hold without knowing it.
///
/// A store call that may lease a job (a lease, or a completion that leases the next job) can fail
/// without an answer: a PostgreSQL connection lost after the server committed. The job is then
/// `running` under this worker's lease while the worker does not run it; left alone it would sit
/// until its lease expired and then spend an attempt as `lease.expired` (a job of one attempt
/// would fail for a network blip). After such a failure the worker asks the store which jobs it
/// holds (``WorkerStore/leases(heldBy:)``) and takes up the ones it does not run.
///
/// It must not take up a job whose answer is merely still on its way. So it asks only when no
/// call that may lease is under way (``quietMark()``), and takes up what the store said only if
/// no such call began meanwhile (``settle(held:since:running:freeSlots:)``). A job whose own
/// bookkeeping failed in this worker (``jobEnded(_:inDoubt:)``) is never taken up again: it is
/// left to its lease's expiry, as before, so a write that keeps failing (a full disk) cannot
/// make a stage run again and again without an attempt being spent.
public struct LeaseDoubt: Sendable, Hashable {
    private var callsUnderWay = 0
    private var callsBegun: UInt64 = 0
    private var inDoubt = false
    private var abandoned: Set<Int64> = []

    public init() {}

    /// Whether a failure left the worker unsure which jobs it holds.
    public var isInDoubt: Bool { inDoubt }

    /// Before a store call that may lease a job.
    public mutating func callBegan() {
        callsUnderWay += 1
        callsBegun &+= 1
    }

    /// After that call's lease, if any, is registered as running; `inDoubt` if it failed without
    /// an answer (a refused lease, `LeaseLost`, is an answer: nothing was leased).
    public mutating func callEnded(inDoubt doubt: Bool) {
        callsUnderWay = max(0, callsUnderWay - 1)
        if doubt { inDoubt = true }
    }

    /// A job's task ended; `inDoubt` if a write about it failed without an answer, so that it may
    /// still be leased to this worker.
    public mutating func jobEnded(_ id: Int64, inDoubt doubt: Bool) {
        guard doubt else { return }
        abandoned.insert(id)
        inDoubt = true
    }

    /// A mark to ask the store with, when in doubt and no call that may lease is under way.
    public func quietMark() -> UInt64? {
        inDoubt && callsUnderWay == 0 ? callsBegun : nil
    }

    /// Of the jobs the store says this worker holds (`held`, read after ``quietMark()`` gave
    /// `mark`), the ones to run (those it does not run, up to `freeSlots`) and the ones to hand
    /// back (the rest). Nil, still in doubt, if a call that may lease began after the mark: its
    /// lease may be among `held` before it is registered as running.
    public mutating func settle(held: [Int64], since mark: UInt64, running: Set<Int64>, freeSlots: Int) -> (run: [Int64], handBack: [Int64])? {
        guard callsUnderWay == 0, callsBegun == mark else { return nil }
        inDoubt = false
        abandoned.formIntersection(held)
        let lost = held.filter { !running.contains($0) && !abandoned.contains($0) }
        let n = max(0, min(freeSlots, lost.count))
        return (Array(lost.prefix(n)), Array(lost.dropFirst(n)))
    }
}
