import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoSupport

extension YTAutoCommand {
    /// `ytauto auth`: authorise providers that need a user's consent.
    public struct Auth: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            abstract: "Authorise ytauto with a provider, or let a person sign in to the web console.", subcommands: [YouTube.self, ConsoleUser.self])
        public init() {}

        /// `ytauto auth console-user NAME --role ROLE`: a web console user, its password stored as a
        /// bcrypt hash in the credentials file (mode 0600). See ``ConsoleUsers``.
        public struct ConsoleUser: AsyncParsableCommand {
            public static let configuration = CommandConfiguration(
                commandName: "console-user",
                abstract: "Add a web console user, change their password or role, or remove them (--remove).",
                discussion: """
                    The password is read from standard input (asked twice, unseen, on a terminal; the first line \
                    otherwise) and stored only as a bcrypt hash, as a console_user_NAME line of the credentials file \
                    (providers.credentials_file), which is written with mode 0600. A viewer reads every page, /api/ and \
                    /metrics; an operator also acts. With any user, ytauto web asks every request to sign in and may \
                    listen on any address. Restart ytauto web to apply a change.
                    """)

            @OptionGroup public var global: GlobalOptions
            @Argument(help: "The user's name: lower-case letters, digits, '-' or '_'.") public var name: String
            @Option(help: "viewer (reads) or operator (also acts).") public var role: String?
            @Flag(help: "Remove the user.") public var remove = false

            public init() {}

            public func validate() throws {
                do { _ = try ConsoleUsers.checkedName(name) } catch { throw ValidationError("\(error)") }
                if remove {
                    if role != nil { throw ValidationError("--remove takes no --role") }
                } else {
                    guard let role, ConsoleUsers.Role(rawValue: role) != nil else {
                        throw ValidationError("--role must be viewer or operator" + (role.map { ", not '\($0)'" } ?? ""))
                    }
                }
            }

            public func run() async throws {
                let config = try global.loadConfig()
                let path = URL(fileURLWithPath: config.providers.credentialsFile, relativeTo: global.configDirectory).standardizedFileURL.path
                var lines: [String] = []
                if FileManager.default.fileExists(atPath: path) {
                    do {
                        try Credentials.checkPrivate(path)
                        lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                    } catch {
                        throw CLIError("cannot read the credentials file \(path): \(error)")
                    }
                    if lines.last == "" { lines.removeLast() }
                }
                let key = "console_user_\(name)"
                let isThisUser: (String) -> Bool = { line in
                    guard let colon = line.firstIndex(of: ":") else { return false }
                    return line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == key
                }
                let existed = lines.contains(where: isThisUser)
                lines.removeAll(where: isThisUser)
                if remove {
                    guard existed else { throw CLIError("no console user \(name) in \(path)") }
                } else {
                    let password = try Self.readPassword()
                    lines.append("\(key): \(ConsoleUsers.line(role: ConsoleUsers.Role(rawValue: role!)!, password: password))")
                }
                do {
                    try Credentials.writePrivate(Data((lines.joined(separator: "\n") + "\n").utf8), to: path)
                } catch {
                    throw CLIError("\(error)")
                }
                print(remove ? "console user \(name) removed from \(path)"
                      : "console user \(name) \(existed ? "updated" : "added") (\(role!)) in \(path); restart ytauto web to apply")
            }

            /// At least 10 characters; on a terminal asked twice without echo.
            static func readPassword() throws -> String {
                let password: String
                if isatty(STDIN_FILENO) == 1 {
                    let first = try prompt("password for the console user: ")
                    guard try prompt("again: ") == first else { throw CLIError("the two passwords differ; nothing changed") }
                    password = first
                } else {
                    password = readLine(strippingNewline: true) ?? ""
                }
                guard password.count >= 10 else { throw CLIError("the password must have at least 10 characters; nothing changed") }
                guard password.count <= 72 else { throw CLIError("the password must have at most 72 characters (bcrypt reads no more); nothing changed") }
                return password
            }

            static func prompt(_ text: String) throws -> String {
                FileHandle.standardError.write(Data(text.utf8))
                var saved = termios()
                tcgetattr(STDIN_FILENO, &saved)
                var quiet = saved
                quiet.c_lflag &= ~tcflag_t(ECHO)
                tcsetattr(STDIN_FILENO, TCSANOW, &quiet)
                defer {
                    tcsetattr(STDIN_FILENO, TCSANOW, &saved)
                    FileHandle.standardError.write(Data("\n".utf8))
                }
                return readLine(strippingNewline: true) ?? ""
            }
        }

        /// `ytauto auth youtube`: the OAuth installed-app flow with a loopback redirect.
        public struct YouTube: AsyncParsableCommand {
            public static let configuration = CommandConfiguration(
                commandName: "youtube",
                abstract: "Grant ytauto upload access to a YouTube channel (OAuth 2.0, loopback redirect, PKCE).",
                discussion: """
                    Needs YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET (a Google Cloud "Desktop app" OAuth client) \
                    in the environment or the credentials file. Prints a URL to open in a browser; after consent \
                    the browser is sent back to 127.0.0.1, and the refresh token is stored in providers.youtube.token_file \
                    with mode 0600. Run it again when a job's error says the grant was revoked or expired \
                    (invalid_grant); an error that names the client id or secret (invalid_client) is fixed in the \
                    credentials instead.
                    """)

            @OptionGroup public var global: GlobalOptions
            @Option(help: "The loopback port for the redirect (0: any free port).") public var port = 0
            @Option(help: "Give up after this long: 5m, 30s.") public var timeout = "5m"

            public init() {}

            public func validate() throws {
                try OptionCheck.range(port, ConfigLimits.port, "--port")
                _ = try OptionCheck.duration(timeout, "--timeout", allowed: ConfigLimits.authTimeout)
            }

            public func run() async throws {
                let limit = try OptionCheck.duration(timeout, "--timeout", allowed: ConfigLimits.authTimeout)
                let config = try global.loadConfig()
                let credentials = try PipelineChoice.providerCredentials(config, global: global)
                let tools = try ToolRunner(tools: [])
                let store = try await global.openStore()
                let services = ProviderServices(tools: tools, config: config.providers, credentials: credentials, ledger: store,
                                                configDirectory: global.configDirectory)
                let oauth: YouTubeOAuth
                do { oauth = try services.youTubeOAuth() } catch let e as YouTubeAuthError { throw CLIError(e.message) }
                let listener = try OAuthRedirectListener(port: port)
                defer { listener.close() }
                let (verifier, challenge) = YouTubeOAuth.pkce()
                let state = UUID().uuidString
                let url = await oauth.authorizationURL(redirectURI: listener.redirectURI, state: state, challenge: challenge)
                print("Open this URL in a browser on this machine and allow access:\n\n  \(url)\n")
                print("waiting for the redirect to \(listener.redirectURI) …")
                fflush(nil)
                let query = try await withThrowingTaskGroup(of: [String: String]?.self) { group in
                    group.addTask { try await listener.waitForRedirect() }
                    group.addTask { try await Task.sleep(for: limit); return nil }
                    defer { group.cancelAll() }
                    return try await group.next() ?? nil
                }
                guard let query else { throw CLIError("no redirect arrived within \(timeout); nothing was stored") }
                if let error = query["error"] { throw CLIError("authorisation was refused (\(error)); nothing was stored") }
                guard query["state"] == state else { throw CLIError("the redirect's state does not match this request; nothing was stored") }
                guard let code = query["code"] else { throw CLIError("the redirect carried no code; nothing was stored") }
                do {
                    try await oauth.exchange(code: code, redirectURI: listener.redirectURI, verifier: verifier)
                } catch let e as YouTubeAuthError {
                    throw CLIError(e.message)
                }
                print("authorised; the refresh token is stored in \(config.providers.youtube.tokenFile) (mode 0600)")
            }
        }
    }
}
