import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The loopback end of the OAuth installed-app flow: listens on 127.0.0.1 for the browser's
/// redirect, answers it with a short page, and hands over the authorisation code.
public final class OAuthRedirectListener: Sendable {
    public let port: Int
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    /// The redirect's query once it came, and the caller waiting for it meanwhile.
    private let redirect = Mutex<(result: [String: String]?, waiter: CheckedContinuation<[String: String], any Error>?)>((nil, nil))

    public var redirectURI: String { "http://127.0.0.1:\(port)/" }

    public init(port: Int = 0) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = Box()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(Handler(box)) }
            }
        channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
        self.port = channel.localAddress?.port ?? port
        box.owner = self
    }

    /// Waits for the redirect's query parameters (`code`, `state`, or `error`).
    public func waitForRedirect() async throws -> [String: String] {
        try await withCheckedThrowingContinuation { c in
            redirect.withLock { r in
                if let result = r.result { c.resume(returning: result) } else { r.waiter = c }
            }
        }
    }

    func deliver(_ query: [String: String]) {
        redirect.withLock { r in
            guard r.result == nil else { return }
            r.result = query
            r.waiter?.resume(returning: query)
            r.waiter = nil
        }
    }

    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    final class Box: @unchecked Sendable {
        // `@unchecked` is safe: set once before any connection is accepted.
        weak var owner: OAuthRedirectListener?
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // `@unchecked` is safe: NIO calls a handler only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let box: Box
        var uri = ""
        init(_ box: Box) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): uri = head.uri
            case .body: break
            case .end:
                var query: [String: String] = [:]
                if let q = URLComponents(string: "http://x" + uri)?.queryItems {
                    for item in q { query[item.name] = item.value ?? "" }
                }
                let ok = query["code"] != nil
                let page = ok ? "ytauto received the authorisation code. Go back to the terminal: it exchanges the code for tokens now and says there whether that worked." : "ytauto was not authorised: \(query["error"] ?? "no code")."
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                headers.add(name: "Content-Length", value: String(page.utf8.count))
                headers.add(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: ok ? .ok : .badRequest, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: page)))), promise: nil)
                let ctx = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in ctx.value.close(promise: nil) }
                if !query.isEmpty { box.owner?.deliver(query) }
            }
        }
    }
}
