import Foundation
import Subprocess
import SystemPackage
import YTAutoCore

/// The external programs the media pipeline runs, with the Debian package that provides each.
public enum MediaTool: String, Sendable, CaseIterable {
    case ffmpeg
    case ffprobe
    case espeakNG = "espeak-ng"

    public var package: String {
        switch self {
        case .ffmpeg, .ffprobe: "ffmpeg"
        case .espeakNG: "espeak-ng"
        }
    }
}

/// A program the pipeline needs is not installed, or no longer is: removed or made
/// non-executable after the worker started (an upgrade, an `apt-get remove`).
///
/// Retryable, with the job's usual backoff: nothing is wrong with the job, and once an operator
/// installs the package the next attempt finds the program again (``ToolRunner`` looks it up on
/// `PATH` afresh when the path it found at start-up is gone) and goes on from the stages already done.
public struct MissingToolError: YTAutoError {
    public let tool: MediaTool
    /// Where it was looked for: the `PATH` searched, and the path it had been found at, if any.
    public let searched: String
    public init(tool: MediaTool, searched: String) {
        self.tool = tool
        self.searched = searched
    }
    public var code: String { "media.tool_missing" }
    public var message: String {
        "\(tool.rawValue) is not installed or not on PATH (looked in \(searched)): install the Debian package \(tool.package) (apt-get install \(tool.package))"
    }
    public var isRetryable: Bool { true }
}

/// A child process ran past its time limit and was stopped (SIGTERM, then SIGKILL).
public struct ToolTimeoutError: YTAutoError {
    public let command: [String]
    public let seconds: Double
    public var code: String { "media.timeout" }
    public var message: String { "\(command.first ?? "tool") ran longer than \(Int(seconds)) s and was stopped\ncommand: \(command.joined(separator: " "))" }
    public var isRetryable: Bool { true }
}

/// Runs ffmpeg, ffprobe and espeak-ng through swift-subprocess.
///
/// - Every run has a time limit; past it, and when the calling task is cancelled (a job's cancel,
///   a worker's shutdown), the child gets SIGTERM and, 2 s later, SIGKILL. A child that has
///   exited by its limit is not past it, even when its result is read later (the process's task
///   threads busy): the run then waits for that result, bounded by the stage's own timeout.
/// - A failure becomes ``FFmpegError`` with the command and the tail of stderr.
public struct ToolRunner: Sendable {
    /// Where each tool was found.
    public let paths: [MediaTool: String]
    /// The `PATH` the tools were found on, searched again when one has gone (``resolve(_:)``).
    let searchPath: String

