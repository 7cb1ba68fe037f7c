import Foundation
import YTAutoCore

/// Tool processes (ffmpeg, ffprobe, espeak-ng) a dead worker left running in a job's folder.
///
/// A worker killed with SIGKILL cannot end its children: they are re-parented and go on, an
/// ffmpeg composing a long video for minutes, writing into the job's folder while the job's next
/// attempt (on another worker, once the dead one's lock was freed) writes the same files. So a
/// stage that has just taken its folder's lock (``WorkFolderLock``) stops them first: whoever
/// holds that lock is the folder's only rightful writer, so a tool that names a file in it and is
/// not this process's own child is a leftover. Only processes of this host are seen (`/proc`);
/// on a work folder shared between hosts, a leftover on another host ends when its render does.
public enum LeftoverTools {
    /// The programs looked for, by the base name of their executable.
    public static let programs: Set<String> = ["ffmpeg", "ffprobe", "espeak-ng"]

    /// Live processes of ``programs`` whose command line names a path inside `folder`, other than
    /// this process's children.
    public static func find(in folder: String) -> [pid_t] {
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { return false }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard let program = arguments.first.map({ URL(fileURLWithPath: $0).lastPathComponent }), programs.contains(program) else {
                return false
            }
            guard arguments.dropFirst().contains(where: { $0.contains(prefix) }) else { return false }
            return LocalProcess.read(pid)?.parent != me
        }
    }

    /// Kills (SIGKILL) what ``find(in:)`` finds and waits up to `wait` for them to be gone.
    /// Returns the processes it killed.
    @discardableResult
    public static func stop(in folder: String, wait: Duration = .seconds(5)) async -> [pid_t] {
        let found = find(in: folder)
        guard !found.isEmpty else { return [] }
        for pid in found { kill(pid, SIGKILL) }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: wait)
        while clock.now < deadline, found.contains(where: isAlive) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return found
    }

    /// Whether `pid` is still a live process (a zombie, killed and not yet reaped, is not).
    static func isAlive(_ pid: pid_t) -> Bool { LocalProcess.read(pid)?.isAlive ?? false }
}
