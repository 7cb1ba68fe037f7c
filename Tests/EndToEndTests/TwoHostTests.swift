import Foundation
import Testing
import YTAutoCore
import YTAutoPostgres
import YTAutoTestSupport

/// Two hosts on one machine: two network namespaces, each joined to this one by a veth pair, each
/// running a `ytauto worker` against a PostgreSQL server over its veth address. One host's link is
/// cut mid-job: its jobs move to the other host within the documented bound (the server ends the
/// cut host's sessions within 20 s), the cut worker stops their work before they move (so no job
/// runs on two hosts at once), and when the link comes back the cut worker rejoins. Nothing is
/// lost and every job succeeds once. Needs root (network namespaces); elsewhere it is skipped,
/// saying why.
@Suite(.serialized, .enabled(if: TwoHosts.available.ok, Comment(rawValue: TwoHosts.available.why)))
struct TwoHostTests {
    @Test func cuttingOneHostsLinkMovesItsJobsToTheOtherWithinTheBound() async throws {
        let hosts = try TwoHosts()
        defer { hosts.tearDown() }
        let server = try await PostgresServer.start(listenAddresses: "*", trustedNetwork: "10.231.0.0/16")
        let local = try await server.createDatabase(prefix: "hosts")
        let database = try PostgresURL(local).database
        // The test's own look at the server: under CI's load (two cores, the server and two
        // workers), a call once took longer than the 15 s a command waits.
        let store = try await PostgresJobStore(url: try PostgresURL(local), deadline: .seconds(90))
        defer { store.close() }
        let dir = TempDir("ytauto-hosts")
        let ids = try await (0..<2).asyncMap { i in
            try await store.enqueue(NewJob(channel: "facts", topic: "t\(i)", maxAttempts: 3, kind: .synthetic)).job.id
        }
        // Leases of 120 s: a move within the bound can only come from the server ending the cut
        // host's session, not from an expired lease.
        func worker(on host: Int) throws -> Child {
            let url = "postgres://\(server.user)@10.231.\(host).1:\(server.port)/\(database)?sslmode=disable"
            return try Child(URL(fileURLWithPath: "/usr/sbin/ip"),
                             ["netns", "exec", hosts.namespace(host), binary("ytauto").path, "worker", "--synthetic-stage-ms", "2000",
                              "--concurrency", "2", "--lease-seconds", "120", "--log-format", "json"],
                             cwd: dir.url, environment: ["YTAUTO_DB": url, "YTAUTO_CONFIG": dir.path("ytauto.yaml")])
        }
        let first = try worker(on: 1)
        // Host 1 holds both jobs, inside a stage.
        let holding = try await eventually(timeout: .seconds(60)) {
            let running = try await store.runningJobs()
            guard running.count == 2 else { return false }
            return try await running.asyncMap { try await store.stages(jobID: $0.id).isEmpty == false }.allSatisfy { $0 }
        }
        if !holding {
            first.kill(SIGTERM)
            let r = await first.wait()
            Issue.record("host 1's worker did not take both jobs (exit \(r.status)): \(r.stderr.suffix(3000))")
            return
        }
        let firstWorker = try #require(try await store.runningJobs().first?.leaseOwner)
        let second = try worker(on: 2)
        #expect(try await eventually(timeout: .seconds(30)) { try await store.workers().filter { $0.state == .running }.count == 2 })

        try hosts.cut(1)
        let cutAt = Date()
        // Both jobs move to host 2.
        let moved = try await eventually(timeout: .seconds(60)) {
            let running = try await store.runningJobs()
            let succeeded = try await store.stats().byState[.succeeded, default: 0]
            let retried = try await ids.asyncMap { try await store.attempts(jobID: $0).count >= 2 }.allSatisfy { $0 }
            return running.count + succeeded == 2 && running.allSatisfy { $0.leaseOwner != firstWorker } && retried
        }
        #expect(moved)
        let movedAfter = try await ids.asyncMap { try #require(try await store.attempts(jobID: $0).last).startedAt.timeIntervalSince(cutAt) }.max() ?? .infinity
        print("two hosts: the cut host's jobs were leased on the other host \(Int(movedAfter * 1000)) ms after the cut")
        #expect(movedAfter < 30, "moved \(movedAfter) s after the cut; the bound is 20 s and a sweep")
        #expect(try await store.workers().first { $0.id == firstWorker }?.state == .dead)

        // The link comes back: the cut worker rejoins (its session back, alive again).
        try hosts.restore(1)
        let rejoined = try await eventually(timeout: .seconds(60)) {
            guard let w = try await store.workers().first(where: { $0.id == firstWorker }), w.state == .running else { return false }
            return try await store.isAbandoned(w) == false
        }
        #expect(rejoined)
        #expect(try await eventually(timeout: .seconds(90)) { try await store.stats().byState[.succeeded, default: 0] == 2 })
        first.kill(SIGTERM)
        second.kill(SIGTERM)
        let (r1, r2) = (await first.wait(), await second.wait())
        #expect(r1.status == 0 && r2.status == 0, "\(r1.stderr.suffix(1500))\n\(r2.stderr.suffix(1500))")
        // The cut worker stopped the jobs' work before they moved: it said so, and it wrote nothing
        // about them after the cut (the fence would have refused it; it did not even try). Either
        // its heartbeats went unacknowledged past the proof bound, or a stage ended and its
        // checkpoint was refused by the link (said at once since the pool asks the server when a
        // statement goes unanswered: "no route"), which ends the job's work there.
        let stops = r1.stderr.split(separator: "\n").compactMap { line -> (job: Int64, at: Date)? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                  let message = object["message"],
                  message.contains("the lease can no longer be proven") || message.hasPrefix("job bookkeeping failed"),
                  let job = object["job_id"].flatMap({ Int64($0) }), let ts = object["ts"] else { return nil }
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return f.date(from: ts).map { (job, $0) }
        }
        #expect(Set(stops.map(\.job)) == Set(ids), "\(r1.stderr.suffix(3000))")
        for id in ids {
            // Host 1 had stopped the job's work before host 2 began it: never on two hosts at once.
            let attempts = try await store.attempts(jobID: id)
            if let stopped = stops.first(where: { $0.job == id })?.at, let began = attempts.last?.startedAt {
                #expect(stopped < began, "job \(id): host 1 stopped at \(stopped), host 2 began at \(began)")
            }
        }
        for id in ids {
            let attempts = try await store.attempts(jobID: id)
            #expect(attempts.map(\.outcome) == [.lost, .succeeded], "job \(id): \(attempts.map(\.outcome))")
            #expect(attempts.first?.workerID == firstWorker && attempts.last?.workerID != firstWorker)
            let runsOfFirst = try await store.stageRuns(jobID: id).filter { $0.leaseToken == attempts.first?.leaseToken }
            #expect(runsOfFirst.allSatisfy { $0.startedAt < cutAt }, "host 1 started a stage after the cut")
        }
    }
}

/// Two network namespaces, `ytauto-h1-PID` and `ytauto-h2-PID`, each joined to this one by a veth
/// pair: this side 10.231.N.1/24, theirs 10.231.N.2/24.
struct TwoHosts {
    let tag = String(getpid() % 100_000)

