import ArgumentParser
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import YTAutoCore
import YTAutoPostgres
import YTAutoStore

/// Options every command of both executables takes.
public struct GlobalOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: ArgumentHelp(
        "The database: a SQLite file's path, a sqlite: URL (sqlite:jobs.db, sqlite:///var/lib/ytauto/ytauto.db), or a postgres:// URL (postgres://USER@HOST:PORT/DATABASE; the password from PGPASSWORD or the URL).",
        discussion: "Default: $YTAUTO_DB, else ./ytauto.db", valueName: "path-or-url"))
    public var db: String?

    @Option(name: .long, help: ArgumentHelp("The channel configuration (YAML).", discussion: "Default: $YTAUTO_CONFIG, else ./ytauto.yaml", valueName: "path"))
    public var config: String?

    public init() {}

    /// `--db`, else `$YTAUTO_DB`, else `./ytauto.db`, as given.
    var databaseLocation: String {
        db ?? ProcessInfo.processInfo.environment["YTAUTO_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "./ytauto.db"
    }

    /// The SQLite file: the location itself, or the path of a `sqlite:` URL (`sqlite:jobs.db`,
    /// `sqlite:///abs/path.db`, `sqlite://relative.db`).
    public var databasePath: String {
        let location = databaseLocation
        if location.hasPrefix("sqlite://") { return String(location.dropFirst("sqlite://".count)) }
        if location.hasPrefix("sqlite:") { return String(location.dropFirst("sqlite:".count)) }
        return location
    }

    /// The URL scheme of a location such as `postgres://…`, or nil for a path.
    static func scheme(of location: String) -> String? {
        guard let colon = location.firstIndex(of: ":") else { return nil }
        let scheme = location[..<colon]
        guard let first = scheme.first, first.isLetter,
              scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }),
              location[colon...].hasPrefix("://") || scheme.lowercased() == "sqlite"
        else { return nil }
        return scheme.lowercased()
    }

    /// The engine is chosen here, from the location: a path or `sqlite:` URL is SQLite, a
    /// `postgres://` (or `postgresql://`) URL is PostgreSQL, and any other scheme is refused, naming
    /// only its scheme. Nothing here ever prints a URL as given: it may carry a password.
    public func validate() throws {
        if let config, config.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--config is empty: give the configuration file's path, e.g. ./ytauto.yaml")
        }
        try validate(source: db != nil ? "--db" : "$YTAUTO_DB")
    }

    /// ``validate()``, naming `source` (the option or variable the location came from) in its errors.
    func validate(source: String) throws {
        guard let scheme = Self.scheme(of: databaseLocation), scheme != "sqlite" else {
            // A database that is no file would be made, used and lost with this process.
            let path = databasePath
            if path.hasPrefix("file:") && !path.contains(":memory:") && !path.contains("mode=memory") {
                throw ValidationError("the database '\(databaseLocation)' (from \(source)) is a SQLite URI filename, which ytauto does not "
                    + "take: give the file's path (e.g. ./ytauto.db) or a sqlite: URL (sqlite:ytauto.db)")
            }
            if path.trimmingCharacters(in: .whitespaces).isEmpty || path == ":memory:" || path.hasPrefix("file:") {
                throw ValidationError("the database '\(databaseLocation)' (from \(source)) is no file: SQLite would keep it in memory "
                    + "or in a temporary file and lose it when this command ends; give a file's path, e.g. ./ytauto.db")
            }
            return
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw ValidationError("the database is a \(scheme): URL (from \(source)); ytauto has the SQLite and PostgreSQL "
                + "engines: give a SQLite file's path, a sqlite: URL or a postgres:// URL")
        }
        do {
            _ = try PostgresURL(databaseLocation)
        } catch {
            throw ValidationError("the database URL (from \(source)): \(error)")
        }
    }

    /// The PostgreSQL database, when the location is a `postgres://` URL.
    public var postgresURL: PostgresURL? {
        PostgresURL.isPostgres(databaseLocation) ? try? PostgresURL(databaseLocation) : nil
    }

    /// The database as it may be shown: the SQLite file's path, or the URL without its password.
    public var databaseName: String { postgresURL?.redacted ?? databasePath }

    /// The SQLite file, for a command that only SQLite has (`backup`, `check`): on PostgreSQL it
    /// says which of the server's own tools does the job.
    public func sqliteFile(for command: String, postgresAlternative: String) throws -> String {
        if let url = postgresURL {
            throw CLIError("`\(command)` works on a SQLite file; \(url.redacted) is PostgreSQL: \(postgresAlternative)")
        }
        try refuseFolder(databasePath)
        return databasePath
    }

    public var configPath: String {
        config ?? ProcessInfo.processInfo.environment["YTAUTO_CONFIG"].flatMap { $0.isEmpty ? nil : $0 } ?? "./ytauto.yaml"
    }

    /// The folder of the configuration file; paths in it are relative to it.
    public var configDirectory: URL {
        URL(fileURLWithPath: configPath).deletingLastPathComponent().standardizedFileURL
    }

    /// How a command uses the database.
    public enum Access: Sendable {
        /// Reads only: opened read-only, so it works on a read-only folder and never waits for a writer.
        case readOnly
        /// Writes: the file must exist and be migrated already.
        case readWrite
    }

    /// Opens the existing database. Only `init` and `migrate` create or migrate one
    /// (``createStore()``): a mistyped `--db` is an error naming the path, never a new empty
    /// database that answers "no failed jobs".
    /// - Throws: ``CLIError`` when the file is missing or its schema is not this binary's.
    ///
    /// This is where the engine is chosen: the commands hold the store's contract only.
    public func openStore(_ access: Access = .readWrite) async throws -> any OperatorStore {
        let store = try await openStoreUnregistered(access)
        OpenStores.add(store)
        // The target of a copy that did not finish: its history is partial (a paused channel not
        // paused, jobs missing) and its next ids could be ones the source gave. It was used as is.
        if let copying = store as? any StoreCopying, let copy = try await copying.interruptedCopy() {
            throw CLIError("the database \(databaseName) holds \(copy) that did not finish: it is incomplete. "
                + "Make it anew (delete the file, or drop and create the PostgreSQL database), then run `ytauto-admin copy` again")
        }
        return store
    }

    private func openStoreUnregistered(_ access: Access) async throws -> any OperatorStore & AnyObject {
        if let url = postgresURL {
            return try await PostgresJobStore(url: url, readOnly: access == .readOnly, migrate: false)
        }
        let path = databasePath
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("no database at \(path): run `ytauto init` to create one (or point --db or YTAUTO_DB at yours)")
        }
        try refuseFolder(path)
        if access == .readWrite {
            // SQLite would only say "unable to open database file": say which part cannot be written.
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            if Glibc.access(path, W_OK) != 0 || Glibc.access(folder.isEmpty ? "." : folder, W_OK) != 0 {
                let why = String(cString: strerror(errno))
                throw CLIError("this command writes, but the database \(path) or its folder \(folder) cannot be written (\(why)); "
                    + "run it as the database's owner, on a writable copy, or use a read-only command")
            }
        }
        var options = Connection.Options()
        options.readOnly = access == .readOnly
        let store = try SQLiteJobStore(path: path, options: options, migrate: false)
        let have = try store.database.sync { db in try Migrator().applied(db).map(\.version).max() ?? 0 }
        let want = Migrator().migrations.last?.version ?? 0
        if have == 0 {
            // Not an old ytauto database: another program's file, or an empty one ("run migrate" was no help).
            try refuseForeignSQLite()
            throw CLIError("the database \(path) has no ytauto tables (an empty SQLite file): run `ytauto init` to create them, "
                + "or point --db or YTAUTO_DB at yours")
        }
        if have < want {
            throw CLIError("the database \(path) is at schema version \(have); this ytauto needs \(want): "
                + "run `ytauto-admin migrate` (after `ytauto-admin backup`, if you like)")
        }
        return store
    }

    /// A database location that is a folder (`--db /srv/ytauto`) is named as such; SQLite would
    /// say only "disk I/O error".
    func refuseFolder(_ path: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw CLIError("the database \(path) is a folder; name the database file in it, e.g. --db \(URL(fileURLWithPath: path).appendingPathComponent("ytauto.db").path)")
        }
    }

    /// Creates (if missing) and migrates the database: for `ytauto init` and `ytauto-admin migrate`.
    /// Registered with ``OpenStores`` as ``openStore(_:)``'s are, so that it is closed as the
    /// command ends: `init` left the whole new schema in the `-wal` about half the time, and a
    /// copy of the database file alone had no tables.
    public func createStore() async throws -> any OperatorStore {
        let store: any OperatorStore & AnyObject
        if let url = postgresURL {
            store = try await PostgresJobStore(url: url)
        } else {
            try refuseFolder(databasePath)
            let dir = URL(fileURLWithPath: databasePath).deletingLastPathComponent().path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw CLIError("the folder of the database \(databasePath) does not exist")
            }
            try refuseForeignSQLite()
            store = try SQLiteJobStore(path: databasePath)
        }
        OpenStores.add(store)
        return store
    }

    /// Refuses another program's SQLite file (tables, none of them ytauto's) before `init` or
    /// `migrate` would add ytauto's tables to it.
    func refuseForeignSQLite() throws {
        guard FileManager.default.fileExists(atPath: databasePath) else { return }
        var options = Connection.Options()
        options.readOnly = true
        let existing = try Connection(path: databasePath, options: options)
        let tables = try existing.query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").compactMap { $0.string("name") }
        if !tables.isEmpty && !tables.contains("schema_migrations") {
            throw CLIError("the database \(databasePath) is another program's SQLite file (tables \(tables.prefix(5).joined(separator: ", "))"
                + "\(tables.count > 5 ? ", …" : "")), not a ytauto database; nothing was changed: give ytauto a file of its own")
        }
    }

    /// Frees the jobs of workers found dead, and of expired leases, as a worker's sweep would, so
    /// that jobs never stay `running` when no worker is alive to free them. It looks with reads
    /// first and writes only when there is something to free (opening the database for writing if
    /// `store` is read-only). Returns a line for the operator, or nil when nothing was found.
    public func freeDeadWorkers(_ store: any OperatorStore) async -> String? {
        do {
            guard try await store.needsReclaim() else { return nil }
        } catch {
            return "warning: could not look for dead workers: \(error)"
        }
        do {
            let writer = store.isReadOnly ? try await openStore(.readWrite) : store
            let report = try await writer.reclaim()
            if report.isEmpty { return nil }
            return "freed the jobs of dead workers and expired leases: " + report.summary
        } catch {
            return "warning: found dead workers or expired leases but could not free their jobs: \(error)"
        }
    }

    public func loadConfig() throws -> AppConfig { try AppConfig.load(path: configPath) }

    /// Refuses a `--channel` that names no channel the database has jobs of, nor one the
    /// configuration has: called when a filtered answer came back empty, so that a mistyped name
    /// says so instead of reading as "nothing there". A channel that was removed from the
    /// configuration keeps its history, so the database's names count too.
    public func checkChannelKnown(_ channel: String?, store: any OperatorStore) async throws {
        guard let channel else { return }
        let inDatabase = Set(try await store.stats().counts.keys)
        if inDatabase.contains(channel) { return }
        let configured: [String]
        do {
            configured = try loadConfig().channels.map(\.name)
        } catch {
            throw CLIError("no jobs of a channel named '\(channel)' in the database (channels there: \(UnknownChannel.list(inDatabase))), "
                + "and the configuration that could name it could not be read: \(error)")
        }
        if let unknown = UnknownChannel.message(channel, configured: configured, inDatabase: inDatabase) { throw CLIError(unknown) }
    }
}

