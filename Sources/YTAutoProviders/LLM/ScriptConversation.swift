import Foundation
import YTAutoCore

/// One turn of a conversation with a model, after the system prompt.
struct ChatTurn: Sendable, Hashable {
    enum Role: String, Sendable { case user, assistant }
    var role: Role
    var content: String
}

/// The ask–validate–re-ask loop both script generators share.
enum ScriptConversation {
    /// Asks once, then re-asks up to `maxReasks` times while the answer fails to parse or to validate.
    ///
    /// An unparseable answer uses up a re-ask like a failed validation does: a model that wrapped
    /// or truncated its JSON usually gets it right when told. With no re-asks left, an unparseable
    /// answer is a retryable ``ProviderError`` `llm.bad_response` and a failed validation rethrows
    /// the validator's last ``ScriptValidationError``.
    /// - Parameters:
    ///   - provider: names the provider in messages.
    ///   - ask: sends the conversation so far (after the system prompt) and returns the answer text.
    static func run(
        topic: String, channel: ChannelConfig, wordsPerSecond: Double, maxReasks: Int, provider: String,
        validate: @Sendable (Script, ChannelConfig) throws -> Void,
        ask: ([ChatTurn]) async throws -> String
    ) async throws -> Script {
        var turns = [ChatTurn(role: .user, content: ScriptPrompt.user(topic: topic, channel: channel, wordsPerSecond: wordsPerSecond))]
        var attempt = 0
        while true {
            try Task.checkCancellation()
            let answer = try await ask(turns)
            let script: Script
            do {
                script = try ScriptJSON.parse(answer, channel: channel.type)
            } catch let error as ScriptJSON.Unparseable {
                guard attempt < maxReasks else {
                    throw ProviderError(
                        family: .llm, reason: "bad_response",
                        message: "\(provider) answered without a usable script JSON object (\(error.problem)) after \(attempt + 1) request(s)",
                        isRetryable: true)
                }
                turns += [ChatTurn(role: .assistant, content: answer), ChatTurn(role: .user, content: ScriptPrompt.reask(unparseable: error.problem))]
                attempt += 1
                continue
            }
            do {
                try validate(script, channel)
                return script
            } catch let invalid as ScriptValidationError {
                guard attempt < maxReasks else { throw invalid }
                turns += [ChatTurn(role: .assistant, content: answer), ChatTurn(role: .user, content: ScriptPrompt.reask(issues: invalid.issues))]
                attempt += 1
            }
        }
    }
}
