import ArgumentParser
import Foundation
import NIOCore
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
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
                --role viewer|operator) every request signs in (HTTP Basic: on a network address serve HTTPS with \
                --tls-cert and --tls-key, or put it behind a TLS proxy), any address may be given, and only operators \
                act. Every action is a POST with a CSRF token and is recorded in the audit log (ytauto-admin audit). /metrics is Prometheus's text format, read from \
                the database at each scrape.
                """)

        @OptionGroup public var global: GlobalOptions
        @Option(help: ArgumentHelp("Where to listen: HOST:PORT; on loopback unless the console has users.", valueName: "host:port")) public var listen = "127.0.0.1:8080"
        @Option(help: "Log lines as human text or JSON.") public var logFormat: LogFormat = .human
        @Option(help: ArgumentHelp("Serve HTTPS with this certificate chain (PEM; with --tls-key).", valueName: "path")) public var tlsCert: String?
        @Option(help: ArgumentHelp("The certificate's private key (PEM, not readable by others; with --tls-cert).", valueName: "path")) public var tlsKey: String?

        public init() {}

        public func validate() throws {
            _ = try Self.address(listen, hasUsers: true)
            guard (tlsCert == nil) == (tlsKey == nil) else {
                throw ValidationError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither for HTTP")
            }
        }

        /// The server's TLS from a PEM certificate chain and key. Each file is named in its error; a
        /// key that others may read is refused (it is a secret: chmod 600 or 640 it).
        static func tlsConfiguration(cert: String, key: String) throws -> TLSConfiguration {
            let mode: Int
            do { mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int ?? 0 } catch {
                throw CLIError("--tls-key \(key): no such file, or it cannot be read")
            }
            guard mode & 0o007 == 0 else {
                throw CLIError("--tls-key \(key): others may read this private key (mode \(String(mode & 0o777, radix: 8))); chmod 600 it")
            }
            guard FileManager.default.isReadableFile(atPath: cert) else {
                throw CLIError("--tls-cert \(cert): no such file, or it cannot be read")
            }
            let chain: [NIOSSLCertificate]
            do { chain = try NIOSSLCertificate.fromPEMFile(cert) } catch {
                throw CLIError("--tls-cert \(cert): not a readable PEM certificate chain (\(error))")
            }
            guard !chain.isEmpty else { throw CLIError("--tls-cert \(cert): no certificate in the file") }
            let privateKey: NIOSSLPrivateKey
            do { privateKey = try NIOSSLPrivateKey(file: key, format: .pem) } catch {
                // The key's bytes are never quoted.
                throw CLIError("--tls-key \(key): not a readable PEM private key")
            }
            let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
            // Made once here, as the server will: a key of another certificate is refused now,
            // naming both files (the server said only "failedToLoadPrivateKey").
            do { _ = try NIOSSLContext(configuration: configuration) } catch {
                throw CLIError("--tls-key \(key) does not go with the certificate in --tls-cert \(cert) (\(error)); give the key the certificate was made for")
            }
            return configuration
        }

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
            guard isLoopback(host) || hasUsers else {
                throw ValidationError("""
                    --listen '\(text)': a console without users listens on loopback only (127.0.0.1, ::1, localhost): it can \
                    retry and cancel jobs. Add users first (ytauto auth console-user NAME --role operator; every request then \
                    signs in), or reach it from elsewhere through a forwarded port (ssh -L 8080:127.0.0.1:8080 HOST)
                    """)
            }
            return (host, port)
        }

        static func isLoopback(_ host: String) -> Bool { LoopbackOnly<ConsoleContext>.isLoopback(host) }

        public func run() async throws {
            let config = try global.loadConfig()
            let credentials = try PipelineChoice.providerCredentials(config, global: global)
            let users = try ConsoleUsers(lines: credentials.consoleUsers, file: config.providers.credentialsFile)
            let (host, port) = try Self.address(listen, hasUsers: !users.isEmpty)
            let tls = try tlsCert.flatMap { cert in try tlsKey.map { try Self.tlsConfiguration(cert: cert, key: $0) } }
            LogSetup.bootstrap(logFormat)
            let logger = Logger(label: "ytauto.web")
            if tls == nil, !users.isEmpty, !Self.isLoopback(host) {
                logger.warning("""
                    the console listens on \(host) over plain HTTP: its users' passwords cross the network readable by anyone on \
                    the path; serve HTTPS (--tls-cert, --tls-key) or put a TLS proxy in front of 127.0.0.1
                    """)
            }
            guard let store = try await global.openStore() as? any ConsoleStore else {
                throw CLIError("the database at \(global.databaseName) has no console support in this build")
            }
            let youtube = config.providers.youtube
            var console = WebConsole(
                store: store, channels: config.channels, folders: .success(config.jobFolders()), databaseName: global.databaseName,
                quotaLimits: ["youtube units": youtube.dailyQuota, "youtube uploads": youtube.dailyUploads], logger: logger)
            console.users = users
            if !users.isEmpty {
                logger.info("console users: every request signs in", metadata: [
                    "operators": "\(users.users.values.filter { $0.role == .operator }.count)",
                    "viewers": "\(users.users.values.filter { $0.role == .viewer }.count)"])
            }
            let scheme = tls == nil ? "http" : "https"
            let app = Application(
                router: console.router(),
                server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
                configuration: .init(address: .hostname(host, port: port), serverName: "ytauto"),
                services: [ConfigWatch(path: global.configPath, logger: logger)],
                onServerRunning: { channel in
                    let shown = host.contains(":") ? "[\(host)]" : host
                    FileHandle.standardOutput.write(Data("ytauto web: listening on \(scheme)://\(shown):\(channel.localAddress?.port ?? port)/\n".utf8))
                },
                logger: logger)
            do {
                try await app.runService()
            } catch let error as IOError {
                // Said with the address (NIO said "bind(descriptor:ptr:bytes:): Cannot assign requested address) (errno: 99)").
                let why = switch error.errnoCode {
                case EADDRINUSE: "the address is in use (another ytauto web, or another server, listens there)"
                case EACCES: "this user may not listen on that port (below 1024 needs root or CAP_NET_BIND_SERVICE)"
                case EADDRNOTAVAIL: "no network interface of this host has that address"
                default: String(cString: strerror(error.errnoCode))
                }
                throw CLIError("cannot listen on \(listen): \(why); choose another with --listen HOST:PORT")
            }
        }
    }
}
