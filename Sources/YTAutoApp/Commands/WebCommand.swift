import ArgumentParser
import Foundation
import Hummingbird
import Logging
import YTAutoCore
import YTAutoProviders

extension YTAutoCommand {
    /// `ytauto web`: the web console (see ``WebConsole``).
    public struct Web: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Serve the web console (overview, jobs, review, channels, workers, audit log, /api/, /metrics) until SIGTERM or SIGINT.",
            discussion: """
                Without console users it listens on loopback only: it can retry and cancel jobs, so an address other \
                than 127.0.0.0/8, ::1 or localhost is refused; reach it from elsewhere through a forwarded port \
                (ssh -L 8080:127.0.0.1:8080 HOST). With users in the credentials file (ytauto auth console-user NAME \
                --role viewer|operator) every request signs in (HTTP Basic; put a network address behind TLS), any \
                address may be given, and only operators act. Every action is a POST with a CSRF token and is \
                recorded in the audit log (ytauto-admin audit). /metrics is Prometheus's text format, read from \
                the database at each scrape.
                """)

        @OptionGroup public var global: GlobalOptions
        @Option(help: ArgumentHelp("Where to listen: HOST:PORT; on loopback unless the console has users.", valueName: "host:port")) public var listen = "127.0.0.1:8080"
        @Option(help: "Log lines as human text or JSON.") public var logFormat: LogFormat = .human

        public init() {}

        public func validate() throws { _ = try Self.address(listen, hasUsers: true) }

        /// `HOST:PORT` (`[::1]:PORT` for IPv6), refused unless the host is a loopback one or the console has users.
        static func address(_ text: String, hasUsers: Bool) throws -> (host: String, port: Int) {
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
            guard loopback || hasUsers else {
                throw ValidationError("""
                    --listen '\(text)': a console without users listens on loopback only (127.0.0.1, ::1, localhost): it can \
                    retry and cancel jobs. Add users first (ytauto auth console-user NAME --role operator; every request then \
                    signs in), or reach it from elsewhere through a forwarded port (ssh -L 8080:127.0.0.1:8080 HOST)
                    """)
            }
            return (host, port)
        }

        public func run() async throws {
            let config = try global.loadConfig()
            let credentials = try PipelineChoice.providerCredentials(config, global: global)
            let users = try ConsoleUsers(lines: credentials.consoleUsers, file: config.providers.credentialsFile)
            let (host, port) = try Self.address(listen, hasUsers: !users.isEmpty)
            LogSetup.bootstrap(logFormat)
            let logger = Logger(label: "ytauto.web")
            guard let store = try await global.openStore() as? any ConsoleStore else {
                throw CLIError("the database at \(global.databaseName) has no console support in this build")
            }
            let youtube = config.providers.youtube
            var console = WebConsole(
                store: store, channels: config.channels, folders: .success(config.jobFolders()), databaseName: global.databaseName,
                quotaLimits: ["youtube units": youtube.dailyQuota], logger: logger)
            console.users = users
            if !users.isEmpty {
                logger.info("console users: every request signs in", metadata: [
                    "operators": "\(users.users.values.filter { $0.role == .operator }.count)",
                    "viewers": "\(users.users.values.filter { $0.role == .viewer }.count)"])
            }
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
