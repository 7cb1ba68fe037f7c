import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoStore

/// `ytauto-bench idle`: what idle workers cost. N real `ytauto worker` processes on an empty
/// queue; their CPU time (user + system, from /proc/PID/stat) over a window, after start-up.
struct IdleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "CPU used by idle workers on an empty queue (goal: under 1 % of one core for 8 workers in all).")

    @Option(help: "Idle worker processes.") var workers = 8
    @Option(help: "Seconds measured (after 3 s of start-up).") var seconds = 20

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be within 1...64") }
        guard (1...3600).contains(seconds) else { throw ValidationError("--seconds must be within 1...3600") }
    }

    func run() async throws {
        let folder = FileManager.default.temporaryDirectory.appending(path: "ytauto-idle-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let db = folder.appending(path: "idle.db").path
        _ = try SQLiteJobStore(path: db)
        let children = try (0..<workers).map { _ in
            try Spawned(Binaries.path("ytauto"), ["worker", "--db", db, "--synthetic-stage-ms", "0"])
        }
        defer { for c in children { kill(c.pid, SIGKILL) } }
        try await Task.sleep(for: .seconds(3))
        let before = children.map { Self.cpuTicks($0.pid) }
        let start = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let after = children.map { Self.cpuTicks($0.pid) }
        let wall = (ContinuousClock.now - start).seconds
        guard before.allSatisfy({ $0 != nil }), after.allSatisfy({ $0 != nil }) else {
            throw BenchError("a worker exited during the measurement")
        }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let used = zip(before, after).map { Double($1! - $0!) / hz }
        let total = used.reduce(0, +)
        print("ytauto-bench idle: \(workers) idle workers, \(fmt(wall, 1)) s measured")
        print("CPU in all: \(fmt(total / wall * 100, 3)) % of one core (goal: under 1 %); per worker: "
            + used.map { fmt($0 / wall * 100, 3) + "%" }.joined(separator: " "))
    }

    /// utime + stime of a process, in clock ticks.
    static func cpuTicks(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
        guard fields.count > 12, let u = Int(fields[11]), let s = Int(fields[12]) else { return nil }
        return u + s
    }
}
