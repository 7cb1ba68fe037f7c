import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import YTAutoSupport

/// A request as the loopback server received it.
public struct LoopbackRequest: Sendable {
    public let method: String
    /// The path with its query, as sent.
    public let uri: String
    public let headers: [(String, String)]
    public let body: Data

    public var path: String { String(uri.split(separator: "?", maxSplits: 1).first ?? "") }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public var query: [String: String] {
        guard let q = uri.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var out: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            out[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return out
    }

    public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
}

/// What the loopback server does with a request.
public enum LoopbackReply: Sendable {
    case respond(status: Int, headers: [(String, String)] = [], body: Data = Data())
    /// Closes the connection without answering, as a network drop would.
    case drop

    public static func json(_ status: Int, _ object: Any, headers: [(String, String)] = []) -> LoopbackReply {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return .respond(status: status, headers: [("Content-Type", "application/json; charset=UTF-8")] + headers, body: data)
    }
}

/// An HTTP/1.1 server on 127.0.0.1 and a free port, for tests that speak a provider's wire
/// protocol. The handler sees every request whole and answers it, or drops the connection.
public final class LoopbackServer: @unchecked Sendable {
    // `@unchecked` is safe: the fields are set once in init and only read afterwards.
    public let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    public init(_ handler: @escaping @Sendable (LoopbackRequest) async -> LoopbackReply) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(handler))
                }
            }
        channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress?.port ?? 0
    }

    private let stopped = Locked(false)

    /// Stops the server; safe to call more than once (deinit calls it too).
    public func shutdown() {
        let first = stopped.update { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    deinit { shutdown() }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // `@unchecked` is safe: NIO calls a handler only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let handler: @Sendable (LoopbackRequest) async -> LoopbackReply
        var head: HTTPRequestHead?
        var body = Data()

        init(_ handler: @escaping @Sendable (LoopbackRequest) async -> LoopbackReply) { self.handler = handler }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = Data()
            case .body(var buffer):
                if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
            case .end:
                guard let head else { return }
                let request = LoopbackRequest(
                    method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body)
                let keepAlive = head.isKeepAlive
                let loop = context.eventLoop
                let ctx = NIOLoopBound(context, eventLoop: loop)
                let handler = self.handler
                Task {
                    let reply = await handler(request)
                    loop.execute {
                        let context = ctx.value
                        switch reply {
                        case .drop:
                            context.close(promise: nil)
                        case .respond(let status, let headers, let data):
                            var h = HTTPHeaders(headers)
                            h.replaceOrAdd(name: "Content-Length", value: String(data.count))
                            if !keepAlive { h.replaceOrAdd(name: "Connection", value: "close") }
                            let responseHead = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: h)
                            context.write(NIOAny(HTTPServerResponsePart.head(responseHead)), promise: nil)
                            var buffer = context.channel.allocator.buffer(capacity: data.count)
                            buffer.writeBytes(data)
                            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
                            let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
                            if !keepAlive { done.whenComplete { _ in context.close(promise: nil) } }
                        }
                    }
                }
            }
        }
    }
}
