import Foundation
import Synchronization
import Logging
import PostgresNIO
import YTAutoCore

/// A failure of the PostgreSQL engine, in words an operator can act on: the server's SQLSTATE and
/// message, or what could not be reached. Never the URL's password, never a statement's values.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    public let sqlState: String?
    public let message: String
    public var description: String { message }

    init(sqlState: String? = nil, _ message: String) {
        self.sqlState = sqlState
        self.message = message
    }

    /// Wraps what postgres-nio threw. Its own descriptions are deliberately vague (they may hold
    /// a statement's values), so this keeps only the server's code and message, or the kind of
    /// connection failure.
    static func from(_ error: any Error, url: PostgresURL) -> any Error {
        if error is PostgresStoreError || error is LeaseLost || error is JobStoreError || error is TimestampOutOfRange
            || error is MigrationError || error is CancellationError || error is any YTAutoError { return error }
        if let e = error as? PSQLError {
            if let info = e.serverInfo {
                let state = info[.sqlState]
                var text = "PostgreSQL at \(url.redacted): \(info[.message] ?? "error")"
                if let state { text += " (SQLSTATE \(state))" }
                if let detail = info[.detail] { text += ": \(detail)" }
                return PostgresStoreError(sqlState: state, text)
            }
            let what = switch e.code {
            case .connectionError: "cannot connect"
            case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown: "the connection closed"
            case .poolClosed: "the store was closed"
            case .authMechanismRequiresPassword: "the server asks for a password (give one in the URL or PGPASSWORD)"
            case .sslUnsupported: "the server does not offer TLS (sslmode=require)"
            default: "\(e.code)"
            }
            if let underlying = e.underlying {
                if e.code == .connectionError, let plain = connectionFailure(underlying, url: url) {
                    return PostgresStoreError("PostgreSQL at \(url.redacted): \(what): \(plain)")
                }
                return PostgresStoreError("PostgreSQL at \(url.redacted): \(what): \(underlying)")
            }
            return PostgresStoreError("PostgreSQL at \(url.redacted): \(what)")
        }
        if let e = error as? PostgresTransactionError {
            return from(e.closureError ?? e.beginError ?? e.commitError ?? error, url: url)
        }
        return PostgresStoreError("PostgreSQL at \(url.redacted): \(error)")
    }

    /// A connection that failed, in an operator's words, or nil when it is none of these: NIO
    /// names them by its own types ("SingleConnectionFailure(target: [IPv4]…, error: connection
    /// reset (error set): Connection refused (errno: 111))", "SocketAddressError.UnknownHost").
    static func connectionFailure(_ error: any Error, url: PostgresURL) -> String? {
        let said = "\(error)"
        if said.contains("Connection refused") || said.contains("errno: 111") {
            return "connection refused at \(url.address) (is PostgreSQL running, and listening on that address and port?)"
        }
        if said.contains("UnknownHost") || said.contains("unknownHost") {
            return "the host \(url.host) is not known (not in DNS or /etc/hosts)"
        }
        if said.contains("connectTimeout") || said.contains("timed out") || said.contains("Timeout") {
            return "no answer from \(url.address) within 10 s (a firewall, or the wrong address?)"
        }
        if said.contains("No route to host") || said.contains("Network is unreachable") {
            return "no route to \(url.host) from this host"
        }
        return nil
    }

    /// A deadlock or serialization failure: the transaction was rolled back and may simply be run again.
    var isTransient: Bool { sqlState == "40P01" || sqlState == "40001" }
}

/// One row, read by column name. A column that is absent, NULL where a value is required, or of
/// another type throws ``StoredRowError``, naming the table, the row and the column as the SQLite
/// store does: a row is never read as zeros or 1970.
struct PGRow: Sendable {
    let row: PostgresRandomAccessRow
    /// The table and the row, for errors (``named(table:row:)``).
    private(set) var table = "a query's result"
    private(set) var name = "a row"

    init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

    /// The same row, named in its errors: `named(table: "jobs", row: "job 7")`.
    func named(table: String, row: String) -> PGRow {
        var copy = self
        copy.table = table
        copy.name = row
        return copy
    }

    func corrupt(_ column: String, found: String, expected: String) -> StoredRowError {
        StoredRowError(table: table, row: name, column: column, found: found, expected: expected)
    }

    private func cell(_ column: String) throws -> PostgresCell {
        guard row.contains(column) else { throw corrupt(column, found: "no such column", expected: "a column of the row") }
        return row[column]
    }

    private func decode<T: PostgresDecodable>(_ type: T.Type, _ column: String) throws -> T? {
        let c = try cell(column)
        guard c.bytes != nil else { return nil }
        do {
            return try c.decode(T.self)
        } catch {
            throw corrupt(column, found: "a value of type \(c.dataType)", expected: "a \(T.self)")
        }
    }

    func int(_ c: String) throws -> Int64? { try decode(Int64.self, c) }
    func string(_ c: String) throws -> String? { try decode(String.self, c) }
    func date(_ c: String) throws -> Date? { try decode(Date.self, c).map(Timestamp.canonical) }
    func double(_ c: String) throws -> Double? { try decode(Double.self, c) }
    func bool(_ c: String) throws -> Bool? { try decode(Bool.self, c) }

