import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 and a free port in front of a real server, which can lose one
/// answer the way a network does: a statement whose bytes contain a marker reaches the server
/// (which runs and commits it), but nothing the server sends back on that connection reaches
/// the client, and a moment later the connection is cut. Every other byte passes untouched.
///
/// Plain sockets and a thread per direction: it must not share an event loop with the code
/// under test.
public final class AnswerDroppingProxy: @unchecked Sendable {
    // `@unchecked` is safe: the mutable state is behind `lock`; the rest is set once in init.
    public let port: Int
    private let listener: Int32
    private let target: (host: String, port: Int)
    private let lock = NSLock()
    private var marker: [UInt8]?
    private var dropped = 0
    private var connections = 0
    private var open: [Int32] = []
    private var closed = false

    /// How long the cut connection stays open, answer withheld, after the marked statement was
    /// sent on: time for the server to run and commit it.
    public let hold: Duration

    public init(to host: String, port targetPort: Int, hold: Duration = .seconds(1)) throws {
        target = (host, targetPort)
        self.hold = hold
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.address("127.0.0.1", 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw ProxyError("bind/listen: \(String(cString: strerror(errno)))")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The next statement sent with `marker` in its bytes loses its answer (once).
    public func dropAnswer(toStatementContaining marker: String) {
        lock.withLock { self.marker = Array(marker.utf8) }
    }

    /// How many answers were dropped so far.
    public var droppedAnswers: Int { lock.withLock { dropped } }

    /// How many connections clients opened through the proxy so far.
    public var connectionsOpened: Int { lock.withLock { connections } }

    /// Stops accepting and cuts every connection.
    public func shutdown() {
        // Under the lock: a pump closes its connection's descriptors only while holding it.
        lock.withLock {
            guard !closed else { return }
            closed = true
            Glibc.shutdown(listener, Int32(SHUT_RDWR))
            close(listener)
            for fd in open { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    deinit { shutdown() }

    private static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, host, &addr.sin_addr)
        return addr
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = Self.address(target.host, target.port)
            let connected = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let accepted: Bool = lock.withLock {
                guard !closed, connected == 0 else { return false }
                open += [client, server]
                connections += 1
                return true
            }
            guard accepted else {
                close(client)
                close(server)
                continue
            }
            let connection = Connection(client: client, server: server)
            Thread.detachNewThread { [self] in pumpToServer(from: client, to: server, connection) }
            Thread.detachNewThread { [self] in pumpToClient(from: server, to: client, connection) }
        }
    }

    /// One proxied connection: whether its answers are withheld now. Its descriptors are closed
    /// by the last of its two pumps to end, and never shut down after that (their numbers may
    /// belong to another test's socket by then).
    private final class Connection: @unchecked Sendable {
        let client: Int32, server: Int32
        private let lock = NSLock()
        private var swallowing = false
        private var pumps = 2

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }

        var isSwallowing: Bool { lock.withLock { swallowing } }
        func swallow() { lock.withLock { swallowing = true } }

        /// Shuts `fd` down (both ways, or sending only) unless the connection is already closed.
        func shut(_ fd: Int32, _ how: Int32 = Int32(SHUT_RDWR)) {
            lock.withLock { if pumps > 0 { _ = Glibc.shutdown(fd, how) } }
        }

        /// A pump ended; returns true for the last one, which closes both descriptors.
        func pumpEnded() -> Bool {
            lock.withLock {
                pumps -= 1
                guard pumps == 0 else { return false }
                close(client)
                close(server)
                return true
            }
        }
    }

    private func pumpToServer(from client: Int32, to server: Int32, _ connection: Connection) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var tail: [UInt8] = []  // the end of what came before, so a marker split between reads is seen
        while true {
            let n = read(client, &buffer, buffer.count)
            if n <= 0 { break }
            let chunk = Array(buffer[0..<n])
            let cut: Bool = lock.withLock {
                guard let marker else { return false }
                let seen = tail + chunk
                guard seen.count >= marker.count,
                      (0...(seen.count - marker.count)).contains(where: { seen[$0..<($0 + marker.count)].elementsEqual(marker) })
                else {
                    tail = Array(seen.suffix(marker.count - 1))
                    return false
                }
                self.marker = nil
                dropped += 1
                return true
            }
            // Set before the statement goes on, so none of its answer can slip through.
            if cut { connection.swallow() }
            if !writeAll(server, chunk) { break }
            if cut {
                let hold = self.hold
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: Double(hold.components.seconds) + Double(hold.components.attoseconds) / 1e18)
                    connection.shut(client)
                    connection.shut(server)
                }
            }
        }
        connection.shut(server, Int32(SHUT_WR))
        finish(connection)
    }

    private func finish(_ connection: Connection) {
        lock.withLock {
            if connection.pumpEnded() { open.removeAll { $0 == connection.client || $0 == connection.server } }
        }
    }

    private func pumpToClient(from server: Int32, to client: Int32, _ connection: Connection) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(server, &buffer, buffer.count)
            if n <= 0 { break }
            if connection.isSwallowing { continue }
            if !writeAll(client, Array(buffer[0..<n])) { break }
        }
        connection.shut(client)
        finish(connection)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

public struct ProxyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
