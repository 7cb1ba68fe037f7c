import Foundation
import Logging
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoSupport

/// The services each channel asked for in its configuration (`script:`, `tts:`, `images:`,
/// `publisher:`), with the offline ones where it asked for nothing else.
///
/// Keys come from ``Credentials``; a channel that needs a key it lacks fails its stage with a
/// message naming the variable. What providers consume goes into the quota ledger, per UTC day
/// (YouTube's per Pacific day), and a YouTube upload that would pass `daily_quota` is parked.
public struct ProviderServices: ServiceFactory {
    let tools: ToolRunner
    let config: ProvidersConfig
    let credentials: Credentials
    let ledger: any QuotaLedger
    let offline: OfflineServices
    let configDirectory: URL
    /// Which stock footage each channel used (``FootageLedger``): the store.
    let footageLedger: (any FootageLedger)?
    /// Where stock searches and downloads are kept (`<work_dir>/stock`).
    let stockCache: URL
    let clock: @Sendable () -> Date
    /// Told when a TTS engine gives way to the next one.
    let onFallback: (@Sendable (String, any Error) -> Void)?
    /// Told when what a provider consumed could not be written to the ledger (see ``record(_:provider:channel:unit:amount:day:onFailure:)``).
    let onLedgerFailure: @Sendable (_ what: String, _ error: any Error) -> Void

    public init(
        tools: ToolRunner, config: ProvidersConfig, credentials: Credentials, ledger: any QuotaLedger, configDirectory: URL,
        footageLedger: (any FootageLedger)? = nil, stockCache: URL? = nil,
        clock: @escaping @Sendable () -> Date = Date.init, onFallback: (@Sendable (String, any Error) -> Void)? = nil,
        onLedgerFailure: (@Sendable (_ what: String, _ error: any Error) -> Void)? = nil
    ) {
        self.tools = tools
        self.config = config
        self.credentials = credentials
        self.ledger = ledger
        self.offline = OfflineServices(tools: tools)
        self.configDirectory = configDirectory
        self.footageLedger = footageLedger
        self.stockCache = stockCache ?? configDirectory.appending(path: "stock")
        self.clock = clock
        self.onFallback = onFallback
        self.onLedgerFailure = onLedgerFailure ?? { what, error in
            // Made here, not earlier, so it uses the logging the command set up.
            Logger(label: "ytauto.quota").error("\(what)")
        }
    }

    /// Writes what a provider consumed to the ledger, awaited by the adapter before its call
    /// returns, so a stage that finished has its usage on record.
    ///
    /// A write that fails does not fail the stage: the provider has been paid, and a retried
    /// stage would buy the same thing again. It is told to ``onLedgerFailure`` (by default an
    /// error in the log naming the provider, channel, unit and amount), never dropped in silence.
    static func record(
        _ ledger: any QuotaLedger, provider: String, channel: String, unit: String, amount: Int, day: String,
        onFailure: @Sendable (_ what: String, _ error: any Error) -> Void
    ) async {
        do {
            try await ledger.record(provider: provider, channel: channel, unit: unit, amount: amount, day: day)
        } catch {
            onFailure("the quota ledger did not record \(amount) \(unit) of \(provider) for channel \(channel) on \(day): "
                      + JobFailure(error).description, error)
        }
    }

    func usage(_ channel: ChannelConfig) -> @Sendable (String, String, Int) async -> Void {
        let ledger = self.ledger, clock = self.clock, onFailure = self.onLedgerFailure
        return { provider, unit, amount in
            await Self.record(ledger, provider: provider, channel: channel.name, unit: unit, amount: amount,
                              day: QuotaDay.utc(clock()), onFailure: onFailure)
        }
    }

    func key(_ name: String, for what: String, family: ProviderError.Family = .llm) throws -> String {
        do { return try credentials.require(name, for: what) } catch let e as CredentialsError {
            throw ProviderError(family: family, reason: "no_credentials", message: e.description, isRetryable: false)
        }
    }

