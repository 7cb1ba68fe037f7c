import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoTestSupport
import YTAutoSupport

/// The script generators against loopback servers that speak OpenAI's chat completions and
/// Anthropic's Messages API: request shape, parsing, the re-ask loop and every error mapping.
@Suite struct LLMProviderTests {
    static let key = "sk-test-9f8e7d6c5b4a39281706"
    static let anthropicKey = "sk-ant-api03-test-0123456789abcdef"
    static let wordsPerSecond = 2.5

    /// A facts channel whose 20–40 s fit 50–100 words at 2.5 words/s.
    static var facts: ChannelConfig {
        var c = ChannelConfig.defaults(for: .facts)
        c.durationRange = .init(min: 20, max: 40)
        return c
    }

    static var finance: ChannelConfig {
        var c = ChannelConfig.defaults(for: .finance)
        c.durationRange = .init(min: 20, max: 40)
        return c
    }

    static let validate: @Sendable (Script, ChannelConfig) throws -> Void = { script, channel in
        try ScriptValidator(wordsPerSecond: wordsPerSecond).validate(script, channel: channel)
    }

    /// A script answer as a model writes it: a body of `sentences` eight-word sentences.
    static func scriptJSON(sentences: Int, cta: String = "Follow for more facts like this.") -> String {
        let body = Array(repeating: "Honey stored in sealed jars can last for centuries.", count: sentences).joined(separator: " ")
        let object: [String: Any] = [
            "title": "Why Honey Never Spoils", "hook": "Archaeologists once found honey that was still perfectly edible.",
            "body": body, "cta": cta,
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: - OpenAI-compatible chat

    static func completion(_ content: String?, finish: String = "stop", refusal: String? = nil, total: Int = 321) -> LoopbackReply {
        .json(200, [
            "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "created": 1_741_569_952,
            "model": "gpt-4o-mini-2024-07-18", "system_fingerprint": "fp_44709d6fcb",
            "choices": [[
                "index": 0, "logprobs": NSNull(), "finish_reason": finish,
                "message": ["role": "assistant", "content": content.map { $0 as Any } ?? NSNull(),
                            "refusal": refusal.map { $0 as Any } ?? NSNull()],
            ]],
            "usage": ["prompt_tokens": total - 121, "completion_tokens": 121, "total_tokens": total],
        ])
    }

    static func openAIError(_ status: Int, type: String, code: String?, message: String, headers: [(String, String)] = []) -> LoopbackReply {
        .json(status, ["error": ["message": message, "type": type, "param": NSNull(), "code": code.map { $0 as Any } ?? NSNull()]], headers: headers)
    }

    func openAI(_ server: LoopbackServer, key: String? = LLMProviderTests.key, maxReasks: Int = 2, usage: Locked<[String]>? = nil) -> OpenAIChatScriptGenerator {
        OpenAIChatScriptGenerator(
            baseURL: server.baseURL + "/v1/", model: "gpt-4o-mini", apiKey: key, validate: Self.validate, maxReasks: maxReasks,
            wordsPerSecond: Self.wordsPerSecond, usage: recorder(usage))
    }

    /// The model is asked for a footage search per sentence; its list is kept with the script,
    /// and a script without one is still a script.
    @Test func theVisualSearchesAreAskedForAndKept() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        var object = try #require(try JSONSerialization.jsonObject(with: Data(Self.scriptJSON(sentences: 8).utf8)) as? [String: Any])
        object["visuals"] = ["old honey jar", " ", "bees on honeycomb", 7]
        let withVisuals = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let server = try LoopbackServer { req in
            let n = requests.update { r -> Int in r.append(req); return r.count }
            return Self.completion(n == 1 ? withVisuals : Self.scriptJSON(sentences: 8))
        }
        defer { withExtendedLifetime(server) {} }
        let script = try await openAI(server).generate(topic: "how honey never spoils", channel: Self.facts)
        #expect(script.visuals == ["old honey jar", "bees on honeycomb"], "blank and non-text entries are left out")
        let system = try #require((requests.value.first?.json?["messages"] as? [[String: String]])?.first?["content"])
        #expect(system.contains("\"visuals\"") && system.contains("stock-footage search"))
        let plain = try await openAI(server).generate(topic: "how honey never spoils", channel: Self.facts)
        #expect(plain.visuals == nil && plain.title == "Why Honey Never Spoils")
        // Two visuals for ten sentences: each sentence gets the one at its place in proportion.
        #expect((0..<10).map { script.visual(forSentence: $0, of: 10) } == Array(repeating: "old honey jar", count: 5) + Array(repeating: "bees on honeycomb", count: 5))
        #expect(script.visual(forSentence: 10, of: 10) == nil)
    }

    @Test func openAISendsTheChannelsPromptAndParsesTheScript() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            return Self.completion(Self.scriptJSON(sentences: 8), total: 512)
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let script = try await openAI(server, usage: usage).generate(topic: "how honey never spoils", channel: Self.facts)

        #expect(script.title == "Why Honey Never Spoils")
        #expect(script.hook.hasPrefix("Archaeologists"))
        #expect(script.body.hasPrefix("Honey stored in sealed jars"))
        #expect(script.cta == "Follow for more facts like this.")
        #expect(script.channel == .facts)
        #expect(usage.value == ["openai tokens 512"])

        let req = try #require(requests.value.first)
        #expect(requests.value.count == 1)
        #expect(req.method == "POST")
        #expect(req.path == "/v1/chat/completions")
        #expect(req.header("Authorization") == "Bearer \(Self.key)")
        #expect(req.header("Content-Type") == "application/json")
        let json = try #require(req.json)
        #expect(json["model"] as? String == "gpt-4o-mini")
        #expect((json["response_format"] as? [String: Any])?["type"] as? String == "json_object")
        let messages = try #require(json["messages"] as? [[String: String]])
        #expect(messages.map { $0["role"] } == ["system", "user"])
        #expect(messages[0]["content"]!.contains("\"title\""))
        let prompt = messages[1]["content"]!
        #expect(prompt.contains("how honey never spoils"))
        #expect(prompt.contains(Self.facts.style))
        #expect(prompt.contains("20-40 seconds"))
        #expect(prompt.contains("50-100 words"))
        #expect(prompt.contains("\"medical advice\""))
        #expect(!prompt.contains("not financial advice"))
    }

