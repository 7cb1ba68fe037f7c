import Foundation
import Testing
import YTAutoTestSupport

/// Short versions of `ytauto-bench` runs: their own checks decide the exit code.
@Suite struct BenchTests {
    @Test func aShortChaosRunLosesDuplicatesAndOverlapsNothing() async throws {
        try await expectChaosPasses([])
    }

    /// The same run with the workers and the scheduler on PostgreSQL: a killed worker's session
    /// ends with it, and another worker frees its jobs.
    @Test(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
    func aShortChaosRunOnPostgreSQLLosesDuplicatesAndOverlapsNothing() async throws {
        let url = try await PostgresServer.server().createDatabase(prefix: "chaos")
        try await expectChaosPasses(["--db", url])
    }

    func expectChaosPasses(_ extra: [String]) async throws {
        let r = try await run("ytauto-bench", ["chaos", "--workers", "2", "--jobs", "40", "--kills", "8", "--stage-ms", "20", "--timeout", "120"] + extra)
        print(r.stdout)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        for check in ["exactly once", "real jobs left alone", "no overlap", "none stuck", "artifacts intact"] {
            #expect(r.stdout.contains("PASS  \(check)"), "\(check)")
        }
        #expect(!r.stdout.contains("FAIL"))
        #expect(r.stdout.contains("kill → re-lease"))
        // The kills were sent and some of them cost a running attempt (else the run proved nothing).
        #expect(r.stdout.contains("8 kills in"))
        let lost = r.stdout.split(separator: "\n").first { $0.contains("attempts lost to kills") }.flatMap { Int($0.split(separator: " ")[0]) }
        #expect((lost ?? 0) > 0, "\(r.stdout)")
    }

    @Test func theQueueBenchmarkRunsBothSidesToCompletion() async throws {
        // Small backlogs: the default's million-job files would take this debug build most of the test run to fill.
        let r = try await run("ytauto-bench", ["queue", "--processes", "2", "--jobs", "60", "--stages", "3", "--history-rows", "500",
                                               "--backlogs", "10,200"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("ratio ours / ceiling:") && r.stdout.contains("list-failed"))
        let rows = r.stdout.split(separator: "\n").filter { ["10 ", "200 "].contains(where: $0.trimmingCharacters(in: .whitespaces).hasPrefix) }
        #expect(rows.count == 2 && r.stdout.contains("ours at backlog 200 / at 10:"), "\(r.stdout)")
    }

    /// The PostgreSQL run: both sides do every job (the benchmark checks the count) and report a row a backlog.
    @Test(.enabled(if: PostgresServer.available, "PostgreSQL is not installed here (bash .ci/deps installs it)"))
    func theQueueBenchmarkRunsOnPostgreSQL() async throws {
        let url = try await PostgresServer.server().createDatabase(prefix: "bench")
        let r = try await run("ytauto-bench", ["queue", "--db", url, "--processes", "2", "--jobs", "40", "--stages", "1", "--backlogs", "10,200"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        let rows = r.stdout.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("10 ") || $0.trimmingCharacters(in: .whitespaces).hasPrefix("200 ") }
        #expect(rows.count == 2, "\(r.stdout)")
        // Each side's timing starts from a checkpoint (the test cluster's role may run one).
        #expect(!r.stdout.contains("no CHECKPOINT"), "\(r.stdout)")
    }
}
