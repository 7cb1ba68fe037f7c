import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoSupport
import YTAutoTestSupport

/// The image generators against loopback servers that speak OpenAI's images API and the
/// Stable Diffusion WebUI's txt2img, with real PNGs made by ffmpeg.
@Suite struct ImageProviderTests {
    static let key = "sk-test-images-77aa66bb55cc44dd"
    let dir = TempDir("ytauto-images")
    let tools: ToolRunner

    init() throws { tools = try ToolRunner() }

    func url(_ name: String) -> URL { dir.url.appending(path: name) }

    /// A real PNG of `width`×`height` (a test pattern), base64-encoded as the APIs send it.
    func pngBase64(width: Int, height: Int) async throws -> String {
        let path = dir.path("src-\(width)x\(height)-\(UUID().uuidString.prefix(6)).png")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "testsrc2=s=\(width)x\(height)", "-frames:v", "1", path])
        return try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString()
    }

    /// The size and codec of an image file, from ffprobe.
    func imageInfo(_ path: String) async throws -> (width: Int, height: Int, codec: String) {
        let probe = try await tools.probe(path)
        let stream = try #require((probe["streams"] as? [[String: Any]])?.first)
        return (stream["width"] as? Int ?? 0, stream["height"] as? Int ?? 0, stream["codec_name"] as? String ?? "")
    }

    static func openAIError(_ status: Int, type: String, code: String?, message: String, headers: [(String, String)] = []) -> LoopbackReply {
        .json(status, ["error": ["message": message, "type": type, "param": NSNull(), "code": code.map { $0 as Any } ?? NSNull()]], headers: headers)
    }

    func openAI(_ server: LoopbackServer, model: String = "gpt-image-1", width: Int = 640, height: Int = 360, usage: Locked<[String]>? = nil) -> OpenAIImageGenerator {
        OpenAIImageGenerator(
            baseURL: server.baseURL + "/v1", apiKey: Self.key, model: model, size: nil, width: width, height: height, tools: tools,
            usage: recorder(usage))
    }

    // MARK: - OpenAI

    @Test func openAIImageIsDecodedAndFittedToTheExactSize() async throws {
        let png = try await pngBase64(width: 1536, height: 1024)
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            return .json(200, [
                "created": 1_713_833_628, "data": [["b64_json": png]],
                "usage": ["total_tokens": 100, "input_tokens": 50, "output_tokens": 50,
                          "input_tokens_details": ["text_tokens": 10, "image_tokens": 40]],
            ])
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let out = url("scene-1.png")
        let prompt = "a lighthouse on a cliff at dusk, volumetric fog"
        let asset = try await openAI(server, usage: usage).generate(prompt: prompt, outputPath: out)

        let info = try await imageInfo(out.path)
        #expect(info.width == 640 && info.height == 360 && info.codec == "png")
        #expect(asset.path == out.path && asset.type == .image && asset.prompt == prompt)
        #expect(usage.value == ["openai images 1"])

        let req = try #require(requests.value.first)
        #expect(req.method == "POST" && req.path == "/v1/images/generations")
        #expect(req.header("Authorization") == "Bearer \(Self.key)")
        let json = try #require(req.json)
        #expect(json["model"] as? String == "gpt-image-1")
        #expect(json["prompt"] as? String == prompt)
        #expect(json["n"] as? Int == 1)
        #expect(json["size"] as? String == "1536x1024")
        // gpt-image-1 rejects response_format; it always answers in base64.
        #expect(json["response_format"] == nil)
    }

    @Test func dallEIsAskedForBase64AtItsOwnSizes() async throws {
        let png = try await pngBase64(width: 1024, height: 1792)
        let requests = Locked<[LoopbackRequest]>([])
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            return .json(200, ["created": 1_713_833_628, "data": [["b64_json": png, "revised_prompt": "A tall lighthouse."]]])
        }
        defer { withExtendedLifetime(server) {} }
        let out = url("portrait.png")
        _ = try await openAI(server, model: "dall-e-3", width: 1080, height: 1920).generate(prompt: "a tall lighthouse", outputPath: out)
        let info = try await imageInfo(out.path)
        #expect(info.width == 1080 && info.height == 1920)
        let json = try #require(requests.value.first?.json)
        #expect(json["response_format"] as? String == "b64_json")
        #expect(json["size"] as? String == "1024x1792")
    }

    @Test func openAIContentPolicyIsPermanentAndOtherErrorsMap() async throws {
        let server = try LoopbackServer { req in
            switch req.json?["prompt"] as? String {
            case "policy":
                return Self.openAIError(400, type: "invalid_request_error", code: "content_policy_violation",
                                        message: "Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.")
            case "rate":
                return Self.openAIError(429, type: "requests", code: "rate_limit_exceeded",
                                        message: "Rate limit reached for images per minute.", headers: [("Retry-After", "30")])
            case "down":
                return Self.openAIError(502, type: "server_error", code: nil, message: "Bad gateway.")
            default:
                return Self.openAIError(401, type: "invalid_request_error", code: "invalid_api_key",
                                        message: "Incorrect API key provided: \(req.header("Authorization") ?? "").")
            }
        }
        defer { withExtendedLifetime(server) {} }
        let gen = openAI(server)
        func fail(_ prompt: String) async throws -> ProviderError {
            let error = await thrown { try await gen.generate(prompt: prompt, outputPath: url("\(prompt).png")) }
            expectNoSecret(error!, Self.key)
            return try #require(error as? ProviderError)
        }
        let policy = try await fail("policy")
        #expect(policy.code == "image.content_policy" && !policy.isRetryable)
        #expect(policy.message.contains("HTTP 400") && policy.message.contains("safety system"))
        #expect(!FileManager.default.fileExists(atPath: url("policy.png").path))

        let before = Date()
        let rate = try await fail("rate")
        #expect(rate.code == "image.rate_limited" && rate.isRetryable)
        let rateAt = try #require(rate.retryAt), afterRate = Date()
        #expect(rateAt >= before.addingTimeInterval(29.5) && rateAt <= afterRate.addingTimeInterval(30.5))

        let down = try await fail("down")
        #expect(down.code == "image.server_error" && down.isRetryable)

        let auth = try await fail("auth")
        #expect(auth.code == "image.unauthorized" && !auth.isRetryable && auth.message.contains("OPENAI_API_KEY"))
    }

    // MARK: - Stable Diffusion WebUI

    func stableDiffusion(_ server: LoopbackServer, usage: Locked<[String]>? = nil) -> StableDiffusionImageGenerator {
        StableDiffusionImageGenerator(
            baseURL: server.baseURL, width: 1080, height: 1920, steps: 20, negativePrompt: "text, watermark", tools: tools,
            usage: recorder(usage))
    }

    @Test func stableDiffusionDrawsAtItsOwnSizeWithASeedFromThePrompt() async throws {
        let requests = Locked<[LoopbackRequest]>([])
        let png = try await pngBase64(width: 576, height: 1024)
        let server = try LoopbackServer { req in
            requests.update { $0.append(req) }
            let p = req.json ?? [:]
            return .json(200, [
                "images": [png],
                "parameters": ["prompt": p["prompt"] ?? "", "width": p["width"] ?? 0, "height": p["height"] ?? 0],
                "info": "{\"seed\": \(p["seed"] ?? 0), \"sampler_name\": \"Euler a\"}",
            ])
        }
        defer { withExtendedLifetime(server) {} }
        let usage = Locked<[String]>([])
        let gen = stableDiffusion(server, usage: usage)
        let out = url("sd.png")
        _ = try await gen.generate(prompt: "an abandoned hospital corridor", outputPath: out)
        _ = try await gen.generate(prompt: "an abandoned hospital corridor", outputPath: url("sd-again.png"))
        _ = try await gen.generate(prompt: "a campsite under strange stars", outputPath: url("sd-other.png"))

        let info = try await imageInfo(out.path)
        #expect(info.width == 1080 && info.height == 1920 && info.codec == "png")
        #expect(usage.value.count == 3 && usage.value[0] == "stable-diffusion images 1")

        let bodies = requests.value.compactMap(\.json)
        #expect(requests.value.allSatisfy { $0.method == "POST" && $0.path == "/sdapi/v1/txt2img" && $0.header("Authorization") == nil })
        let first = try #require(bodies.first)
        #expect(first["prompt"] as? String == "an abandoned hospital corridor")
        #expect(first["negative_prompt"] as? String == "text, watermark")
        #expect(first["steps"] as? Int == 20)
        #expect(first["width"] as? Int == 576 && first["height"] as? Int == 1024)
        let seeds = bodies.map { $0["seed"] as? Int }
        #expect(seeds[0] != nil && seeds[0] == seeds[1] && seeds[0] != seeds[2])
        #expect(seeds[0] == StableDiffusionImageGenerator.seed(for: "an abandoned hospital corridor"))
    }

    @Test func stableDiffusionErrorsAndARefusedConnection() async throws {
        let server = try LoopbackServer { req in
            if (req.json?["prompt"] as? String) == "bad" {
                return .json(422, ["detail": [["loc": ["body", "steps"], "msg": "value is not a valid integer", "type": "type_error.integer"]]])
            }
            return .json(500, ["error": "OutOfMemoryError", "detail": "", "body": "",
                               "errors": "CUDA out of memory. Tried to allocate 2.00 GiB"])
        }
        defer { withExtendedLifetime(server) {} }
        let gen = stableDiffusion(server)
        let bad = try #require(await thrown { try await gen.generate(prompt: "bad", outputPath: url("bad.png")) } as? ProviderError)
        #expect(bad.code == "image.bad_request" && !bad.isRetryable)
        #expect(bad.message.contains("HTTP 422") && bad.message.contains("body.steps: value is not a valid integer"))

        let oom = try #require(await thrown { try await gen.generate(prompt: "big", outputPath: url("big.png")) } as? ProviderError)
        #expect(oom.code == "image.server_error" && oom.isRetryable)
        #expect(oom.message.contains("OutOfMemoryError") && oom.message.contains("CUDA out of memory"))

        // (A refusal comes at once; the long deadline keeps a loaded machine from making it a timeout.)
        let closed = try LoopbackSocket(listening: false)
        let offline = StableDiffusionImageGenerator(baseURL: closed.url, width: 64, height: 64, tools: tools, timeout: .seconds(60))
        let refused = try #require(await thrown { try await offline.generate(prompt: "x", outputPath: url("x.png")) } as? ProviderError)
        withExtendedLifetime(closed) {}
        #expect(refused.code == "image.network" && refused.isRetryable, "\(refused)")
    }
}
