import Foundation
import YTAutoCore
import YTAutoMedia

/// One turn of a conversation with a model, after the system prompt.
struct ChatTurn: Sendable, Hashable {
    enum Role: String, Sendable { case user, assistant }
    var role: Role
    var content: String
}

/// The prompts every script model gets: a system prompt that fixes the JSON shape, and a user
/// prompt with the topic, the channel's voice and the length as a word count.
enum ScriptPrompt {
    /// The system prompt: the answer is one JSON object with four string fields.
    static let system = """
        You write narration scripts for a faceless YouTube channel. The script is read aloud by a \
        text-to-speech voice over still images, so write plain spoken sentences: no headings, lists, \
        emoji, stage directions, sound cues or speaker labels.
        Reply with one JSON object and nothing else (no prose, no code fences), with exactly these \
        string fields: "title" (the video title, at most 100 characters, not read aloud), "hook" \
        (one or two sentences that hold the viewer in the first seconds), "body" (the main narration) \
        and "cta" (a short call to action at the end).
        """

    /// The words the narration should have, as (least, most, aim) for a voice speaking
    /// `wordsPerSecond`. The aim is three quarters into the range, like the offline generator:
    /// the narration stage trims a long script, but cannot lengthen a short one.
    static func words(for channel: ChannelConfig, wordsPerSecond: Double) -> (min: Int, max: Int, target: Int) {
        let r = channel.durationRange
        let lo = Int((Double(r.min) * wordsPerSecond).rounded(.up))
        let hi = Int((Double(r.max) * wordsPerSecond).rounded(.down))
        let aim = Int(((Double(r.min) + 0.75 * Double(r.max - r.min)) * wordsPerSecond).rounded())
        return (lo, max(lo, hi), aim)
    }

    static func user(topic: String, channel: ChannelConfig, wordsPerSecond: Double) -> String {
        let w = words(for: channel, wordsPerSecond: wordsPerSecond)
        var lines = [
            "Write a script for a \(channel.type.rawValue) video about: \(topic)",
            "Style: \(channel.style).",
            "Length: read aloud, the hook, body and cta together must last \(channel.durationRange.min)-\(channel.durationRange.max) seconds, "
                + "which is \(w.min)-\(w.max) words in total. Aim for about \(w.target) words; most of them belong in the body.",
        ]
        switch channel.type {
        case .horror: lines.append("Tell it as a first-person story, fiction, with no real victims or real crimes.")
        case .facts: lines.append("Keep every claim accurate and well known; no medical advice.")
        case .finance: lines.append("Explain, never recommend: no predictions, no promises of returns, no specific products to buy.")
        }
        if !channel.forbiddenTopics.isEmpty {
            lines.append("Never mention or allude to: " + channel.forbiddenTopics.map { "\"\($0)\"" }.joined(separator: ", ") + ".")
        }
        if let disclaimer = ChannelStyle.of(channel.type).disclaimer {
            lines.append("The cta must end with this sentence, word for word: \"\(disclaimer)\"")
        }
        lines.append("Reply with the JSON object only.")
        return lines.joined(separator: "\n")
    }

    /// The follow-up after an answer that failed validation.
    static func reask(issues: [String]) -> String {
        "That script has these problems:\n" + issues.map { "- \($0)" }.joined(separator: "\n")
            + "\nRewrite the whole script so that every problem is fixed, on the same topic. Reply with the JSON object only."
    }

    /// The follow-up after an answer that was not the JSON object asked for.
    static func reask(unparseable problem: String) -> String {
        "That answer could not be used: \(problem). Reply with one JSON object only, with the string fields "
            + "\"title\", \"hook\", \"body\" and \"cta\", and no text around it."
    }
}

/// Reading a ``Script`` out of a model's answer.
enum ScriptJSON {
    /// Why an answer is not a script.
    struct Unparseable: Error, Sendable {
        let problem: String
    }

    /// The outermost `{…}` of `text`: models wrap JSON in prose or ``` fences despite the prompt.
    static func outermostObject(_ text: String) -> Substring? {
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close else { return nil }
        return text[open...close]
    }