    public func scriptGenerator(for channel: ChannelConfig, wordsPerSecond: Double, seed: String, recent: [ChannelHistory.Entry]) throws -> any ScriptGenerator {
        let validator = ScriptValidator(wordsPerSecond: wordsPerSecond)
        let validate: @Sendable (Script, ChannelConfig) throws -> Void = { try validator.validate($0, channel: $1) }
        switch channel.services.script {
        case .template:
            return try offline.scriptGenerator(for: channel, wordsPerSecond: wordsPerSecond, seed: seed, recent: recent)
        case .openai:
            return OpenAIChatScriptGenerator(
                baseURL: config.openai.baseURL, model: config.openai.chatModel, apiKey: credentials["OPENAI_API_KEY"],
                validate: validate, wordsPerSecond: wordsPerSecond, usage: usage(channel))
        case .anthropic:
            return AnthropicScriptGenerator(
                baseURL: config.anthropic.baseURL, model: config.anthropic.model,
                apiKey: try key("ANTHROPIC_API_KEY", for: "channel \(channel.name)'s script: anthropic"),
                validate: validate, wordsPerSecond: wordsPerSecond, usage: usage(channel))
        }
    }

    public func tts(for channel: ChannelConfig) throws -> (engine: any TTSEngine, name: String) {
        var chain: [(name: String, engine: any TTSEngine)] = []
        for engine in channel.services.tts {
            switch engine {
            case .espeak:
                let language = channel.spokenLanguage
                chain.append((language == .english ? "espeak" : "espeak-\(language.code)", EspeakTTS(tools: tools, language: language)))
            case .elevenlabs:
                let key = try self.key("ELEVENLABS_API_KEY", for: "channel \(channel.name)'s tts: elevenlabs")
                var voices = ElevenLabsTTS.defaultVoices
                voices.merge(config.elevenlabs.voices) { _, n in n }
                chain.append(("elevenlabs", ElevenLabsTTS(
                    baseURL: config.elevenlabs.baseURL, apiKey: key, tools: tools, voiceMap: voices,
                    modelID: config.elevenlabs.modelID, usage: usage(channel))))
            case .openai:
                chain.append(("openai", OpenAISpeechTTS(
                    baseURL: config.openai.baseURL, apiKey: credentials["OPENAI_API_KEY"], model: config.openai.speechModel,
                    voiceMap: config.openai.voices, tools: tools, usage: usage(channel))))
            }
        }
        if chain.count == 1 { return (chain[0].engine, chain[0].name) }
        // Sentences are cached by the chain's name: a sentence spoken by the fallback stays spoken.
        return (FallbackTTS(chain: chain, onFallback: onFallback), chain.map(\.name).joined(separator: ">"))
    }

    public func imageGenerator(for channel: ChannelConfig, width: Int, height: Int) throws -> any ImageGenerator {
        switch channel.services.images {
        case .procedural, .library, .pexels, .pixabay:
            // (A library or stock channel's scenes come from ``footageSource(for:)``; its generator is the offline one.)
            return try offline.imageGenerator(for: channel, width: width, height: height)
        case .openai:
            return OpenAIImageGenerator(
                baseURL: config.openai.baseURL, apiKey: credentials["OPENAI_API_KEY"], model: config.openai.imageModel,
                size: config.openai.imageSize, width: width, height: height, tools: tools, usage: usage(channel))
        case .stableDiffusion:
            return StableDiffusionImageGenerator(
                baseURL: config.stableDiffusion.baseURL, width: width, height: height, steps: config.stableDiffusion.steps,
                negativePrompt: config.stableDiffusion.negativePrompt, tools: tools, usage: usage(channel))
        }
    }

