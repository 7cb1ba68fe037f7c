import Foundation
import YTAutoCore

/// One step of a model-based run. Steps name leases, jobs and workers by position (the k-th
/// newest lease, the k-th job), resolved when the step runs, so any subsequence of a run is
/// still a valid run: that is what lets a failing run shrink by dropping steps.
enum QueueModelStep: Sendable, Hashable, CustomStringConvertible {
    case enqueue(channel: Int, priority: Int, dueInMS: Int64?, maxAttempts: Int, key: Int?, synthetic: Bool)
    case lease(worker: Int, channels: [Int]?, synthetic: Bool, seconds: Int)
    case heartbeat(lease: Int, seconds: Int)
    case checkpoint(lease: Int, stage: Int, state: StageState)
    case complete(lease: Int)
    /// Completes and leases the next job for the same worker in one step (``JobStore/complete(_:thenLease:)``).
    case completeThenLease(lease: Int, channels: [Int]?, synthetic: Bool, seconds: Int)
    case fail(lease: Int, Failure)
    case handBack(lease: Int)
    case markCancelled(lease: Int)
    case cancel(job: Int)
    case retry(job: Int)
    case retryAllFailed(channel: Int?)
    case reclaim
    /// The worker's process dies without a word (its lock is dropped, its file stays, as after SIGKILL);
    /// a new process of the same slot registers under a new id.
    case kill(worker: Int)
    /// The worker deregisters gracefully; a new process of the slot registers.
    case stop(worker: Int)
    case prune(olderThanMS: Int64, batch: Int)
    /// A worker stops before publishing for review (a channel with `review: true`).
    case holdForReview(lease: Int)
    case approve(job: Int)
    case reject(job: Int)
    /// The clock moves (backwards too: a wall clock may be corrected).
    case advance(ms: Int64)

    /// The errors a worker reports.
    enum Failure: String, Sendable, Hashable, CaseIterable {
        /// Retryable, no time named: the backoff.
        case retryable
        /// Not retryable: the job fails.
        case permanent
        /// A rate limit naming its time (90 s ahead): spends an attempt.
        case rateLimited
        /// A Retry-After already past.
        case retryAtPast
        /// A YouTube quota: parked until the reset, no attempt spent.
        case quotaParked
        /// A quota reset three days ahead: capped at two.
        case quotaFarAhead

        func failure(now: Date) -> JobFailure {
            switch self {
            case .retryable: JobFailure(code: "image.server_error", message: "502", isRetryable: true)
            case .permanent: JobFailure(code: "script.invalid", message: "no hook", isRetryable: false)
            case .rateLimited:
                JobFailure(code: "llm.rate_limited", message: "429", isRetryable: true, retryAt: now.addingTimeInterval(90))
            case .retryAtPast:
                JobFailure(code: "llm.rate_limited", message: "429", isRetryable: true, retryAt: now.addingTimeInterval(-10))
            case .quotaParked:
                JobFailure(code: "youtube.quota_exceeded", message: "quota", isRetryable: true,
                           retryAt: now.addingTimeInterval(3_600), spendsAttempt: false)
            case .quotaFarAhead:
                JobFailure(code: "youtube.quota_exceeded", message: "quota", isRetryable: true,
                           retryAt: now.addingTimeInterval(3 * 86_400), spendsAttempt: false)
            }
        }
    }

    static let channels = ["horror", "facts", "finance"]
    static let stages = ["script", "narration", "upload"]
    static let slots = 3

    var description: String {
        func ch(_ i: Int) -> String { Self.channels[i] }
        switch self {
        case .enqueue(let c, let p, let due, let max, let key, let synthetic):
            return "enqueue \(ch(c)) priority \(p) due \(due.map { "now\($0 >= 0 ? "+" : "")\($0)ms" } ?? "nil") "
                + "max \(max)\(key.map { " key k\($0)" } ?? "")\(synthetic ? " synthetic" : "")"
        case .lease(let w, let cs, let synthetic, let s):
            return "lease by slot \(w)\(cs.map { " channels \($0.map(ch))" } ?? "")\(synthetic ? " synthetic" : "") for \(s)s"
        case .heartbeat(let l, let s): return "heartbeat lease -\(l) for \(s)s"
        case .checkpoint(let l, let st, let state): return "checkpoint lease -\(l) \(Self.stages[st]) \(state.rawValue)"
        case .complete(let l): return "complete lease -\(l)"
        case .completeThenLease(let l, let cs, let synthetic, let s):
            return "complete lease -\(l) then lease\(cs.map { " channels \($0.map(ch))" } ?? "")\(synthetic ? " synthetic" : "") for \(s)s"
        case .fail(let l, let f): return "fail lease -\(l) \(f.rawValue)"
        case .handBack(let l): return "hand back lease -\(l)"
        case .markCancelled(let l): return "mark cancelled lease -\(l)"
        case .cancel(let j): return "cancel job #\(j)"
        case .retry(let j): return "retry job #\(j)"
        case .retryAllFailed(let c): return "retry all failed\(c.map { " of \(ch($0))" } ?? "")"
        case .reclaim: return "reclaim"
        case .kill(let w): return "kill worker of slot \(w)"
        case .stop(let w): return "stop worker of slot \(w)"
        case .prune(let age, let batch): return "prune older than \(age)ms batch \(batch)"
        case .holdForReview(let l): return "hold for review lease -\(l)"
        case .approve(let j): return "approve job #\(j)"
        case .reject(let j): return "reject job #\(j)"
        case .advance(let ms): return "clock \(ms >= 0 ? "+" : "")\(ms)ms"
        }
    }