    /// Finds every tool on `PATH`.
    /// - Throws: ``MissingToolError`` for the first tool missing, naming its package.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, tools: [MediaTool] = MediaTool.allCases) throws {
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        var found: [MediaTool: String] = [:]
        for tool in tools {
            guard let candidate = Self.find(tool, on: path) else { throw MissingToolError(tool: tool, searched: path) }
            found[tool] = candidate
        }
        paths = found
        searchPath = path
    }

    static func find(_ tool: MediaTool, on path: String) -> String? {
        path.split(separator: ":").map { "\($0)/\(tool.rawValue)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The program to run for `tool`: where it was found at start-up while it is still there, else
    /// wherever `PATH` has it now (an operator reinstalled it elsewhere).
    /// - Throws: ``MissingToolError`` when it is nowhere, so a job says which package to install
    ///   rather than failing as an unreadable file.
    func resolve(_ tool: MediaTool) throws -> String {
        if let known = paths[tool], FileManager.default.isExecutableFile(atPath: known) { return known }
        if let again = Self.find(tool, on: searchPath) { return again }
        let gone = paths[tool].map { "\($0), gone or no longer executable, then " } ?? ""
        throw MissingToolError(tool: tool, searched: gone + searchPath)
    }

    /// The result of a run that exited 0.
    public struct Output: Sendable {
        public let stdout: String
        public let stderr: String
    }

    /// Runs `tool` with `arguments`; throws unless it exits 0.
    @discardableResult
    public func run(_ tool: MediaTool, _ arguments: [String], timeout: Duration = .seconds(600)) async throws -> Output {
        let path = try resolve(tool)
        let command = [tool.rawValue] + arguments
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: .seconds(2))]
        // A process group of its own: Ctrl-C in a terminal (SIGINT to the foreground group) or a
        // signal to the worker's group reaches the worker, which stops its work gracefully, and
        // not the tool, which would die mid-stage and fail it. The worker stops the tool itself
        // (the teardown above) when its grace ends.
        options.processGroupID = 0
        let child = Locked<ChildProcess?>(nil)
        let result = try await withThrowingTaskGroup(of: RunOrLimit.self) { group in
            group.addTask { [options, searchPath] in
                do {
                    return .ran(try await Subprocess.run(
                        .path(FilePath(path)), arguments: Arguments(arguments), platformOptions: options,
                        input: .none, output: .string(limit: 16 << 20), error: .string(limit: 16 << 20)
                    ) { execution in child.value = ChildProcess(execution.processIdentifier.value) })
                } catch is SubprocessError where !FileManager.default.isExecutableFile(atPath: path) {
                    // Removed between the look-up and the spawn.
                    throw MissingToolError(tool: tool, searched: "\(path), gone or no longer executable, then \(searchPath)")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                // When the process's task threads were busy past the limit, this task can run
                // before the one that reads a finished tool's result: a child that has exited is
                // not past its limit, and its result is on its way.
                return child.value?.hasExited == true ? .exitedInTime : .pastLimit
            }
            defer { group.cancelAll() }
            while let next = try await group.next() {
                switch next {
                case .ran(let value): return value
                case .pastLimit: throw ToolTimeoutError(command: command, seconds: timeout.seconds)
                case .exitedInTime: continue
                }
            }
            throw CancellationError()  // not reached: the run's task always answers
        }
        try Task.checkCancellation()
        let stderr = result.standardError
        switch result.terminationStatus {
        case .exited(0) where tool == .ffmpeg && Self.lostItsEnd(stderr):
            // ffmpeg exits 0 when only its output's ending could not be written (an MP4's index,
            // written last, on a disk that filled just then): the file is unplayable, so the run failed.
            throw FFmpegError(command: command, exitStatus: 0, stderrTail: Self.tail(stderr))
        case .exited(0):
            return Output(stdout: result.standardOutput, stderr: stderr)
        case .exited(let code):
            throw FFmpegError(command: command, exitStatus: Int32(code), stderrTail: Self.tail(stderr))
        default:
            throw FFmpegError(command: command, exitStatus: nil, stderrTail: Self.tail(stderr), isRetryable: true)
        }
    }

    /// What a run's two tasks answer: the tool's result, or the timer's verdict at the limit.
    enum RunOrLimit: Sendable {
        case ran(ExecutionResult<Void, StringOutput<UTF8>, StringOutput<UTF8>>)
        case pastLimit
        case exitedInTime
    }

    /// Whether ffmpeg says it could not finish writing its output ("Error writing trailer of …",
    /// "Error closing file …"), which it reports without failing its exit status.
    static func lostItsEnd(_ stderr: String) -> Bool {
        stderr.contains("Error writing trailer of ") || stderr.contains("Error closing file ")
    }

    static func tail(_ text: String, lines: Int = 15) -> String {
        let all = text.split(separator: "\n", omittingEmptySubsequences: true)
        return all.suffix(lines).joined(separator: "\n")
    }

    /// Common leading arguments: no stdin, quiet but errors, overwrite.
    public static let ffmpegQuiet = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]

    // MARK: - ffprobe

    /// The duration of a media file in seconds, from its container.
    public func duration(of path: String) async throws -> Double {
        let out = try await run(.ffprobe, ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", path], timeout: .seconds(60))
        guard let d = Double(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FFmpegError(command: ["ffprobe", path], exitStatus: 0, stderrTail: "no duration in output: \(out.stdout)")
        }
        return d
    }

    /// Streams and format of a media file, as ffprobe's JSON.
    public func probe(_ path: String) async throws -> [String: Any] {
        let out = try await run(.ffprobe, ["-v", "error", "-show_streams", "-show_format", "-of", "json", path], timeout: .seconds(60))
        guard let json = try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any] else {
            throw FFmpegError(command: ["ffprobe", path], exitStatus: 0, stderrTail: "unreadable JSON")
        }
        return json
    }
}

extension ToolRunner {
    /// The one audio format every narration sentence is kept in, whatever engine spoke it, so the
    /// sentences join by stream copy: 16-bit PCM WAV, mono, 22,050 Hz (espeak-ng's own).
    public static let narrationFormat = ["-c:a", "pcm_s16le", "-ar", "22050", "-ac", "1"]

    /// Converts any audio file (MP3, WAV at another rate) into the narration format at `output`.
    public func transcodeToNarrationWav(_ input: String, _ output: String) async throws {
        try await run(.ffmpeg, Self.ffmpegQuiet + ["-i", input] + Self.narrationFormat + ["-f", "wav", output], timeout: .seconds(120))
    }

    /// Scales and crops any image to exactly `width`×`height`, as PNG.
    public func fitImage(_ input: String, _ output: String, width: Int, height: Int) async throws {
        try await run(.ffmpeg, Self.ffmpegQuiet + [
            "-i", input, "-vf", "scale=\(width):\(height):force_original_aspect_ratio=increase,crop=\(width):\(height),format=rgb24",
            "-frames:v", "1", "-f", "image2", "-c:v", "png", output,
        ], timeout: .seconds(120))
    }
}

/// A spawned child, told apart from a later process given its pid by its start time
/// (`/proc/<pid>/stat`, field 22).
struct ChildProcess: Sendable {
    let pid: pid_t
    let startTime: Substring?

    init(_ pid: pid_t) {
        self.pid = pid
        startTime = Self.stat(pid)?.startTime
    }

    /// Whether the child has exited: a zombie not yet reaped, gone from `/proc`, or its pid
    /// now another process's.
    var hasExited: Bool {
        guard let now = Self.stat(pid) else { return true }
        return now.state == "Z" || now.state == "X" || now.startTime != startTime
    }

    /// The state and start time in `/proc/<pid>/stat`; nil when the process is gone. The fields
    /// after the command's closing parenthesis (the command may hold spaces and parentheses)
    /// start at the state, field 3.
    static func stat(_ pid: pid_t) -> (state: Substring, startTime: Substring?)? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
              let text = String(data: data, encoding: .utf8), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard let state = fields.first else { return nil }
        return (state, fields.count > 19 ? fields[19] : nil)
    }
}
