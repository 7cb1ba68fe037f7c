import Foundation
import NIOHTTP1
import YTAutoCore
import YTAutoSupport

/// Narration from OpenAI's speech endpoint (or a server that copies it).
///
/// - `POST {baseURL}/audio/speech` with `{model, input, voice, response_format: "wav"}`;
///   `baseURL` includes the version (`https://api.openai.com/v1`). The WAV (24 kHz from OpenAI)
///   is transcoded to the narration format at `outputPath` and measured with ffprobe.
/// - `voiceMap` turns ytauto's voice ids into OpenAI voices; other ids are sent as they are.
/// - Errors: 429 `insufficient_quota` is ``TTSQuotaExceededError`` (so ``FallbackTTS`` moves on);
///   another 429 is a retryable `tts.rate_limited` at Retry-After; 401/403 are `tts.unauthorized`;
///   5xx is retryable.
/// - `usage` gets `("openai", "characters", text.count)` after each success.
public struct OpenAISpeechTTS: TTSEngine {
    public let baseURL: String
    private let apiKey: String?
    public let model: String
    public let voiceMap: [String: String]
    private let tools: ToolRunner
    private let usage: UsageReport?
    private let http: HTTP

    /// OpenAI voices for ytauto's voice ids.
    public static let defaultVoices = ["en-deep": "onyx", "en-bright": "nova", "en-calm": "fable"]

    /// - Parameters:
    ///   - apiKey: sent as `Authorization: Bearer`; `nil` for local servers that need none.
    ///   - timeout: for the whole request, connecting included (a refused connection is retried
    ///     with backoff until ``HTTP/client``'s 10 s connect timeout or this one, whichever ends first).
    public init(
        baseURL: String = "https://api.openai.com/v1", apiKey: String?, model: String = "tts-1",
        voiceMap: [String: String] = OpenAISpeechTTS.defaultVoices, tools: ToolRunner,
        usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
        timeout: Duration = .seconds(180)
    ) {
        self.http = HTTP(family: .tts, timeout: timeout)
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.model = model
        self.voiceMap = voiceMap
        self.tools = tools
        self.usage = usage
    }

    private var label: String { "OpenAI speech (\(model) at \(ProviderSupport.host(baseURL)))" }

    public func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        let body = try jsonBody(["model": model, "input": text, "voice": voiceMap[voiceID] ?? voiceID, "response_format": "wav"])
        var headers = [("Content-Type", "application/json"), ("Accept", "audio/wav")]
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey)")) }
        let reply = try await http.send(.POST, baseURL + "/audio/speech", headers: headers, body: body)
        guard (200..<300).contains(reply.status) else { throw error(for: reply) }
        let segment = try await ProviderSupport.narration(
            reply.body, ext: "wav", text: text, voiceID: voiceID, outputPath: outputPath, tools: tools, what: label)
        await usage?("openai", "characters", text.count)
        return segment
    }

    func error(for reply: HTTP.Reply) -> any Error {
        let what = "\(label): HTTP \(reply.status): \(ProviderSupport.errorText(reply, key: apiKey))"
        switch reply.status {
        case 429 where ProviderSupport.errorField(reply, "code") == "insufficient_quota":
            return TTSQuotaExceededError(message: what)
        case 429:
            return ProviderError(family: .tts, reason: "rate_limited", message: what, isRetryable: true,
                                 retryAt: reply.retryAfter() ?? OpenAIChatScriptGenerator.rateLimitReset(reply))
        case 401, 403:
            return ProviderError(family: .tts, reason: "unauthorized", message: "\(what) — check OPENAI_API_KEY", isRetryable: false)
        default:
            return ProviderSupport.unexpected(http, reply, during: label, key: apiKey)
        }
    }
}
