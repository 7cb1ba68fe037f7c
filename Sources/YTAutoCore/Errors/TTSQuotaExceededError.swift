import Foundation

/// A TTS quota or character limit was reached. Retried after the reset when known.
public struct TTSQuotaExceededError: YTAutoError {
    public let message: String
    public let retryAt: Date?
    public init(message: String, retryAt: Date? = nil) {
        self.message = message
        self.retryAt = retryAt
    }
    public var code: String { "tts.quota_exceeded" }
    public var isRetryable: Bool { true }
}