/// A channel filter (`--channel`, the console's `channel=`) that names no channel the
/// configuration or the database knows: a mistyped name, said rather than answered with nothing.
/// The database's names count because a channel removed from the configuration keeps its history.
enum UnknownChannel {
    /// What to say about `channel`, or nil when the configuration or the database knows it.
    static func message(_ channel: String, configured: [String], inDatabase: some Collection<String>) -> String? {
        if configured.contains(channel) || inDatabase.contains(channel) { return nil }
        return "no channel named '\(TextControls.visible(channel))' in the configuration (\(list(configured))) or the database (\(list(inDatabase)))"
    }

    static func list(_ names: some Collection<String>) -> String {
        names.isEmpty ? "none" : names.sorted().joined(separator: ", ")
    }
}

/// An error for the operator, printed as `error: <message>`.
public struct CLIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// The stores a command opened (``GlobalOptions/openStore(_:)``, ``GlobalOptions/createStore()``),
/// held and closed as it ends (``CLIMain``): on SQLite, closing the file's last connection folds the
/// `-wal` into the file, so its writes are not left in the `-wal` (unreadable to a read-only
/// command on a full disk; missing from a copy of the file alone). A store a long-lived task still
/// holds (a worker's, whose last wait for work may not have returned) is not let go of before the
/// process exits, so it would never close itself; and one a command let go of could be freed on
/// another thread as the process exited (its connection's last reference dropped there), which
/// left `init`'s whole schema in the `-wal` about half the time. So the stores are held here,
/// strongly: a command opens one or two.
enum OpenStores {
    private static let entries = Mutex<[any OperatorStore & AnyObject]>([])

