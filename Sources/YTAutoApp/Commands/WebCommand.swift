import ArgumentParser
import Foundation
import Hummingbird
import Logging
import YTAutoCore

extension YTAutoCommand {
    /// `ytauto web`: the web console (see ``WebConsole``).
    public struct Web: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Serve the web console (overview, jobs, channels, workers, audit log, /api/, /metrics) until SIGTERM or SIGINT.",
            discussion: """
                It listens on loopback only: the console can retry and cancel jobs and has no login yet, so an \
                address other than 127.0.0.0/8, ::1 or localhost is refused. To reach it from elsewhere, forward \
                the port (ssh -L 8080:127.0.0.1:8080 HOST). Every action is a POST with a CSRF token and is \
                recorded in the audit log (ytauto-admin audit). /metrics is Prometheus's text format, read from \
                the database at each scrape.
                """)

        @OptionGroup public var global: GlobalOptions
        @Option(help: ArgumentHelp("Where to listen: HOST:PORT, on loopback.", valueName: "host:port")) public var listen = "127.0.0.1:8080"
        @Option(help: "Log lines as human text or JSON.") public var logFormat: LogFormat = .human

        public init() {}

        public func validate() throws { _ = try Self.address(listen) }

        /// `HOST:PORT` (`[::1]:PORT` for IPv6), refused unless the host is a loopback one.
        static func address(_ text: String) throws -> (host: String, port: Int) {
            guard let colon = text.lastIndex(of: ":") else {
                throw ValidationError("--listen '\(text)' is not HOST:PORT (e.g. 127.0.0.1:8080)")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
                throw ValidationError("--listen '\(text)': the port must be a whole number within 1...65535")
            }
            let loopback = host == "localhost" || host == "::1"
                || (host.hasPrefix("127.") && host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil })
            guard loopback else {
                throw ValidationError("""
                    --listen '\(text)': the console listens on loopback only (127.0.0.1, ::1, localhost): it can retry and \
                    cancel jobs and has no login yet; reach it from elsewhere through a forwarded port (ssh -L 8080:127.0.0.1:8080 HOST)
                    """)
            }
            return (host, port)
        }

        public func run() async throws {
            let (host, port) = try Self.address(listen)
            let config = try global.loadConfig()
            LogSetup.bootstrap(logFormat)
            let logger = Logger(label: "ytauto.web")
            guard let store = try await global.openStore() as? any ConsoleStore else {
                throw CLIError("the database at \(global.databaseName) has no console support in this build")
            }
            let youtube = config.providers.youtube
            let console = WebConsole(
                store: store, channels: config.channels, folders: .success(config.jobFolders()), databaseName: global.databaseName,
                quotaLimits: ["youtube units": youtube.dailyQuota], logger: logger)
            let app = Application(
                router: console.router(),
                configuration: .init(address: .hostname(host, port: port), serverName: "ytauto"),
                onServerRunning: { channel in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    FileHandle.standardOutput.write(Data("ytauto web: listening on http://\(shown):\(channel.localAddress?.port ?? port)/\n".utf8))
                },
                logger: logger)
            try await app.runService()
        }
    }
}
