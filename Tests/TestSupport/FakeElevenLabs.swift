import Foundation

/// ElevenLabs' `POST /v1/text-to-speech/{voice_id}/with-timestamps` reply, as its API reference
/// gives it: `audio_base64` (the audio in the requested `output_format`) and `alignment` and
/// `normalized_alignment`, each three parallel arrays (`characters`,
/// `character_start_times_seconds`, `character_end_times_seconds`) over the text as sent and as
/// ElevenLabs normalised it.
public enum FakeElevenLabs {
    /// Each character of `text` is given an equal share of `spoken` (from its lower bound); a
    /// space lasts as long as a letter, as in the service's replies.
    public static func alignment(_ text: String, spoken: ClosedRange<Double>) -> [String: Any] {
        let characters = text.map { String($0) }
        let step = (spoken.upperBound - spoken.lowerBound) / Double(max(characters.count, 1))
        let starts = characters.indices.map { spoken.lowerBound + Double($0) * step }
        return [
            "characters": characters,
            "character_start_times_seconds": starts,
            "character_end_times_seconds": starts.map { $0 + step },
        ]
    }

    /// The 200 reply: the audio and the alignment of `text` over `spoken`.
    public static func reply(audio: Data, text: String, spoken: ClosedRange<Double>) -> LoopbackReply {
        let a = alignment(text, spoken: spoken)
        return .json(200, ["audio_base64": audio.base64EncodedString(), "alignment": a, "normalized_alignment": a])
    }
}