    /// Parses `{title, hook, body, cta}`. A body given as a list of paragraphs is joined.
    static func parse(_ text: String, channel: ChannelType) throws -> Script {
        guard let object = outermostObject(text) else { throw Unparseable(problem: "it contains no JSON object") }
        let json: [String: Any]
        do {
            guard let j = try JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any] else {
                throw Unparseable(problem: "it is not a JSON object")
            }
            json = j
        } catch let e as Unparseable {
            throw e
        } catch {
            throw Unparseable(problem: "it is not valid JSON")
        }
        func field(_ name: String) -> String? {
            if let s = json[name] as? String { return s.trimmingCharacters(in: .whitespacesAndNewlines) }
            if let list = json[name] as? [String] { return list.joined(separator: "\n\n") }
            return nil
        }
        let names = ["title", "hook", "body", "cta"]
        let missing = names.filter { field($0) == nil }
        guard missing.isEmpty, let title = field("title"), let hook = field("hook"), let body = field("body"), let cta = field("cta") else {
            throw Unparseable(problem: "the string field(s) \(missing.joined(separator: ", ")) are missing")
        }
        return Script(title: title, hook: hook, body: body, cta: cta, channel: channel)
    }
}

/// The ask–validate–re-ask loop both script generators share.
enum ScriptConversation {
    /// Asks once, then re-asks up to `maxReasks` times while the answer fails to parse or to validate.
    ///
    /// An unparseable answer uses up a re-ask like a failed validation does: a model that wrapped
    /// or truncated its JSON usually gets it right when told. With no re-asks left, an unparseable
    /// answer is a retryable ``ProviderError`` `llm.bad_response` and a failed validation rethrows
    /// the validator's last ``ScriptValidationError``.
    /// - Parameters:
    ///   - provider: names the provider in messages.
    ///   - ask: sends the conversation so far (after the system prompt) and returns the answer text.
    static func run(
        topic: String, channel: ChannelConfig, wordsPerSecond: Double, maxReasks: Int, provider: String,
        validate: @Sendable (Script, ChannelConfig) throws -> Void,
        ask: ([ChatTurn]) async throws -> String
    ) async throws -> Script {
        var turns = [ChatTurn(role: .user, content: ScriptPrompt.user(topic: topic, channel: channel, wordsPerSecond: wordsPerSecond))]
        var attempt = 0
        while true {
            try Task.checkCancellation()
            let answer = try await ask(turns)
            let script: Script
            do {
                script = try ScriptJSON.parse(answer, channel: channel.type)
            } catch let error as ScriptJSON.Unparseable {
                guard attempt < maxReasks else {
                    throw ProviderError(
                        family: .llm, reason: "bad_response",
                        message: "\(provider) answered without a usable script JSON object (\(error.problem)) after \(attempt + 1) request(s)",
                        isRetryable: true)
                }
                turns += [ChatTurn(role: .assistant, content: answer), ChatTurn(role: .user, content: ScriptPrompt.reask(unparseable: error.problem))]
                attempt += 1
                continue
            }
            do {
                try validate(script, channel)
                return script
            } catch let invalid as ScriptValidationError {
                guard attempt < maxReasks else { throw invalid }
                turns += [ChatTurn(role: .assistant, content: answer), ChatTurn(role: .user, content: ScriptPrompt.reask(issues: invalid.issues))]
                attempt += 1
            }
        }
    }
}

// MARK: - Shared by every adapter
//
// Helpers the LLM, TTS and image adapters all use live here, beside the script helpers, so
// each adapter file holds only its provider's wire protocol.

/// The shape of the `usage:` closure every adapter takes.
typealias UsageReport = @Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void

enum ProviderSupport {
    /// `baseURL` without trailing slashes, so `base + "/path"` never doubles one.
    static func trimmed(_ baseURL: String) -> String {
        var s = baseURL
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }

    static func host(_ url: String) -> String { URL(string: url)?.host ?? url }

    /// The provider's error text with the key cut out. Some providers echo a wrong key back in
    /// their 401 body; a message must never carry it.
    static func errorText(_ reply: HTTP.Reply, key: String?) -> String {
        redact(reply.errorText, key: key)
    }

    static func redact(_ text: String, key: String?) -> String {
        guard let key, key.count >= 4 else { return text }
        return text.replacingOccurrences(of: key, with: "[redacted]")
    }

    /// The error for a status the adapter does not map itself, with the key cut out of the text.
    static func unexpected(_ http: HTTP, _ reply: HTTP.Reply, during what: String, key: String?) -> ProviderError {
        let e = http.unexpected(reply, during: what)
        return ProviderError(family: e.family, reason: e.reason, message: redact(e.message, key: key),
                             isRetryable: e.isRetryable, retryAt: e.retryAt)
    }

