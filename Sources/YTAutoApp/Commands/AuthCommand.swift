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
            abstract: "Authorise ytauto with a provider.", subcommands: [YouTube.self])
        public init() {}

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
