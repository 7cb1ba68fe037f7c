import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOCore
import Synchronization
import YTAutoCore

/// The console's users: from `console_user_NAME: ROLE HASH` lines of the credentials file
/// (`ytauto auth console-user NAME --role ROLE` writes them), each password kept only as a bcrypt
/// hash. Two roles: a **viewer** reads every page and `/api/…` and `/metrics`; an **operator**
/// also acts (retry, cancel, redo, approve, reject, pause, resume, run now).
///
/// With no user the console is open, and `ytauto web` then listens on loopback only; with users,
/// every request (loopback too) needs one, by HTTP Basic authentication (which browsers,
/// `curl -u` and Prometheus's `basic_auth` all speak). Basic sends the password with every
/// request, so a console on a network address belongs behind TLS (a reverse proxy) or an SSH
/// tunnel; docs/console.md says so.
struct ConsoleUsers: Sendable {
    enum Role: String, Sendable, CaseIterable { case viewer, `operator` }

    struct User: Sendable {
        var name: String
        var role: Role
        var hash: String
    }

    let users: [String: User]

    var isEmpty: Bool { users.isEmpty }

    /// A user's name: lower-case letters, digits, `-` and `_`, 1–32 of them (it is a line's key).
    static func checkedName(_ name: String) throws -> String {
        guard (1...32).contains(name.count),
              name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }) else {
            throw CLIError("'\(name)' is not a console user name: use 1–32 lower-case letters, digits, '-' or '_'")
        }
        return name
    }

    /// From the credentials file's lines: `ROLE HASH` each. A bad line is an error naming the user.
    init(lines: [String: String], file: String) throws {
        var users: [String: User] = [:]
        for (name, value) in lines {
            let parts = value.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2, let role = Role(rawValue: String(parts[0])) else {
                throw CLIError("credentials file \(file): console_user_\(name) must be 'ROLE HASH' with ROLE viewer or operator; set it with `ytauto auth console-user \(name) --role operator`")
            }
            guard parts[1].hasPrefix("$2"), parts[1].count == 60 else {
                throw CLIError("credentials file \(file): console_user_\(name)'s password is not a bcrypt hash; set it with `ytauto auth console-user \(name) --role \(role.rawValue)`")
            }
            users[name] = User(name: try Self.checkedName(name), role: role, hash: String(parts[1]))
        }
        self.users = users
    }

    init(_ users: [User]) { self.users = Dictionary(uniqueKeysWithValues: users.map { ($0.name, $0) }) }

    /// The line a user is stored as (its value): `ROLE HASH`, the password hashed with bcrypt.
    static func line(role: Role, password: String, cost: UInt8 = 12) -> String {
        "\(role.rawValue) \(Bcrypt.hash(password, cost: cost))"
    }
}

/// Who the request is from, while it is served (nil: the console has no users).
enum ConsoleIdentity {
    @TaskLocal static var current: ConsoleUsers.User?
}

