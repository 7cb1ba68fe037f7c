import Foundation

/// A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary folder and `pg_ctl start`
/// on a free loopback port, once per test process, stopped when the process exits. As root (CI
/// runs as root, and the server refuses to) it runs as the `postgres` user that Debian's package
/// creates. Each test takes a database of its own (``createDatabase()``).
///
/// Where PostgreSQL is not installed the tests that need it are skipped, saying why; with `CI` set
/// they fail instead (``requiredInCI``): in CI they never skip.
public final class PostgresServer: Sendable {
    public let port: Int
    public let host: String
    public let user = "ytauto"
    public let dataDirectory: String
    let bin: String
    let runAs: String?

    /// The process's cluster, started on first use; or why there is none.
    public static let shared: Result<PostgresServer, PostgresServerUnavailable> = {
        do { return .success(try PostgresServer()) } catch let e as PostgresServerUnavailable { return .failure(e) } catch {
            return .failure(PostgresServerUnavailable(reason: "\(error)"))
        }
    }()

    /// Whether the PostgreSQL tests run here: the server's binaries exist (in CI, always: a missing
    /// server there fails the tests instead of skipping them).
    public static var available: Bool { binDirectory() != nil || requiredInCI }
    public static var requiredInCI: Bool { ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false }

    /// The cluster, or a thrown error saying why there is none. Started (a few seconds of initdb and
    /// pg_ctl) on a thread of its own, never on one of Swift's cooperative threads, which the rest
    /// of the test run needs.
    public static func server() async throws -> PostgresServer { try await blocking { try shared.get() } }

