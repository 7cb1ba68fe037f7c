/// How a voice speaks: the engine-independent part of a TTS request.
public struct VoiceSettings: Sendable, Codable, Hashable {
    public var voiceID: String
    /// Speaking rate, 1.0 is the voice's normal rate.
    public var rate: Double
    /// Pitch shift, 1.0 is the voice's normal pitch.
    public var pitch: Double

    public init(voiceID: String, rate: Double = 1.0, pitch: Double = 1.0) {
        self.voiceID = voiceID
        self.rate = rate
        self.pitch = pitch
    }
}

/// A piece of narration: the seed's `AudioSegment(content, voiceSettings, duration)`.
public struct AudioSegment: Sendable, Codable, Hashable {
    public var content: String
    public var voiceSettings: VoiceSettings
    /// Measured duration in seconds (from the audio file, never estimated from word counts).
    public var duration: Double
    public var path: String?

    public init(content: String, voiceSettings: VoiceSettings, duration: Double, path: String? = nil) {
        self.content = content
        self.voiceSettings = voiceSettings
        self.duration = duration
        self.path = path
    }
}