    @Test func openAIReasksWithTheValidatorsIssuesUntilTheScriptPasses() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        let disclaimer = try #require(ChannelType.finance.disclaimer)
        let first = Self.scriptJSON(sentences: 8, cta: "Subscribe for calm money explainers.")
        let server = try LoopbackServer { req in
            let n = requests.update { $0.append(req); return $0.count }
            // First without the disclaimer the finance channel must carry; then with it.
            return Self.completion(n == 1 ? first : Self.scriptJSON(sentences: 8, cta: "Subscribe for more. " + disclaimer))
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let script = try await openAI(server, usage: usage).generate(topic: "what an index fund is", channel: Self.finance)

        #expect(script.cta.hasSuffix(disclaimer))
        #expect(requests.value.count == 2)
        #expect(usage.value.count == 2)
        let firstPrompt = try #require((requests.value[0].json?["messages"] as? [[String: String]])?.last?["content"])
        #expect(firstPrompt.contains("word for word: \"\(disclaimer)\""))
        #expect(firstPrompt.contains("\"guaranteed returns\""))

        let messages = try #require(requests.value[1].json?["messages"] as? [[String: String]])
        #expect(messages.map { $0["role"] } == ["system", "user", "assistant", "user"])
        #expect(messages[2]["content"] == first)
        #expect(messages[3]["content"]!.contains("the finance disclaimer is missing"))
    }

    @Test func openAIGivesUpAfterMaxReasksWithTheLastValidationError() async throws {
        let count = Locked(0)
        let server = try LoopbackServer { _ in
            count.update { $0 += 1 }
            return Self.completion(Self.scriptJSON(sentences: 1))  // about 20 words: far too short
        }
        defer { withExtendedLifetime(server) {} }
        let error = await thrown { try await openAI(server, maxReasks: 1).generate(topic: "the loudest sound", channel: Self.facts) }
        let invalid = try #require(error as? ScriptValidationError)
        #expect(invalid.issues.contains { $0.contains("the channel needs 20-40 s") })
        #expect(count.value == 2)
    }