    static func add(_ store: any OperatorStore & AnyObject) {
        entries.withLock { $0.append(store) }
    }

    /// Closes every store opened, and forgets them.
    static func closeAll() {
        let open = entries.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for store in open { store.close() }
    }
}

/// Runs a root command with exit codes that mean something: 0 ok, 1 failure, 2 usage.
public enum CLIMain {
    /// An argument that is a negative number or duration (`-1`, `-2.5`, `-1s`, `-7d`), which the
    /// parser takes for an option.
    static func looksNegative(_ argument: String) -> Bool {
        let rest = argument.utf8.dropFirst()
        return argument.hasPrefix("-") && rest.first.map { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: ".") } == true
    }

    public static func run<Root: AsyncParsableCommand>(_ root: Root.Type, arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        // Output into a pipe whose reader went away (`ytauto run-once facts | head -1`, a log
        // reader restarted) must not kill the process in the middle of a stage, spending its
        // job's attempt: the write fails instead, and the work goes on.
        signal(SIGPIPE, SIG_IGN)
        // The command parsed, for a usage error found while it runs (its own usage, not the root's).
        var parsed: (any ParsableCommand.Type)?
        do {
            var command = try root.parseAsRoot(arguments)
            parsed = type(of: command)
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            OpenStores.closeAll()
            exit(0)
        } catch {
            OpenStores.closeAll()
            let code = root.exitCode(for: error)
            if code == .success {
                print(root.fullMessage(for: error))
                exit(0)
            }
            if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
            let isUsage = code == .validationFailure || error is ValidationError
            var message = isUsage ? root.fullMessage(for: error) : "error: \(String(describing: error))"
            if let validation = error as? ValidationError, let parsed, parsed != root {
                message = "Error: \(validation.message)\nUsage: \(root.usageString(for: parsed))"
            }
            // "-1" is read as an option, and the parser then reports a missing argument or an
            // unknown option: say what the number was taken for.
            // A negative duration ("-1s", "-7d") likewise: the parser said only "Missing value for '--grace'".
            if isUsage, let negative = arguments.first(where: Self.looksNegative),
               message.contains("Missing expected argument") || message.contains("Missing value for") || message.contains("'\(negative)'") {
                message = "Error: '\(negative)' was read as an option: a job id, a count or a duration is never negative.\n" + message
            }
            // What the operator typed comes back in messages ("no channel named 'x…'"): a control
            // character in it is shown as `\u{1B}`, not sent to the terminal to act on it. Line by line,
            // so the message keeps its own lines.
            message = message.split(separator: "\n", omittingEmptySubsequences: false).map { TextControls.visible(String($0)) }
                .joined(separator: "\n")
            FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
            exit(isUsage ? 2 : 1)
        }
    }
}
