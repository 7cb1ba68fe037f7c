import Foundation
import NIOHTTP1
import YTAutoCore

/// Scripts from any server that speaks OpenAI's chat completions: OpenAI, Ollama, vLLM, llama.cpp.
///
/// - `POST {baseURL}/chat/completions` with a system prompt, the user prompt and
///   `response_format: json_object`; `baseURL` includes the version (`https://api.openai.com/v1`,
///   `http://localhost:11434/v1`). The key is sent as a bearer token only when one is given.
/// - The answer's `choices[0].message.content` is parsed as `{title, hook, body, cta}`. An answer
///   that fails `validate`, or does not parse, is re-asked with the problems listed, up to
///   `maxReasks` times (see ``ScriptConversation``).
/// - Errors: 429 is ``LLMRateLimitError`` at Retry-After (or OpenAI's `x-ratelimit-reset-*`),
///   except `insufficient_quota`, which waiting does not fix: `llm.quota`, not retryable. A
///   `content_filter` finish, a refusal, or a 400 `content_policy_violation` is
///   ``LLMContentFilterError``. 401/403 are `llm.unauthorized`. 5xx and network failures are retryable.
/// - `usage` gets `("openai", "tokens", total_tokens)` for every answer, re-asks included.
public struct OpenAIChatScriptGenerator: ScriptGenerator {
    public let baseURL: String
    public let model: String
    private let apiKey: String?
    private let validate: @Sendable (Script, ChannelConfig) throws -> Void
    public let maxReasks: Int
    /// The narrating voice's speed, to turn the channel's duration range into a word count.
    public let wordsPerSecond: Double
    private let usage: UsageReport?
    private let http: HTTP

    /// - Parameters:
    ///   - apiKey: sent as `Authorization: Bearer`; `nil` for local servers that need none.
    ///   - validate: throws ``ScriptValidationError`` for a script to re-ask (``ScriptValidator`` fits).
    ///   - wordsPerSecond: the narrating voice's speed; the prompt asks for the matching word count.
    ///   - timeout: for the whole request, connecting included (a refused connection is retried
    ///     with backoff until ``HTTP/client``'s 10 s connect timeout or this one, whichever ends first).
    public init(
        baseURL: String = "https://api.openai.com/v1", model: String = "gpt-4o-mini", apiKey: String? = nil,
        validate: @escaping @Sendable (Script, ChannelConfig) throws -> Void, maxReasks: Int = 2,
        wordsPerSecond: Double = 2.5,
        usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
        timeout: Duration = .seconds(300)
    ) {
        self.http = HTTP(family: .llm, timeout: timeout)
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.model = model
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.validate = validate
        self.maxReasks = max(0, maxReasks)
        self.wordsPerSecond = wordsPerSecond
        self.usage = usage
    }

    private var label: String { "OpenAI-compatible chat (\(model) at \(ProviderSupport.host(baseURL)))" }

    public func generate(topic: String, channel: ChannelConfig) async throws -> Script {
        try await ScriptConversation.run(
            topic: topic, channel: channel, wordsPerSecond: wordsPerSecond, maxReasks: maxReasks, provider: label,
            validate: validate, ask: complete)
    }

    /// One chat completion: the answer's text.
    func complete(_ turns: [ChatTurn]) async throws -> String {
        let messages = [["role": "system", "content": ScriptPrompt.system]] + turns.map { ["role": $0.role.rawValue, "content": $0.content] }
        let body = try jsonBody(["model": model, "messages": messages, "response_format": ["type": "json_object"]])
        var headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey)")) }
        let reply = try await http.send(.POST, baseURL + "/chat/completions", headers: headers, body: body)
        guard (200..<300).contains(reply.status) else { throw error(for: reply) }

