import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 GET sent from a chosen local address of 127.0.0.0/8 (every one of them is this
/// machine's loopback), so that a server sees requests from several client addresses without a
/// second host. Plain sockets, `Connection: close`, the answer read to its end.
public enum RequestFromAddress {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    /// The status and body of `GET path` to 127.0.0.1:`port`, sent from `source`.
    public static func get(port: Int, path: String, headers: [(String, String)], from source: String) async throws -> (status: Int, body: String) {
        try await blocking {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw Failed(description: "socket: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            func call(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32, _ host: String, _ port: Int) -> Int32 {
                var addr = sockaddr_in()
                addr.sin_family = sa_family_t(AF_INET)
                addr.sin_port = UInt16(port).bigEndian
                inet_pton(AF_INET, host, &addr.sin_addr)
                return withUnsafePointer(to: &addr) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            guard call({ bind(fd, $0, $1) }, source, 0) == 0 else { throw Failed(description: "bind \(source): \(String(cString: strerror(errno)))") }
            guard call({ connect(fd, $0, $1) }, "127.0.0.1", port) == 0 else { throw Failed(description: "connect: \(String(cString: strerror(errno)))") }
            var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
            for (k, v) in headers { request += "\(k): \(v)\r\n" }
            request += "\r\n"
            let bytes = Array(request.utf8)
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw Failed(description: "send: \(String(cString: strerror(errno)))") }
                sent += n
            }
            var answer: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw Failed(description: "recv: \(String(cString: strerror(errno)))") }
                if n == 0 { break }
                answer += chunk[..<n]
            }
            let text = String(decoding: answer, as: UTF8.self)
            // "HTTP/1.1 429 Too Many Requests"
            guard let statusLine = text.split(separator: "\r\n").first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
                throw Failed(description: "no HTTP status line in \(text.prefix(200))")
            }
            let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
            return (status, body)
        }
    }
}
