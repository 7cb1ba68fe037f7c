import Foundation
import NIOHTTP1
import YTAutoCore
import YTAutoSupport

/// Narration from ElevenLabs' text-to-speech API.
///
/// - `POST {baseURL}/v1/text-to-speech/{voice_id}/with-timestamps?output_format=mp3_44100_128`
///   with `xi-api-key` and `{text, model_id}`; the reply is JSON: `audio_base64` (the MP3) and
///   `alignment` (`characters`, `character_start_times_seconds`, `character_end_times_seconds`,
///   for the text as sent). The MP3 is transcoded to the narration WAV (16-bit PCM, mono,
///   22,050 Hz) at `outputPath` and its duration measured with ffprobe; each word starts where
///   its first character does (``WordTiming/aligned(_:characters:starts:end:)``). A reply whose
///   alignment is missing or does not spell the text still narrates, without word times (the
///   pipeline then estimates them); one with no decodable audio is a retryable `tts.bad_response`.
/// - `voiceMap` turns ytauto's voice ids (`en-deep`, `en-bright`, `en-calm`) into ElevenLabs
///   voice ids; an id not in the map is sent as it is, so a channel can name any ElevenLabs voice.
/// - Errors, read from `{"detail": {"status": …}}`: `quota_exceeded` and the character-limit
///   statuses are ``TTSQuotaExceededError`` (so ``FallbackTTS`` moves on); 429
///   (`too_many_concurrent_requests`, `system_busy`) is a retryable `tts.rate_limited` at
///   Retry-After; another 401 is `tts.unauthorized`; 5xx is retryable.
/// - `usage` gets `("elevenlabs", "characters", text.count)` after each success: the unit
///   ElevenLabs bills.
public struct ElevenLabsTTS: TTSEngine {
    public let baseURL: String
    private let apiKey: String
    private let tools: ToolRunner
    public let voiceMap: [String: String]
    public let modelID: String
    private let usage: UsageReport?
    private let http: HTTP

    /// Premade ElevenLabs voices for ytauto's voice ids: Adam, Rachel and Sarah.
    public static let defaultVoices = [
        "en-deep": "pNInz6obpgDQGcFmaJgB",
        "en-bright": "21m00Tcm4TlvDq8ikWAM",
        "en-calm": "EXAVITQu4vr4xnJBo3ER",
    ]

    /// - Parameters:
    ///   - timeout: for the whole request, connecting included (a refused connection is retried
    ///     with backoff until ``HTTP/client``'s 10 s connect timeout or this one, whichever ends first).
    public init(
        baseURL: String = "https://api.elevenlabs.io", apiKey: String, tools: ToolRunner,
        voiceMap: [String: String] = ElevenLabsTTS.defaultVoices, modelID: String = "eleven_multilingual_v2",
        usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
        timeout: Duration = .seconds(180)
    ) {
        self.http = HTTP(family: .tts, timeout: timeout)
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.apiKey = apiKey
        self.tools = tools
        self.voiceMap = voiceMap
        self.modelID = modelID
        self.usage = usage
    }

    private var label: String { "ElevenLabs (\(ProviderSupport.host(baseURL)))" }

    /// The ElevenLabs voice id for a ytauto voice id.
    public func providerVoice(_ voiceID: String) -> String { voiceMap[voiceID] ?? voiceID }

    public func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        let voice = providerVoice(voiceID)
        let path = voice.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? voice
        let url = baseURL + "/v1/text-to-speech/\(path)/with-timestamps?output_format=mp3_44100_128"
        let body = try jsonBody(["text": text, "model_id": modelID])
        let headers = [("xi-api-key", apiKey), ("Content-Type", "application/json"), ("Accept", "application/json")]
        let reply = try await http.send(.POST, url, headers: headers, body: body)
        guard (200..<300).contains(reply.status) else { throw error(for: reply) }
        guard let timed = try? JSONDecoder().decode(Timestamped.self, from: reply.body),
              let audio = Data(base64Encoded: timed.audio_base64, options: .ignoreUnknownCharacters) else {
            throw ProviderError(family: .tts, reason: "bad_response",
                                message: "\(label): HTTP \(reply.status): the reply is not the JSON of audio and timestamps: "
                                    + ProviderSupport.errorText(reply, key: apiKey), isRetryable: true)
        }
        var segment = try await ProviderSupport.narration(
            audio, ext: "mp3", text: text, voiceID: voiceID, outputPath: outputPath, tools: tools, what: label)
        if let a = timed.alignment {
            segment.words = WordTiming.aligned(text, characters: a.characters, starts: a.character_start_times_seconds, end: segment.duration)
        }
        await usage?("elevenlabs", "characters", text.count)
        return segment
    }

    /// The `with-timestamps` reply (the fields ytauto reads; `normalized_alignment` is for the
    /// text as ElevenLabs normalised it, which the captions do not show).
    struct Timestamped: Decodable {
        struct Alignment: Decodable {
            var characters: [String]
            var character_start_times_seconds: [Double]
            var character_end_times_seconds: [Double]
        }
        var audio_base64: String
        var alignment: Alignment?
    }

    /// Statuses that mean the account's characters, or this request's allowance, are used up.
    static func isQuota(_ status: String?) -> Bool {
        guard let s = status?.lowercased() else { return false }
        return s == "quota_exceeded" || s.contains("character_limit") || s == "payment_required" || s == "insufficient_credits"
    }

    func error(for reply: HTTP.Reply) -> any Error {
        let status = ProviderSupport.detailStatus(reply)
        let what = "\(label): HTTP \(reply.status): \(ProviderSupport.errorText(reply, key: apiKey))"
        if reply.status != 429, reply.status < 500, Self.isQuota(status) {
            return TTSQuotaExceededError(message: what, retryAt: reply.retryAfter())
        }
        switch reply.status {
        case 429:
            return ProviderError(family: .tts, reason: "rate_limited", message: what, isRetryable: true, retryAt: reply.retryAfter())
        case 401, 403:
            return ProviderError(family: .tts, reason: "unauthorized", message: "\(what) — check ELEVENLABS_API_KEY", isRetryable: false)
        default:
            return ProviderSupport.unexpected(http, reply, during: label, key: apiKey)
        }
    }
}
