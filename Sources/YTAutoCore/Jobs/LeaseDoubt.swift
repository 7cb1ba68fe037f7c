/// What a worker knows of leases it may hold without knowing it.
///
/// A store call that may lease a job (a lease, or a completion that leases the next job) can fail
/// without an answer: a PostgreSQL connection lost after the server committed. The job is then
/// `running` under this worker's lease while the worker does not run it; left alone it would sit
/// until its lease expired and then spend an attempt as `lease.expired` (a job of one attempt
/// would fail for a network blip). After such a failure the worker asks the store which jobs it
/// holds (``WorkerStore/leases(heldBy:)``) and takes up the ones it does not run.
///
/// It must not take up a job whose answer is merely still on its way, nor one whose task has just
/// ended. So it asks only when no call that may lease is under way (``quietMark()``), and takes up
/// what the store said only if no such call began and no job's task ended meanwhile
/// (``settle(held:since:running:freeSlots:)``). A lease this worker already ran and let go is
/// never taken up again (``jobEnded(_:outcome:)``): one whose own write failed (left to its
/// lease's expiry, as before, so a write that keeps failing, such as on a full disk, cannot make a
/// stage run again and again without an attempt being spent), and one it stopped because it could
/// no longer prove it.
public struct LeaseDoubt: Sendable, Hashable {
    /// How a job's task ended, as far as the store's lease is concerned.
    public enum Ending: Sendable, Hashable {
        /// The store recorded the end (completed, failed, handed back, held for review), or said
        /// the lease is another's.
        case recorded
        /// A write about the job failed without an answer: the lease may still be this worker's.
        case inDoubt
        /// The worker stopped the job without a write (it could no longer prove its lease).
        case letGo
    }

    /// One lease of one job: a job leased again has a new token.
    public struct LeaseKey: Sendable, Hashable {
        public var jobID: Int64
        public var token: Int64
        public init(jobID: Int64, token: Int64) {
            self.jobID = jobID
            self.token = token
        }
    }

    private var callsUnderWay = 0
    /// Bumped by every call that may lease and every job's end: a mark is void once it moved.
    private var changes: UInt64 = 0
    private var inDoubt = false
    private var letGo: Set<LeaseKey> = []
    /// ``letGo`` in the order they were let go, to forget the oldest past ``remembered``.
    private var letGoOrder: [LeaseKey] = []
    /// How many let-go leases are remembered. An older one expired long ago (a lease lasts
    /// seconds to minutes, and letting one go is rare), so the store cannot show it held by this
    /// worker any more; without a bound a worker that is never in doubt would keep every one.
    public static let remembered = 1_024

    public init() {}

    /// Whether a failure left the worker unsure which jobs it holds.
    public var isInDoubt: Bool { inDoubt }

    /// Before a store call that may lease a job.
    public mutating func callBegan() {
        callsUnderWay += 1
        changes &+= 1
    }

    /// After that call's lease, if any, is registered as running; `inDoubt` if it failed without
    /// an answer (a refused lease, `LeaseLost`, is an answer: nothing was leased).
    public mutating func callEnded(inDoubt doubt: Bool) {
        callsUnderWay = max(0, callsUnderWay - 1)
        if doubt { inDoubt = true }
    }

    /// Something this worker did with leases it found failed without an answer (a hand-back).
    public mutating func doubtAgain() { inDoubt = true }

    /// A job's task ended.
    public mutating func jobEnded(_ lease: LeaseKey, outcome: Ending) {
        changes &+= 1
        switch outcome {
        case .recorded: break
        case .inDoubt:
            remember(lease)
            inDoubt = true
        case .letGo:
            remember(lease)
        }
    }

    private mutating func remember(_ lease: LeaseKey) {
        guard letGo.insert(lease).inserted else { return }
        letGoOrder.append(lease)
        if letGoOrder.count > Self.remembered {
            letGo.remove(letGoOrder.removeFirst())
        }
    }

    /// A mark to ask the store with, when in doubt and no call that may lease is under way.
    public func quietMark() -> UInt64? {
        inDoubt && callsUnderWay == 0 ? changes : nil
    }

    /// Of the leases the store says this worker holds (`held`, read after ``quietMark()`` gave
    /// `mark`), the ones to run (those it neither runs nor let go, up to `freeSlots`) and the ones
    /// to hand back (the rest). Nil, still in doubt, if a call that may lease began or a job's
    /// task ended after the mark: a lease on its way may be among `held` before it is registered
    /// as running, and a job just ended may be there with its old lease.
    public mutating func settle(held: [LeaseKey], since mark: UInt64, running: Set<Int64>, freeSlots: Int) -> (run: [LeaseKey], handBack: [LeaseKey])? {
        guard callsUnderWay == 0, changes == mark else { return nil }
        inDoubt = false
        letGo.formIntersection(held)
        letGoOrder.removeAll { !letGo.contains($0) }
        let lost = held.filter { !running.contains($0.jobID) && !letGo.contains($0) }
        let n = max(0, min(freeSlots, lost.count))
        return (Array(lost.prefix(n)), Array(lost.dropFirst(n)))
    }
}
