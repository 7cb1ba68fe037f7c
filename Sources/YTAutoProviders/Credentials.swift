import Foundation
import YTAutoCore

/// A credential problem: a missing key, or a credentials file others can read.
public struct CredentialsError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ text: String) { description = text }
}

/// API keys and OAuth client secrets, from the environment or a credentials file.
///
/// - The environment wins: `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `ELEVENLABS_API_KEY`,
///   `PEXELS_API_KEY`, `PIXABAY_API_KEY`, `YOUTUBE_CLIENT_ID`, `YOUTUBE_CLIENT_SECRET`.
/// - The file (`credentials.yaml` beside the configuration, or `credentials_file:`) holds
///   `name: value` lines with the same names in lower case. It must be mode 0600 (or 0400):
///   a file that its group or others can read is refused.
/// - Values are never printed: ``description`` names which keys are present, not their values.
/// - A value is trimmed of surrounding spaces and line breaks (a secret file mounted into the
///   environment ends with a newline; a file saved on Windows ends its lines with CR LF). A
///   control character left inside a value is an error naming the key and where it came from,
///   never its value: sent in a header, it would be refused by the HTTP client, whose error
///   quotes the header.
public struct Credentials: Sendable, CustomStringConvertible {
    private let values: [String: String]
    /// The web console's users, from `console_user_NAME: ROLE HASH` lines (the file only; never
    /// the environment): by name, the line's value, read by the console (`ConsoleUsers`).
    public let consoleUsers: [String: String]
    /// The prefix of a console user's line, in upper case as the names are compared.
    public static let consoleUserPrefix = "CONSOLE_USER_"

    public static let names = ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ELEVENLABS_API_KEY", "PEXELS_API_KEY", "PIXABAY_API_KEY",
                                "YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"]

    public init(values: [String: String], consoleUsers: [String: String] = [:]) {
        self.values = values
        self.consoleUsers = consoleUsers
    }

    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Credentials {
        var values: [String: String] = [:]
        var users: [String: String] = [:]
        if let file, FileManager.default.fileExists(atPath: file) {
            try checkPrivate(file)
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw CredentialsError("cannot read the credentials file \(file): \(error.localizedDescription)")
            }
            // "\r\n" is one Character, so splitting on "\n" alone would keep a CR LF file one line.
            for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if line.isEmpty || line.hasPrefix("#") { continue }
                guard let colon = line.firstIndex(of: ":") else {
                    throw CredentialsError("credentials file \(file), line \(n + 1): expected 'name: value'")
                }
                let key = line[..<colon].trimmingCharacters(in: .whitespaces).uppercased()
                var value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if value.count >= 2, let f = value.first, f == value.last, f == "\"" || f == "'" { value = String(value.dropFirst().dropLast()) }
                try checkPrintable(value, key.lowercased(), from: "credentials file \(file), line \(n + 1)")
                if key.hasPrefix(consoleUserPrefix) {
                    users[String(key.dropFirst(consoleUserPrefix.count)).lowercased()] = value
                    continue
                }
                guard names.contains(key) else {
                    throw CredentialsError("credentials file \(file), line \(n + 1): unknown name '\(key.lowercased())'; known: \(names.map { $0.lowercased() }.joined(separator: ", ")), console_user_NAME")
                }
                values[key] = value
            }
        }
        for name in names {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty else { continue }
            try checkPrintable(v, name, from: "the environment")
            values[name] = v
        }
        return Credentials(values: values, consoleUsers: users)
    }

    /// Refuses a value with a control character in it, naming the key, never the value.
    static func checkPrintable(_ value: String, _ key: String, from place: String) throws {
        if value.hasControlCharacter {
            throw CredentialsError("\(key) in \(place) has a control character inside it (a line break or a tab?): a key or secret is one line of printable text")
        }
    }

    /// Refuses a file that anyone but its owner can read or write.
    public static func checkPrivate(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CredentialsError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        if st.st_mode & 0o077 != 0 {
            throw CredentialsError(String(format: "%@ is readable by others (mode %o); run: chmod 600 %@", path, Int(st.st_mode & 0o777), path))
        }
    }

    /// Writes a secret file with mode 0600 from the start (never briefly readable by others).
    public static func writePrivate(_ data: Data, to path: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let tmp = dir + "/.\(URL(fileURLWithPath: path).lastPathComponent).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CredentialsError("cannot create \(tmp): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let ok = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) == $0.count } && fsync(fd) == 0
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw CredentialsError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    public subscript(_ name: String) -> String? { values[name] }

    public func require(_ name: String, for what: String) throws -> String {
        guard let v = values[name], !v.isEmpty else {
            throw CredentialsError("\(what) needs \(name): set it in the environment or in the credentials file (mode 0600)")
        }
        return v
    }

    public var description: String {
        "credentials(" + Self.names.filter { values[$0] != nil }.joined(separator: ", ")
            + (consoleUsers.isEmpty ? "" : ", \(consoleUsers.count) console users") + ")"
    }
}

extension String {
    /// Whether a control character (a line break, a tab, an escape) is in it: never so in a key,
    /// a token or an HTTP header's value.
    var hasControlCharacter: Bool { unicodeScalars.contains { $0.properties.generalCategory == .control } }
}
