import Foundation
import YTAutoSupport

/// A diagnostic for a test process whose tests wait on one another for no reason of their own:
/// with `YTAUTO_STALL_WATCH=1` in the environment, a thread of its own starts a task every 200 ms,
/// and when none has run for 2 s (Swift's cooperative pool, two threads on a 2-core machine, busy
/// all that time) it has gdb write every thread's stack to `/tmp/ytauto-stall-<pid>-<n>.txt` (at
/// most 40 files), and prints on stderr the file and, for each thread running a task, its first
/// frame in the package's own code. Started by the first ``TempDir`` (nearly every test makes one);
/// without the variable it does nothing. It found the test that kept both threads for minutes of
/// a loaded run (docs/testing.md, "Two cooperative threads").
enum StallWatch {
    /// When a task of the watch's last ran.
    private static let lastRan = Locked(Date())

    static let started: Bool = {
        guard ProcessInfo.processInfo.environment["YTAUTO_STALL_WATCH"] == "1" else { return false }
        Thread.detachNewThread {
            var dumps = 0
            while dumps < 40 {
                Task.detached { lastRan.value = Date() }
                usleep(200_000)
                let gap = Date().timeIntervalSince(lastRan.value)
                guard gap > 2 else { continue }
                dumps += 1
                let path = "/tmp/ytauto-stall-\(getpid())-\(dumps).txt"
                let stacks = gdbStacks(into: path, heading: "no task ran for \(String(format: "%.1f", gap)) s, at \(Date())\n")
                FileHandle.standardError.write(Data("stall watch: no task ran for \(String(format: "%.1f", gap)) s; stacks in \(path); running: \(running(in: stacks))\n".utf8))
                lastRan.value = Date()
            }
        }
        return true
    }()

    /// Every thread's stack, by gdb attached to this process, written to `path` after `heading`
    /// (straight to the file: gdb stops this thread too, which could not drain a pipe meanwhile).
    private static func gdbStacks(into path: String, heading: String) -> String {
        guard FileManager.default.createFile(atPath: path, contents: Data(heading.utf8)),
              let file = FileHandle(forWritingAtPath: path) else { return "" }
        file.seekToEndOfFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/gdb")
        p.arguments = ["-p", "\(getpid())", "-batch", "-ex", "thread apply all bt 40"]
        p.standardOutput = file
        p.standardError = FileHandle.nullDevice
        do {
            try p.run()
            p.waitUntilExit()
        } catch {
            file.write(Data("gdb could not be run: \(error)\n".utf8))
        }
        try? file.close()
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// For each thread in `stacks` that runs a task (`swift_job_run`), its first frame in this package's sources.
    static func running(in stacks: String) -> [String] {
        stacks.components(separatedBy: "\nThread ").compactMap { thread in
            guard thread.contains("swift_job_run") else { return nil }
            let frame = thread.split(separator: "\n").first {
                $0.contains(" at \(packageRoot.path)/Sources/") || $0.contains(" at \(packageRoot.path)/Tests/")
            }
            return frame.map { String($0.split(separator: " at ").last ?? $0) } ?? "(no frame of ours)"
        }
    }
}