    @Test func openAIReasksAnUnparseableAnswerThenReportsABadResponse() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            let n = requests.update { $0.append(req); return $0.count }
            return Self.completion(n == 1 ? "Sure! Here is a script about honey, told in three parts." : Self.scriptJSON(sentences: 8))
        }
        defer { withExtendedLifetime(server) {} }
        let script = try await openAI(server).generate(topic: "honey", channel: Self.facts)
        #expect(script.title == "Why Honey Never Spoils")
        let reask = try #require((requests.value.last?.json?["messages"] as? [[String: String]])?.last?["content"])
        #expect(reask.contains("could not be used: it contains no JSON object"))

        let garbage = try LoopbackServer { _ in Self.completion("{\"title\": \"Half a scr") }
        defer { withExtendedLifetime(garbage) {} }
        let error = await thrown { try await openAI(garbage, maxReasks: 0).generate(topic: "honey", channel: Self.facts) }
        let e = try #require(error as? ProviderError)
        #expect(e.code == "llm.bad_response")
        #expect(e.isRetryable)
    }

    @Test func openAIRefusalsAndContentFiltersAreContentFilterErrors() async throws {
        let server = try LoopbackServer { req in
            let topic = (req.json?["messages"] as? [[String: String]])?.last?["content"] ?? ""
            if topic.contains("refuse") { return Self.completion(nil, refusal: "I'm sorry, I can't help with that request.") }
            if topic.contains("filter") { return Self.completion("", finish: "content_filter") }
            return Self.openAIError(400, type: "invalid_request_error", code: "content_policy_violation",
                                    message: "Your request was rejected as a result of our safety system.")
        }
        defer { withExtendedLifetime(server) {} }
        for topic in ["refuse", "filter", "policy"] {
            let error = await thrown { try await openAI(server).generate(topic: topic, channel: Self.facts) }
            let e = try #require(error as? LLMContentFilterError, "topic \(topic): \(String(describing: error))")
            #expect(e.code == "llm.content_filtered")
            #expect(!e.isRetryable)
        }
        let refused = await thrown { try await openAI(server).generate(topic: "refuse", channel: Self.facts) }
        #expect("\(refused!)".contains("I'm sorry, I can't help with that request."))
    }

    @Test func openAIRateLimitHonoursRetryAfterAndAnEmptyQuotaIsPermanent() async throws {
        let server = try LoopbackServer { req in
            let topic = (req.json?["messages"] as? [[String: String]])?.last?["content"] ?? ""
            if topic.contains("quota") {
                return Self.openAIError(429, type: "insufficient_quota", code: "insufficient_quota",
                                        message: "You exceeded your current quota, please check your plan and billing details.")
            }
            return Self.openAIError(429, type: "requests", code: "rate_limit_exceeded",
                                    message: "Rate limit reached for gpt-4o-mini on requests per min (RPM): Limit 3, Used 3, Requested 1.",
                                    headers: [("Retry-After", "20"), ("x-ratelimit-reset-requests", "20s")])
        }
        defer { withExtendedLifetime(server) {} }
        let before = Date()
        let error = await thrown { try await openAI(server).generate(topic: "rate", channel: Self.facts) }
        let limited = try #require(error as? LLMRateLimitError)
        #expect(limited.isRetryable)
        #expect(limited.message.contains("HTTP 429") && limited.message.contains("rate_limit_exceeded"))
        let retryAt = try #require(limited.retryAt)
        let after = Date()
        // Retry-After: 20 is counted from when the answer arrived, between `before` and `after`.
        #expect(retryAt >= before.addingTimeInterval(19.5) && retryAt <= after.addingTimeInterval(20.5))

        let quota = await thrown { try await openAI(server).generate(topic: "quota", channel: Self.facts) }
        let e = try #require(quota as? ProviderError)
        #expect(e.code == "llm.quota")
        #expect(!e.isRetryable)
    }

    /// OpenAI often answers a 429 with no Retry-After, only its `x-ratelimit-*` headers (Go
    /// durations such as `1s`, `6m0s`, `20ms`): the wait is the reset of the limit that ran out,
    /// not the longer reset of one that did not.
    @Test func openAIRateLimitWithoutRetryAfterWaitsForTheLimitThatRanOut() async throws {
        let server = try LoopbackServer { req in
            let topic = (req.json?["messages"] as? [[String: String]])?.last?["content"] ?? ""
            let requestsSpent = topic.contains("requests-spent")
            return Self.openAIError(429, type: requestsSpent ? "requests" : "tokens", code: "rate_limit_exceeded",
                                    message: "Rate limit reached for gpt-4o-mini in organization org-test on \(requestsSpent ? "requests per min (RPM): Limit 3, Used 3" : "tokens per min (TPM): Limit 40000, Used 39990"), Requested 1.",
                                    headers: [
                                        ("x-request-id", "req_1d2c3b4a"), ("openai-processing-ms", "12"),
                                        ("x-ratelimit-limit-requests", "3"), ("x-ratelimit-remaining-requests", requestsSpent ? "0" : "2"),
                                        ("x-ratelimit-reset-requests", requestsSpent ? "1s" : "20ms"),
                                        ("x-ratelimit-limit-tokens", "40000"), ("x-ratelimit-remaining-tokens", requestsSpent ? "39500" : "0"),
                                        ("x-ratelimit-reset-tokens", requestsSpent ? "6m0s" : "6m0s"),
                                    ])
        }
        defer { withExtendedLifetime(server) {} }
        for (topic, wait) in [("requests-spent", 1.0), ("tokens-spent", 360.0)] {
            let before = Date()
            let error = await thrown { try await openAI(server).generate(topic: topic, channel: Self.facts) }
            let limited = try #require(error as? LLMRateLimitError, "\(String(describing: error))")
            let at = try #require(limited.retryAt, "\(topic): no retry time from the x-ratelimit headers")
            #expect(at >= before.addingTimeInterval(wait - 0.5) && at <= Date().addingTimeInterval(wait + 0.5), "\(topic): waits \(at.timeIntervalSince(before)) s, not \(wait) s")
            #expect(JobFailure(error!).retryAt == at && JobFailure(error!).isRetryable)
        }
        // Go durations as OpenAI writes them.
        let probe = try LoopbackServer { _ in
            Self.openAIError(429, type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached.",
                             headers: [("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "20ms")])
        }
        defer { withExtendedLifetime(probe) {} }
        let before = Date()
        let short = try #require(await thrown { try await openAI(probe).generate(topic: "x", channel: Self.facts) } as? LLMRateLimitError)
        let shortAt = try #require(short.retryAt)
        #expect(shortAt >= before && shortAt <= Date().addingTimeInterval(0.5))
    }

    /// Retry-After may be an HTTP date (RFC 9110); the retry is at that instant.
    @Test func aRetryAfterHTTPDateIsTheRetryTime() async throws {
        let when = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 95).rounded(.down))
        let retryDate = httpDate(when)
        let server = try LoopbackServer { req in
            if req.path.hasSuffix("/messages") {
                return Self.anthropicError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
                                           headers: [("retry-after", retryDate), ("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy")])
            }
            return Self.openAIError(429, type: "requests", code: "rate_limit_exceeded", message: "Rate limit reached for gpt-4o-mini.",
                                    headers: [("Retry-After", retryDate), ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-requests", "6m0s")])
        }
        defer { withExtendedLifetime(server) {} }
        let fromOpenAI = try #require(await thrown { try await openAI(server).generate(topic: "x", channel: Self.facts) } as? LLMRateLimitError)
        #expect(fromOpenAI.retryAt == when, "Retry-After \(retryDate) read as \(String(describing: fromOpenAI.retryAt))")
        let fromAnthropic = try #require(await thrown { try await anthropic(server).generate(topic: "x", channel: Self.facts) } as? LLMRateLimitError)
        #expect(fromAnthropic.retryAt == when, "retry-after \(retryDate) read as \(String(describing: fromAnthropic.retryAt))")
    }

    /// Anthropic's 529, in the body its docs give: retryable as `llm.overloaded`, at retry-after when sent.
    @Test func anthropicOverloadedIsRetryableAtItsRetryAfter() async throws {
        let server = try LoopbackServer { req in
            let topic = (req.json?["messages"] as? [[String: String]])?.last?["content"] ?? ""
            return .json(529, ["type": "error", "error": ["type": "overloaded_error", "message": "Overloaded"], "request_id": "req_018EeWyXxfu5pfWkrYcMdjWG"],
                         headers: topic.contains("with-wait") ? [("retry-after", "30")] : [])
        }
        defer { withExtendedLifetime(server) {} }
        let plain = try #require(await thrown { try await anthropic(server).generate(topic: "no-wait", channel: Self.facts) } as? ProviderError)
        #expect(plain.code == "llm.overloaded" && plain.isRetryable && plain.retryAt == nil)
        #expect(plain.message.contains("HTTP 529") && plain.message.contains("overloaded_error") && plain.message.contains("Overloaded"))
        let before = Date()
        let waited = try #require(await thrown { try await anthropic(server).generate(topic: "with-wait", channel: Self.facts) } as? ProviderError)
        let at = try #require(waited.retryAt)
        #expect(waited.code == "llm.overloaded" && at >= before.addingTimeInterval(29.5) && at <= Date().addingTimeInterval(30.5))
        // The job's retry policy reads the same: retryable, an attempt spent, at the provider's time.
        let failure = JobFailure(waited)
        #expect(failure.isRetryable && failure.spendsAttempt && failure.retryAt == at)
    }

    @Test func openAIServerErrorsAreRetryableAndABadKeyIsNotAndNeverShown() async throws {
        let server = try LoopbackServer { req in
            if req.header("Authorization") == "Bearer \(Self.key)" {
                return Self.openAIError(503, type: "server_error", code: nil, message: "The server is overloaded or not ready yet.")
            }
            // OpenAI echoes a wrong key with its middle masked (`sk-proj-****mnop`); a server that
            // copies its API may echo it whole, the worst case, which a `whole` model asks for here.
            let sent = req.header("Authorization")?.replacingOccurrences(of: "Bearer ", with: "") ?? ""
            let echoed = req.json?["model"] as? String == "whole" ? sent : String(sent.prefix(8)) + "****" + String(sent.suffix(4))
            return Self.openAIError(401, type: "invalid_request_error", code: "invalid_api_key",
                                    message: "Incorrect API key provided: \(echoed). You can find your API key at https://platform.openai.com/account/api-keys.",
                                    headers: [("x-request-id", "req_7f3a9c2e1b")])
        }
        defer { withExtendedLifetime(server) {} }
        let unavailable = await thrown { try await openAI(server).generate(topic: "sky", channel: Self.facts) }
        let e503 = try #require(unavailable as? ProviderError)
        #expect(e503.code == "llm.server_error" && e503.isRetryable)
        #expect(e503.message.contains("HTTP 503") && e503.message.contains("overloaded"))
        expectNoSecret(unavailable!, Self.key)

        let wrongKey = "sk-proj-WRONG-abcdefghijklmnop"
        let unauthorized = await thrown { try await openAI(server, key: wrongKey).generate(topic: "sky", channel: Self.facts) }
        let e401 = try #require(unauthorized as? ProviderError)
        #expect(e401.code == "llm.unauthorized" && !e401.isRetryable)
        #expect(e401.message.contains("HTTP 401") && e401.message.contains("OPENAI_API_KEY"))
        // The provider's text reaches the message (so a key in it would too), masked as OpenAI masks it.
        #expect(e401.message.contains("Incorrect API key provided: sk-proj-****mnop"), "\(e401.message)")
        expectNoSecret(unauthorized!, wrongKey)
        // A server that echoes the whole key: it is cut out of the message.
        let whole = OpenAIChatScriptGenerator(baseURL: server.baseURL + "/v1", model: "whole", apiKey: wrongKey, validate: Self.validate)
        let echoed = try #require(await thrown { try await whole.generate(topic: "sky", channel: Self.facts) })
        #expect((echoed as? ProviderError)?.message.contains("Incorrect API key provided: [redacted]") == true, "\(echoed)")
        expectNoSecret(echoed, wrongKey)
    }

    @Test func aLocalServerGetsNoAuthorizationHeader() async throws {
        let auth = Locked<[String?]>([])
        let server = try LoopbackServer { req in
            auth.update { $0.append(req.header("Authorization")) }
            // Ollama and llama.cpp answer in the same shape.
            return Self.completion("```json\n" + Self.scriptJSON(sentences: 8) + "\n```")
        }
        defer { withExtendedLifetime(server) {} }
        let script = try await openAI(server, key: nil).generate(topic: "octopus hearts", channel: Self.facts)
        #expect(script.title == "Why Honey Never Spoils")
        #expect(auth.value.count == 1 && auth.value[0] == nil)
    }

    @Test func aRefusedConnectionAndASlowServerAreRetryable() async throws {
        let closed = try LoopbackSocket(listening: false)
        let refused = OpenAIChatScriptGenerator(
            // A refusal comes at once; the long deadline is so that a loaded machine cannot turn it into a timeout.
            baseURL: closed.url + "/v1", model: "m", apiKey: Self.key, validate: Self.validate, timeout: .seconds(60))
        let error = await thrown { try await refused.generate(topic: "x", channel: Self.facts) }
        withExtendedLifetime(closed) {}
        let e = try #require(error as? ProviderError)
        #expect(e.code == "llm.network" && e.isRetryable, "\(e)")
        expectNoSecret(error!, Self.key)

        let server = try LoopbackServer { _ in
            try? await Task.sleep(for: .seconds(30))
            return Self.completion(Self.scriptJSON(sentences: 8))
        }
        defer { withExtendedLifetime(server) {} }
        let slow = OpenAIChatScriptGenerator(
            baseURL: server.baseURL + "/v1", model: "m", apiKey: Self.key, validate: Self.validate, timeout: .seconds(1))
        let start = ContinuousClock.now
        let timedOut = try #require(await thrown { try await slow.generate(topic: "x", channel: Self.facts) } as? ProviderError)
        #expect(timedOut.code == "llm.timeout" && timedOut.isRetryable)
        #expect(ContinuousClock.now - start < .seconds(20))  // the 1 s timeout, not the 30 s answer
    }

    // MARK: - Anthropic

    static func message(_ text: String?, stop: String = "end_turn", input: Int = 300, output: Int = 150) -> LoopbackReply {
        var content: [[String: Any]] = [["type": "thinking", "thinking": "The viewer wants a short explainer.", "signature": "EqQBCgIYAhIM"]]
        if let text { content.append(["type": "text", "text": text]) }
        return .json(200, [
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": content, "stop_reason": stop, "stop_sequence": NSNull(),
            "usage": ["input_tokens": input, "output_tokens": output],
        ])
    }

    /// Anthropic's error body, with the `request_id` it carries (and its `request-id` header).
    static func anthropicError(_ status: Int, _ type: String, _ message: String, headers: [(String, String)] = []) -> LoopbackReply {
        .json(status, ["type": "error", "error": ["type": type, "message": message], "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"],
              headers: headers + [("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy")])
    }

    func anthropic(_ server: LoopbackServer, key: String = LLMProviderTests.anthropicKey, usage: Locked<[String]>? = nil) -> AnthropicScriptGenerator {
        AnthropicScriptGenerator(
            baseURL: server.baseURL, model: "claude-sonnet-4-5", apiKey: key, validate: Self.validate,
            wordsPerSecond: Self.wordsPerSecond, usage: recorder(usage))
    }

    @Test func anthropicSendsItsHeadersAndFindsTheJSONInsideProse() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            return Self.message("Here is your script:\n\n```json\n" + Self.scriptJSON(sentences: 8) + "\n```\n\nLet me know if you want changes.")
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let script = try await anthropic(server, usage: usage).generate(topic: "how honey never spoils", channel: Self.facts)
        #expect(script.title == "Why Honey Never Spoils")
        #expect(script.cta == "Follow for more facts like this.")
        #expect(usage.value == ["anthropic tokens 450"])

        let req = try #require(requests.value.first)
        #expect(req.method == "POST")
        #expect(req.path == "/v1/messages")
        #expect(req.header("x-api-key") == Self.anthropicKey)
        #expect(req.header("anthropic-version") == "2023-06-01")
        #expect(req.header("content-type") == "application/json")
        #expect(req.header("Authorization") == nil)
        let json = try #require(req.json)
        #expect(json["model"] as? String == "claude-sonnet-4-5")
        let maxTokens = try #require(json["max_tokens"] as? Int)
        #expect(maxTokens >= 1024 && maxTokens <= 8192)
        #expect((json["system"] as? String)?.contains("one JSON object") == true)
        let messages = try #require(json["messages"] as? [[String: String]])
        #expect(messages.count == 1 && messages[0]["role"] == "user")
        #expect(messages[0]["content"]!.contains("how honey never spoils"))
    }

    @Test func anthropicReasksWithTheIssuesInTheConversation() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        let short = Self.scriptJSON(sentences: 1)
        let server = try LoopbackServer { req in
            let n = requests.update { $0.append(req); return $0.count }
            return Self.message(n == 1 ? short : Self.scriptJSON(sentences: 8))
        }
        defer { withExtendedLifetime(server) {} }
        let script = try await anthropic(server).generate(topic: "the shortest war", channel: Self.facts)
        #expect(script.wordCount > 50)
        #expect(requests.value.count == 2)
        let messages = try #require(requests.value[1].json?["messages"] as? [[String: String]])
        #expect(messages.map { $0["role"] } == ["user", "assistant", "user"])
        #expect(messages[1]["content"] == short)
        #expect(messages[2]["content"]!.contains("words take about"))
        #expect(messages[2]["content"]!.contains("the channel needs 20-40 s"))
    }

    @Test func anthropicRefusalIsAContentFilterError() async throws {
        let server = try LoopbackServer { _ in Self.message(nil, stop: "refusal") }
        defer { withExtendedLifetime(server) {} }
        let error = await thrown { try await anthropic(server).generate(topic: "something", channel: Self.facts) }
        let e = try #require(error as? LLMContentFilterError)
        #expect(!e.isRetryable && e.message.contains("refusal"))
    }

    @Test func anthropicErrorsMapToRetryableOrNot() async throws {
        let server = try LoopbackServer { req in
            let topic = (req.json?["messages"] as? [[String: String]])?.last?["content"] ?? ""
            if topic.contains("topic-rate") {
                return Self.anthropicError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit",
                                           headers: [("retry-after", "12")])
            }
            if topic.contains("topic-overloaded") { return Self.anthropicError(529, "overloaded_error", "Overloaded") }
            if topic.contains("topic-api") { return Self.anthropicError(500, "api_error", "Internal server error") }
            if topic.contains("topic-auth") { return Self.anthropicError(401, "authentication_error", "invalid x-api-key") }
            return Self.anthropicError(400, "invalid_request_error", "max_tokens: Field required")
        }
        defer { withExtendedLifetime(server) {} }

        let before = Date()
        let rate = await thrown { try await anthropic(server).generate(topic: "topic-rate", channel: Self.facts) }
        let limited = try #require(rate as? LLMRateLimitError)
        let limitedAt = try #require(limited.retryAt), afterLimited = Date()
        #expect(limitedAt >= before.addingTimeInterval(11.5) && limitedAt <= afterLimited.addingTimeInterval(12.5))
        #expect(limited.message.contains("rate_limit_error"))

        for (topic, code, retryable) in [
            ("topic-overloaded", "llm.overloaded", true), ("topic-api", "llm.server_error", true),
            ("topic-auth", "llm.unauthorized", false), ("topic-invalid", "llm.bad_request", false),
        ] {
            let error = await thrown { try await anthropic(server).generate(topic: topic, channel: Self.facts) }
            let e = try #require(error as? ProviderError, "\(topic): \(String(describing: error))")
            #expect(e.code == code, "\(topic)")
            #expect(e.isRetryable == retryable, "\(topic)")
            #expect(e.message.contains("Anthropic") && e.message.contains("HTTP"))
            expectNoSecret(error!, Self.anthropicKey)
        }
        let auth = await thrown { try await anthropic(server).generate(topic: "topic-auth", channel: Self.facts) }
        #expect((auth as? ProviderError)?.message.contains("ANTHROPIC_API_KEY") == true)
    }
}

/// The error `body` throws, or `nil`.
func thrown<T>(_ body: () async throws -> T) async -> (any Error)? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

/// Checks that no rendering of `error` contains `secret`.
func expectNoSecret(_ error: any Error, _ secret: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let renderings = ["\(error)", String(reflecting: error), (error as? any YTAutoError)?.message ?? "", error.localizedDescription]
    for text in renderings {
        #expect(!text.contains(secret), "the error shows the key: \(text)", sourceLocation: sourceLocation)
    }
}

/// A `usage:` closure that appends `"provider unit amount"` to `log`.
func recorder(_ log: Locked<[String]>?) -> (@Sendable (_ provider: String, _ unit: String, _ amount: Int) -> Void)? {
    guard let log else { return nil }
    return { provider, unit, amount in log.update { $0.append("\(provider) \(unit) \(amount)") } }
}

