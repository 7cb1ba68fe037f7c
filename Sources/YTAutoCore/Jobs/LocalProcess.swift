import Foundation

/// A process of this host, as Linux's `/proc/PID/stat` describes it.
///
/// Read by the SQLite store, to tell a worker whose lock file was removed from under it from a
/// dead one (``isRunning(_:registeredAt:)``), and by the media stages, to find the tools a dead
/// worker left running. Elsewhere than on Linux nothing is found (every look answers nil).
public struct LocalProcess: Sendable, Equatable {
    public let pid: Int32
    /// Its state letter (`R`, `S`, `D`, `T`, `Z` for a zombie, `X` when dead).
    public let state: Character
    /// Its parent's process id.
    public let parent: Int32
    /// Its process group's id.
    public let group: Int32
    /// When it started, on the wall clock: the boot time (`btime` of `/proc/stat`, whole seconds)
    /// plus its start in clock ticks after boot. Nil when the boot time cannot be read.
    public let startedAt: Date?

    /// A live process (neither a zombie nor dead).
    public var isAlive: Bool { state != "Z" && state != "X" }

    /// The process `pid`, or nil when there is none.
    public static func read(_ pid: Int32) -> LocalProcess? {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the name in parentheses (which may hold spaces and parentheses): field 3 (state) on.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]), let group = Int32(fields[2]) else { return nil }
        var started: Date? = nil
        if let boot = bootTime(), let ticks = Double(fields[19]) {
            started = Date(timeIntervalSince1970: boot + ticks / Double(max(sysconf(Int32(_SC_CLK_TCK)), 1)))
        }
        return LocalProcess(pid: pid, state: state, parent: parent, group: group, startedAt: started)
    }

    /// Whether `pid` is a live process of this host that started no later than `registeredAt`
    /// (plus `tolerance`, for the boot time's whole seconds and clock adjustments): the process
    /// that registered then, not a later one that was given its pid after it died.
    public static func isRunning(_ pid: Int32, registeredAt: Date, tolerance: TimeInterval = 5) -> Bool {
        guard let process = read(pid), process.isAlive, let started = process.startedAt else { return false }
        return started.timeIntervalSince(registeredAt) <= tolerance
    }

    /// The boot time in seconds since 1970, from `/proc/stat`.
    static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}

extension LocalProcess {
    /// The processes of this host, other than this one, that have one of `paths` open (their
    /// `/proc/PID/fd` links), each with its command line; paths are compared resolved. Only
    /// processes whose descriptors this user may read are seen (all of them as root).
    public static func holding(_ paths: [String]) -> [(pid: Int32, command: String)] {
        let wanted = Set(paths.compactMap(resolved))
        guard !wanted.isEmpty else { return [] }
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { $0 != me }.sorted().compactMap { pid in
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
            let holds = fds.contains { fd in
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")).map(wanted.contains) ?? false
            }
            guard holds else { return nil }
            let arguments = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map {
                $0.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            } ?? []
            return (pid, arguments.joined(separator: " "))
        }
    }

    /// `path` with symbolic links, `.` and `..` resolved; nil when it does not exist.
    static func resolved(_ path: String) -> String? {
        guard let r = realpath(path, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }
}
