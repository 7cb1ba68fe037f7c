import AsyncHTTPClient
import Foundation
import Testing
import YTAutoCore
@testable import YTAutoProviders
import YTAutoTestSupport
import YTAutoSupport

/// Keys stay with the provider they belong to: a key that would break its header is refused by
/// name before anything is sent, a network error never quotes a header, a redirect is not
/// followed with the key, and a credentials file saved with CR LF or a secret ending in a
/// newline keeps each key apart.
@Suite struct HTTPSecretsTests {
    static let secret = "sk-ant-api03-SECRET-0123456789"

    func anthropic(_ base: String, key: String) -> AnthropicScriptGenerator {
        AnthropicScriptGenerator(baseURL: base, model: "claude-sonnet-4-5", apiKey: key,
                                 validate: LLMProviderTests.validate, wordsPerSecond: LLMProviderTests.wordsPerSecond)
    }

    @Test func aKeyWithALineBreakIsRefusedByNameAndNeverSent() async throws {
        let requests = Locked<Int>(0)
        let server = try LoopbackServer { _ in
            requests.update { $0 += 1 }
            return .json(500, ["type": "error", "error": ["type": "api_error", "message": "unexpected"]])
        }
        defer { withExtendedLifetime(server) {} }
        await #expect {
            _ = try await anthropic(server.baseURL, key: Self.secret + "\r\nyoutube_client_secret: GOCSPX-OTHER")
                .generate(topic: "honey", channel: LLMProviderTests.facts)
        } throws: { error in
            let failure = JobFailure(error)
            let text = "\(failure)"
            return failure.code == "llm.bad_header" && !failure.isRetryable && text.contains("x-api-key")
                && !text.contains("SECRET") && !text.contains("GOCSPX")
        }
        #expect(requests.value == 0)
    }

    /// AsyncHTTPClient's own error for a bad header value quotes the value: it is named without it.
    @Test func aNetworkErrorAboutAHeaderIsNamedWithoutItsValue() {
        let text = HTTP.describe(HTTPClientError.invalidHeaderFieldValues(["Bearer " + Self.secret]))
        #expect(text.contains("invalidHeaderFieldValues") && !text.contains("SECRET"), "\(text)")
        #expect(HTTP.describe(HTTPClientError.connectTimeout).contains("connectTimeout"))
    }

    /// AsyncHTTPClient strips only `Authorization` and cookies on a redirect to another host, so
    /// `x-api-key` would follow: an API call does not follow, and says where it was sent.
    @Test func aRedirectIsNotFollowedWithTheKey() async throws {
        let elsewhere = Locked<[LoopbackRequest]>([])
        let other = try LoopbackServer { req in
            elsewhere.update { $0.append(req) }
            return .json(200, ["ok": true])
        }
        let server = try LoopbackServer { _ in
            .respond(status: 307, headers: [("Location", other.baseURL + "/v1/messages")])
        }
        defer { withExtendedLifetime((server, other)) {} }
        await #expect {
            _ = try await anthropic(server.baseURL, key: Self.secret).generate(topic: "honey", channel: LLMProviderTests.facts)
        } throws: { error in
            let failure = JobFailure(error)
            let text = "\(failure)"
            return failure.code == "llm.redirected" && !failure.isRetryable && text.contains("HTTP 307")
                && text.contains(other.baseURL) && !text.contains("SECRET")
        }
        #expect(elsewhere.value.isEmpty, "the other host got \(elsewhere.value.map { $0.headers })")
    }

    /// A download carries no key, and stock footage comes through CDNs that redirect: it follows.
    @Test func aDownloadFollowsARedirect() async throws {
        let clip = Data((0..<5000).map { UInt8($0 % 251) })
        let cdn = try LoopbackServer { _ in .respond(status: 200, headers: [("Content-Type", "video/mp4")], body: clip) }
        let server = try LoopbackServer { _ in .respond(status: 302, headers: [("Location", cdn.baseURL + "/clip.mp4")]) }
        defer { withExtendedLifetime((server, cdn)) {} }
        let dir = TempDir("ytauto-redirect")
        let path = dir.path("clip.mp4")
        let reply = try await HTTP(family: .image).download(server.baseURL + "/video-files/1", to: path)
        #expect(reply.status == 200 && FileManager.default.contents(atPath: path) == clip)
    }

    @Test func aCRLFFileAndASecretEndingInANewlineKeepEachKeyApart() throws {
        let dir = TempDir("ytauto-credentials")
        let file = dir.path("credentials.yaml")
        try "# keys\r\nopenai_api_key: sk-one\r\nanthropic_api_key: sk-ant-two\r\nyoutube_client_secret: GOCSPX-three\r\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let c = try Credentials.load(file: file, environment: ["PEXELS_API_KEY": "px-four\n"])
        #expect(c["OPENAI_API_KEY"] == "sk-one" && c["ANTHROPIC_API_KEY"] == "sk-ant-two")
        #expect(c["YOUTUBE_CLIENT_SECRET"] == "GOCSPX-three" && c["PEXELS_API_KEY"] == "px-four")

        // A control character inside a value is refused, naming the key and where, never the value.
        #expect { try Credentials.load(file: file, environment: ["ELEVENLABS_API_KEY": "el-\u{1B}five"]) } throws: {
            "\($0)".contains("ELEVENLABS_API_KEY") && "\($0)".contains("the environment") && !"\($0)".contains("five")
        }
        try "openai_api_key: sk-one\tsix\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        #expect { try Credentials.load(file: file, environment: [:]) } throws: {
            "\($0)".contains("openai_api_key") && "\($0)".contains("line 1") && !"\($0)".contains("six")
        }
    }
}
