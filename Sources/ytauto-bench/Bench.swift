import ArgumentParser
import Foundation

/// `ytauto-bench`: the speed and robustness claims, measured. Every figure is a ratio against a
/// baseline taken in the same run, because the machine is shared and noisy.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ytauto-bench",
        abstract: "Benchmarks for the queue and the render, and a crash-chaos run. Build with -c release.",
        subcommands: [QueueBench.self, IdleBench.self, RenderBench.self, ChaosBench.self, QueueChild.self, RenderPhase.self])
}

/// Where this binary and its siblings (`ytauto`) live.
enum Binaries {
    static var directory: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }
    static func path(_ name: String) -> String { directory.appending(path: name).path }
}

/// Percentiles of a sample, nearest-rank.
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[max(0, min(sorted.count - 1, rank))]
}

func fmt(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }

/// A child process of the benchmark, with its stdout collected (on a thread, never the cooperative pool).
final class Spawned: @unchecked Sendable {
    // `@unchecked` is safe: `out` is written once by the reader thread before `done` is signalled.
    let process = Process()
    private var out = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ path: String, _ args: [String], environment: [String: String] = [:], quiet: Bool = true) throws {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, n in n }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = quiet ? FileHandle.nullDevice : FileHandle.standardError
        Thread.detachNewThread { [self] in
            out = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits (on a thread) for the exit, and returns stdout.
    ///
    /// It sleeps in `waitid` (leaving the child for `Process` to reap) before `waitUntilExit`,
    /// which on Linux spins a run loop and would take most of a core from what is being measured.
    func finish() async -> (status: Int32, stdout: String) {
        await withCheckedContinuation { c in
            Thread.detachNewThread { [self] in
                var info = siginfo_t()
                while waitid(P_PID, id_t(process.processIdentifier), &info, WEXITED | WNOWAIT) == -1, errno == EINTR {}
                process.waitUntilExit()
                done.wait()
                c.resume(returning: (process.terminationStatus, String(decoding: out, as: UTF8.self)))
            }
        }
    }
}
