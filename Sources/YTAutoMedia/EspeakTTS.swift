import Foundation
import YTAutoCore
import YTAutoSupport

/// A voice id that no engine knows.
public struct UnknownVoiceError: YTAutoError {
    public let voiceID: String
    public var code: String { "tts.unknown_voice" }
    public var message: String { "voice '\(voiceID)' is not known; use one of \(EspeakVoice.known.joined(separator: ", "))" }
    public var isRetryable: Bool { false }
}

/// Narration with espeak-ng, one file per call; the duration is measured by ffprobe.
public struct EspeakTTS: TTSEngine {
    let tools: ToolRunner

    public init(tools: ToolRunner) { self.tools = tools }

    public func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        guard let v = EspeakVoice.named(voiceID) else { throw UnknownVoiceError(voiceID: voiceID) }
        // The text goes through a file, so nothing in it is read as an option.
        let textFile = Files.temporary(for: outputPath.path + ".txt")
        try Data(text.utf8).write(to: URL(fileURLWithPath: textFile))
        defer { try? FileManager.default.removeItem(atPath: textFile) }
        try await tools.run(.espeakNG, ["-v", v.voice, "-s", String(v.speed), "-p", String(v.pitch), "-w", outputPath.path, "-f", textFile], timeout: .seconds(120))
        let duration = try await tools.duration(of: outputPath.path)
        return AudioSegment(
            content: text, voiceSettings: VoiceSettings(voiceID: voiceID, rate: Double(v.speed) / 175, pitch: Double(v.pitch) / 50),
            duration: duration, path: outputPath.path)
    }

    /// Words a second this voice speaks when each sentence is synthesised alone (pauses included),
    /// measured on a calibration passage.
    public func measureRate(voiceID: String, scratch: URL) async throws -> Double {
        let passage = [
            "The quick brown fox jumps over the lazy dog near the quiet river bank.",
            "Every morning she walked to the market and bought fresh bread for the family.",
            "Numbers tell a story, but only if somebody takes the time to read them.",
        ]
        var words = 0
        var seconds = 0.0
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        for (i, s) in passage.enumerated() {
            let seg = try await synthesize(text: s, outputPath: scratch.appending(path: "calibrate-\(i).wav"), voiceID: voiceID)
            words += Script.countWords(s)
            seconds += seg.duration
        }
        return Double(words) / seconds
    }
}
