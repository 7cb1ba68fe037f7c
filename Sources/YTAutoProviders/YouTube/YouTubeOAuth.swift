import Crypto
import Foundation
import NIOHTTP1
import YTAutoCore

/// OAuth 2.0 for the YouTube Data API, as an installed app: the loopback-redirect flow with
/// PKCE for `ytauto auth youtube`, and access tokens refreshed from the stored refresh token.
///
/// The token file (mode 0600) holds the refresh token and the current access token with its
/// expiry, so several worker processes share one access token. Tokens never reach logs, the
/// database or an error message.
public actor YouTubeOAuth {
    /// Uploading, confirming an upload, and (`youtube.force-ssl`, which `captions.insert` needs)
    /// adding the narration's captions track.
    public static let scopes = ["https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly",
                                captionsScope]
    public static let captionsScope = "https://www.googleapis.com/auth/youtube.force-ssl"

    let clientID: String
    let clientSecret: String
    let authURL: String
    let tokenURL: String
    let tokenFile: String
    let http = HTTP(family: .youtube, timeout: .seconds(30))
    let clock: @Sendable () -> Date

    struct TokenFile: Codable {
        var refreshToken: String
        var accessToken: String?
        var expiresAt: Date?
        var scope: String?
        enum CodingKeys: String, CodingKey {
            case refreshToken = "refresh_token", accessToken = "access_token", expiresAt = "expires_at", scope
        }
    }

    public init(clientID: String, clientSecret: String, authURL: String, tokenURL: String, tokenFile: String,
                clock: @escaping @Sendable () -> Date = Date.init) {
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.authURL = authURL
        self.tokenURL = tokenURL
        self.tokenFile = tokenFile
        self.clock = clock
    }

    // MARK: - Authorising (ytauto auth youtube)

    /// A PKCE verifier and its S256 challenge.
    public static func pkce() -> (verifier: String, challenge: String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let verifier = base64url(Data(bytes))
        let challenge = base64url(Data(SHA256.hash(data: Data(verifier.utf8))))
        return (verifier, challenge)
    }

    static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func form(_ fields: [(String, String)]) -> Data {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Data(fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
    }

    /// The URL the operator opens to grant access.
    public func authorizationURL(redirectURI: String, state: String, challenge: String) -> String {
        var c = URLComponents(string: authURL)!
        c.queryItems = [
            .init(name: "client_id", value: clientID), .init(name: "redirect_uri", value: redirectURI),
            .init(name: "response_type", value: "code"), .init(name: "scope", value: Self.scopes.joined(separator: " ")),
            .init(name: "access_type", value: "offline"), .init(name: "prompt", value: "consent"),
            .init(name: "state", value: state), .init(name: "code_challenge", value: challenge),
            .init(name: "code_challenge_method", value: "S256"),
        ]
        return c.string ?? authURL
    }

    /// Exchanges the code from the redirect for tokens and stores them (mode 0600).
    public func exchange(code: String, redirectURI: String, verifier: String) async throws {
        let reply = try await http.send(.POST, tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Self.form([
            ("code", code), ("client_id", clientID), ("client_secret", clientSecret), ("redirect_uri", redirectURI),
            ("grant_type", "authorization_code"), ("code_verifier", verifier),
        ]))
        guard reply.status == 200, let j = reply.json, let refresh = j["refresh_token"] as? String else {
            throw YouTubeAuthError(message: "the token endpoint refused the authorisation code: \(Self.replyText(reply, lacking: "refresh_token")); nothing was stored",
                                   remedy: Self.clientRefused(reply) ? .checkClient : .none)
        }
        let file = TokenFile(refreshToken: refresh, accessToken: j["access_token"] as? String,
                             expiresAt: (j["expires_in"] as? Double).map { clock().addingTimeInterval($0) }, scope: j["scope"] as? String)
        try save(file)
    }

    /// A token reply that did not give what was asked, for a message: a refusal's error fields,
    /// but of a 2xx reply (which carries tokens) only its field names, never its values.
    static func replyText(_ reply: HTTP.Reply, lacking field: String) -> String {
        guard (200..<300).contains(reply.status) else { return "HTTP \(reply.status): \(reply.errorText)" }
        let fields = reply.json.map { $0.keys.sorted().joined(separator: ", ") } ?? "not JSON"
        return "HTTP \(reply.status) without a \(field) (its fields: \(fields))"
    }

    /// Whether the token endpoint refused the client itself (RFC 6749 §5.2), not the grant.
    static func clientRefused(_ reply: HTTP.Reply) -> Bool {
        ["invalid_client", "unauthorized_client"].contains(reply.json?["error"] as? String ?? "")
    }

    // MARK: - Access tokens

    func load() throws -> TokenFile {
        guard FileManager.default.fileExists(atPath: tokenFile) else {
            throw YouTubeAuthError(message: "no YouTube authorisation at \(tokenFile)", remedy: .reauthorise)
        }
        do {
            try Credentials.checkPrivate(tokenFile)
        } catch let e as CredentialsError {
            throw YouTubeAuthError(message: e.description, remedy: .none)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let data = FileManager.default.contents(atPath: tokenFile), let file = try? decoder.decode(TokenFile.self, from: data) else {
            throw YouTubeAuthError(message: "the token file \(tokenFile) is unreadable")
        }
        return file
    }

    func save(_ file: TokenFile) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        try Credentials.writePrivate(try encoder.encode(file), to: tokenFile)
    }

    /// A valid access token: the stored one while it has a minute left, else a refreshed one.
    public func accessToken() async throws -> String {
        let file = try load()
        if let token = file.accessToken, let exp = file.expiresAt, exp > clock().addingTimeInterval(60) { return token }
        return try await refresh()
    }

    /// Refreshes the access token. A refusal is permanent until the operator acts, and says how:
    /// `invalid_client` / `unauthorized_client` (the client id or secret is wrong) → check the
    /// credentials; `invalid_grant` (revoked, expired) and any other refusal → `ytauto auth youtube`.
    @discardableResult
    public func refresh() async throws -> String {
        var file = try load()
        let reply = try await http.send(.POST, tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Self.form([
            ("client_id", clientID), ("client_secret", clientSecret), ("refresh_token", file.refreshToken), ("grant_type", "refresh_token"),
        ]))
        if reply.status == 400 || reply.status == 401 {
            let error = reply.json?["error"] as? String ?? ""
            throw YouTubeAuthError(
                message: "the token endpoint refused the refresh token (\(error.isEmpty ? "HTTP \(reply.status)" : error)): \(reply.errorText)",
                remedy: Self.clientRefused(reply) ? .checkClient : .reauthorise)
        }
        guard reply.status == 200, let token = reply.json?["access_token"] as? String else {
            if (200..<300).contains(reply.status) {
                throw ProviderError(family: .youtube, reason: "bad_response",
                                    message: "refreshing the YouTube access token: \(Self.replyText(reply, lacking: "access_token"))", isRetryable: true)
            }
            throw http.unexpected(reply, during: "refreshing the YouTube access token")
        }
        file.accessToken = token
        file.expiresAt = clock().addingTimeInterval(reply.json?["expires_in"] as? Double ?? 3600)
        if let rotated = reply.json?["refresh_token"] as? String { file.refreshToken = rotated }
        if let scope = reply.json?["scope"] as? String { file.scope = scope }
        try save(file)
        return token
    }

    /// The scopes the stored grant has, space-separated, as the token endpoint last told them
    /// (nil when it never did).
    public func grantedScope() -> String? { try? load().scope }
}
