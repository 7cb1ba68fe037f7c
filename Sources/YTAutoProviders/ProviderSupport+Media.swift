import Foundation
import YTAutoCore
import YTAutoSupport

/// Turning a provider's audio and image bytes into the pipeline's files (the TTS and image adapters).
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
