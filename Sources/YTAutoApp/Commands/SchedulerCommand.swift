import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import YTAutoCore
import YTAutoWorker

extension YTAutoCommand {
    /// `ytauto scheduler`: channel schedules become jobs.
    public struct Scheduler: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Turn each channel's cron schedule into jobs, until SIGTERM, SIGINT or SIGHUP.",
            discussion: """
                Each slot (channel + scheduled instant) becomes at most one job, however many schedulers run \
                and however often they restart: slots are rows of schedule_slots with a unique key, which \
                ytauto-admin prune keeps. Slots that passed while no scheduler ran follow the channel's \
                missed_slots policy (skip, latest, all) within its catch_up_window. A channel seen for the first \
                time does not backfill its past. Topics used within topic_recency_days are not picked again. \
                --once --now TIME replays up to a past TIME: the slots between where the schedulers stopped \
                and TIME are decided as if it were TIME; slots already decided keep their decision (one job a \
                slot), and the schedulers' position never moves back. A TIME in the future is refused: deciding \
                slots ahead of the clock would leave the running schedulers nothing to do until then.
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
                let clock = Date()
                if try OptionCheck.time(now, "--now") > clock {
                    throw ValidationError("""
                        --now '\(now)' is in the future (the clock says \(Timestamp.string(clock))); --now replays a past \
                        window only: deciding slots ahead of the clock would leave the schedulers nothing to do until then
                        """)
                }
            }
            _ = try OptionCheck.duration(maxSleep, "--max-sleep", allowed: ConfigLimits.maxSleep, milliseconds: true)
        }

        public func run() async throws {
            // The configuration is checked before the database is touched: a broken one writes nothing.
            let config = try global.loadConfig()
            LogSetup.bootstrap(logFormat)
            let logger = Logger(label: "ytauto.scheduler")
            let store = try await global.openStore()
            let service = SchedulerService(store: store, channels: config.channels, logger: logger,
                                           maxSleep: try OptionCheck.duration(maxSleep, "--max-sleep", allowed: ConfigLimits.maxSleep, milliseconds: true))
            if once {
                await service.freeDeadWorkers()
                let at = try now.map { try OptionCheck.time($0, "--now") } ?? Date()
                // A replay behind the cursor decides nothing new: say so rather than report zero silently.
                var behind: [String] = []
                for channel in config.channels {
                    if let cursor = try await store.scheduleCursor(channel: channel.name), cursor >= at {
                        behind.append("\(channel.name) (decided up to \(Timestamp.string(cursor)))")
                    }
                }
                let decisions = try await service.pass(now: at)
                let made = decisions.filter { $0.kind == .enqueued }.count
                print("\(made) job(s) enqueued, \(decisions.count - made) slot(s) not run")
                if !behind.isEmpty {
                    print("already decided, kept as they are (see ytauto-admin slots): \(behind.joined(separator: ", "))")
                }
                return
            }
            let group = ServiceGroup(services: [service, ConfigWatch(path: global.configPath, logger: logger)],
                                     gracefulShutdownSignals: SecondSignal.graceful, logger: logger)
            try await group.run()
        }
    }
}
