import Foundation

/// A TCP socket of the test's own, bound to a loopback port the kernel picked, closed when this
/// value is released. Listening, it holds the address as a server would (another server cannot
/// take it). Not listening, the address refuses every connection (the kernel answers with a reset)
/// and no other socket is given its port meanwhile: a server shut down before its address was
/// used is no such address, since on CI its port went to another test's loopback YouTube in
/// between and the "refused" request got that server's 401.
public final class LoopbackSocket: @unchecked Sendable {
    // `@unchecked` is safe: both are immutable; the socket is closed once, in deinit.
    private let socket: Int32
    public let port: UInt16

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(port)" }

    public init(listening: Bool) throws {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && (!listening || listen(socket, 1) == 0) && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(socket)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        self.socket = socket
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(socket) }
}
