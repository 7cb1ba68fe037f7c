import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting a process for the tests with `posix_spawn`, not Foundation's `Process`.
///
/// Under the whole suite's load, `Process` was seen to crash the test process inside `run()`
/// (a bad read in its own copy of the arguments, with other tests starting processes at the same
/// moment), to leave a child unreaped while it spun at 100 % CPU, and to hand every open pipe of the
/// test process to each child. Here the child gets exactly stdin (/dev/null unless given), stdout
/// and stderr, and nothing else: every other descriptor is closed in it (`closefrom 3`), and the
/// pipes made for it are close-on-exec in the test process, so no other child inherits them.
public enum Spawn {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Where a child's output goes.
    public enum Output {
        /// Into this descriptor of the test process (a pipe's write end, a file).
        case descriptor(Int32)
        /// Into this file, created or emptied (mode 0600).
        case file(String)
    }

    /// Starts `executable` with `arguments`, the test process's environment with `environment`
    /// laid over it, in `cwd`; returns its pid. The caller reaps it (``Spawn/wait(_:)``).
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                             cwd: String? = nil, stdout: Output, stderr: Output) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (target, output) in [(Int32(1), stdout), (Int32(2), stderr)] {
            switch output {
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            case .file(let path):
                if target == 2, case .file(path) = stdout {
                    // One file for both: one open file, so the two streams do not write over each other.
                    posix_spawn_file_actions_adddup2(&actions, 1, 2)
                } else {
                    posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                }
            }
        }
        guard let closeFrom = addCloseFrom else {
            throw Failure(description: "this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34 or later)")
        }
        _ = closeFrom(&actions, 3)
        if let cwd {
            guard let chdir = addChdir else { throw Failure(description: "this C library has no posix_spawn_file_actions_addchdir_np") }
            _ = chdir(&actions, cwd)
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        var argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        // The child starts with no signal blocked and every signal at its default action, whatever
        // this process blocks or ignores (SIGPIPE, and what its runtimes keep for themselves).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, &argv, &envp)
        guard spawned == 0 else {
            throw Failure(description: "cannot run \(executable): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// A pipe whose two ends are close-on-exec in this process (a spawned child gets its end by dup2).
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard let pipe2 = makePipe, pipe2(&fds, O_CLOEXEC) == 0 else { throw Failure(description: "pipe2: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias MakePipe = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    // Looked up at run time: Swift's Glibc module does not bring these GNU extensions in.
    static let addCloseFrom: AddCloseFrom? = {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: AddCloseFrom.self) }
    }()
    static let makePipe: MakePipe? = {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2").map { unsafeBitCast($0, to: MakePipe.self) }
    }()
    static let addChdir: AddChdir? = {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: AddChdir.self) }
    }()
}