    static func binDirectory() -> String? {
        let fm = FileManager.default
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions where fm.isExecutableFile(atPath: "/usr/lib/postgresql/\(v)/bin/initdb") {
            return "/usr/lib/postgresql/\(v)/bin"
        }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") where fm.isExecutableFile(atPath: "\(dir)/initdb") {
            return String(dir)
        }
        return nil
    }

    /// A cluster of its own (the shared one listens on loopback only): listening on
    /// `listenAddresses`, trusting clients from `trustedNetwork` (a CIDR) as well as loopback.
    public static func start(listenAddresses: String, trustedNetwork: String) async throws -> PostgresServer {
        try await blocking { try PostgresServer(listen: listenAddresses, trust: trustedNetwork) }
    }

    /// Debian's libfaketime (package faketime), which makes a server's clock differ from this host's.
    public static let faketime: String = {
        let triples = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib")) ?? []
        return triples.map { "/usr/lib/\($0)/faketime/libfaketimeMT.so.1" }.first { FileManager.default.fileExists(atPath: $0) }
            ?? "/usr/lib/<triple>/faketime/libfaketimeMT.so.1"
    }()

    /// A cluster of its own whose clock is `offset` from this host's (libfaketime's `FAKETIME`
    /// syntax: "-1h", "+30m"), as a database server on another host with a wrong clock would be.
    public static func start(clockOffset offset: String) async throws -> PostgresServer {
        guard FileManager.default.fileExists(atPath: faketime) else {
            throw PostgresServerUnavailable(reason: "\(faketime) is missing (install Debian's faketime package: bash .ci/deps does)")
        }
        return try await blocking { try PostgresServer(clockOffset: offset) }
    }

    init(host: String = "127.0.0.1", listen: String? = nil, trust network: String? = nil, clockOffset: String? = nil) throws {
        guard let bin = Self.binDirectory() else {
            throw PostgresServerUnavailable(reason: "PostgreSQL's initdb was not found (install Debian's postgresql package: bash .ci/deps does)")
        }
        self.bin = bin
        self.host = host
        runAs = getuid() == 0 ? "postgres" : nil
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ytauto-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        dataDirectory = dir + "/data"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let runAs {
            try Self.run(["/bin/chown", runAs, dir])
        }
        // Commands of the cluster run as its owner (not root).
        let asOwner = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []
        try Self.run(asOwner + ["\(bin)/initdb", "-D", dataDirectory, "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"])
        if let network {
            let hba = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDirectory + "/pg_hba.conf"))
            try hba.seekToEnd()
            try hba.write(contentsOf: Data("host all all \(network) trust\n".utf8))
            try hba.close()
        }
        // fsync off: a test cluster that dies with the test process need not survive a power cut.
        // A skewed clock: the server's processes start with libfaketime preloaded (the monotonic
        // clocks stay real, so its timeouts do too).
        let skew = clockOffset.map { ["/usr/bin/env", "LD_PRELOAD=\(Self.faketime)", "FAKETIME=\($0)", "FAKETIME_DONT_FAKE_MONOTONIC=1"] } ?? []
        // A port nobody listens on, below Linux's range of ports given to clients (32768 on); taken
        // meanwhile all the same (another test's server), the server starts again on another.
        var chosen = 0
        for attempt in 1...5 {
            chosen = try Self.freePort()
            do {
                try Self.run(asOwner + skew + [
                    "\(bin)/pg_ctl", "-D", dataDirectory, "-l", dir + "/server.log", "-w", "-t", "60", "-o",
                    "-p \(chosen) -k \(dir) -c listen_addresses='\(listen ?? host)' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                        + "-c max_connections=400 -c shared_buffers=64MB", "start"])
                break
            } catch where attempt < 5 && ((try? String(contentsOfFile: dir + "/server.log", encoding: .utf8)) ?? "").contains("Address already in use") {
                continue
            }
        }
        port = chosen
        // Stopped when this test process ends, however it ends (a watcher polls for it): a killed
        // test run leaves no server behind.
        let stop = (asOwner + ["\(bin)/pg_ctl", "-D", dataDirectory, "-m", "immediate", "stop"])
            .joined(separator: " ")
        _ = try Self.spawn(["/bin/sh", "-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stop) >/dev/null 2>&1; rm -rf \(dir)"],
                           output: "/dev/null", error: "/dev/null")
    }


    /// Restarts the server as an operator would (`pg_ctl restart -m fast`): every session ends,
    /// and the server is back on the same port with the same options.
    public func restart() async throws {
        let asOwner = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--"] } ?? []
        // Its output into the log, as at start: a server writing to this pipe would hold it open.
        let log = URL(fileURLWithPath: dataDirectory).deletingLastPathComponent().path + "/server.log"
        let command = asOwner + ["\(bin)/pg_ctl", "-D", dataDirectory, "-l", log, "-m", "fast", "-w", "-t", "60", "restart"]
        _ = try await blocking { try Self.run(command) }
    }

    /// A new, empty database; returns its URL.
    public func createDatabase(prefix: String = "t") async throws -> String {
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff)"
        try await psql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    public func url(database: String) -> String { "postgres://\(user)@\(host):\(port)/\(database)?sslmode=disable" }

    /// Runs SQL through `psql` (as the cluster's superuser) on `database`; returns its output (tuples only, unaligned).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        let (host, port, user) = (self.host, self.port, self.user)
        return try await blocking { try Self.run(["/usr/bin/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "\(port)", "-U", user, "-d", database, "-c", sql]) }
    }

    /// Runs a command to its end and returns its output; throws, with its stderr, when it fails.
    @discardableResult
    public static func runCommand(_ command: [String]) throws -> String { try run(command) }

    /// Runs a command to its end; its output goes through files, not pipes: `pg_ctl start` leaves a
    /// server running that would hold a pipe open, and a read to its end would never return.
    @discardableResult
    static func run(_ command: [String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ytauto-pg-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        // posix_spawn and waitpid, not Foundation's Process: its exit watch runs on Dispatch, which a
        // busy test process may not get to in time.
        let pid = try spawn(command, output: outURL.path, error: errURL.path)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = exitStatus(status)
        let output = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let error = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        guard exitCode == 0 else {
            throw PostgresServerUnavailable(reason: "\(command.joined(separator: " ")) exited \(exitCode): \(error)\(output)")
        }
        return output
    }

    /// Starts a command with stdin from /dev/null and its output into files; returns its pid.
    /// Nothing else of this process goes with it (``Spawn``): a pipe another test opened meanwhile
    /// (a Child's stdout) left open in a server or its watcher, which outlive that child, would keep
    /// the pipe from ever reaching its end, and that test would wait for it for ever.
    static func spawn(_ command: [String], output: String, error: String) throws -> pid_t {
        do {
            return try Spawn.start(command[0], Array(command.dropFirst()), stdout: .file(output), stderr: .file(error))
        } catch {
            throw PostgresServerUnavailable(reason: "\(error)")
        }
    }

    /// A loopback port nobody listens on now, picked at random below Linux's ephemeral range
    /// (32768–60999), so that no client connection is given it before a server binds it.
    public static func freePort() throws -> Int {
        for _ in 0..<200 {
            let port = UInt16.random(in: 20000...32000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw PostgresServerUnavailable(reason: "socket() failed") }
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            if bound == 0 { return Int(port) }
        }
        throw PostgresServerUnavailable(reason: "no free loopback port between 20000 and 32000")
    }
}

public struct PostgresServerUnavailable: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { "no PostgreSQL server for the tests: \(reason)" }
}
