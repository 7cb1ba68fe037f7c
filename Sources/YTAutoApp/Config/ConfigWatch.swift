import Foundation
import Logging
import ServiceLifecycle

/// Watches the configuration file a long-running process (worker, scheduler, console) started
/// with, and says so when it changes on disk: the process keeps the configuration it started
/// with until it is restarted, which an edit made while it runs would otherwise hide (a changed
/// schedule went on running the old one, without a word), and an edit that would not load is
/// found now, with its problems, rather than at the next restart, which it would stop.
///
/// It compares the file's bytes every `interval` (a configuration is a few kilobytes); each
/// change is logged once. A service of the process's group: it ends at the group's graceful shutdown.
struct ConfigWatch: Service {
    let path: String
    let logger: Logger
    let interval: Duration
    /// The file's contents when the process loaded it.
    let started: Data?

    init(path: String, logger: Logger, interval: Duration = .seconds(5)) {
        self.path = path
        self.logger = logger
        self.interval = interval
        self.started = FileManager.default.contents(atPath: path)
    }

    /// Runs until cancelled or the graceful shutdown.
    func run() async {
        await cancelWhenGracefulShutdown { await self.watch() }
    }

    private func watch() async {
        var seen = started
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let now = FileManager.default.contents(atPath: path)
            guard now != seen else { continue }
            seen = now
            if now == started {
                logger.notice("the configuration \(path) is as this process started with it again")
            } else if now == nil {
                logger.warning("the configuration \(path) was removed (or cannot be read); this process keeps the one it started with, and a restart would fail")
            } else {
                do {
                    _ = try AppConfig.load(path: path)
                    logger.warning("the configuration \(path) changed on disk; this process keeps the one it started with until it is restarted")
                } catch {
                    logger.error("the configuration \(path) changed on disk and would not load: \(error); this process keeps the one it started with, and would not start again until it is fixed")
                }
            }
        }
    }
}
