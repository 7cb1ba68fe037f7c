import Foundation
import NIOHTTP1
import YTAutoCore
import YTAutoSupport

/// Scene images from a local Stable Diffusion WebUI (AUTOMATIC1111 or Forge, started with `--api`).
///
/// - `POST {baseURL}/sdapi/v1/txt2img` with `{prompt, negative_prompt, width, height, steps, seed}`.
///   The model is asked for the output's shape at most 1,024 px on the long side, in multiples of
///   64 (what SD checkpoints are trained near; asking 1920×1080 directly repeats subjects), and
///   `images[0]` is then scaled and cropped to exactly `width`×`height` PNG at `outputPath`.
/// - The seed comes from the prompt's SHA-256, so the same prompt gives the same image and a
///   retried stage redraws what it drew before.
/// - Errors: 422 (`{"detail": [...]}`, bad input) is `image.bad_request`, not retryable;
///   500 (`{"error", "detail", "errors"}`, such as out of GPU memory) and a refused connection
///   (the WebUI is not running yet) are retryable.
/// - `usage` gets `("stable-diffusion", "images", 1)` after each image.
public struct StableDiffusionImageGenerator: ImageGenerator {
    public let baseURL: String
    public let width: Int
    public let height: Int
    public let steps: Int
    public let negativePrompt: String
    private let tools: ToolRunner
    private let usage: UsageReport?
    private let http: HTTP

    public static let defaultNegativePrompt = "text, watermark, signature, logo, blurry, lowres, jpeg artifacts, deformed"

    /// - Parameters:
    ///   - baseURL: the WebUI, `http://127.0.0.1:7860` by default; it needs no key.
    ///   - width, height: the exact size of the PNG written.
    ///   - timeout: for the whole request, connecting included (a refused connection is retried
    ///     with backoff until ``HTTP/client``'s 10 s connect timeout or this one, whichever ends first); a large image on a small GPU takes minutes.
    public init(
        baseURL: String = "http://127.0.0.1:7860", width: Int, height: Int, steps: Int = 25,
        negativePrompt: String = StableDiffusionImageGenerator.defaultNegativePrompt, tools: ToolRunner,
        usage: (@Sendable (_ provider: String, _ unit: String, _ amount: Int) async -> Void)? = nil,
        timeout: Duration = .seconds(600)
    ) {
        self.http = HTTP(family: .image, timeout: timeout)
        self.baseURL = ProviderSupport.trimmed(baseURL)
        self.width = width
        self.height = height
        self.steps = steps
        self.negativePrompt = negativePrompt
        self.tools = tools
        self.usage = usage
    }

    /// The size asked of the model: the output's shape, long side at most 1,024, multiples of 64.
    public var generationSize: (width: Int, height: Int) {
        let scale = min(1.0, 1024.0 / Double(max(width, height, 1)))
        func snap(_ v: Int) -> Int { max(64, Int((Double(v) * scale / 64).rounded()) * 64) }
        return (snap(width), snap(height))
    }

    /// A seed in 0..<2³¹ from the prompt.
    public static func seed(for prompt: String) -> Int {
        Int(UInt32(Checksum.sha256Hex(prompt).prefix(8), radix: 16) ?? 0) & 0x7FFF_FFFF
    }

    private var label: String { "Stable Diffusion WebUI (\(ProviderSupport.host(baseURL)))" }

    public func generate(prompt: String, outputPath: URL) async throws -> VisualAsset {
        let size = generationSize
        let body = try jsonBody([
            "prompt": prompt, "negative_prompt": negativePrompt, "width": size.width, "height": size.height,
            "steps": steps, "seed": Self.seed(for: prompt), "n_iter": 1, "batch_size": 1,
        ])
        let reply = try await http.send(.POST, baseURL + "/sdapi/v1/txt2img", headers: [("Content-Type", "application/json")], body: body)
        guard (200..<300).contains(reply.status) else { throw error(for: reply) }
        let json = try ProviderSupport.json(reply, family: .image, what: label)
        guard let b64 = (json["images"] as? [String])?.first else {
            throw ProviderError(family: .image, reason: "bad_response", message: "\(label): HTTP \(reply.status) without images[0]", isRetryable: true)
        }
        let asset = try await ProviderSupport.fittedImage(
            base64: b64, prompt: prompt, outputPath: outputPath, width: width, height: height, tools: tools, what: label)
        await usage?("stable-diffusion", "images", 1)
        return asset
    }

    /// The WebUI's error bodies: FastAPI's `{"detail": [{loc, msg}]}` and its own `{error, detail, errors}`.
    static func errorText(_ reply: HTTP.Reply) -> String {
        guard let j = reply.json else { return reply.errorText }
        if let list = j["detail"] as? [[String: Any]] {
            return list.map { item in
                let loc = (item["loc"] as? [Any])?.map { "\($0)" }.joined(separator: ".") ?? ""
                let msg = item["msg"] as? String ?? "invalid"
                return loc.isEmpty ? msg : "\(loc): \(msg)"
            }.joined(separator: "; ")
        }
        if let e = j["error"] as? String {
            let parts = [e] + ["detail", "errors"].compactMap { (j[$0] as? String).flatMap { $0.isEmpty ? nil : $0 } }
            return parts.joined(separator: ": ")
        }
        return reply.errorText
    }

    func error(for reply: HTTP.Reply) -> any Error {
        let what = "\(label): HTTP \(reply.status): \(Self.errorText(reply))"
        switch reply.status {
        case 422, 400:
            return ProviderError(family: .image, reason: "bad_request", message: what, isRetryable: false)
        case 500...:
            return ProviderError(family: .image, reason: "server_error", message: what, isRetryable: true, retryAt: reply.retryAfter())
        default:
            return http.unexpected(reply, during: label)
        }
    }
}
