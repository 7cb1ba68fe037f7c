import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoSupport
import YTAutoTestSupport

/// The TTS engines against loopback servers that speak ElevenLabs' and OpenAI's speech APIs,
/// with real audio made by ffmpeg, and the fallback chain down to the real espeak-ng.
@Suite struct TTSProviderTests {
    static let key = "xi-test-0f1e2d3c4b5a69788796a5b4"
    static let openAIKey = "sk-test-speech-5a4b3c2d1e0f"
    let dir = TempDir("ytauto-tts")
    let tools: ToolRunner

    init() throws { tools = try ToolRunner() }

    func url(_ name: String) -> URL { dir.url.appending(path: name) }

    /// One second of a 440 Hz tone in `format` (`mp3` or `wav` at 24 kHz, as OpenAI sends).
    func tone(_ format: String) async throws -> Data {
        let path = dir.path("tone-\(UUID().uuidString.prefix(6)).\(format)")
        let codec = format == "mp3" ? ["-c:a", "libmp3lame", "-b:a", "128k", "-ar", "44100"] : ["-c:a", "pcm_s16le", "-ar", "24000", "-ac", "1"]
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "sine=f=440:d=1"] + codec + [path])
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    /// Checks that `path` is the narration format: 16-bit PCM, mono, 22,050 Hz.
    func expectNarrationFormat(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let probe = try await tools.probe(path)
        let stream = try #require((probe["streams"] as? [[String: Any]])?.first, sourceLocation: sourceLocation)
        #expect(stream["codec_name"] as? String == "pcm_s16le", sourceLocation: sourceLocation)
        #expect(stream["channels"] as? Int == 1, sourceLocation: sourceLocation)
        #expect(stream["sample_rate"] as? String == "22050", sourceLocation: sourceLocation)
        #expect((probe["format"] as? [String: Any])?["format_name"] as? String == "wav", sourceLocation: sourceLocation)
    }

    /// A PCM WAV's length from its header and `data` chunk: samples ÷ rate, without ffprobe.
    static func wavSeconds(_ path: String) throws -> Double {
        let d = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ i: Int) -> Int { Int(d[i]) | Int(d[i + 1]) << 8 | Int(d[i + 2]) << 16 | Int(d[i + 3]) << 24 }
        func u16(_ i: Int) -> Int { Int(d[i]) | Int(d[i + 1]) << 8 }
        guard d.count >= 12, d[0..<4] == [0x52, 0x49, 0x46, 0x46], d[8..<12] == [0x57, 0x41, 0x56, 0x45] else { throw CocoaError(.fileReadCorruptFile) }
        var i = 12, rate = 0, blockAlign = 0
        while i + 8 <= d.count {
            let id = String(decoding: d[i..<i + 4], as: UTF8.self), size = u32(i + 4)
            if id == "fmt " { rate = u32(i + 12); blockAlign = u16(i + 20) }
            if id == "data", rate > 0, blockAlign > 0 { return Double(min(size, d.count - i - 8) / blockAlign) / Double(rate) }
            i += 8 + size + (size & 1)
        }
        throw CocoaError(.fileReadCorruptFile)
    }

    static func elevenLabsError(_ status: Int, _ detailStatus: String, _ message: String, headers: [(String, String)] = []) -> LoopbackReply {
        .json(status, ["detail": ["status": detailStatus, "message": message]], headers: headers)
    }

    func elevenLabs(_ server: LoopbackServer, usage: Locked<[String]>? = nil) -> ElevenLabsTTS {
        ElevenLabsTTS(
            baseURL: server.baseURL, apiKey: Self.key, tools: tools, voiceMap: ElevenLabsTTS.defaultVoices, modelID: "eleven_multilingual_v2",
            usage: recorder(usage))
    }

    // MARK: - ElevenLabs

    @Test func elevenLabsMP3BecomesANarrationWavOfTheRightLength() async throws {
        let mp3 = try await tone("mp3")
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            return FakeElevenLabs.reply(audio: mp3, text: req.json?["text"] as? String ?? "", spoken: 0.1...0.9)
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let text = "The lighthouse keeper wrote his last entry at midnight."
        let out = url("s1.wav")
        let segment = try await elevenLabs(server, usage: usage).synthesize(text: text, outputPath: out, voiceID: "en-deep")

        try await expectNarrationFormat(out.path)
        #expect(abs(segment.duration - 1.0) < 0.15)
        // The duration reported is the WAV's length, counted from its samples (not ffprobe again).
        let samples = try Self.wavSeconds(out.path)
        #expect(abs(samples - segment.duration) < 0.01, "the WAV holds \(samples) s, reported \(segment.duration) s")
        #expect(segment.path == out.path && segment.content == text && segment.voiceSettings.voiceID == "en-deep")
        #expect(usage.value == ["elevenlabs characters \(text.count)"])
        // Each word starts where its first character does in the alignment: 55 characters over
        // 0.1-0.9 s, "lighthouse" from the 5th (0-based 4).
        let words = try #require(segment.words)
        #expect(words.map(\.word) == ["The", "lighthouse", "keeper", "wrote", "his", "last", "entry", "at", "midnight."])
        let step = 0.8 / Double(text.count)
        #expect(abs(words[0].start - 0.1) < 1e-9 && abs(words[1].start - (0.1 + 4 * step)) < 1e-9)
        #expect(abs(words[8].start - (0.1 + 46 * step)) < 1e-9 && words[8].end == segment.duration && words[0].end == words[1].start)
        // The MP3 scratch file beside the output is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).filter { $0.hasSuffix(".mp3") && !$0.hasPrefix("tone") }.isEmpty)

        let req = try #require(requests.value.first)
        #expect(req.method == "POST")
        #expect(req.path == "/v1/text-to-speech/\(ElevenLabsTTS.defaultVoices["en-deep"]!)/with-timestamps")
        #expect(req.query["output_format"] == "mp3_44100_128")
        #expect(req.header("xi-api-key") == Self.key)
        #expect(req.json?["text"] as? String == text)
        #expect(req.json?["model_id"] as? String == "eleven_multilingual_v2")

        // A voice id the map does not know is an ElevenLabs voice id, sent as it is.
        _ = try await elevenLabs(server).synthesize(text: "Hello.", outputPath: url("s2.wav"), voiceID: "ErXwobaYiN019PkySvjV")
        #expect(requests.value.last?.path == "/v1/text-to-speech/ErXwobaYiN019PkySvjV/with-timestamps")
    }

    @Test func elevenLabsQuotaAndCharacterLimitsAreQuotaErrors() async throws {
        let server = try LoopbackServer { req in
            if (req.json?["text"] as? String)?.hasPrefix("long") == true {
                return Self.elevenLabsError(400, "max_character_limit_exceeded",
                                            "You are sending 10023 characters, but the maximum is 10000 characters.")
            }
            return Self.elevenLabsError(401, "quota_exceeded",
                                        "This request exceeds your quota of 10000. You have 12 credits remaining, while 57 credits are required for this request.")
        }
        defer { withExtendedLifetime(server) {} }
        for text in ["short sentence that costs more than we have", "long text"] {
            let error = await thrown { try await elevenLabs(server).synthesize(text: text, outputPath: url("q.wav"), voiceID: "en-calm") }
            let e = try #require(error as? TTSQuotaExceededError, "\(String(describing: error))")
            #expect(e.code == "tts.quota_exceeded" && e.isRetryable)
            #expect(e.message.contains("ElevenLabs") && (e.message.contains("HTTP 401: quota_exceeded") || e.message.contains("HTTP 400: max_character_limit_exceeded")))
            expectNoSecret(error!, Self.key)
        }
        #expect(!FileManager.default.fileExists(atPath: url("q.wav").path))
    }

    @Test func elevenLabsRateLimitsServerErrorsAndABadKey() async throws {
        let server = try LoopbackServer { req in
            switch req.json?["text"] as? String {
            case "busy":
                return Self.elevenLabsError(429, "too_many_concurrent_requests",
                                            "Too many concurrent requests. Your current subscription allows 2 concurrent requests.",
                                            headers: [("Retry-After", "4")])
            case "down": return .json(503, ["detail": ["status": "system_busy", "message": "The system is experiencing heavy traffic."]])
            default:
                return Self.elevenLabsError(401, "invalid_api_key", "Invalid API key: \(req.header("xi-api-key") ?? "")")
            }
        }
        defer { withExtendedLifetime(server) {} }
        let tts = elevenLabs(server)
        let before = Date()
        let busy = try #require(await thrown { try await tts.synthesize(text: "busy", outputPath: url("b.wav"), voiceID: "en-deep") } as? ProviderError)
        #expect(busy.code == "tts.rate_limited" && busy.isRetryable)
        let busyAt = try #require(busy.retryAt), afterBusy = Date()
        #expect(busyAt >= before.addingTimeInterval(3.5) && busyAt <= afterBusy.addingTimeInterval(4.5))

        let down = try #require(await thrown { try await tts.synthesize(text: "down", outputPath: url("d.wav"), voiceID: "en-deep") } as? ProviderError)
        #expect(down.code == "tts.server_error" && down.isRetryable && down.message.contains("HTTP 503"))

        let error = await thrown { try await tts.synthesize(text: "anything", outputPath: url("a.wav"), voiceID: "en-deep") }
        let auth = try #require(error as? ProviderError)
        #expect(auth.code == "tts.unauthorized" && !auth.isRetryable)
        #expect(auth.message.contains("ELEVENLABS_API_KEY") && auth.message.contains("invalid_api_key"))
        expectNoSecret(error!, Self.key)
    }

    /// ElevenLabs' `system_busy` is a 429 in its docs' body shape: retryable `tts.rate_limited`,
    /// at Retry-After when sent (an HTTP date too), at the job's own backoff when not; and the
    /// chain moves on to the next engine rather than wait.
    @Test func elevenLabsSystemBusyIsARetryableRateLimit() async throws {
        let when = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 75).rounded(.down))
        let hits = Locked(0)
        let server = try LoopbackServer { req in
            hits.update { $0 += 1 }
            let dated = req.json?["text"] as? String == "dated"
            return Self.elevenLabsError(429, "system_busy", "Our services are experiencing high levels of traffic and your request could not be processed.",
                                        headers: (dated ? [("Retry-After", httpDate(when))] : []) + [("request-id", "c6f7a1e0d2b34b5d")])
        }
        defer { withExtendedLifetime(server) {} }
        let busyError = await thrown { try await elevenLabs(server).synthesize(text: "plain", outputPath: url("busy.wav"), voiceID: "en-deep") }
        let busy = try #require(busyError as? ProviderError, "\(String(describing: busyError))")
        #expect(busy.code == "tts.rate_limited" && busy.isRetryable && busy.retryAt == nil)
        #expect(busy.message.contains("HTTP 429") && busy.message.contains("system_busy"))
        #expect(!(busyError is TTSQuotaExceededError))
        let failure = JobFailure(busyError!)
        #expect(failure.isRetryable && failure.spendsAttempt && failure.retryAt == nil)
        expectNoSecret(busyError!, Self.key)

        let dated = try #require(await thrown { try await elevenLabs(server).synthesize(text: "dated", outputPath: url("d.wav"), voiceID: "en-deep") } as? ProviderError)
        #expect(dated.code == "tts.rate_limited" && dated.retryAt == when)

        let fallbacks = Locked<[String]>([])
        let chain = FallbackTTS(chain: [("elevenlabs", elevenLabs(server)), ("espeak", EspeakTTS(tools: tools))],
                                onFallback: { name, error in fallbacks.update { $0.append("\(name) \((error as? any YTAutoError)?.code ?? "?")") } })
        let out = url("spoken.wav")
        let segment = try await chain.synthesize(text: "The ship sailed at dawn.", outputPath: out, voiceID: "en-deep")
        #expect(fallbacks.value == ["elevenlabs tts.rate_limited"] && segment.path == out.path)
        #expect(abs(try Self.wavSeconds(out.path) - segment.duration) < 0.01)
        #expect(hits.value == 3)
    }

    @Test func audioThatDoesNotDecodeIsARetryableBadResponse() async throws {
        // A proxy's page instead of the JSON, and JSON whose audio is not audio.
        let server = try LoopbackServer { req in
            req.json?["text"] as? String == "page"
                ? .respond(status: 200, headers: [("Content-Type", "text/html")], body: Data("<html>maintenance</html>".utf8))
                : FakeElevenLabs.reply(audio: Data("<html>maintenance</html>".utf8), text: "x", spoken: 0...1)
        }
        defer { withExtendedLifetime(server) {} }
        for text in ["page", "x"] {
            let error = await thrown { try await elevenLabs(server).synthesize(text: text, outputPath: url("x.wav"), voiceID: "en-deep") }
            let e = try #require(error as? ProviderError)
            #expect(e.code == "tts.bad_response" && e.isRetryable, "\(e.code): \(e.message)")
            #expect(e.message.contains(text == "page" ? "not the JSON of audio and timestamps: <html>maintenance" : "could not be decoded"), "\(e.message)")
        }
    }

    @Test func anAlignmentThatDoesNotSpellTheTextGivesNoWordTimes() async throws {
        // ElevenLabs aligns the text as sent; a reply aligned to other text (or none) is not trusted
        // with the words, and the sentence is still narrated (the pipeline estimates its words).
        let mp3 = try await tone("mp3")
        let server = try LoopbackServer { req in
            let text = req.json?["text"] as? String ?? ""
            if text.hasPrefix("none") { return .json(200, ["audio_base64": mp3.base64EncodedString(), "alignment": NSNull()]) }
            return FakeElevenLabs.reply(audio: mp3, text: text.uppercased(), spoken: 0...1)
        }
        defer { withExtendedLifetime(server) {} }
        for text in ["other text", "none at all"] {
            let segment = try await elevenLabs(server).synthesize(text: text, outputPath: url("n.wav"), voiceID: "en-deep")
            #expect(segment.words == nil && abs(segment.duration - 1) < 0.15)
        }
        #expect(WordTiming.aligned("ab cd", characters: ["a", "b", " ", "c", "d"], starts: [0, 0.1, 0.2, 0.3, 0.4], end: 1)
                == [WordTiming(word: "ab", start: 0, end: 0.3), WordTiming(word: "cd", start: 0.3, end: 1)])
        #expect(WordTiming.aligned("ab cd", characters: ["a", "b", " ", "c"], starts: [0, 0.1, 0.2, 0.3], end: 1) == nil)
    }

    // MARK: - Fallback

    @Test func fallbackMovesFromAnExhaustedElevenLabsToEspeak() async throws {
        let hits = Locked(0)
        let server = try LoopbackServer { _ in
            hits.update { $0 += 1 }
            return Self.elevenLabsError(401, "quota_exceeded", "This request exceeds your quota of 10000.")
        }
        defer { withExtendedLifetime(server) {} }
        let fallbacks = Locked<[String]>([])
        let chain = FallbackTTS(
            chain: [("elevenlabs", elevenLabs(server)), ("espeak", EspeakTTS(tools: tools))],
            onFallback: { name, error in fallbacks.update { $0.append("\(name) \((error as? any YTAutoError)?.code ?? "?")") } })
        let out = url("fallback.wav")
        let segment = try await chain.synthesize(text: "The door was open when I came back.", outputPath: out, voiceID: "en-deep")

        #expect(hits.value == 1)
        #expect(fallbacks.value == ["elevenlabs tts.quota_exceeded"])
        try await expectNarrationFormat(out.path)
        #expect(segment.duration > 0.5 && segment.path == out.path)
    }

    @Test func fallbackThrowsTheLastErrorWhenEveryEngineFails() async throws {
        let elevenLabsDown = try LoopbackServer { _ in .json(500, ["detail": ["status": "internal_error", "message": "boom"]]) }
        let openAIBroke = try LoopbackServer { _ in
            .json(429, ["error": ["message": "You exceeded your current quota, please check your plan and billing details.",
                                  "type": "insufficient_quota", "param": NSNull(), "code": "insufficient_quota"]])
        }
        defer { withExtendedLifetime((elevenLabsDown, openAIBroke)) {} }
        let fallbacks = Locked<[String]>([])
        let chain = FallbackTTS(
            chain: [("elevenlabs", elevenLabs(elevenLabsDown)),
                    ("openai", OpenAISpeechTTS(baseURL: openAIBroke.baseURL + "/v1", apiKey: Self.openAIKey, tools: tools))],
            onFallback: { name, _ in fallbacks.update { $0.append(name) } })
        let error = await thrown { try await chain.synthesize(text: "Hello.", outputPath: url("none.wav"), voiceID: "en-bright") }
        let e = try #require(error as? TTSQuotaExceededError)
        #expect(e.message.contains("OpenAI speech"))
        #expect(fallbacks.value == ["elevenlabs"])
    }

    @Test func fallbackStopsAtABadRequestAndAtCancellation() async throws {
        let server = try LoopbackServer { _ in
            .json(400, ["detail": ["status": "voice_not_found", "message": "A voice with the voice_id nope was not found."]])
        }
        defer { withExtendedLifetime(server) {} }
        let spoke = Locked(0)
        let counting = CountingTTS(count: spoke)
        let badRequest = FallbackTTS(chain: [("elevenlabs", elevenLabs(server)), ("counting", counting)])
        let error = await thrown { try await badRequest.synthesize(text: "Hi.", outputPath: url("n.wav"), voiceID: "nope") }
        #expect((error as? ProviderError)?.code == "tts.bad_request")

        let cancelled = FallbackTTS(chain: [("cancelled", CancelledTTS()), ("counting", counting)])
        let stop = await thrown { try await cancelled.synthesize(text: "Hi.", outputPath: url("c.wav"), voiceID: "en-deep") }
        #expect(stop is CancellationError)
        #expect(spoke.value == 0)
    }

    // MARK: - OpenAI speech

    func openAI(_ server: LoopbackServer, usage: Locked<[String]>? = nil) -> OpenAISpeechTTS {
        OpenAISpeechTTS(
            baseURL: server.baseURL + "/v1", apiKey: Self.openAIKey, model: "tts-1", voiceMap: OpenAISpeechTTS.defaultVoices, tools: tools,
            usage: recorder(usage))
    }

    @Test func openAISpeechWavIsTranscodedToTheNarrationFormat() async throws {
        let wav = try await tone("wav")
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            return .respond(status: 200, headers: [("Content-Type", "audio/wav")], body: wav)
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let out = url("openai.wav")
        let text = "Octopuses have three hearts."
        let segment = try await openAI(server, usage: usage).synthesize(text: text, outputPath: out, voiceID: "en-bright")
        try await expectNarrationFormat(out.path)
        #expect(abs(segment.duration - 1.0) < 0.1)
        #expect(abs(try Self.wavSeconds(out.path) - segment.duration) < 0.01)
        #expect(usage.value == ["openai characters \(text.count)"])

        let req = try #require(requests.value.first)
        #expect(req.method == "POST" && req.path == "/v1/audio/speech")
        #expect(req.header("Authorization") == "Bearer \(Self.openAIKey)")
        let json = try #require(req.json)
        #expect(json["model"] as? String == "tts-1")
        #expect(json["input"] as? String == text)
        #expect(json["voice"] as? String == "nova")
        #expect(json["response_format"] as? String == "wav")
    }

    @Test func openAISpeechErrorsMapToQuotaRateLimitAndAuth() async throws {
        let server = try LoopbackServer { req in
            switch req.json?["input"] as? String {
            case "quota":
                return .json(429, ["error": ["message": "You exceeded your current quota.", "type": "insufficient_quota", "param": NSNull(), "code": "insufficient_quota"]])
            case "rate":
                return .json(429, ["error": ["message": "Rate limit reached for tts-1 on requests per min (RPM): Limit 50.", "type": "requests", "param": NSNull(), "code": "rate_limit_exceeded"]],
                             headers: [("Retry-After", "9")])
            case "down":
                return .json(500, ["error": ["message": "The server had an error while processing your request.", "type": "server_error", "param": NSNull(), "code": NSNull()]])
            default:
                return .json(401, ["error": ["message": "Incorrect API key provided: \(req.header("Authorization") ?? "").", "type": "invalid_request_error", "param": NSNull(), "code": "invalid_api_key"]])
            }
        }
        defer { withExtendedLifetime(server) {} }
        let tts = openAI(server)
        func fail(_ input: String) async -> (any Error)? {
            await thrown { try await tts.synthesize(text: input, outputPath: url("\(input).wav"), voiceID: "en-calm") }
        }
        #expect(await fail("quota") is TTSQuotaExceededError)

        let before = Date()
        let rate = try #require(await fail("rate") as? ProviderError)
        #expect(rate.code == "tts.rate_limited" && rate.isRetryable)
        let rateAt = try #require(rate.retryAt), afterRate = Date()
        #expect(rateAt >= before.addingTimeInterval(8.5) && rateAt <= afterRate.addingTimeInterval(9.5))

        let down = try #require(await fail("down") as? ProviderError)
        #expect(down.code == "tts.server_error" && down.isRetryable)

        let authError = await fail("auth")
        let auth = try #require(authError as? ProviderError)
        #expect(auth.code == "tts.unauthorized" && !auth.isRetryable && auth.message.contains("HTTP 401"))
        expectNoSecret(authError!, Self.openAIKey)
    }
}

/// Counts its calls and writes nothing: for checking that a chain stopped before it.
struct CountingTTS: TTSEngine {
    let count: Locked<Int>
    func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        count.update { $0 += 1 }
        return AudioSegment(content: text, voiceSettings: VoiceSettings(voiceID: voiceID), duration: 1)
    }
}

/// Fails as a cancelled engine does.
struct CancelledTTS: TTSEngine {
    func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        throw CancellationError()
    }
}
