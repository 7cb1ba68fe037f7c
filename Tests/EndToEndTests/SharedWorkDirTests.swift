import Foundation
import Testing
import YTAutoCore
import YTAutoPostgres
import YTAutoTestSupport

/// A job moved to another host on PostgreSQL (its worker SIGKILLed mid-job): with a shared work
/// folder it resumes from its last finished stage; with a folder of the other host's own, it redoes
/// the stages whose files it cannot verify there. The second worker runs under another host name
/// (a UTS namespace) where this test may make one.
@Suite(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
struct SharedWorkDirTests {
    let dir = TempDir("ytauto-shared")

    /// `ytauto worker` with synthetic stages writing checksummed files under `artifacts`, under the
    /// host name `host` when a UTS namespace can be made (as root, or in a user namespace).
    func worker(_ location: String, artifacts: String, host: String?) throws -> Child {
        // Stages of 3 s: worker A is killed once two are done, and must not finish the other five
        // first while this process is slow to see that (a CI run under load once saw it too late
        // with stages of 1.5 s: A finished the job and nothing moved).
        let args = ["worker", "--synthetic-stage-ms", "3000", "--synthetic-artifacts", artifacts, "--lease-seconds", "60"]
        let env = ["YTAUTO_DB": location, "YTAUTO_CONFIG": dir.path("ytauto.yaml")]
        guard let host, let unshare = Self.utsNamespace else { return try Child(binary("ytauto"), args, cwd: dir.url, environment: env) }
        return try Child(URL(fileURLWithPath: "/usr/bin/unshare"), unshare + ["/bin/sh", "-c", "hostname \(host) && exec \"$0\" \"$@\"",
                                                                               binary("ytauto").path] + args, cwd: dir.url, environment: env)
    }

    /// The `unshare` flags that give a process a host name of its own here, if any do.
    static let utsNamespace: [String]? = {
        for flags in [["--uts"], ["--user", "--map-root-user", "--uts"]] {
            let probe = try? Child(URL(fileURLWithPath: "/usr/bin/unshare"), flags + ["/bin/sh", "-c", "hostname ytauto-probe"])
            if probe?.waitForExit() == 0 { return flags }
        }
        return nil
    }()

    /// Runs one job's first stages on worker A (files under `folder`), kills it, lets worker B
    /// (another host name) finish it: on the same folder, or (`shared` false) on a folder of its own,
    /// A's folder taken out of its sight as another host's disk would be. Returns the stages B ran,
    /// those A had finished, and the two attempts' hosts.
    func moveAJob(folder: String, shared: Bool) async throws -> (rerun: [String], done: [String], hosts: [String]) {
        let location = try await PostgresServer.server().createDatabase(prefix: "shared")
        let store = try await PostgresJobStore(url: try PostgresURL(location))
        defer { store.close() }
        let id = try await store.enqueue(NewJob(channel: "facts", topic: "octopuses", maxAttempts: 3, kind: .synthetic)).job.id
        let a = try worker(location, artifacts: dir.path(folder), host: nil)
        let twoDone = try await eventually(timeout: .seconds(60)) {
            try await store.stages(jobID: id).filter { $0.state == .succeeded }.count >= 2
        }
        #expect(twoDone)
        a.kill(SIGKILL)
        _ = await a.wait()
        let doneBefore = try await store.stages(jobID: id).filter { $0.state == .succeeded }.map(\.stage)
        if !shared {
            try FileManager.default.moveItem(atPath: dir.path(folder), toPath: dir.path(folder + "-on-host-a"))
        }
        let b = try worker(location, artifacts: dir.path(shared ? folder : folder + "-b"), host: "ytauto-host-b")
        let finished = try await eventually(timeout: .seconds(90)) { try await store.job(id: id)?.state == .succeeded }
        b.kill(SIGTERM)
        _ = await b.wait()
        #expect(finished)
        let attempts = try await store.attempts(jobID: id)
        #expect(attempts.map(\.outcome) == [.lost, .succeeded])
        let workers = try await store.workers()
        let hosts = attempts.map { a in workers.first { $0.id == a.workerID }?.hostname ?? "?" }
        let second = try #require(attempts.last)
        let rerun = try await store.stageRuns(jobID: id).filter { $0.leaseToken == second.leaseToken }.map(\.stage)
        return (rerun, doneBefore, hosts)
    }

    @Test func aMovedJobResumesFromASharedFolderAndRedoesWhatItCannotVerify() async throws {
        // One folder for both hosts: the second runs only the stages the first had not finished.
        let shared = try await moveAJob(folder: "work", shared: true)
        #expect(!shared.done.isEmpty)
        #expect(Set(shared.rerun).isDisjoint(with: shared.done), "rerun \(shared.rerun) after \(shared.done) were done")
        #expect(Set(shared.rerun).union(shared.done) == Set(Stage.names))
        if Self.utsNamespace != nil {
            #expect(shared.hosts.last == "ytauto-host-b" && shared.hosts.first != "ytauto-host-b", "\(shared.hosts)")
        }
        // A folder of the second host's own: the first host's files are not there, so every stage runs again.
        let separate = try await moveAJob(folder: "separate", shared: false)
        #expect(Set(separate.rerun) == Set(Stage.names), "rerun \(separate.rerun)")
    }
}
