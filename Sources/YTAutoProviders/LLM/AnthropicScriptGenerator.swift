import Foundation
import NIOHTTP1
import YTAutoCore

/// Scripts from Anthropic's Messages API.
///
/// - `POST {baseURL}/v1/messages` (`baseURL` is `https://api.anthropic.com`) with `x-api-key`
///   and `anthropic-version: 2023-06-01`. `max_tokens` is sized from the channel's longest
///   script (about two tokens a word plus room for the JSON), between 1,024 and 8,192.
/// - The text is the first content block of type `text`. Claude has no JSON mode, so the outermost
///   `{…}` is taken from it: prose or ``` fences around the object are ignored. Failed
///   validation and unparseable answers are re-asked up to `maxReasks` times (see ``ScriptConversation``).
/// - Errors: `stop_reason: refusal` is ``LLMContentFilterError``; 429 (`rate_limit_error`) is
///   ``LLMRateLimitError`` at `retry-after`; 529 (`overloaded_error`) and 5xx are retryable;
///   401/403 are `llm.unauthorized`; other 4xx (`invalid_request_error`) are not retryable, and
///   a 400 about the credit balance is `llm.quota`.
/// - `usage` gets `("anthropic", "tokens", input_tokens + output_tokens)` for every answer.
public struct AnthropicScriptGenerator: ScriptGenerator {
    public let baseURL: String
    public let model: String
    private let apiKey: String
    private let validate: @Sendable (Script, ChannelConfig) throws -> Void
    public let maxReasks: Int
    /// The narrating voice's speed, to turn the channel's duration range into a word count.
    public let wordsPerSecond: Double
    private let usage: UsageReport?
    private let http: HTTP

    public static let apiVersion = "2023-06-01"

    /// - Parameters:
    ///   - validate: throws ``ScriptValidationError`` for a script to re-ask (``ScriptValidator`` fits).
    ///   - wordsPerSecond: the narrating voice's speed; the prompt asks for the matching word count.
    ///   - timeout: for the whole request, connecting included (a refused connection is retried
    ///     with backoff until ``HTTP/client``'s 10 s connect timeout or this one, whichever ends first).
    public init(
        baseURL: String = "https://api.anthropic.com", model: String = "claude-sonnet-4-5", apiKey: String,
        validate: @escaping @Sendable (Script, ChannelConfig) throws -> Void, maxReasks: Int = 2,
        wordsPerSecond: Double = 2.5,
        usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
        timeout: Duration = .seconds(300)
    ) {
        self.http = HTTP(family: .llm, timeout: timeout)
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.model = model
        self.apiKey = apiKey
        self.validate = validate
        self.maxReasks = max(0, maxReasks)
        self.wordsPerSecond = wordsPerSecond
        self.usage = usage
    }

    private var label: String { "Anthropic (\(model) at \(ProviderSupport.host(baseURL)))" }

    public func generate(topic: String, channel: ChannelConfig) async throws -> Script {
        let words = ScriptPrompt.words(for: channel, wordsPerSecond: wordsPerSecond)
        let maxTokens = min(8192, max(1024, words.max * 2 + 512))
        return try await ScriptConversation.run(
            topic: topic, channel: channel, wordsPerSecond: wordsPerSecond, maxReasks: maxReasks, provider: label,
            validate: validate, ask: { try await complete($0, maxTokens: maxTokens) })
    }

    /// One message: the answer's text.
    func complete(_ turns: [ChatTurn], maxTokens: Int) async throws -> String {
        let body = try jsonBody([
            "model": model, "max_tokens": maxTokens, "system": ScriptPrompt.system,
            "messages": turns.map { ["role": $0.role.rawValue, "content": $0.content] },
        ])
        let headers = [
            ("x-api-key", apiKey), ("anthropic-version", Self.apiVersion),
            ("content-type", "application/json"), ("accept", "application/json"),
        ]
        let reply = try await http.send(.POST, baseURL + "/v1/messages", headers: headers, body: body)
        guard (200..<300).contains(reply.status) else { throw error(for: reply) }

        let json = try ProviderSupport.json(reply, family: .llm, what: label)
        if let u = json["usage"] as? [String: Any] {
            let total = (u["input_tokens"] as? Int ?? 0) + (u["output_tokens"] as? Int ?? 0)
            if total > 0 { await usage?("anthropic", "tokens", total) }
        }
        if json["stop_reason"] as? String == "refusal" {
            throw LLMContentFilterError(message: "\(label) refused the prompt (stop_reason refusal)")
        }
        let blocks = json["content"] as? [[String: Any]] ?? []
        guard let text = blocks.first(where: { $0["type"] as? String == "text" })?["text"] as? String else {
            throw ProviderError(family: .llm, reason: "bad_response", message: "\(label): HTTP \(reply.status) without a text content block",
                                isRetryable: true)
        }
        return text
    }

    func error(for reply: HTTP.Reply) -> any Error {
        let text = ProviderSupport.errorText(reply, key: apiKey)
        let type = ProviderSupport.errorField(reply, "type")
        let what = "\(label): HTTP \(reply.status): \(text)"
        switch reply.status {
        case 429:
            return LLMRateLimitError(message: what, retryAt: reply.retryAfter())
        case 529:
            return ProviderError(family: .llm, reason: "overloaded", message: what, isRetryable: true, retryAt: reply.retryAfter())
        case 401, 403:
            return ProviderError(family: .llm, reason: "unauthorized", message: "\(what) — check ANTHROPIC_API_KEY", isRetryable: false)
        case 400 where type == "invalid_request_error" && text.lowercased().contains("credit balance"):
            return ProviderError(family: .llm, reason: "quota", message: "\(what) — retrying will not help until the account has credit",
                                 isRetryable: false)
        default:
            return ProviderSupport.unexpected(http, reply, during: label, key: apiKey)
        }
    }
}
