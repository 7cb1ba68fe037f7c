import Foundation

/// A child process (ffmpeg, ffprobe, espeak-ng) failed. Carries the command and the tail of stderr.
///
/// A run that failed because its disk is full (`No space left on device` in stderr) is
/// `media.disk_full` and retryable: the job waits its backoff and tries again, reusing what it
/// finished, once space has been freed.
public struct FFmpegError: YTAutoError {
    public let command: [String]
    public let exitStatus: Int32?
    public let stderrTail: String
    private let retryable: Bool

    public init(command: [String], exitStatus: Int32?, stderrTail: String, isRetryable: Bool = false) {
        self.command = command
        self.exitStatus = exitStatus
        self.stderrTail = stderrTail
        self.retryable = isRetryable
    }

    /// Whether the program was stopped by a signal: killed by one, or ffmpeg's own exit status
    /// 255, which it gives when it takes SIGINT or SIGTERM and stops. During a worker's graceful
    /// stop that is the stop reaching the tool too (systemd signals the whole control group), and
    /// the job is handed back, not failed.
    public var wasStoppedBySignal: Bool { exitStatus == nil || exitStatus == 255 }

    /// Whether the program could not write because its disk is full.
    public var isDiskFull: Bool { stderrTail.contains("No space left on device") }
    /// Whether the program could not open a file for want of permission (a read-only folder):
    /// the same cause as a stage's own file that cannot be written, so the same code,
    /// `media.file`, retried once the operator has fixed the permissions.
    public var isPermissionDenied: Bool {
        !isDiskFull && (stderrTail.contains("Permission denied") || stderrTail.contains("Read-only file system"))
    }
    public var isRetryable: Bool { retryable || isDiskFull || isPermissionDenied }
    public var code: String { isDiskFull ? "media.disk_full" : isPermissionDenied ? "media.file" : "ffmpeg.failed" }
    public var message: String {
        let tool = command.first ?? "ffmpeg"
        let status = exitStatus.map { "exit status \($0)" } ?? "killed"
        // ffmpeg's output is its last argument.
        let full = isDiskFull ? "the disk is full: \(tool) could not write \(command.last ?? "its output"); free space and the job is retried. "
            : isPermissionDenied ? "\(tool) may not write or open a file it needs (permissions, or a read-only file system; below): fix that for the work or output folder, and the job is retried. " : ""
        return "\(full)\(tool) failed (\(status)): \(stderrTail)\ncommand: \(command.joined(separator: " "))"
    }
}
