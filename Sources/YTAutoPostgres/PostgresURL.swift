import Foundation
import PostgresNIO

/// A `postgres://` (or `postgresql://`) URL: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
///
/// The password never leaves this value: ``redacted`` and every error show the URL without it.
/// A password may also come from `PGPASSWORD`, as libpq's clients take it, so it need not be in
/// a unit file or a shell history.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public enum SSLMode: String, Sendable { case disable, prefer, require }

    public let user: String
    let password: String?
    public let host: String
    public let port: Int
    public let database: String
    public let sslMode: SSLMode

    /// Whether `text` names a PostgreSQL database (by its scheme only).
    public static func isPostgres(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    public init(_ text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(PostgresURLError) {
        guard Self.isPostgres(text) else {
            throw PostgresURLError(message: "not a postgres:// URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")
        }
        // A password with an '@', '/', '?' or '#' not percent-encoded splits the URL elsewhere:
        // its pieces would be read as the host or the database, and named in errors. Said
        // without echoing any of it.
        if let problem = Self.unencodedCredentials(text) {
            throw PostgresURLError(message: "the postgres:// URL's user or password has \(problem) that is not percent-encoded: "
                + "write '@' as %40, '/' as %2F, '?' as %3F, '#' as %23 (or leave the password out and give it in PGPASSWORD)")
        }
        guard let components = URLComponents(string: text) else {
            throw PostgresURLError(message: "not a postgres:// URL (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")
        }
        // An IPv6 address is written in brackets ([::1]); the connection wants it without.
        guard let host = components.host.map({ $0.hasPrefix("[") && $0.hasSuffix("]") ? String($0.dropFirst().dropLast()) : $0 }), !host.isEmpty else {
            throw PostgresURLError(message: "the postgres:// URL has no host (postgres://USER@HOST/DATABASE)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError(message: "the postgres:// URL for \(host) names no user (postgres://USER@\(host)/DATABASE)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError(message: "the postgres:// URL for \(host) names no database (postgres://\(user)@\(host)/DATABASE)")
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw PostgresURLError(message: "the postgres:// URL's port \(port) is not in 1...65535")
        }
        var mode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let m = SSLMode(rawValue: value) else {
                    throw PostgresURLError(message: "sslmode '\(item.value ?? "")' is not one of disable, prefer, require")
                }
                mode = m
            default:
                throw PostgresURLError(message: "the postgres:// URL's parameter '\(item.name)' is unknown (known: sslmode)")
            }
        }
        self.user = user.removingPercentEncoding ?? user
        self.password = components.password.map { $0.removingPercentEncoding ?? $0 } ?? environment["PGPASSWORD"]
        self.host = host
        self.port = components.port ?? 5432
        self.database = database.removingPercentEncoding ?? database
        self.sslMode = mode
    }

    /// The URL without its password, for logs and errors.
    public var redacted: String { "postgres://\(user)@\(address)/\(database)" }

    /// `HOST:PORT`, an IPv6 host in brackets.
    public var address: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// What in the part before the host (after `://`, up to its last '@') is not percent-encoded
    /// and would split the URL there: "an '@'", "a '/'"; nil when there is nothing (or no '@').
    static func unencodedCredentials(_ text: String) -> String? {
        guard let scheme = text.range(of: "://") else { return nil }
        let rest = text[scheme.upperBound...]
        // The credentials end at the last '@'; a '/', '?' or '#' after it belongs to the path.
        guard let at = rest.lastIndex(of: "@") else { return nil }
        let credentials = rest[..<at]
        return [("@", "an '@'"), ("/", "a '/'"), ("?", "a '?'"), ("#", "a '#'")].first { credentials.contains($0.0) }?.1
    }

    public var description: String { redacted }

    /// The client configuration, with the session settings every ytauto connection carries.
    func configuration(applicationName: String) throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
        var c = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        c.options.additionalStartupParameters = PostgresSession.startupParameters(applicationName: applicationName)
        c.options.connectTimeout = .seconds(10)
        return c
    }

    /// The same, for a connection of its own (a worker's session).
    func connectionConfiguration(applicationName: String) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(try .init(configuration: .makeClientConfiguration()))
        case .require: .require(try .init(configuration: .makeClientConfiguration()))
        }
        var c = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        c.options.additionalStartupParameters = PostgresSession.startupParameters(applicationName: applicationName)
        c.options.connectTimeout = .seconds(10)
        return c
    }
}

public struct PostgresURLError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// What every ytauto session sets when it starts.
enum PostgresSession {
    /// The server's TCP keepalives for this session: the first probe after 5 s of silence, then
    /// every 5 s, and the session ends after 3 unanswered (`tcp_user_timeout` bounds unacknowledged
    /// data the same way). A host that vanishes (power, network) loses its sessions, and so its
    /// workers' advisory locks, within 5 + 3 × 5 = 20 s; other hosts then free its jobs.
    static let keepaliveIdle = 5, keepaliveInterval = 5, keepaliveCount = 3
    /// The bound above, in seconds (documented in docs/operations.md).
    static var deadSessionBound: Int { keepaliveIdle + keepaliveInterval * keepaliveCount }

    static func startupParameters(applicationName: String) -> [(String, String)] {
        [
            ("application_name", applicationName),
            ("tcp_keepalives_idle", "\(keepaliveIdle)"),
            ("tcp_keepalives_interval", "\(keepaliveInterval)"),
            ("tcp_keepalives_count", "\(keepaliveCount)"),
            ("tcp_user_timeout", "\(deadSessionBound * 1000)"),
            ("timezone", "UTC"),
        ]
    }
}
