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

/// Narration with espeak-ng, one file per call, through its library (``EspeakLibrary``): the
/// sound, 16-bit mono PCM WAV at the library's rate (22,050 Hz), and each word's exact place in it.
/// The duration is the samples' own length.
public struct EspeakTTS: TTSEngine {
    let tools: ToolRunner
    /// What it speaks: a voice id's English voice speaks this language instead (``EspeakVoice/speaking(_:)``).
    public let language: Language

    public init(tools: ToolRunner, language: Language = .english) {
        self.tools = tools
        self.language = language
    }

    /// Why this machine's espeak-ng cannot speak with `voiceID` in `language`, or nil when it can:
    /// an unknown id, an `espeak:` voice espeak-ng does not have, or no library. Checked when a
    /// worker starts, so that a mistyped voice is not found by the first job at 3 a.m.
    public static func voiceProblem(_ voiceID: String, language: Language) async -> String? {
        guard let voice = EspeakVoice.named(voiceID)?.speaking(language) else { return UnknownVoiceError(voiceID: voiceID).message }
        do {
            guard try await EspeakLibrary.shared().canSpeak(voice) else {
                return "voice '\(voiceID)' speaks with espeak-ng's '\(voice.voice)', which this machine's espeak-ng does not have "
                    + "(espeak-ng --voices lists them)"
            }
        } catch {
            return "\(error)"
        }
        return nil
    }

    public func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        guard let v = EspeakVoice.named(voiceID)?.speaking(language) else { throw UnknownVoiceError(voiceID: voiceID) }
        let spoken = try await EspeakLibrary.shared().synthesize(text, voice: v)
        guard !spoken.samples.isEmpty else { throw TTSSynthesisError(message: "espeak-ng made no sound for '\(text.prefix(80))'") }
        try WAVFile.write(samples: spoken.samples, sampleRate: spoken.sampleRate, to: outputPath.path)
        return AudioSegment(
            content: text, voiceSettings: VoiceSettings(voiceID: voiceID, rate: Double(v.speed) / 175, pitch: Double(v.pitch) / 50),
            duration: Double(spoken.samples.count) / Double(spoken.sampleRate), path: outputPath.path, words: spoken.words)
    }

    /// Words a second this voice speaks when each sentence is synthesised alone (pauses included),
    /// measured on a calibration passage in its language (in characters for Japanese, as
    /// ``Script/countWords(_:)`` counts it).
    public func measureRate(voiceID: String, scratch: URL) async throws -> Double {
        let passage = language.calibration
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
