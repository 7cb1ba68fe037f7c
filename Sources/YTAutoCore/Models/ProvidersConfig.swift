import Foundation

/// Which service makes each part of a channel's videos (`script:`, `tts:`, `images:`,
/// `publisher:` on a channel). The defaults are the offline ones.
public struct ChannelServices: Sendable, Codable, Hashable {
    public enum Script: String, Sendable, Codable, Hashable, CaseIterable { case template, openai, anthropic }
    public enum Images: String, Sendable, Codable, Hashable, CaseIterable {
        case procedural, openai
        case stableDiffusion = "stable_diffusion"
        /// The channel's `media_library:` folder (its default when one is set).
        case library
        /// Stock clips and photos searched by each scene's words (``ProvidersConfig/Pexels``, ``ProvidersConfig/Pixabay``).
        case pexels, pixabay
    }
    public enum TTS: String, Sendable, Codable, Hashable, CaseIterable { case espeak, elevenlabs, openai }
    public enum Publisher: String, Sendable, Codable, Hashable, CaseIterable { case local, youtube }

    public var script: Script = .template
    /// Tried in order: the next one speaks when one runs out of quota or fails (e.g. [elevenlabs, espeak]).
    public var tts: [TTS] = [.espeak]
    public var images: Images = .procedural
    public var publisher: Publisher = .local

    public init() {}
}

