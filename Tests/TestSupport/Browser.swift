import Foundation

/// Headless Chromium (Debian's `chromium`), driven over its DevTools protocol: a page is opened,
/// clicked and read as a person would, and every JavaScript error the page raised is kept.
///
/// The protocol runs over a WebSocket; the client here is a small one of its own (RFC 6455:
/// the opening handshake, masked client frames, fragmented and long server frames), on a
/// blocking socket driven from a thread of its own, never from Swift's cooperative threads.
public final class Browser: @unchecked Sendable {
    // `@unchecked` is safe: every use goes through `lock`.
    private let lock = NSLock()
    private let pid: pid_t
    private let folder: String
    private var socket: Int32 = -1
    private var nextID = 1
    /// Errors the page raised (uncaught exceptions, console errors, failed loads), in order.
    public private(set) var errors: [String] = []
    /// Dialogs the page opened (`confirm`), each accepted.
    public private(set) var dialogs: [String] = []

    /// The chromium binary, if installed.
    public static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Whether the browser tests run here: Chromium is installed (in CI always: a missing one fails them).
    public static var available: Bool { executable != nil || PostgresServer.requiredInCI }

    public init(width: Int = 1280, height: Int = 900) throws {
        guard let chromium = Self.executable else {
            throw BrowserError("Chromium is not installed (Debian's chromium package: bash .ci/deps installs it)")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ytauto-chromium-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let log = folder + "/stderr"
        FileManager.default.createFile(atPath: log, contents: nil)
        pid = try PostgresServer.spawn([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                        "--no-first-run", "--mute-audio", "--autoplay-policy=no-user-gesture-required",
                                        "--user-data-dir=\(folder)/profile", "--remote-debugging-port=0", "--window-size=\(width),\(height)",
                                        "about:blank"], output: "/dev/null", error: log)
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        var port: Int?
        let deadline = Date().addingTimeInterval(60)
        while port == nil, Date() < deadline {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: "ws://127.0.0.1:"), let end = text[r.upperBound...].firstIndex(of: "/") {
                port = Int(text[r.upperBound..<end])
            } else {
                usleep(50_000)
            }
        }
        guard let port else {
            kill(pid, SIGKILL)
            throw BrowserError("Chromium did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        }
        // The page's own target: its WebSocket address from /json/list.
        let list = try Self.httpGet(port: port, path: "/json/list")
        guard let targets = try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [[String: Any]],
              let page = targets.first(where: { $0["type"] as? String == "page" }),
              let ws = page["webSocketDebuggerUrl"] as? String, let path = URL(string: ws)?.path else {
            throw BrowserError("Chromium listed no page: \(list)")
        }
        socket = try Self.connect(port: port)
        try handshake(port: port, path: path)
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] { _ = try call(domain) }
    }

    deinit { close() }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if socket >= 0 { Foundation.close(socket); socket = -1 }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try? FileManager.default.removeItem(atPath: folder)
    }

    // MARK: - What a test does

    /// Opens `url` and waits until the page has loaded.
    public func open(_ url: String) throws {
        try evaluate("window.__ytautoOld = 1")
        _ = try call("Page.navigate", ["url": url])
        try waitForNewPage()
    }

    /// Clicks `selector` and waits for the page it leads to (a link, a form's submission).
    public func clickAndWait(_ selector: String) throws {
        try evaluate("window.__ytautoOld = 1")
        try click(selector)
        try waitForNewPage()
    }

