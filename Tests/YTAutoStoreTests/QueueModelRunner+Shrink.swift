import Foundation

extension QueueModelRunner {
    /// Delta debugging: drops ever smaller chunks of steps while the run still fails, down to a
    /// sequence from which no single step can be dropped. Returns it with its disagreement.
    static func shrink(_ steps: [QueueModelStep], _ first: Disagreement, on factory: QueueEngineFactory) async -> ([QueueModelStep], Disagreement) {
        var current = steps
        var failure = first
        // Steps after the one that failed play no part.
        if let i = first.step, i + 1 < current.count { current = Array(current[...i]) }
        var chunks = 2
        while current.count > 1 {
            let size = (current.count + chunks - 1) / chunks
            var reduced = false
            for start in stride(from: 0, to: current.count, by: size) {
                var candidate = current
                candidate.removeSubrange(start..<min(start + size, current.count))
                if let d = await Self.failure(of: candidate, on: factory) {
                    current = candidate
                    failure = d
                    if let i = d.step, i + 1 < current.count { current = Array(current[...i]) }
                    chunks = max(chunks - 1, 2)
                    reduced = true
                    break
                }
            }
            if !reduced {
                if size == 1 { break }
                chunks = min(chunks * 2, current.count)
            }
        }
        return (current, failure)
    }

    /// Whether `steps` fail, tried twice: a failure can hang on the backoff's jitter (the store draws
    /// it from the system's generator), and a candidate that fails one time in two must not be
    /// taken for one that passes.
    static func failure(of steps: [QueueModelStep], on factory: QueueEngineFactory) async -> Disagreement? {
        if let d = await run(steps, on: factory) { return d }
        return await run(steps, on: factory)
    }
}
