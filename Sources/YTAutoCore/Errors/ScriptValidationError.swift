import Foundation

/// A script failed validation. Carries every issue found, not only the first.
public struct ScriptValidationError: YTAutoError {
    public let issues: [String]
    public init(issues: [String]) { self.issues = issues }
    public var code: String { "script.invalid" }
    public var message: String { "script failed validation: " + issues.joined(separator: "; ") }
    public var isRetryable: Bool { false }
}