/// A console without users answers only requests addressed to a loopback name (`Host:
/// 127.0.0.1:8080`, `localhost`, `[::1]`), and takes actions only from pages of such a name
/// (`Origin`). Listening on loopback is not enough: a web page whose own name the attacker
/// re-points at 127.0.0.1 (DNS rebinding) is then same-origin with the console, reads its pages
/// and their form tokens, and acts. With users, every request signs in instead.
struct LoopbackOnly<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let host = request.head.authority ?? ""
        guard Self.isLoopback(authority: host) else {
            return Self.refused("this console has no users, so it answers only to a loopback address (127.0.0.1, localhost, [::1]); "
                + "it was asked as '\(host.prefix(100))'. Open it at http://127.0.0.1:PORT, or add users (ytauto auth console-user)")
        }
        if request.method == .post, let origin = request.headers[.origin], origin != "null" {
            let named = URL(string: origin)?.host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")) ?? ""
            guard Self.isLoopback(named) else {
                return Self.refused("an action from a page of '\(origin.prefix(100))', not of this console: refused")
            }
        }
        return try await next(request, context)
    }

    /// Whether `host[:port]` names this machine's loopback.
    static func isLoopback(authority: String) -> Bool {
        var host = authority
        if host.hasPrefix("["), let end = host.firstIndex(of: "]") {
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":"), host.filter({ $0 == ":" }).count == 1 {
            host = String(host[..<colon])
        }
        return isLoopback(host.lowercased())
    }

    /// `localhost`, `::1` or an address of 127.0.0.0/8.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1"
            || (host.hasPrefix("127.") && host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil })
    }

    static func refused(_ message: String) -> Response {
        Response(status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

/// The console's request context: Hummingbird's basic one and the address the request came
/// from (wrong passwords are counted per address, ``VerifiedLogins``).
struct ConsoleContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The peer's IP address ("127.0.0.1", "::1"), or "unknown" (a Unix socket).
    var peer: String { remoteAddress?.ipAddress ?? "unknown" }
}

/// Checks every request's HTTP Basic credentials against ``ConsoleUsers`` (when there are any)
/// and serves it as that user. A bcrypt check costs tens of milliseconds by design, so a check
/// that passed is remembered for five minutes by a SHA-256 of the name and password (never the
/// password itself), and a page with many requests costs one.
struct ConsoleAuthenticator: RouterMiddleware {
    typealias Context = ConsoleContext
    let users: ConsoleUsers
    let logger: Logger
    let verified: VerifiedLogins

    init(users: ConsoleUsers, logger: Logger) {
        self.users = users
        self.logger = logger
        verified = VerifiedLogins(decoy: VerifiedLogins.decoy(for: users))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !users.isEmpty else { return try await next(request, context) }
        guard let (name, password) = Self.basic(request.headers[.authorization]) else {
            return Self.challenge("Sign in: this console has users (ytauto auth console-user).")
        }
        let outcome = await verified.check(name: name, user: users.users[name], password: password, from: context.peer)
        guard case .passed = outcome, let user = users.users[name] else {
            // The name is the requester's own text: made visible, it cannot forge a log line.
            logger.warning("console sign-in refused", metadata: [
                "user": "\(TextControls.visible(String(name.prefix(100))))", "address": "\(context.peer)",
            ])
            if case .throttled(let why) = outcome {
                return Response(status: .tooManyRequests, headers: [.retryAfter: "60", .contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "Too many wrong sign-ins \(why) in the last minute: try again in a minute.\n")))
            }
            return Self.challenge("Wrong user name or password.")
        }
        return try await ConsoleIdentity.$current.withValue(user) { try await next(request, context) }
    }

    /// `Authorization: Basic base64(name:password)`.
    static func basic(_ header: String?) -> (String, String)? {
        guard let header, header.lowercased().hasPrefix("basic "),
              let data = Data(base64Encoded: header.dropFirst(6).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func challenge(_ message: String) -> Response {
        Response(status: .unauthorized,
                 headers: [.wwwAuthenticate: "Basic realm=\"ytauto\", charset=\"UTF-8\"", .contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

/// Logins whose bcrypt check passed recently, by a digest of name and password, and wrong ones
/// counted per minute so that guessing is throttled.
///
/// Wrong sign-ins are counted by the address they came from and by the name they tried. An
/// address with 10 in a minute is turned away for the rest of it without a check (429), whatever
/// name it tries next, so one guesser cannot lock a user out: that user's own address still
/// signs in. A name with 100 in a minute, from any number of addresses, is turned away too (a
/// guessing spread over many addresses). Behind a reverse proxy every request comes from the
/// proxy's address: there the proxy should limit by the client's own.
final class VerifiedLogins: Sendable {
    private let passed = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Wrong sign-ins in the current minute, by "address …" and "name …": (when the minute
    /// began, how many).
    private let refused = Mutex<[String: (since: ContinuousClock.Instant, count: Int)]>([:])
    static let remembered: Duration = .seconds(300)
    /// Wrong sign-ins from one address in a minute before its next ones are turned away unchecked.
    static let refusalsAMinute = 10
    /// Wrong sign-ins for one name in a minute, from all addresses, before its next are turned away.
    static let refusalsOfANameAMinute = 100
    /// bcrypt runs here, one check at a time: never on the threads that serve requests (a burst of
    /// wrong passwords held them all, and every page waited seconds).
    private static let queue = DispatchQueue(label: "ytauto.console.bcrypt")
    /// A hash of no one's password, at the users' cost: a name that is no user's is checked
    /// against it, so that a wrong name costs what a wrong password costs, and how long a
    /// refusal takes does not tell a guesser which names are users.
    private let decoy: String?
    private let checksRun = Atomic<Int>(0)
    /// bcrypt checks run so far (a test's way to see that a wrong name costs one).
    var checks: Int { checksRun.load(ordering: .relaxed) }

    init(decoy: String? = nil) { self.decoy = decoy }

    /// A ``decoy`` at the highest cost of `users`' hashes (`$2b$12$…`), or nil without users.
    static func decoy(for users: ConsoleUsers) -> String? {
        guard let cost = users.users.values.compactMap({ UInt8($0.hash.dropFirst(4).prefix(2)) }).max() else { return nil }
        return Bcrypt.hash(UUID().uuidString, cost: cost)
    }

    enum Outcome: Equatable {
        case passed, refused
        /// Turned away unchecked; says why: "from this address", "for this user".
        case throttled(String)
    }

    /// Checks `password` for `name`, whose user is `user` (nil: no such user, refused, and
    /// counted as a wrong sign-in all the same), from the address `address`.
    func check(name: String, user: ConsoleUsers.User?, password: String, from address: String) async -> Outcome {
        let now = ContinuousClock.now
        let key = user.map { Checksum.sha256Hex("\($0.name)\u{0}\($0.hash)\u{0}\(password)") }
        if let key, let at = passed.withLock({ $0[key] }), now - at < Self.remembered { return .passed }
        // A guesser waits out its minute without costing a bcrypt check.
        let throttled = refused.withLock { map -> String? in
            func over(_ k: String, _ limit: Int) -> Bool {
                guard let r = map[k], now - r.since < .seconds(60) else { return false }
                return r.count >= limit
            }
            if over("address \(address)", Self.refusalsAMinute) { return "from this address" }
            if over("name \(name)", Self.refusalsOfANameAMinute) { return "for this user" }
            return nil
        }
        if let throttled { return .throttled(throttled) }
        var ok = false
        if let hash = user?.hash ?? decoy {
            checksRun.add(1, ordering: .relaxed)
            ok = await withCheckedContinuation { continuation in
                Self.queue.async { continuation.resume(returning: Bcrypt.verify(password, hash: hash)) }
            }
        }
        guard ok, let key else {
            refused.withLock { map in
                let now = ContinuousClock.now
                if map.count > 10_000 { map = map.filter { now - $0.value.since < .seconds(60) } }
                for k in ["address \(address)", "name \(name)"] {
                    if let r = map[k], now - r.since < .seconds(60) { map[k] = (r.since, r.count + 1) } else { map[k] = (now, 1) }
                }
            }
            return .refused
        }
        passed.withLock { map in
            if map.count > 1_000 { map = map.filter { now - $0.value < Self.remembered } }
            map[key] = now
        }
        return .passed
    }
}