    /// The value of a column that must not be NULL.
    func required<T>(_ c: String, _ read: (String) throws -> T?) throws -> T {
        guard let v = try read(c) else { throw corrupt(c, found: "NULL", expected: "a value") }
        return v
    }

    /// A text column holding one of `T`'s raw values (a state, a kind, an outcome).
    func value<T: RawRepresentable>(_ column: String, _ type: T.Type, expected: String) throws -> T where T.RawValue == String {
        let text = try required(column, string)
        guard let v = T(rawValue: text) else { throw corrupt(column, found: "'\(text)'", expected: expected) }
        return v
    }

    /// The same, NULL allowed.
    func optionalValue<T: RawRepresentable>(_ column: String, _ type: T.Type, expected: String) throws -> T? where T.RawValue == String {
        guard let text = try string(column) else { return nil }
        guard let v = T(rawValue: text) else { throw corrupt(column, found: "'\(text)'", expected: expected) }
        return v
    }
}

/// The store's pool of connections (a `PostgresClient`, running for the store's life) and the
/// two ways it talks: one statement, or one transaction, run again when the server rolled it back
/// for a deadlock or a serialization failure.
final class PostgresPool: Sendable {
    let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    /// How long a statement may go unanswered before it is an error: a server that vanished (a cut
    /// link) would otherwise leave a caller waiting for TCP to give up, many minutes, and a worker
    /// could not tell that it can no longer prove its leases. A transaction as a whole has four
    /// times as long (its statements each have this).
    let deadline: Duration
    private let runner: Task<Void, Never>

    /// A logger that drops everything: postgres-nio logs every failed connection attempt, and what
    /// matters reaches the caller as an error.
    static let quiet = Logger(label: "ytauto.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// - Parameter readOnly: every session is read-only on the server (`default_transaction_read_only`):
    ///   a write through it is refused by PostgreSQL itself, not only by ytauto's commands.
    init(
        url: PostgresURL, applicationName: String, maximumConnections: Int, deadline: Duration = .seconds(15), readOnly: Bool = false,
        logger: Logger = PostgresPool.quiet
    ) throws {
        self.url = url
        self.logger = logger
        self.deadline = deadline
        var config = try url.configuration(applicationName: applicationName)
        if readOnly { config.options.additionalStartupParameters.append(("default_transaction_read_only", "on")) }
        config.options.maximumConnections = maximumConnections
        config.options.connectionIdleTimeout = .seconds(60)
        let client = PostgresClient(configuration: config, backgroundLogger: logger)
        self.client = client
        self.runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Stops the pool (its connections close).
    func close() { runner.cancel() }

    /// Runs one statement (in its own implicit transaction) and returns its rows.
    func query(_ q: PostgresQuery) async throws -> [PGRow] {
        let (client, logger, url) = (self.client, self.logger, self.url)
        return try await answered {
            do {
                var rows: [PGRow] = []
                for try await row in try await client.query(q, logger: logger) { rows.append(PGRow(row)) }
                return rows
            } catch {
                throw PostgresStoreError.from(error, url: url)
            }
        }
    }

    /// `body`'s result, or an error once ``deadline`` passes without one. The body is left to end on
    /// its own (a statement on a dead connection cannot be called back); a transaction it was in is
    /// rolled back by the server when that connection closes, so a caller told "no answer" must
    /// treat the outcome as unknown, which the fence makes safe.
    ///
    /// A statement waits for one of the pool's connections, and while the server is down the
    /// pool only tries to connect again: it was "did not answer within 15 s" where a new
    /// process said "connection refused" at once. So once ``probeAfter`` passes without an
    /// answer, one connection of its own asks the server; if it cannot be reached for a reason
    /// an operator can act on (refused, unknown host, no route), that is the error, at once.
    /// A server that accepts connections (a slow statement, a busy pool) is waited for to the end.
    func answered<T: Sendable>(within deadline: Duration? = nil, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let deadline = deadline ?? self.deadline
        let end = ContinuousClock.now + deadline
        let work = Task { try await body() }
        if case .finished(let result) = await Deadline.race(until: min(end, .now + Self.probeAfter), { try await work.value }) {
            return try result.get()
        }
        if ContinuousClock.now < end, let unreachable = await unreachableNow() {
            work.cancel()
            throw PostgresStoreError("PostgreSQL at \(url.redacted): no answer: \(unreachable)")
        }
        switch await Deadline.race(until: end, { try await work.value }) {
        case .finished(let result): return try result.get()
        case .passed:
            work.cancel()
            throw PostgresStoreError("PostgreSQL at \(url.redacted) did not answer within \(deadline)")
        }
    }

    /// How long a statement goes unanswered before ``answered(within:_:)`` asks whether the server is there.
    static let probeAfter: Duration = .seconds(2)

    /// The probe of the last ``probeAfter``, shared: statements unanswered at once (a loaded
    /// server, many workers' statements slow together) ask with one connection, not one each.
    private let probe = Mutex<(started: ContinuousClock.Instant, task: Task<String?, Never>)?>(nil)

    /// ``unreachable(_:)`` for this pool's server, asked at most once a ``probeAfter``.
    func unreachableNow() async -> String? {
        let url = self.url
        let task = probe.withLock { last -> Task<String?, Never> in
            if let last, ContinuousClock.now - last.started < Self.probeAfter { return last.task }
            let task = Task { await Self.unreachable(url) }
            last = (ContinuousClock.now, task)
            return task
        }
        return await task.value
    }

    /// Why the server at `url` cannot be reached, when a connection of its own says so within a
    /// few seconds (``PostgresStoreError/connectionFailure(_:url:)``); nil when it connects, or the
    /// attempt tells nothing (no answer in time).
    static func unreachable(_ url: PostgresURL) async -> String? {
        let attempt = await Deadline.race(until: .now + .seconds(3), {
            try await PostgresConnection.connect(configuration: try url.connectionConfiguration(applicationName: "ytauto probe"),
                                                 id: Int.random(in: 0...Int.max), logger: quiet)
        }, discarded: { late in try? await late.close() })
        switch attempt {
        case .finished(.success(let connection)):
            try? await connection.close()
            return nil
        case .finished(.failure(let error)):
            let underlying = (error as? PSQLError)?.underlying ?? error
            return PostgresStoreError.connectionFailure(underlying, url: url)
        case .passed:
            return nil
        }
    }

    func queryOne(_ q: PostgresQuery) async throws -> PGRow? { try await query(q).first }

    /// Runs `body` in one transaction on one connection; a deadlock or serialization failure runs
    /// it again (a few times, with a short random pause), anything else rolls back and throws.
    ///
    /// READ COMMITTED whatever the database's default (an administrator's
    /// `default_transaction_isolation`): the store's transactions that take an advisory lock (a
    /// channel's schedule, its history, a day's quota) then read what committed while they waited
    /// for it; under REPEATABLE READ they would read the table as it was before the wait.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PGTransaction) async throws -> T) async throws -> T {
        var tries = 0
        while true {
            tries += 1
            do {
                return try await answered(within: deadline * 4) { try await self.client.withConnection { conn in
                    let tx = PGTransaction(connection: conn, pool: self)
                    try await tx.run("BEGIN ISOLATION LEVEL READ COMMITTED")
                    do {
                        let value = try await body(tx)
                        try await tx.run("COMMIT")
                        return value
                    } catch {
                        _ = try? await conn.query("ROLLBACK", logger: self.logger)
                        throw error
                    }
                } }
            } catch {
                let e = PostgresStoreError.from(error, url: url)
                if let pe = e as? PostgresStoreError, pe.isTransient, tries < 8 {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * tries))))
                    continue
                }
                throw e
            }
        }
    }
}