    /// A random step. Leases are picked newest first more often (live ones), older ones (stale) less.
    static func random(using g: inout SplitMix64) -> QueueModelStep {
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &g)] }
        func leaseIndex() -> Int { Int.random(in: 0..<4, using: &g) == 0 ? Int.random(in: 0..<12, using: &g) : Int.random(in: 0..<2, using: &g) }
        func someChannels() -> [Int]? {
            switch Int.random(in: 0..<5, using: &g) {
            case 0: [Int.random(in: 0..<Self.channels.count, using: &g)]
            case 1: [Int.random(in: 0..<Self.channels.count, using: &g), Int.random(in: 0..<Self.channels.count, using: &g)]
            case 2 where Int.random(in: 0..<4, using: &g) == 0: []
            default: nil
            }
        }
        let roll = Int.random(in: 0..<100, using: &g)
        switch roll {
        case 0..<16:
            return .enqueue(
                channel: Int.random(in: 0..<channels.count, using: &g), priority: pick([-1, 0, 0, 1]),
                dueInMS: pick([nil, nil, -10_000, 0, 5_000, 30_000, 600_000]), maxAttempts: Int.random(in: 1...5, using: &g),
                key: Int.random(in: 0..<3, using: &g) == 0 ? Int.random(in: 0..<4, using: &g) : nil,
                synthetic: Int.random(in: 0..<8, using: &g) == 0)
        case 16..<32:
            return .lease(worker: Int.random(in: 0...slots, using: &g), channels: someChannels(),
                          synthetic: Int.random(in: 0..<6, using: &g) == 0, seconds: pick([10, 30]))
        case 32..<38: return .heartbeat(lease: leaseIndex(), seconds: pick([10, 30]))
        // Approve and reject come here too (below as well): a decision needs a job waiting for review,
        // and at 1 % each some seeds' runs reached no accepted reject.
        case 38: return .approve(job: Int.random(in: 0..<16, using: &g))
        case 39: return .reject(job: Int.random(in: 0..<16, using: &g))
        case 40..<49:
            return .checkpoint(lease: leaseIndex(), stage: Int.random(in: 0..<stages.count, using: &g),
                               state: pick([.running, .running, .succeeded, .failed]))
        case 49..<53: return .complete(lease: leaseIndex())
        case 53..<56:
            return .completeThenLease(lease: leaseIndex(), channels: someChannels(),
                                      synthetic: Int.random(in: 0..<6, using: &g) == 0, seconds: pick([10, 30]))
        // The plain retryable error most often: only a job that fails again and again reaches the backoff's cap.
        case 56..<66: return .fail(lease: leaseIndex(), pick(Failure.allCases + [.retryable, .retryable, .retryable]))
        case 66..<70: return .handBack(lease: leaseIndex())
        case 70..<72: return .markCancelled(lease: leaseIndex())
        case 72..<76: return .cancel(job: Int.random(in: 0..<16, using: &g))
        case 76..<79: return .retry(job: Int.random(in: 0..<16, using: &g))
        case 79..<81: return .retryAllFailed(channel: Int.random(in: 0..<2, using: &g) == 0 ? nil : Int.random(in: 0..<channels.count, using: &g))
        case 81..<86: return .reclaim
        case 86..<88: return .kill(worker: Int.random(in: 0..<slots, using: &g))
        case 88: return .stop(worker: Int.random(in: 0..<slots, using: &g))
        case 89..<91: return .prune(olderThanMS: pick([0, 1_000, 60_000, 86_400_000]), batch: pick([1, 2, 500]))
        case 91..<93: return .holdForReview(lease: leaseIndex())
        case 93: return .approve(job: Int.random(in: 0..<16, using: &g))
        case 94: return .reject(job: Int.random(in: 0..<16, using: &g))
        default:
            return .advance(ms: pick([1, 1_000, 9_999, 10_000, 10_001, 15_000, 15_000, 30_000, 31_000, 60_000, 600_000, 3_600_000,
                                      3 * 86_400_000, -5_000]))
        }
    }
}
