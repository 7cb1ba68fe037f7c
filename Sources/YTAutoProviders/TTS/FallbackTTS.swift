import Foundation
import YTAutoCore

/// Tries TTS engines in order, such as ElevenLabs, then espeak-ng.
///
/// - It moves to the next engine when one fails with ``TTSQuotaExceededError``, an
///   `unauthorized` ``ProviderError`` (a bad key will not heal within a job), or any retryable
///   error (a 5xx, a rate limit, a network failure): a voice now beats the same voice later.
/// - Any other error (a bad request, an unknown voice) is thrown at once: the next engine would
///   most likely fail the same way, and the error says what to fix. Cancellation is thrown at once.
/// - When every engine fails, the last engine's error is thrown.
/// - `onFallback(name, error)` is called with the failed engine's name each time it moves on.
/// - Every engine gets the same ytauto voice id; each maps it to its own voices.
public struct FallbackTTS: TTSEngine {
    struct Link: Sendable {
        let name: String
        let engine: any TTSEngine
    }

    let links: [Link]
    let onFallback: (@Sendable (String, any Error) -> Void)?

    public var names: [String] { links.map(\.name) }

    public init(chain: [(name: String, engine: any TTSEngine)], onFallback: (@Sendable (String, any Error) -> Void)? = nil) {
        links = chain.map { Link(name: $0.name, engine: $0.engine) }
        self.onFallback = onFallback
    }

    /// Whether an error lets the chain try the next engine.
    public static func fallsBack(on error: any Error) -> Bool {
        if error is CancellationError { return false }
        if error is TTSQuotaExceededError { return true }
        if let p = error as? ProviderError, p.reason == "unauthorized" { return true }
        return JobFailure(error).isRetryable
    }

    public func synthesize(text: String, outputPath: URL, voiceID: String) async throws -> AudioSegment {
        guard !links.isEmpty else {
            throw ProviderError(family: .tts, reason: "no_engine", message: "the TTS fallback chain has no engines", isRetryable: false)
        }
        var lastError: (any Error)?
        for (i, link) in links.enumerated() {
            try Task.checkCancellation()
            do {
                return try await link.engine.synthesize(text: text, outputPath: outputPath, voiceID: voiceID)
            } catch {
                guard Self.fallsBack(on: error), !Task.isCancelled else { throw error }
                lastError = error
                if i < links.count - 1 { onFallback?(link.name, error) }
            }
        }
        throw lastError!
    }
}