    /// Waits until the window holds a new page (the old one was marked) and it has loaded.
    func waitForNewPage(timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? evaluate("window.__ytautoOld === undefined && document.readyState === 'complete'")) as? Bool == true { return }
            usleep(50_000)
        }
        throw BrowserError("no new page loaded in \(timeout) s (still \((try? evaluate("location.href")) ?? "?"))")
    }

    /// The value of a JavaScript expression (a promise is awaited).
    @discardableResult
    public func evaluate(_ expression: String) throws -> Any? {
        let reply = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true, "awaitPromise": true])
        if let exception = reply["exceptionDetails"] as? [String: Any] {
            throw BrowserError("\(expression): \((exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? "an exception")")
        }
        return (reply["result"] as? [String: Any])?["value"]
    }

    /// Clicks the element `selector` names, as a person would (a click event, so forms submit and
    /// `confirm` asks); a dialog it opens is accepted.
    public func click(_ selector: String) throws {
        let found = try evaluate("(() => { const e = document.querySelector(\(Self.quote(selector))); if (!e) return false; e.click(); return true })()")
        guard found as? Bool == true else { throw BrowserError("no element \(selector) on \(try evaluate("location.href") ?? "?")") }
    }

    /// Makes the window a phone's (390 × 844 CSS pixels, touch) or a desktop's again.
    public func phone(_ on: Bool) throws {
        if on {
            _ = try call("Emulation.setDeviceMetricsOverride", ["width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true])
        } else {
            _ = try call("Emulation.clearDeviceMetricsOverride")
        }
    }

    // MARK: - The protocol

    /// Sends a command and returns its result; events that come first are read on the way
    /// (errors kept, dialogs accepted).
    public func call(_ method: String, _ params: [String: Any] = [:], timeout: TimeInterval = 60) throws -> [String: Any] {
        lock.lock()
        defer { lock.unlock() }
        let id = nextID
        nextID += 1
        try send(["id": id, "method": method, "params": params])
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let message = try receive(until: deadline) else { break }
            if message["id"] as? Int == id {
                if let error = message["error"] as? [String: Any] { throw BrowserError("\(method): \(error["message"] ?? error)") }
                return message["result"] as? [String: Any] ?? [:]
            }
            try event(message)
        }
        throw BrowserError("\(method): no answer in \(timeout) s")
    }

    private func event(_ message: [String: Any]) throws {
        let params = message["params"] as? [String: Any] ?? [:]
        switch message["method"] as? String {
        case "Runtime.exceptionThrown":
            let details = params["exceptionDetails"] as? [String: Any]
            errors.append("exception: \((details?["exception"] as? [String: Any])?["description"] ?? details?["text"] ?? "?")")
        case "Runtime.consoleAPICalled" where params["type"] as? String == "error":
            errors.append("console.error: \(params["args"] ?? "")")
        case "Log.entryAdded":
            if let entry = params["entry"] as? [String: Any], entry["level"] as? String == "error" {
                errors.append("\(entry["source"] ?? "log"): \(entry["text"] ?? "") \(entry["url"] ?? "")")
            }
        case "Page.javascriptDialogOpening":
            dialogs.append(params["message"] as? String ?? "")
            let id = nextID
            nextID += 1
            try send(["id": id, "method": "Page.handleJavaScriptDialog", "params": ["accept": true]])
        default:
            break
        }
    }

    static func quote(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text]), as: UTF8.self).dropFirst().dropLast().description
    }

    // MARK: - A WebSocket client (RFC 6455)

    static func connect(port: Int) throws -> Int32 {
        let fd = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrowserError("socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { Foundation.close(fd); throw BrowserError("cannot connect to Chromium on port \(port): \(String(cString: strerror(errno)))") }
        return fd
    }

    static func httpGet(port: Int, path: String) throws -> String {
        let fd = try connect(port: port)
        defer { Foundation.close(fd) }
        try writeAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8))
        // Read to the end of the body its Content-Length gives (the server may keep the connection open).
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let split = data.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: data[..<split.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                if let length, data.count - split.upperBound >= length {
                    return String(decoding: data[split.upperBound..<(split.upperBound + length)], as: UTF8.self)
                }
            }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 1000) > 0 else { continue }
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        throw BrowserError("Chromium did not answer \(path) in full: \(String(decoding: data, as: UTF8.self))")
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw BrowserError("the connection to Chromium broke (\(String(cString: strerror(errno))))") }
            sent += n
        }
    }

    private var pending: [UInt8] = []

    private func handshake(port: Int, path: String) throws {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try Self.writeAll(socket, Array("""
            GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n
            """.utf8))
        while true {
            if let end = pending.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: pending[..<end.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<end.upperBound)
                guard head.hasPrefix("HTTP/1.1 101") else { throw BrowserError("Chromium refused the WebSocket: \(head)") }
                return
            }
            try fill(until: Date().addingTimeInterval(30))
        }
    }

    private func fill(until deadline: Date) throws {
        var p = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let wait = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
        guard poll(&p, 1, wait) > 0 else { throw BrowserError("Chromium sent nothing in time") }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = read(socket, &buffer, buffer.count)
        guard n > 0 else { throw BrowserError("Chromium closed the connection") }
        pending += buffer[0..<n]
    }

    private func send(_ object: [String: Any]) throws {
        let payload = [UInt8](try JSONSerialization.data(withJSONObject: object))
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65_536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xff)) }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try Self.writeAll(socket, frame)
    }

    /// The next whole message (continuation frames joined), or nil if it did not come in time.
    private func receive(until deadline: Date) throws -> [String: Any]? {
        var message: [UInt8] = []
        while true {
            // A frame's header: FIN and opcode, then the length (7 bits, or 16, or 64).
            while pending.count < 2 { try fill(until: deadline) }
            let fin = pending[0] & 0x80 != 0
            let opcode = pending[0] & 0x0f
            var length = Int(pending[1] & 0x7f)
            var header = 2
            if length == 126 {
                while pending.count < 4 { try fill(until: deadline) }
                length = Int(pending[2]) << 8 | Int(pending[3])
                header = 4
            } else if length == 127 {
                while pending.count < 10 { try fill(until: deadline) }
                length = pending[2..<10].reduce(0) { $0 << 8 | Int($1) }
                header = 10
            }
            while pending.count < header + length { try fill(until: deadline) }
            let payload = Array(pending[header..<(header + length)])
            pending.removeSubrange(..<(header + length))
            if opcode == 0x8 { throw BrowserError("Chromium closed the WebSocket") }
            if opcode == 0x9 || opcode == 0xA { continue }  // ping, pong
            message += payload
            if fin { break }
        }
        return try JSONSerialization.jsonObject(with: Data(message)) as? [String: Any]
    }
}

public struct BrowserError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