    public func footageSource(for channel: ChannelConfig) throws -> (any FootageSource)? {
        let search: any StockSearch
        switch channel.services.images {
        case .pexels:
            search = PexelsSearch(baseURL: config.pexels.baseURL,
                                  apiKey: try key("PEXELS_API_KEY", for: "channel \(channel.name)'s images: pexels", family: .image),
                                  usage: usage(channel), clock: clock)
        case .pixabay:
            search = PixabaySearch(baseURL: config.pixabay.baseURL,
                                   apiKey: try key("PIXABAY_API_KEY", for: "channel \(channel.name)'s images: pixabay", family: .image),
                                   safeSearch: config.pixabay.safeSearch, usage: usage(channel), clock: clock)
        case .library:
            // The offline factory's library, with the ledger this factory has: files the channel
            // showed lately give way to others.
            guard footageLedger != nil, let folder = channel.mediaLibrary else { return try offline.footageSource(for: channel) }
            return MediaLibrary(root: URL(fileURLWithPath: folder), tools: tools, ledger: footageLedger, channel: channel.name,
                                reuseDays: channel.footageReuseDays, language: channel.language)
        default:
            return try offline.footageSource(for: channel)
        }
        // The channel's media library, if it has one, still gives the music.
        let music = channel.mediaLibrary.map { MediaLibrary(root: URL(fileURLWithPath: $0), tools: tools) }
        return StockFootageSource(search: search, cache: stockCache, channel: channel.name, language: channel.language,
                                  reuseDays: channel.footageReuseDays,
                                  ledger: footageLedger, width: channel.format.width, height: channel.format.height, tools: tools,
                                  musicSource: music, clock: clock)
    }

    public func youTubeOAuth() throws -> YouTubeOAuth {
        let yt = config.youtube
        func need(_ name: String) throws -> String {
            do { return try credentials.require(name, for: "YouTube") } catch let e as CredentialsError {
                throw YouTubeAuthError(message: e.description, remedy: .none)
            }
        }
        return YouTubeOAuth(
            clientID: try need("YOUTUBE_CLIENT_ID"), clientSecret: try need("YOUTUBE_CLIENT_SECRET"),
            authURL: yt.authURL, tokenURL: yt.tokenURL,
            tokenFile: URL(fileURLWithPath: yt.tokenFile, relativeTo: configDirectory).standardizedFileURL.path, clock: clock)
    }

    public func publisher(for channel: ChannelConfig, job: Job, folder: URL, context: StageContext) throws -> any VideoPublisher {
        guard channel.services.publisher == .youtube else {
            return try offline.publisher(for: channel, job: job, folder: folder, context: context)
        }
        let yt = config.youtube
        let ledger = self.ledger, clock = self.clock, onLedgerFailure = self.onLedgerFailure
        let publishAt = yt.publishAfterHours.map { clock().addingTimeInterval(Double($0) * 3600) }
        let metadata: @Sendable (String, String, [String]) -> YouTubeMetadata = { title, description, tags in
            YouTubeMetadata(title: title, description: description, tags: tags, categoryID: yt.categoryID,
                            privacyStatus: yt.privacyStatus, publishAt: publishAt, madeForKids: yt.madeForKids,
                            containsSyntheticMedia: yt.syntheticMedia, language: channel.language)
        }
        let context = context, jobID = job.id
        return YouTubeDataAPIUploader(
            oauth: try youTubeOAuth(), uploadBase: yt.uploadBase, apiBase: yt.apiBase, chunkSize: yt.chunkMiB << 20,
            metadata: metadata, notes: context.notes,
            save: { notes in
                var c = context
                try await c.save(notes)
            },
            usage: { unit, amount in
                await Self.record(ledger, provider: "youtube", channel: channel.name, unit: unit, amount: amount,
                                  day: QuotaDay.youtube(clock()), onFailure: onLedgerFailure)
            },
            clock: clock,
            quota: YouTubeQuota(ledger: ledger, channel: channel.name, cost: yt.uploadCost + yt.thumbnailCost + yt.captionsCost, dailyQuota: yt.dailyQuota, dailyUploads: yt.dailyUploads, clock: clock),
            warn: { text in
                // Made here, not earlier, so it uses the logging the command set up.
                var log = Logger(label: "ytauto.youtube")
                log[metadataKey: "job_id"] = "\(jobID)"
                log[metadataKey: "channel"] = "\(channel.name)"
                log.warning("\(text)")
            })
    }
}