/// The connection of a transaction in progress.
struct PGTransaction: Sendable {
    let connection: PostgresConnection
    let pool: PostgresPool

    func query(_ q: PostgresQuery) async throws -> [PGRow] {
        let (connection, pool) = (self.connection, self.pool)
        return try await pool.answered {
            do {
                var rows: [PGRow] = []
                for try await row in try await connection.query(q, logger: pool.logger) { rows.append(PGRow(row)) }
                return rows
            } catch {
                throw PostgresStoreError.from(error, url: pool.url)
            }
        }
    }

    func queryOne(_ q: PostgresQuery) async throws -> PGRow? { try await query(q).first }

    /// Runs a statement and returns how many rows it returned (use `RETURNING` to count changes).
    @discardableResult
    func run(_ q: PostgresQuery) async throws -> Int { try await query(q).count }
}

extension Date {
    /// This instant to the millisecond, as every ytauto timestamp is stored (SQLite's text has
    /// milliseconds; PostgreSQL keeps what it is given, so both engines round alike).
    var roundedToMilliseconds: Date { Timestamp.canonical(self) }
}

/// A time bound as PostgreSQL's `timestamptz` to the nearest microsecond. postgres-nio encodes a
/// `Date` as `Int64(seconds · 10⁶)`, which truncates: a millisecond such as .853, not exact in
/// binary, was stored as .852999 (ytauto's own reads round it back, but `to_char(…, 'MS')` and
/// raw SQL saw 852, and a copied database differed from its source).
struct ExactTime: PostgresNonThrowingEncodable, Sendable {
    static var psqlType: PostgresDataType { .timestamptz }
    static var psqlFormat: PostgresFormat { .binary }
    /// Microseconds since 2000-01-01 UTC, PostgreSQL's epoch.
    let microseconds: Int64

    init(_ date: Date) {
        microseconds = Int64(((date.timeIntervalSince1970 - 946_684_800) * 1_000_000).rounded())
    }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(microseconds)
    }
}

/// Every `Date` this module binds into a statement goes as an ``ExactTime``: these overloads
/// are chosen over postgres-nio's generic ones.
extension PostgresQuery.StringInterpolation {
    mutating func appendInterpolation(_ value: Date) {
        appendInterpolation(ExactTime(value))
    }

    mutating func appendInterpolation(_ value: Date?) {
        appendInterpolation(value.map(ExactTime.init))
    }
}
