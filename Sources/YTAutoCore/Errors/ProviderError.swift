import Foundation

/// A provider error that has no type of its own (a 5xx, a timeout, a bad body), for any kind of
/// provider: its ``ProviderError/Family`` is the first half of its code (`tts.server_error`).
public struct ProviderError: YTAutoError {
    public enum Family: String, Sendable {
        case llm, tts, image, video, music, youtube, thumbnail
    }

    public let family: Family
    public let reason: String
    public let message: String
    public let isRetryable: Bool
    public let retryAt: Date?

    /// - Parameters:
    ///   - reason: the stable second half of the code, such as `server_error` or `timeout`.
    public init(family: Family, reason: String, message: String, isRetryable: Bool, retryAt: Date? = nil) {
        self.family = family
        self.reason = reason
        self.message = message
        self.isRetryable = isRetryable
        self.retryAt = retryAt
    }

    public var code: String { "\(family.rawValue).\(reason)" }
}
