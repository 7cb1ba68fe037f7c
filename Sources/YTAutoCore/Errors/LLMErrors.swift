import Foundation

/// HTTP 429 or the provider's rate-limit body. Retried, at Retry-After when given.
public struct LLMRateLimitError: YTAutoError {
    public let message: String
    public let retryAt: Date?
    public init(message: String, retryAt: Date? = nil) {
        self.message = message
        self.retryAt = retryAt
    }
    public var code: String { "llm.rate_limited" }
    public var isRetryable: Bool { true }
}

/// The model refused, or a content filter stopped the answer. Asking again will not help.
public struct LLMContentFilterError: YTAutoError {
    public let message: String
    public init(message: String) { self.message = message }
    public var code: String { "llm.content_filtered" }
    public var isRetryable: Bool { false }
}
