import Foundation

/// A fresh temporary folder per test, removed when the value is released.
public final class TempDir: @unchecked Sendable {
    // `@unchecked` is safe: `url` is immutable.
    public let url: URL

    public init(_ label: String = "ytauto") {
        _ = StallWatch.started  // with YTAUTO_STALL_WATCH=1 only
        url = FileManager.default.temporaryDirectory
            .appending(path: "\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appending(path: name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The folder holding the package's built executables (beside the test bundle).
public func productsDirectory() -> URL {
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var dir = exe.deletingLastPathComponent()
    // On Linux the test runner is `<products>/<name>PackageTests.xctest`; elsewhere it may be nested.
    while dir.path != "/" {
        if FileManager.default.isExecutableFile(atPath: dir.appending(path: "ytauto").path) {
            return dir
        }
        dir = dir.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appending(path: ".build/debug")
}

public func binary(_ name: String) -> URL { productsDirectory().appending(path: name) }

/// The output of a finished child process.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// A child process of the test: started with ``Spawn`` (no descriptor of the test process but
/// its own stdout and stderr), reaped with `waitpid`.
public final class Child: @unchecked Sendable {
    // `@unchecked` is safe: the buffers and `reaped` are only touched under `lock`.
    public let pid: pid_t
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()
    private let group = DispatchGroup()

    /// Starts it with stdout and stderr into pipes drained in the background (see ``Spawn``), or,
    /// with `outputFile`, both into that file (for a test that reads what a child prints while it runs).
    public init(_ executable: URL, _ arguments: [String], cwd: URL? = nil, environment: [String: String] = [:],
                outputFile: String? = nil) throws {
        if let outputFile {
            pid = try Spawn.start(executable.path, arguments, environment: environment, cwd: cwd?.path,
                                  stdout: .file(outputFile), stderr: .file(outputFile))
            return
        }
        let o = try Spawn.pipe(), e = try Spawn.pipe()
        do {
            pid = try Spawn.start(executable.path, arguments, environment: environment, cwd: cwd?.path,
                                  stdout: .descriptor(o.write), stderr: .descriptor(e.write))
        } catch {
            [o.read, o.write, e.read, e.write].forEach { close($0) }
            throw error
        }
        close(o.write)
        close(e.write)
        // Blocking reads run on threads of their own: on Linux the global dispatch queues
        // share their few threads with Swift's cooperative pool, and a read parked there
        // would stall every task of the test process.
        for (fd, isOut) in [(o.read, true), (e.read, false)] {
            group.enter()
            Thread.detachNewThread {
                let data = FileHandle(fileDescriptor: fd, closeOnDealloc: true).readDataToEndOfFile()
                self.lock.lock()
                if isOut { self.out = data } else { self.err = data }
                self.lock.unlock()
                self.group.leave()
            }
        }
    }

    public func kill(_ signal: Int32) { Foundation.kill(pid, signal) }

    private var reaped: Int32?

    /// Reaps the child if it has exited; its status (128 + N for signal N) once it has.
    private func poll() -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let reaped { return reaped }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid { reaped = exitStatus(raw) }
        return reaped
    }

    /// Whether it has not exited yet.
    public var isRunning: Bool { poll() == nil }

    /// Blocks until the child has exited and returns its status (128 + N for signal N). Safe to
    /// call more than once and from several threads: the first call reaps, the others read.
    public func waitForExit() -> Int32 {
        while true {
            if let status = poll() { return status }
            usleep(2_000)
        }
    }

/// Waits for the child to exit, off the cooperative pool.
    public func wait() async -> ProcessResult {
        await withCheckedContinuation { (c: CheckedContinuation<ProcessResult, Never>) in
            Thread.detachNewThread {
                let status = self.waitForExit()
                self.group.wait()
                self.lock.lock()
                let r = ProcessResult(
                    status: status,
                    stdout: String(decoding: self.out, as: UTF8.self),
                    stderr: String(decoding: self.err, as: UTF8.self))
                self.lock.unlock()
                c.resume(returning: r)
            }
        }
    }
}

extension Child {
    /// Waits up to `limit` for the child to exit; past it, kills it (SIGKILL) and reaps it, so a
    /// test whose child hangs fails instead of waiting for ever. `exitedInTime` says which.
    public func wait(atMost limit: Duration) async -> (result: ProcessResult, exitedInTime: Bool) {
        let exited = await eventually(timeout: limit) { !isRunning }
        if !exited { kill(SIGKILL) }
        return (await wait(), exited)
    }
}

/// Runs a built executable of the package to completion.
public func run(_ name: String, _ arguments: [String], cwd: URL? = nil, environment: [String: String] = [:]) async throws -> ProcessResult {
    try await Child(binary(name), arguments, cwd: cwd, environment: environment).wait()
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes. Returns whether it held.
public func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Whether the file at `path` (a child's `outputFile`) comes to hold `text` within `timeout`.
public func eventually(file path: String, contains text: String, timeout: Duration = .seconds(30)) async -> Bool {
    await eventually(timeout: timeout) { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains(text) }
}

/// The package's root folder, from this file's place in it.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `date` as an HTTP date (RFC 9110's IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`), as servers
/// send in `Retry-After`; written here, apart from the client's parser, so a test of the parser
/// does not share its mistakes.
public func httpDate(_ date: Date) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return f.string(from: date)
}

extension Sequence {
    /// `map` with an async transform, one element at a time, in order.
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}

/// A `waitpid` status as a shell shows it: the exit code, or 128 + N for signal N.
public func exitStatus(_ raw: Int32) -> Int32 {
    let signal = raw & 0x7f
    return signal == 0 ? (raw >> 8) & 0xff : 128 + signal
}

/// Runs blocking work (a browser driven over a socket, a child waited for) on a thread of its
/// own, never on one of Swift's cooperative threads, which the rest of the test run needs.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { c in
        Thread { c.resume(with: Result { try body() }) }.start()
    }
}
