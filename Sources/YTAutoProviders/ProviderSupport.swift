import Foundation
import YTAutoCore

/// The shape of the `usage:` closure every adapter takes.
typealias UsageReport = @Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void

/// Helpers every adapter (LLM, TTS, images) uses, so each adapter file holds only its provider's wire protocol.
enum ProviderSupport {
    /// `baseURL` without trailing slashes, so `base + "/path"` never doubles one.
    static func trimmed(_ baseURL: String) -> String {
        var s = baseURL
        while s.hasSuffix("/") { s.removeLast() }
        return s
    }

    static func host(_ url: String) -> String { URL(string: url)?.host ?? url }

    /// The provider's error text with the key cut out. Some providers echo a wrong key back in
    /// their 401 body; a message must never carry it.
    static func errorText(_ reply: HTTP.Reply, key: String?) -> String {
        redact(reply.errorText, key: key)
    }

    static func redact(_ text: String, key: String?) -> String {
        guard let key, key.count >= 4 else { return text }
        return text.replacingOccurrences(of: key, with: "[redacted]")
    }

    /// The error for a status the adapter does not map itself, with the key cut out of the text.
    static func unexpected(_ http: HTTP, _ reply: HTTP.Reply, during what: String, key: String?) -> ProviderError {
        let e = http.unexpected(reply, during: what)
        return ProviderError(family: e.family, reason: e.reason, message: redact(e.message, key: key),
                             isRetryable: e.isRetryable, retryAt: e.retryAt)
    }

    /// The JSON body of a 2xx reply, or a retryable `bad_response` error.
    static func json(_ reply: HTTP.Reply, family: ProviderError.Family, what: String) throws -> [String: Any] {
        guard let j = reply.json else {
            throw ProviderError(family: family, reason: "bad_response",
                                message: "\(what): HTTP \(reply.status) with a body that is not a JSON object: \(reply.body.prefix(200).utf8Text)",
                                isRetryable: true)
        }
        return j
    }

    /// `{"error": {"code": …}}` or `{"error": {"type": …}}` of an OpenAI- or Anthropic-style error body.
    static func errorField(_ reply: HTTP.Reply, _ name: String) -> String? {
        (reply.json?["error"] as? [String: Any])?[name] as? String
    }

    /// `{"detail": {"status": …}}` of an ElevenLabs error body.
    static func detailStatus(_ reply: HTTP.Reply) -> String? {
        (reply.json?["detail"] as? [String: Any])?["status"] as? String
    }
}
