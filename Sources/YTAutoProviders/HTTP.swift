import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import YTAutoCore

/// An HTTP exchange with a provider, on one AsyncHTTPClient for the process (``client``).
///
/// Errors that mean "the network failed" (refused, reset, timed out) become a retryable
/// ``ProviderError`` of the caller's family. Nothing here logs or reports request headers, so
/// a key sent in a header can never reach a message.
public struct HTTP: Sendable {
    public struct Reply: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: Data

        public func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }

        /// The provider's own error text, from the usual shapes of error bodies.
        public var errorText: String {
            if let j = json {
                if let e = j["error"] as? [String: Any] {
                    let parts = [e["type"], e["code"], e["status"], e["message"]].compactMap { $0 as? String }
                    if !parts.isEmpty { return parts.joined(separator: ": ") }
                }
                if let e = j["error"] as? String {
                    return [e, j["error_description"] as? String].compactMap { $0 }.joined(separator: ": ")
                }
                if let d = j["detail"] as? [String: Any] {
                    return [d["status"], d["message"]].compactMap { $0 as? String }.joined(separator: ": ")
                }
                if let d = j["detail"] as? String { return d }
            }
            return String(decoding: body.prefix(300), as: UTF8.self)
        }

        /// Retry-After as an instant: seconds or an HTTP date.
        public func retryAfter(now: Date = Date()) -> Date? {
            guard let v = header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
            if let s = Double(v) { return now.addingTimeInterval(s) }
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            return f.date(from: v)
        }
    }

    public let family: ProviderError.Family
    public let timeout: Duration

    /// The client of API calls (``send(_:_:headers:body:maxResponse:)``), with a connect timeout, so
    /// a stopped server (an Ollama that is down) fails in seconds instead of at the request's
    /// deadline. It follows no redirect: AsyncHTTPClient strips only `Authorization` and cookies
    /// when a redirect leaves the host, so `x-api-key` or `xi-api-key` would go to the other host.
    /// A redirect is an error naming where it points (``redirected(_:_:)``). It lives as long as
    /// the process.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10), read: .seconds(300))))

    /// The client of downloads (``download(_:to:maxBytes:)``), which carry no key: it follows
    /// redirects, as stock footage links go through CDNs.
    static let downloads = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: .seconds(300))))

    public init(family: ProviderError.Family, timeout: Duration = .seconds(120)) {
        self.family = family
        self.timeout = timeout
    }

    public func send(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil, maxResponse: Int = 64 << 20
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (k, v) in headers {
            // A key with a line break in it: refused here by name, as the client's own error would quote it.
            if v.hasControlCharacter {
                throw ProviderError(family: family, reason: "bad_header",
                                    message: "\(method.rawValue) \(Self.host(url)): the \(k) header has a control character in its value (a line break in a key?); nothing was sent",
                                    isRetryable: false)
            }
            request.headers.add(name: k, value: v)
        }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let reply = try await exchange(request, on: Self.client) { response in
            let buffer = try await response.body.collect(upTo: maxResponse)
            return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                         body: Data(buffer.readableBytesView))
        }
        if let error = redirected(reply, "\(method.rawValue) \(Self.host(url))") { throw error }
        return reply
    }

    /// A 3xx with a `Location`, which API calls do not follow (see ``client``). YouTube's
    /// "308 Resume Incomplete" has no `Location` and passes.
    func redirected(_ reply: Reply, _ what: String) -> ProviderError? {
        guard (300..<400).contains(reply.status), let location = reply.header("Location") else { return nil }
        let target = URL(string: location).flatMap { u in u.host.map { h in (u.scheme.map { $0 + "://" } ?? "") + h + (u.port.map { ":\($0)" } ?? "") } }
            ?? "a relative address"
        return ProviderError(family: family, reason: "redirected",
                             message: "\(what) answered HTTP \(reply.status), a redirect to \(target); ytauto does not follow a provider's redirects (its key would go along): set the provider's address to where it points",
                             isRetryable: false)
    }

    /// Fetches `url` into the file at `path` as it arrives (a clip is not held in memory), at
    /// most `maxBytes`. Returns the reply: for a non-2xx status, with its first bytes as the body
    /// and the file empty. Write to a temporary (``Files/atomically(_:_:)``) so that a cut-off
    /// download never stands under the final name.
    public func download(_ url: String, to path: String, maxBytes: Int = 1 << 30) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        return try await exchange(request, on: Self.downloads) { response in
            let headers = response.headers.map { ($0.name, $0.value) }
            guard (200..<300).contains(Int(response.status.code)) else {
                let buffer = try await response.body.collect(upTo: 64 << 10)
                return Reply(status: Int(response.status.code), headers: headers, body: Data(buffer.readableBytesView))
            }
            guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
                throw LocalFailure(error: CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]))
            }
            defer { try? file.close() }
            var written = 0
            for try await chunk in response.body {
                written += chunk.readableBytes
                guard written <= maxBytes else {
                    throw ProviderError(family: family, reason: "bad_response",
                                        message: "GET \(Self.host(url)): the file is larger than \(maxBytes >> 20) MiB", isRetryable: false)
                }
                do { try file.write(contentsOf: Data(chunk.readableBytesView)) } catch { throw LocalFailure(error: error) }
            }
            do { try file.synchronize() } catch { throw LocalFailure(error: error) }
            return Reply(status: Int(response.status.code), headers: headers, body: Data())
        }
    }

    static func host(_ url: String) -> String { URL(string: url)?.host ?? url }

    /// Sends `request` and reads its response with `read`. The network's failures (refused,
    /// reset, timed out) become this family's retryable errors naming the method and host; a
    /// ``ProviderError`` from `read` passes as it is, and a ``LocalFailure`` as the error it carries.
    private func exchange(
        _ request: HTTPClientRequest, on client: HTTPClient, read: (HTTPClientResponse) async throws -> Reply
    ) async throws -> Reply {
        let what = "\(request.method.rawValue) \(Self.host(request.url))"
        do {
            return try await read(try await client.execute(request, timeout: .seconds(Int64(timeout.seconds))))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ProviderError(family: family, reason: "timeout", message: "\(what) timed out", isRetryable: true)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as ProviderError {
            throw error
        } catch let failure as LocalFailure {
            // This host's fault (a full disk, a folder it cannot write), not the network's.
            throw failure.error
        } catch {
            throw ProviderError(family: family, reason: "network", message: "\(what) failed: \(Self.describe(error))", isRetryable: true)
        }
    }

    /// A download's error writing its own file, kept apart from the network's.
    private struct LocalFailure: Error { let error: any Error }

    /// An error of the network, for a message. AsyncHTTPClient's errors about header names or
    /// values quote them (a key among them), so those are named without their payload.
    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            let text = "\(e)"
            if let paren = text.firstIndex(of: "("), text.contains("Header") || text.contains("header") {
                return text[..<paren] + "(…)"
            }
            return text
        }
        return String(describing: type(of: error)) + ": " + "\(error)".prefix(200)
    }

    /// The error for a status the caller did not handle: 5xx and 408 are retryable, other 4xx are not.
    public func unexpected(_ reply: Reply, during what: String) -> ProviderError {
        let retryable = reply.status >= 500 || reply.status == 408 || reply.status == 429
        let reason = reply.status >= 500 ? "server_error" : (reply.status == 401 || reply.status == 403 ? "unauthorized" : "bad_request")
        return ProviderError(family: family, reason: reason, message: "\(what): HTTP \(reply.status): \(reply.errorText)",
                             isRetryable: retryable, retryAt: reply.retryAfter())
    }
}

extension Data {
    var utf8Text: String { String(decoding: self, as: UTF8.self) }
}

/// JSON encoding of a request body.
func jsonBody(_ object: [String: Any]) throws -> Data {
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
}