        let json = try ProviderSupport.json(reply, family: .llm, what: label)
        if let u = json["usage"] as? [String: Any] {
            let total = (u["total_tokens"] as? Int) ?? ((u["prompt_tokens"] as? Int ?? 0) + (u["completion_tokens"] as? Int ?? 0))
            if total > 0 { await usage?("openai", "tokens", total) }
        }
        guard let choice = (json["choices"] as? [[String: Any]])?.first, let message = choice["message"] as? [String: Any] else {
            throw ProviderError(family: .llm, reason: "bad_response", message: "\(label): HTTP \(reply.status) without choices[0].message", isRetryable: true)
        }
        if let refusal = message["refusal"] as? String {
            throw LLMContentFilterError(message: "\(label) refused the prompt: \(refusal)")
        }
        if choice["finish_reason"] as? String == "content_filter" {
            throw LLMContentFilterError(message: "\(label) stopped the answer with its content filter (finish_reason content_filter)")
        }
        guard let content = message["content"] as? String else {
            throw ProviderError(family: .llm, reason: "bad_response", message: "\(label): HTTP \(reply.status) without message content", isRetryable: true)
        }
        return content
    }

    func error(for reply: HTTP.Reply) -> any Error {
        let text = ProviderSupport.errorText(reply, key: apiKey)
        let code = ProviderSupport.errorField(reply, "code")
        let what = "\(label): HTTP \(reply.status): \(text)"
        switch reply.status {
        case 429 where code == "insufficient_quota":
            return ProviderError(family: .llm, reason: "quota", message: "\(what) — the account is out of credit; retrying will not help until it is topped up",
                                 isRetryable: false)
        case 429:
            return LLMRateLimitError(message: what, retryAt: reply.retryAfter() ?? Self.rateLimitReset(reply))
        case 400 where code == "content_policy_violation" || code == "content_filter":
            return LLMContentFilterError(message: what)
        case 401, 403:
            return ProviderError(family: .llm, reason: "unauthorized", message: "\(what) — check OPENAI_API_KEY", isRetryable: false)
        default:
            return ProviderSupport.unexpected(http, reply, during: label, key: apiKey)
        }
    }

    /// OpenAI's `x-ratelimit-reset-requests`/`-tokens` (`1s`, `6m0s`, `20ms`) as an instant, for a
    /// 429 without Retry-After: the reset of the limit that ran out (`x-ratelimit-remaining-*` at 0),
    /// since the other one's reset (often minutes for tokens) is not what the request waits for;
    /// the later of the two when the headers do not say which ran out.
    static func rateLimitReset(_ reply: HTTP.Reply, now: Date = Date()) -> Date? {
        let kinds = ["requests", "tokens"]
        func reset(_ kind: String) -> Double? { reply.header("x-ratelimit-reset-\(kind)").flatMap(parseGoDuration) }
        func ranOut(_ kind: String) -> Bool {
            reply.header("x-ratelimit-remaining-\(kind)").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { $0 <= 0 } ?? false
        }
        let spent = kinds.filter(ranOut).compactMap(reset)
        let waits = spent.isEmpty ? kinds.compactMap(reset) : spent
        return waits.max().map { now.addingTimeInterval($0) }
    }

    /// A Go-style duration such as `1h2m3.5s` or `250ms`, in seconds.
    static func parseGoDuration(_ text: String) -> Double? {
        var total = 0.0, number = "", i = text.startIndex
        var sawUnit = false
        while i < text.endIndex {
            let c = text[i]
            if c.isNumber || c == "." { number.append(c); i = text.index(after: i); continue }
            guard let n = Double(number) else { return nil }
            let rest = text[i...]
            if rest.hasPrefix("ms") { total += n / 1000; i = text.index(i, offsetBy: 2) }
            else if c == "h" { total += n * 3600; i = text.index(after: i) }
            else if c == "m" { total += n * 60; i = text.index(after: i) }
            else if c == "s" { total += n; i = text.index(after: i) }
            else { return nil }
            number = ""
            sawUnit = true
        }
        return sawUnit && number.isEmpty ? total : nil
    }
}