    /// The JSON body of a 2xx reply, or a retryable `bad_response` error.
    static func json(_ reply: HTTP.Reply, family: ProviderError.Family, what: String) throws -> [String: Any] {
        guard let j = reply.json else {
            throw ProviderError(family: family, reason: "bad_response",
                                message: "\(what): HTTP \(reply.status) with a body that is not a JSON object: \(reply.body.prefix(200).utf8Text)",
                                isRetryable: true)
        }
        return j
    }

    /// `{"error": {"code": …}}` or `{"error": {"type": …}}` of an OpenAI- or Anthropic-style error body.
    static func errorField(_ reply: HTTP.Reply, _ name: String) -> String? {
        (reply.json?["error"] as? [String: Any])?[name] as? String
    }

    /// `{"detail": {"status": …}}` of an ElevenLabs error body.
    static func detailStatus(_ reply: HTTP.Reply) -> String? {
        (reply.json?["detail"] as? [String: Any])?["status"] as? String
    }
}

// MARK: - Media files shared by the TTS and image adapters

extension ProviderSupport {
    /// Turns a provider's audio bytes into the narration WAV at `outputPath` and measures it.
    ///
    /// The bytes go to a temporary file beside `outputPath` (so the pipeline's folder holds all
    /// scratch), are transcoded to 16-bit PCM mono 22,050 Hz, and the temporary is removed.
    /// Audio ffmpeg cannot decode is the provider's fault: a retryable `tts.bad_response`.
    static func narration(
        _ audio: Data, ext: String, text: String, voiceID: String, outputPath: URL, tools: ToolRunner, what: String
    ) async throws -> AudioSegment {
        guard !audio.isEmpty else {
            throw ProviderError(family: .tts, reason: "bad_response", message: "\(what): the reply had no audio", isRetryable: true)
        }
        let tmp = Files.temporary(for: outputPath.deletingPathExtension().path + ".\(ext)")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try audio.write(to: URL(fileURLWithPath: tmp))
        do {
            try await tools.transcodeToNarrationWav(tmp, outputPath.path)
        } catch let e as FFmpegError where e.exitStatus != nil {
            throw ProviderError(family: .tts, reason: "bad_response",
                                message: "\(what): the \(audio.count)-byte audio reply could not be decoded: \(e.stderrTail)", isRetryable: true)
        }
        let duration = try await tools.duration(of: outputPath.path)
        return AudioSegment(content: text, voiceSettings: VoiceSettings(voiceID: voiceID), duration: duration, path: outputPath.path)
    }

    /// Decodes a base64 image (a `data:` URL prefix is allowed) and fits it to exactly
    /// `width`×`height` PNG at `outputPath`. An undecodable image is a retryable `image.bad_response`.
    static func fittedImage(
        base64: String, prompt: String, outputPath: URL, width: Int, height: Int, tools: ToolRunner, what: String
    ) async throws -> VisualAsset {
        var text = Substring(base64)
        if text.hasPrefix("data:"), let comma = text.firstIndex(of: ",") { text = text[text.index(after: comma)...] }
        guard let data = Data(base64Encoded: String(text), options: .ignoreUnknownCharacters), !data.isEmpty else {
            throw ProviderError(family: .image, reason: "bad_response", message: "\(what): the image is not valid base64", isRetryable: true)
        }
        // ffmpeg's image reader picks the decoder by extension, so name the file after its bytes.
        let tmp = Files.temporary(for: outputPath.deletingPathExtension().path + ".source.\(imageExtension(data))")
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try data.write(to: URL(fileURLWithPath: tmp))
        do {
            try await tools.fitImage(tmp, outputPath.path, width: width, height: height)
        } catch let e as FFmpegError where e.exitStatus != nil {
            throw ProviderError(family: .image, reason: "bad_response",
                                message: "\(what): the \(data.count)-byte image could not be decoded: \(e.stderrTail)", isRetryable: true)
        }
        return VisualAsset(path: outputPath.path, type: .image, prompt: prompt)
    }

    /// `png`, `jpg` or `webp` from the leading bytes; `png` when unsure.
    static func imageExtension(_ data: Data) -> String {
        let b = [UInt8](data.prefix(12))
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return "jpg" }
        if b.count >= 12, b[0...3] == [0x52, 0x49, 0x46, 0x46], b[8...11] == [0x57, 0x45, 0x42, 0x50] { return "webp" }
        return "png"
    }
}
