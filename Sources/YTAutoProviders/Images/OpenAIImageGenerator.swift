import Foundation
import NIOHTTP1
import YTAutoCore
import YTAutoSupport

/// Scene images from OpenAI's image generation endpoint.
///
/// - `POST {baseURL}/images/generations` with `{model, prompt, n: 1, size}`; `baseURL` includes
///   the version. `response_format: "b64_json"` is sent only to `dall-e-*` models: `gpt-image-1`
///   always answers in base64 and rejects the field.
/// - `size` defaults to the model's size nearest the output's shape (landscape, portrait or
///   square); the image is then scaled and cropped to exactly `width`×`height` PNG at `outputPath`.
/// - Errors: a 400 `content_policy_violation` (or `gpt-image-1`'s `moderation_blocked`) is
///   `image.content_policy`, not retryable: the same prompt is refused again. 429 is a retryable
///   `image.rate_limited` at Retry-After, except `insufficient_quota` (`image.quota`, not
///   retryable); 401/403 are `image.unauthorized`; 5xx is retryable.
/// - `usage` gets `("openai", "images", 1)` after each image.
public struct OpenAIImageGenerator: ImageGenerator {
    public let baseURL: String
    private let apiKey: String?
    public let model: String
    public let size: String
    public let width: Int
    public let height: Int
    private let tools: ToolRunner
    private let usage: UsageReport?
    private let http: HTTP

    /// - Parameters:
    ///   - apiKey: sent as `Authorization: Bearer`; `nil` for local servers that need none.
    ///   - size: the size asked of the model (`1536x1024`); `nil` picks one from `width`×`height`.
    ///   - width, height: the exact size of the PNG written.
    ///   - timeout: for the whole request, connecting included (a refused connection is retried
    ///     with backoff until ``HTTP/client``'s 10 s connect timeout or this one, whichever ends first).
    public init(
        baseURL: String = "https://api.openai.com/v1", apiKey: String?, model: String = "gpt-image-1", size: String? = nil,
        width: Int, height: Int, tools: ToolRunner,
        usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
        timeout: Duration = .seconds(300)
    ) {
        self.http = HTTP(family: .image, timeout: timeout)
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.model = model
        self.size = size ?? Self.defaultSize(model: model, width: width, height: height)
        self.width = width
        self.height = height
        self.tools = tools
        self.usage = usage
    }

    /// The model's supported size closest to the output's shape.
    public static func defaultSize(model: String, width: Int, height: Int) -> String {
        let shape = width > height ? 1 : (width < height ? -1 : 0)
        switch model {
        case "dall-e-2": return "1024x1024"
        case "dall-e-3": return shape > 0 ? "1792x1024" : (shape < 0 ? "1024x1792" : "1024x1024")
        default: return shape > 0 ? "1536x1024" : (shape < 0 ? "1024x1536" : "1024x1024")
        }
    }

    private var label: String { "OpenAI images (\(model) at \(ProviderSupport.host(baseURL)))" }

    public func generate(prompt: String, outputPath: URL) async throws -> VisualAsset {
        var request: [String: Any] = ["model": model, "prompt": prompt, "n": 1, "size": size]
        if model.hasPrefix("dall-e") { request["response_format"] = "b64_json" }
        var headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey)")) }
        let reply = try await http.send(.POST, baseURL + "/images/generations", headers: headers, body: try jsonBody(request))
        guard (200..<300).contains(reply.status) else { throw error(for: reply) }
        let json = try ProviderSupport.json(reply, family: .image, what: label)
        guard let b64 = ((json["data"] as? [[String: Any]])?.first)?["b64_json"] as? String else {
            throw ProviderError(family: .image, reason: "bad_response", message: "\(label): HTTP \(reply.status) without data[0].b64_json",
                                isRetryable: true)
        }
        let asset = try await ProviderSupport.fittedImage(
            base64: b64, prompt: prompt, outputPath: outputPath, width: width, height: height, tools: tools, what: label)
        await usage?("openai", "images", 1)
        return asset
    }

    func error(for reply: HTTP.Reply) -> any Error {
        let code = ProviderSupport.errorField(reply, "code")
        let what = "\(label): HTTP \(reply.status): \(ProviderSupport.errorText(reply, key: apiKey))"
        switch reply.status {
        case 400 where code == "content_policy_violation" || code == "moderation_blocked":
            return ProviderError(family: .image, reason: "content_policy", message: "\(what) — rephrase the scene prompt", isRetryable: false)
        case 429 where code == "insufficient_quota":
            return ProviderError(family: .image, reason: "quota", message: "\(what) — the account is out of credit", isRetryable: false)
        case 429:
            return ProviderError(family: .image, reason: "rate_limited", message: what, isRetryable: true,
                                 retryAt: reply.retryAfter() ?? OpenAIChatScriptGenerator.rateLimitReset(reply))
        case 401, 403:
            return ProviderError(family: .image, reason: "unauthorized", message: "\(what) — check OPENAI_API_KEY", isRetryable: false)
        default:
            return ProviderSupport.unexpected(http, reply, during: label, key: apiKey)
        }
    }
}
