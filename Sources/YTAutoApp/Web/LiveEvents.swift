import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import YTAutoCore

/// The console's live view: `GET /events`, server-sent events that say which jobs run and in
/// which stage, sent when the store says something changed (``ConsoleStore/waitForChange(seen:timeout:)``),
/// never on a timer of the page's. One watcher a console process waits on the store
/// (``ChangeFeed``); every open stream waits on that watcher.
///
/// An event `running` carries the running jobs as JSON (`[{"id", "channel", "topic", "stage",
/// "stage_index", "stages", "attempt"}]`) and is sent when that list differs from the last one
/// sent; a comment line every 15 s keeps proxies from closing an idle stream. A stream ends
/// after 10 minutes or at the console's shutdown; browsers reconnect on their own.
///
/// A job's end notifies nobody on PostgreSQL (``ConsoleStore/changesIncludeJobEnds``: the workers'
/// commits would queue on it), so there, while a stream is open, the watcher reads which jobs run
/// every ``endsPoll`` (one indexed query a console process, however many streams) and wakes the
/// streams when that set changed: a job's end shows within 2 s.
final class ChangeFeed: Sendable {
    let signal = SequenceSignal()
    private let started = Mutex(false)
    /// Streams open now: the running jobs are read for ends only while one is.
    let streams = Mutex(0)
    static let endsPoll: Duration = .seconds(2)

    func start(_ store: any ConsoleStore, logger: Logger) {
        guard started.withLock({ s in defer { s = true }; return !s }) else { return }
        let signal = self.signal
        Task.detached {
            var seen = store.changeSequence
            while !Task.isCancelled {
                await store.waitForChange(seen: seen, timeout: .seconds(30))
                let now = store.changeSequence
                if now != seen { signal.bump() }
                seen = now
            }
        }
        guard !store.changesIncludeJobEnds else { return }
        Task.detached { [self] in
            var running: Set<Int64>? = nil
            var failures = RepeatedFailure()
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.endsPoll)
                guard streams.withLock({ $0 }) > 0 else { running = nil; continue }
                do {
                    let now = Set(try await store.runningJobs().map(\.id))
                    // The first read after no stream was open has nothing to compare with: it wakes them too.
                    if running != now { signal.bump() }
                    running = now
                    if let after = failures.succeeded() { logger.notice("the live view reads the running jobs again \(after)") }
                } catch {
                    // The streams read the list themselves when woken, and say so if they cannot.
                    let text = "\(error)"
                    if failures.failed(text) { logger.warning("the live view cannot read the running jobs for their ends: \(text)\(failures.note())") }
                }
            }
        }
    }
}

struct RunningJobJSON: Encodable, Equatable {
    var id: Int64
    var channel: String
    var topic: String?
    var stage: String?
    var stageIndex: Int
    var stages: Int
    var attempt: Int

    enum CodingKeys: String, CodingKey {
        case id, channel, topic, stage, stages, attempt
        case stageIndex = "stage_index"
    }

    /// Every key, `null` where there is no value (a job just leased has no stage yet): the
    /// synthesized encoding left `stage` out, and a reader looking for it found no key.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(channel, forKey: .channel)
        try c.encode(topic, forKey: .topic)
        try c.encode(stage, forKey: .stage)
        try c.encode(stageIndex, forKey: .stageIndex)
        try c.encode(stages, forKey: .stages)
        try c.encode(attempt, forKey: .attempt)
    }
}

extension WebConsole {
    static let keepAlive: Duration = .seconds(15)
    static let streamLifetime: Duration = .seconds(600)

    func events(_ request: Request) async throws -> Response {
        feed.start(store, logger: logger)
        let store = self.store, feed = self.feed, logger = self.logger
        var headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"]
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            feed.streams.withLock { $0 += 1 }
            defer { feed.streams.withLock { $0 -= 1 } }
            let until = ContinuousClock.now + Self.streamLifetime
            var last: [RunningJobJSON]? = nil
            var seen = feed.signal.sequence
            // At the console's shutdown the stream ends (the server would otherwise wait for it).
            let stopping = Mutex(false)
            do {
                try await withGracefulShutdownHandler {
                    // A browser waits this long before it reconnects to an ended stream.
                    try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                    while ContinuousClock.now < until, !Task.isCancelled, !stopping.withLock({ $0 }) {
                        let running: [RunningJobJSON]
                        do {
                            running = try await Self.runningJSON(store)
                        } catch {
                            // Said where an operator looks; the stream ends and the browser asks again in 2 s.
                            logger.warning("the live view cannot read the running jobs: \(error)")
                            break
                        }
                        if running != last {
                            try await writer.write(ByteBuffer(string: "event: running\ndata: \(Output.json(running).replacingOccurrences(of: "\n", with: ""))\n\n"))
                            last = running
                        }
                        await feed.signal.wait(seen: seen, timeout: Self.keepAlive)
                        if feed.signal.sequence == seen { try await writer.write(ByteBuffer(string: ": keepalive\n\n")) }
                        seen = feed.signal.sequence
                    }
                } onGracefulShutdown: {
                    stopping.withLock { $0 = true }
                    feed.signal.bump()
                }
            } catch {
                logger.debug("an event stream ended (the browser went away): \(error)")
            }
            try? await writer.finish(nil)
        })
    }

    /// The running jobs, each with its current stage's place in the pipeline.
    static func runningJSON(_ store: any ConsoleStore) async throws -> [RunningJobJSON] {
        try await store.runningJobs().sorted { $0.id < $1.id }.map { job in
            let index = job.currentStage.flatMap { Stage.names.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
            return RunningJobJSON(id: job.id, channel: job.channel, topic: job.topic, stage: job.currentStage, stageIndex: index,
                                  stages: Stage.names.count, attempt: job.attempt)
        }
    }
}