    /// Whether namespaces can be made here, and if not why (a probe namespace is made and removed).
    static let available: (ok: Bool, why: String) = {
        guard getuid() == 0 else { return (false, "network namespaces need root (ip netns); run the tests as root to include the two-host test") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return (false, "the ip command (iproute2) is not installed") }
        let probe = "ytauto-probe-\(getpid())"
        do {
            try TwoHosts.ip(["netns", "add", probe])
            try TwoHosts.ip(["netns", "delete", probe])
            return (true, "")
        } catch {
            return (false, "network namespaces cannot be made here: \(error)")
        }
    }()

    func namespace(_ n: Int) -> String { "ytauto-h\(n)-\(tag)" }
    func link(_ n: Int) -> String { "yt\(tag)h\(n)" }

    init() throws {
        Self.removeLeftovers()
        for n in [1, 2] {
            let ns = namespace(n), a = link(n), b = link(n) + "b"
            try Self.ip(["netns", "add", ns])
            try Self.ip(["link", "add", a, "type", "veth", "peer", "name", b])
            try Self.ip(["link", "set", b, "netns", ns])
            try Self.ip(["addr", "add", "10.231.\(n).1/24", "dev", a])
            try Self.ip(["link", "set", a, "up"])
            try Self.ip(["netns", "exec", ns, "ip", "addr", "add", "10.231.\(n).2/24", "dev", b])
            try Self.ip(["netns", "exec", ns, "ip", "link", "set", b, "up"])
            try Self.ip(["netns", "exec", ns, "ip", "link", "set", "lo", "up"])
        }
    }

    /// Cuts host `n` off: its packets go nowhere, and nothing tells either side (as a pulled cable).
    func cut(_ n: Int) throws {
        try Self.ip(["netns", "exec", namespace(n), "ip", "link", "set", link(n) + "b", "down"])
        try Self.ip(["link", "set", link(n), "down"])
    }

    func restore(_ n: Int) throws {
        try Self.ip(["link", "set", link(n), "up"])
        try Self.ip(["netns", "exec", namespace(n), "ip", "link", "set", link(n) + "b", "up"])
        try Self.ip(["netns", "exec", namespace(n), "ip", "route", "replace", "10.231.\(n).0/24", "dev", link(n) + "b"])
    }

    func tearDown() {
        for n in [1, 2] {
            try? Self.ip(["link", "delete", link(n)])
            try? Self.ip(["netns", "delete", namespace(n)])
        }
    }

    /// Removes the links and namespaces of an earlier test process that died without tearing
    /// down (its pid is gone): their addresses would take this run's packets.
    static func removeLeftovers() {
        let links = (try? PostgresServer.runCommand(["/usr/sbin/ip", "-o", "link", "show"])) ?? ""
        let spaces = (try? PostgresServer.runCommand(["/usr/sbin/ip", "netns", "list"])) ?? ""
        func dead(_ tag: Substring) -> Bool { Int32(tag).map { kill($0, 0) != 0 && errno == ESRCH } ?? false }
        for line in links.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { continue }
            let name = fields[1].split(separator: "@").first ?? ""
            guard name.hasPrefix("yt"), name.hasSuffix("h1:") || name.hasSuffix("h2:") || name.hasSuffix("h1") || name.hasSuffix("h2") else { continue }
            let tag = name.dropFirst(2).prefix { $0.isNumber }
            if !tag.isEmpty, dead(tag) { try? ip(["link", "delete", String(name.trimmingCharacters(in: [":"]))]) }
        }
        for line in spaces.split(separator: "\n") {
            let name = line.split(separator: " ").first ?? ""
            guard name.hasPrefix("ytauto-h1-") || name.hasPrefix("ytauto-h2-") else { continue }
            if dead(name.dropFirst("ytauto-h1-".count)) { try? ip(["netns", "delete", String(name)]) }
        }
    }

    static func ip(_ args: [String]) throws {
        do {
            try PostgresServer.runCommand(["/usr/sbin/ip"] + args)
        } catch {
            throw NetnsError(message: "\(error)")
        }
    }
}

struct NetnsError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
