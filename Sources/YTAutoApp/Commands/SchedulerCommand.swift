import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import YTAutoCore
import YTAutoStore
import YTAutoWorker

extension YTAutoCommand {
    /// `ytauto scheduler`: channel schedules become jobs.
    public struct Scheduler: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Turn each channel's cron schedule into jobs, until SIGTERM or SIGINT.",
            discussion: """
                Each slot (channel + scheduled instant) becomes at most one job, however many schedulers run \
                and however often they restart: slots are rows of schedule_slots with a unique key, which \
                ytauto-admin prune keeps. Slots that passed while no scheduler ran follow the channel's \
                missed_slots policy (skip, latest, all) within its catch_up_window. A channel seen for the first \
                time does not backfill its past. Topics used within topic_recency_days are not picked again.
                """)

        @OptionGroup public var global: GlobalOptions
        @Flag(help: "Decide the slots due now, then exit (for a systemd timer or a cron job).") public var once = false
        @Option(help: "With --once: decide as if the time were this (ISO-8601), e.g. to replay a window.") public var now: String?
        @Option(help: "The longest sleep between passes: 30s, 1m.") public var maxSleep = "30s"
        @Option(help: "Log lines as human text or JSON.") public var logFormat: LogFormat = .human

        public init() {}

        public func validate() throws {
            if let now {
                guard once else { throw ValidationError("--now only goes with --once") }
                if Enqueue.parseTime(now) == nil { throw ValidationError("--now '\(now)' is not an ISO-8601 time") }
            }
            if parseDuration(maxSleep) == nil { throw ValidationError("--max-sleep '\(maxSleep)' is not a duration like 30s") }
        }

        public func run() async throws {
            // The configuration is checked before the database is touched: a broken one writes nothing.
            let config = try global.loadConfig()
            LogSetup.bootstrap(logFormat)
            let logger = Logger(label: "ytauto.scheduler")
            let store = try global.openStore()
            let service = SchedulerService(store: store, channels: config.channels, logger: logger,
                                           maxSleep: parseDuration(maxSleep) ?? .seconds(30))
            if once {
                await service.freeDeadWorkers()
                let decisions = try await service.pass(now: now.flatMap(Enqueue.parseTime) ?? Date())
                let made = decisions.filter { $0.kind == .enqueued }.count
                print("\(made) job(s) enqueued, \(decisions.count - made) slot(s) not run")
                return
            }
            let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            try await group.run()
        }
    }
}