/// Where each provider is, and how it is used: the top-level `providers:` of `ytauto.yaml`.
/// Every base URL can point at a proxy, a self-hosted server (Ollama, vLLM, llama.cpp) or a test server.
public struct ProvidersConfig: Sendable, Codable, Hashable {
    public struct OpenAI: Sendable, Codable, Hashable {
        public var baseURL = "https://api.openai.com/v1"
        public var chatModel = "gpt-4o-mini"
        public var speechModel = "gpt-4o-mini-tts"
        public var imageModel = "gpt-image-1"
        public var imageSize = "1024x1536"
        /// ytauto voice id → OpenAI voice.
        public var voices: [String: String] = ["en-deep": "onyx", "en-bright": "nova", "en-calm": "sage"]
        enum CodingKeys: String, CodingKey, CaseIterable {
            case baseURL = "base_url", chatModel = "chat_model", speechModel = "speech_model"
            case imageModel = "image_model", imageSize = "image_size", voices
        }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
            chatModel = try c.decodeIfPresent(String.self, forKey: .chatModel) ?? chatModel
            speechModel = try c.decodeIfPresent(String.self, forKey: .speechModel) ?? speechModel
            imageModel = try c.decodeIfPresent(String.self, forKey: .imageModel) ?? imageModel
            imageSize = try c.decodeIfPresent(String.self, forKey: .imageSize) ?? imageSize
            voices = try c.decodeIfPresent([String: String].self, forKey: .voices) ?? voices
        }
    }

    public struct Anthropic: Sendable, Codable, Hashable {
        public var baseURL = "https://api.anthropic.com"
        public var model = "claude-sonnet-4-5"
        enum CodingKeys: String, CodingKey, CaseIterable { case baseURL = "base_url", model }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
            model = try c.decodeIfPresent(String.self, forKey: .model) ?? model
        }
    }

    public struct ElevenLabs: Sendable, Codable, Hashable {
        public var baseURL = "https://api.elevenlabs.io"
        public var modelID = "eleven_multilingual_v2"
        /// ytauto voice id → ElevenLabs voice id.
        public var voices: [String: String] = [:]
        enum CodingKeys: String, CodingKey, CaseIterable { case baseURL = "base_url", modelID = "model_id", voices }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
            modelID = try c.decodeIfPresent(String.self, forKey: .modelID) ?? modelID
            voices = try c.decodeIfPresent([String: String].self, forKey: .voices) ?? voices
        }
    }

    public struct StableDiffusion: Sendable, Codable, Hashable {
        public var baseURL = "http://127.0.0.1:7860"
        public var steps = 25
        public var negativePrompt = "text, watermark, low quality"
        enum CodingKeys: String, CodingKey, CaseIterable { case baseURL = "base_url", steps, negativePrompt = "negative_prompt" }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
            steps = try c.decodeWholeNumber(forKey: .steps, in: ConfigLimits.stableDiffusionSteps) ?? steps
            negativePrompt = try c.decodeIfPresent(String.self, forKey: .negativePrompt) ?? negativePrompt
        }
    }

    /// Pexels' API (`PEXELS_API_KEY`): videos and photos, 200 requests an hour by default.
    public struct Pexels: Sendable, Codable, Hashable {
        public var baseURL = "https://api.pexels.com"
        enum CodingKeys: String, CodingKey, CaseIterable { case baseURL = "base_url" }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
        }
    }

    /// Pixabay's API (`PIXABAY_API_KEY`): videos and photos, 100 requests a minute.
    public struct Pixabay: Sendable, Codable, Hashable {
        public var baseURL = "https://pixabay.com/api"
        /// Only what Pixabay marks suitable for all ages (its `safesearch`).
        public var safeSearch = true
        enum CodingKeys: String, CodingKey, CaseIterable { case baseURL = "base_url", safeSearch = "safesearch" }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            baseURL = try c.decodeIfPresent(String.self, forKey: .baseURL) ?? baseURL
            safeSearch = try c.decodeIfPresent(Bool.self, forKey: .safeSearch) ?? safeSearch
        }
    }

    public struct YouTube: Sendable, Codable, Hashable {
        public var authURL = "https://accounts.google.com/o/oauth2/v2/auth"
        public var tokenURL = "https://oauth2.googleapis.com/token"
        public var uploadBase = "https://www.googleapis.com/upload"
        public var apiBase = "https://www.googleapis.com"
        /// The refresh token, written by `ytauto auth youtube` with mode 0600.
        public var tokenFile = "./youtube-token.json"
        /// The project's daily API units for every method but `videos.insert`; an upload whose
        /// thumbnail and captions would pass it is parked until the reset.
        public var dailyQuota = 10_000
        /// `videos.insert` calls a day: the insert has a quota bucket of its own (100 by default).
        public var dailyUploads = 100
        /// Units a `videos.insert` charges against `dailyQuota`: 0 since Google gave the insert its
        /// own bucket; 1,600 for a project still charged the older way.
        public var uploadCost = 0
        public var thumbnailCost = 50
        /// `captions.insert`, the narration's subtitle track uploaded with the video.
        public var captionsCost = 400
        public var chunkMiB = 8
        public var privacyStatus = "private"
        public var categoryID = "22"
        public var madeForKids = false
        /// The altered-or-synthetic-content disclosure (status.containsSyntheticMedia).
        public var syntheticMedia = true
        /// If set, videos are uploaded private and scheduled to go public this many hours later.
        public var publishAfterHours: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case authURL = "auth_url", tokenURL = "token_url", uploadBase = "upload_base", apiBase = "api_base"
            case tokenFile = "token_file", dailyQuota = "daily_quota", dailyUploads = "daily_uploads", uploadCost = "upload_cost", thumbnailCost = "thumbnail_cost"
            case captionsCost = "captions_cost"
            case chunkMiB = "chunk_mib", privacyStatus = "privacy_status", categoryID = "category_id", madeForKids = "made_for_kids"
            case syntheticMedia = "synthetic_media", publishAfterHours = "publish_after_hours"
        }
        public init() {}
        /// The keys this mapping takes (unknown ones are refused, see AppConfig).
        public static let configKeys = CodingKeys.allCases.map(\.stringValue)
        public init(from d: any Decoder) throws {
            let c = try d.container(keyedBy: CodingKeys.self)
            authURL = try c.decodeIfPresent(String.self, forKey: .authURL) ?? authURL
            tokenURL = try c.decodeIfPresent(String.self, forKey: .tokenURL) ?? tokenURL
            uploadBase = try c.decodeIfPresent(String.self, forKey: .uploadBase) ?? uploadBase
            apiBase = try c.decodeIfPresent(String.self, forKey: .apiBase) ?? apiBase
            tokenFile = try c.decodeIfPresent(String.self, forKey: .tokenFile) ?? tokenFile
            dailyQuota = try c.decodeWholeNumber(forKey: .dailyQuota, in: ConfigLimits.youtubeDailyQuota) ?? dailyQuota
            dailyUploads = try c.decodeWholeNumber(forKey: .dailyUploads, in: ConfigLimits.youtubeDailyQuota) ?? dailyUploads
            uploadCost = try c.decodeWholeNumber(forKey: .uploadCost, in: ConfigLimits.youtubeCost) ?? uploadCost
            thumbnailCost = try c.decodeWholeNumber(forKey: .thumbnailCost, in: ConfigLimits.youtubeCost) ?? thumbnailCost
            captionsCost = try c.decodeWholeNumber(forKey: .captionsCost, in: ConfigLimits.youtubeCost) ?? captionsCost
            chunkMiB = try c.decodeWholeNumber(forKey: .chunkMiB, in: ConfigLimits.youtubeChunkMiB) ?? chunkMiB
            privacyStatus = try c.decodeIfPresent(String.self, forKey: .privacyStatus) ?? privacyStatus
            categoryID = try c.decodeIfPresent(String.self, forKey: .categoryID) ?? categoryID
            madeForKids = try c.decodeIfPresent(Bool.self, forKey: .madeForKids) ?? madeForKids
            syntheticMedia = try c.decodeIfPresent(Bool.self, forKey: .syntheticMedia) ?? syntheticMedia
            publishAfterHours = try c.decodeWholeNumber(forKey: .publishAfterHours, in: ConfigLimits.publishAfterHours)
        }
    }

    public var openai = OpenAI()
    public var anthropic = Anthropic()
    public var elevenlabs = ElevenLabs()
    public var stableDiffusion = StableDiffusion()
    public var pexels = Pexels()
    public var pixabay = Pixabay()
    public var youtube = YouTube()
    /// API keys and client secrets (mode 0600); the environment wins over it.
    public var credentialsFile = "./credentials.yaml"
    /// Whether the configuration names `credentials_file`: a file it names must exist (the default
    /// may be missing, the environment then holds every key).
    public var credentialsFileNamed = false

    enum CodingKeys: String, CodingKey, CaseIterable {
        case openai, anthropic, elevenlabs, youtube, pexels, pixabay
        case stableDiffusion = "stable_diffusion"
        case credentialsFile = "credentials_file"
    }

    public init() {}
    /// The keys `providers:` takes (unknown ones are refused, see AppConfig).
    public static let configKeys = CodingKeys.allCases.map(\.stringValue)
    public init(from d: any Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        openai = try c.decodeIfPresent(OpenAI.self, forKey: .openai) ?? openai
        anthropic = try c.decodeIfPresent(Anthropic.self, forKey: .anthropic) ?? anthropic
        elevenlabs = try c.decodeIfPresent(ElevenLabs.self, forKey: .elevenlabs) ?? elevenlabs
        stableDiffusion = try c.decodeIfPresent(StableDiffusion.self, forKey: .stableDiffusion) ?? stableDiffusion
        pexels = try c.decodeIfPresent(Pexels.self, forKey: .pexels) ?? pexels
        pixabay = try c.decodeIfPresent(Pixabay.self, forKey: .pixabay) ?? pixabay
        youtube = try c.decodeIfPresent(YouTube.self, forKey: .youtube) ?? youtube
        credentialsFile = try c.decodeIfPresent(String.self, forKey: .credentialsFile) ?? credentialsFile
        credentialsFileNamed = c.contains(.credentialsFile)
    }
}
