import Foundation
import Logging
import YTAutoCore
import YTAutoSupport

/// The content pipeline of every channel type, offline: script → narration → images → clips →
/// compose → thumbnail → publish, each stage writing into `<work_dir>/<job id>/`.
///
/// Channel types differ only by configuration (``ChannelStyle``, the channel's duration range and
/// format), not by code. Items inside a stage (a sentence's audio, a scene's image or clip) are
/// reused by a retry when their `.done` sidecar still matches, so a failure at scene 7 of 12
/// keeps scenes 1–6.
public struct MediaPipeline: StagedPipeline {
    public var stages: [String] { Stage.names }

    /// What each stage reads (``Stage/inputs``).
    public func inputs(of stage: String) -> [String] { Stage(rawValue: stage)?.inputs.map(\.rawValue) ?? [] }

    let channels: [String: ChannelConfig]
    let workDirectory: URL
    let outputDirectory: URL
    let tools: ToolRunner
    /// Scenes rendered at once.
    let width: Int
    /// Told of progress inside a stage ("scene 3/12").
    let onProgress: (@Sendable (Int64, String) -> Void)?
    let services: any ServiceFactory
    /// The channels' recent videos (``ChannelHistory``): in the job store when one is given (every
    /// worker's, on every host, sees the same), else in files under `<work>/history/`.
    let history: ChannelHistory

    public init(
        channels: [ChannelConfig], workDirectory: URL, outputDirectory: URL, tools: ToolRunner,
        services: (any ServiceFactory)? = nil,
        concurrency: Int = ProcessInfo.processInfo.activeProcessorCount, onProgress: (@Sendable (Int64, String) -> Void)? = nil,
        history: (any ChannelHistoryLedger)? = nil
    ) {
        self.services = services ?? OfflineServices(tools: tools)
        self.channels = Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0) })
        self.workDirectory = workDirectory
        self.outputDirectory = outputDirectory
        self.tools = tools
        self.width = max(1, concurrency)
        self.onProgress = onProgress
        let files = workDirectory.appending(path: "history")
        self.history = history.map { ChannelHistory(store: $0, earlier: files) } ?? ChannelHistory(folder: files)
    }

    // MARK: - Stage files

    struct ScriptFile: Codable {
        var script: Script
        var sentences: [String]
        var wordsPerSecond: Double
        var topic: String
        /// Sentences of the hook, then of the body; the rest are the call to action.
        var hookSentences: Int
        var bodySentences: Int
    }

    struct Segment: Codable, Hashable {
        var text: String
        var path: String
        var start: Double
        var duration: Double
        /// The sentence's words at their places in the whole narration (seconds), and whether the
        /// engine reported them (`exact`) or they were fitted to the sentence (`estimated`).
        /// Absent in a narration made before word timings existed.
        var words: [WordTiming]?
        var wordTiming: WordTiming.Source?

        /// The caption of this sentence.
        var cue: Captions.Cue { Captions.Cue(start: start, end: start + duration, text: text, words: words ?? []) }
    }

    struct Scene: Codable, Hashable {
        var index: Int
        var prompt: String
        var motion: Motion
        var start: Double
        var duration: Double
        var sentences: [Int]
        /// The footage chosen for the scene, when it comes from a ``FootageSource`` rather than
        /// an image generator; a clip plays instead of the still's motion (the still is its frame,
        /// for the thumbnail).
        var footage: FootageAsset?
    }

    static func read<T: Decodable>(_ type: T.Type, _ path: URL) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(contentsOf: path))
        } catch {
            throw CompositionInputError(message: "cannot read \(path.path) from an earlier stage: \(error.localizedDescription)")
        }
    }

    static func write<T: Encodable>(_ value: T, _ path: URL) async throws -> Artifact {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try await Files.write(try enc.encode(value), to: path.path)
        return try Files.artifact(path.path)
    }

    func folder(_ job: Job) -> URL { folders.work(jobID: job.id) }

    func channel(_ job: Job) throws -> ChannelConfig {
        guard let c = channels[job.channel] else {
            throw CompositionInputError(message: "job \(job.id) is for channel '\(job.channel)', which the configuration does not define")
        }
        return c
    }

    /// The work and output folders of every job.
    public var folders: JobFolders { JobFolders(work: workDirectory, output: outputDirectory) }

    /// Where a job's video is published.
    public func publishFolder(_ job: Job) -> URL { folders.output(channel: job.channel, jobID: job.id, topic: job.topic) }

    /// Once a job has succeeded its video is published (in the output folder, or on YouTube),
    /// so nothing in its work folder is needed again: the folder goes. A dry run keeps it, since
    /// its video is only there (`ytauto-admin prune` removes it with the job). Failed and
    /// cancelled jobs keep theirs for diagnosis and a retry that reuses the finished stages.
    public func succeeded(job: Job, dryRun: Bool) async throws {
        guard !dryRun else { return }
        try JobFolders.remove(folder(job))
    }

    /// A channel with `review: true` stops each job before publishing until an operator approves it.
    public func needsReview(before stage: String, job: Job) -> Bool {
        stage == Stage.publish.rawValue && channels[job.channel]?.review == true
    }

    /// The job's work folder here is free (the run that held it and failed the job `work.stuck`
    /// has ended). Nil where that run was on another host (as its error names it: a folder of the
    /// same job here, from an earlier attempt, says nothing of that run; a shared `work_dir` is
    /// looked at by the workers of the run's host), or the folder or its lock file is not here.
    public func heldWorkEnded(job: Job) -> Bool? {
        guard let message = job.lastErrorMessage, let host = WorkFolderLock.holderHost(in: message),
              host == ProcessInfo.processInfo.hostName else { return nil }
        return WorkFolderLock.isFree(folder(job))
    }

    /// The process and host whose run held the job's folder, as its `work.stuck` error names it.
    public func heldWorkHolder(job: Job) -> HeldWorkHolder? {
        job.lastErrorMessage.flatMap(WorkFolderLock.holder(in:))
    }

    // MARK: - Stages

    public func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
        do {
            return try await runStage(stage, job: job, context: context)
        } catch let error as any YTAutoError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // A file that cannot be read or written (a full disk, a permission): say which, and retry later.
            throw MediaFileError(stage: stage, error: error)
        }
    }

    func runStage(_ name: String, job: Job, context: StageContext) async throws -> StageOutcome {
        guard let stage = Stage(rawValue: name) else { throw CompositionInputError(message: "unknown stage \(name)") }
        let channel = try channel(job)
        let dir = folder(job)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Held until this stage's work returns, even after the worker gave up on it.
        return try await WorkFolderLock.holding(dir, stage: name, worker: context.worker, stuckAfter: context.stageTimeout) {
            // The lock is ours: a tool still writing here is a dead worker's leftover (``LeftoverTools``).
            let leftovers = await LeftoverTools.stop(in: dir.path)
            if !leftovers.isEmpty {
                Logger(label: "ytauto.media").warning(
                    "stopped tool processes a dead worker left running in the job's folder",
                    metadata: ["job": "\(job.id)", "stage": "\(name)", "pids": "\(leftovers.map(String.init).joined(separator: ","))"])
            }
            switch stage {
            case .script: return .done(try await script(job, channel, dir))
            case .narration: return .done(try await narration(job, channel, dir))
            case .images: return .done(try await images(job, channel, dir))
            case .clips: return .done(try await clips(job, channel, dir))
            case .compose: return .done(try await compose(job, channel, dir, context))
            case .thumbnail: return .done(try await thumbnail(job, channel, dir))
            case .publish: return context.dryRun ? .skipped : .done(try await publish(job, channel, dir, context))
            }
        }
    }

    func script(_ job: Job, _ channel: ChannelConfig, _ dir: URL) async throws -> [Artifact] {
        // The speaking rate is measured with espeak-ng; another engine's real length is fitted by
        // the narration stage, which measures the audio it gets.
        let rate = EspeakVoice.named(channel.voiceID) != nil
            ? try await EspeakTTS(tools: tools, language: channel.spokenLanguage).measureRate(voiceID: channel.voiceID, scratch: dir.appending(path: "calibrate"))
            : 2.5
        let topic = job.topic ?? channel.topics.first ?? channel.name
        // What the channel said lately (this job's own earlier script aside), so it is not said again.
        let recent = try await history.recent(channel.name).filter { $0.job != job.id }
        var script = try await services.scriptGenerator(for: channel, wordsPerSecond: rate, seed: String(job.id), recent: recent)
            .generate(topic: topic, channel: channel)
        // Whatever wrote it (a template, an LLM): a title in title case, the topic's own capitals kept.
        script.title = PublishedText.title(script.title, topic: topic, language: channel.spokenLanguage)
        // What is spoken and drawn as captions: without the emoji the font cannot draw (an LLM's
        // decoration), and otherwise every character drawable, or the job stops here, before
        // anything is narrated or drawn (the compose stage's check would find it after all that).
        // The title keeps its emoji for YouTube; the thumbnail draws it without them.
        let style = ChannelStyle.of(channel)
        let glyphs = try FontGlyphs(file: style.fontFile)
        script.hook = glyphs.withoutUndrawableEmoji(script.hook)
        script.body = glyphs.withoutUndrawableEmoji(script.body)
        script.cta = glyphs.withoutUndrawableEmoji(script.cta)
        let undrawable = glyphs.missing(in: [script.hook, script.body, script.cta, glyphs.withoutUndrawableEmoji(script.title)].joined(separator: " "))
        if !undrawable.isEmpty {
            throw QualityGateError(issues: ["the caption font \(style.fontFile) has no glyph for \(FontGlyphs.describe(undrawable)) of the script: "
                + "its captions and thumbnail would show empty boxes (is the channel's language: right?)"])
        }
        try ScriptValidator(wordsPerSecond: rate).validate(script, channel: channel)
        let hook = Sentences.split(script.hook), body = Sentences.split(script.body), cta = Sentences.split(script.cta)
        // Checked against the history as it is when recorded, under its lock: a twin written
        // meanwhile by another worker (on any host) is seen.
        let sentences = hook + body + cta, percent = channel.duplicateSentencesPercent
        try await history.record(.init(job: job.id, at: Date(), topic: topic, script: script), channel: channel.name) { recent in
            if let (twin, share) = NearDuplicates.repeatedScript(sentences, recent: recent, percent: percent) {
                throw NearDuplicateError(what: "the script repeats \(Int((share * 100).rounded())) % of its sentences from job \(twin.job)'s "
                    + "(\"\(twin.script.title)\", \(Timestamp.string(twin.at))); the channel allows less than \(percent) % "
                    + "(duplicate_sentences_percent)")
            }
        }
        let file = ScriptFile(script: script, sentences: hook + body + cta, wordsPerSecond: rate, topic: topic,
                              hookSentences: hook.count, bodySentences: body.count)
        return [try await Self.write(file, dir.appending(path: "script.json"))]
    }

    /// Narrates each sentence alone (cached by voice and text), measures the real audio, and
    /// fits the channel's duration: closing body sentences are dropped while the narration runs
    /// long. Writes `narration.json` (the sentences kept, with measured times and their words'
    /// places) and `narration.wav`.
    ///
    /// The words' places are the engine's where it reports them (kept beside each sentence's audio
    /// as `<audio>.words.json`, part of the same reusable item), else fitted to the sentence's speech
    /// as measured from its audio (``WordTiming/estimate(_:speech:whole:)``).
    func narration(_ job: Job, _ channel: ChannelConfig, _ dir: URL) async throws -> [Artifact] {
        let script = try Self.read(ScriptFile.self, dir.appending(path: "script.json"))
        let (tts, engineName) = try services.tts(for: channel)
        let voice = channel.voiceID
        let audioDir = dir.appending(path: "narration")
        let count = script.sentences.count
        let progress = onProgress
        let timed = try await concurrentMap(script.sentences, width: width) { [tools] i, text -> (String, Double, [WordTiming], WordTiming.Source) in
            let key = "\(engineName)|\(voice)|\(text)"
            let path = audioDir.appending(path: String(Checksum.sha256Hex(key).prefix(24)) + ".wav").path
            let wordsFile = path + ".words.json"
            // "|words": an item made before word timings were kept is made again, with them.
            try await Files.item(path, key: key + "|words") { tmp in
                try? FileManager.default.removeItem(atPath: wordsFile)
                let spoken = try await tts.synthesize(text: text, outputPath: URL(fileURLWithPath: tmp), voiceID: voice)
                if let words = spoken.words, !words.isEmpty { try await Files.write(try JSONEncoder().encode(words), to: wordsFile) }
            }
            progress?(job.id, "sentence \(i + 1)/\(count)")
            let duration = try await tools.duration(of: path)
            if let data = FileManager.default.contents(atPath: wordsFile) {
                return (path, duration, try JSONDecoder().decode([WordTiming].self, from: data), .exact)
            }
            // No word times from the engine: fitted to the sentence's speech, clause by clause
            // where its pauses tell them apart.
            let speech = try await QualityGate.speech(in: path, duration: duration, tools: tools)
            return (path, duration, WordTiming.estimate(text, speech: speech, whole: 0...duration), .estimated)
        }
        var keep = Array(timed.indices)
        let range = channel.durationRange
        let ceiling = Double(range.max) - 1.5, floor = Double(range.min) + 0.5
        func total() -> Double { keep.reduce(0) { $0 + timed[$1].1 } }
        var lastBody = script.hookSentences + script.bodySentences - 1
        while total() > ceiling, lastBody > script.hookSentences, total() - timed[lastBody].1 >= floor {
            keep.removeAll { $0 == lastBody }
            lastBody -= 1
        }
        let length = total()
        if length > Double(range.max) || length < Double(range.min) {
            throw ScriptValidationError(issues: [String(
                format: "the narration lasts %.1f s as spoken; the channel needs %d-%d s", length, range.min, range.max)])
        }
        var segments: [Segment] = []
        var t = 0.0
        for i in keep {
            let words = timed[i].2.map { WordTiming(word: $0.word, start: t + min($0.start, timed[i].1), end: t + min($0.end, timed[i].1)) }
            segments.append(Segment(text: script.sentences[i], path: timed[i].0, start: t, duration: timed[i].1,
                                    words: words, wordTiming: timed[i].3))
            t += timed[i].1
        }
        // One narration file, joined by stream copy (every sentence has the same PCM format).
        let list = dir.appending(path: "narration.txt")
        try await Files.write(Data(segments.map { "file '\($0.path.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: "\n").utf8), to: list.path)
        let joined = dir.appending(path: "narration.wav").path
        try await Files.atomically(joined) { tmp in
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "concat", "-safe", "0", "-i", list.path, "-c", "copy", tmp])
        }
        return [try await Self.write(segments, dir.appending(path: "narration.json")), try Files.artifact(joined)]
    }

    /// Groups sentences into scenes of about the style's scene length.
    static func planScenes(_ segments: [Segment], style: ChannelStyle, topic: String, seed: String) -> [Scene] {
        var rng = SplitMix64(text: "scenes|\(topic)|\(seed)")
        var groups: [[Int]] = []
        var current: [Int] = []
        var length = 0.0
        for (i, s) in segments.enumerated() {
            current.append(i)
            length += s.duration
            if length >= style.sceneSeconds {
                groups.append(current)
                current = []
                length = 0
            }
        }
        if !current.isEmpty {
            // A short tail joins the scene before it.
            if length < style.sceneSeconds / 2, !groups.isEmpty { groups[groups.count - 1] += current } else { groups.append(current) }
        }
        var scenes: [Scene] = []
        var lastMotion: Motion?
        for (n, g) in groups.enumerated() {
            let start = segments[g[0]].start
            let duration = g.reduce(0) { $0 + segments[$1].duration }
            var motion = style.motions.randomElement(using: &rng)!
            if motion == lastMotion, style.motions.count > 1 { motion = style.motions.first { $0 != lastMotion }! }
            lastMotion = motion
            let text = g.map { segments[$0].text }.joined(separator: " ")
            scenes.append(Scene(index: n, prompt: "\(topic) — \(text)", motion: motion, start: start, duration: duration, sentences: g))
        }
        return scenes
    }

    func images(_ job: Job, _ channel: ChannelConfig, _ dir: URL) async throws -> [Artifact] {
        let segments = try Self.read([Segment].self, dir.appending(path: "narration.json"))
        let script = try Self.read(ScriptFile.self, dir.appending(path: "script.json"))
        let style = ChannelStyle.of(channel)
        let scenes = Self.planScenes(segments, style: style, topic: script.topic, seed: String(job.id))
        if let source = try services.footageSource(for: channel) {
            return try await footage(from: source, scenes: scenes, script: script, segments: segments, job: job, channel: channel, dir)
        }
        let scenesFile = try await Self.write(scenes, dir.appending(path: "scenes.json"))
        // Twice the output size, so the Ken Burns motion moves smoothly.
        let generator = try services.imageGenerator(for: channel, width: channel.format.width * 2, height: channel.format.height * 2)
        let imageSource = channel.services.images.rawValue
        let progress = onProgress
        let paths = try await concurrentMap(scenes, width: width) { _, scene -> String in
            let path = Self.stillPath(dir, scene.index)
            try await Files.item(path, key: "image|\(imageSource)|\(scene.prompt)|\(style.palette)|\(channel.format.rawValue)") { tmp in
                _ = try await generator.generate(prompt: scene.prompt, outputPath: URL(fileURLWithPath: tmp))
            }
            progress?(job.id, "image \(scene.index + 1)/\(scenes.count)")
            return path
        }
        return [scenesFile] + (try paths.map(Files.artifact))
    }

    /// A file's size and modification time, for the key of what is made from it: a file the
    /// operator replaces is made again, without hashing a large clip on every run.
    static func stamp(_ path: String) throws -> String {
        let file = try FileManager.default.attributesOfItem(atPath: path)
        return "\((file[.size] as? Int) ?? 0)|\(((file[.modificationDate] as? Date) ?? .distantPast).timeIntervalSince1970)"
    }

    static func stillPath(_ dir: URL, _ index: Int) -> String {
        dir.appending(path: "images").appending(path: String(format: "scene%03d.png", index)).path
    }

    /// The images stage from a footage source: each scene's picture or clip, chosen by its words,
    /// recorded in scenes.json and media.json (what was used, from where, matching which words);
    /// each scene's still is the picture (or the clip's middle frame) cropped to cover twice the
    /// format, as a generated one would be.
    func footage(from source: any FootageSource, scenes planned: [Scene], script: ScriptFile, segments: [Segment],
                 job: Job, channel: ChannelConfig, _ dir: URL) async throws -> [Artifact] {
        // A scene's visual is the script's for its first sentence (found by its text: the
        // narration may have dropped closing body sentences, so indices can shift).
        let queries = planned.map { scene in
            let first = scene.sentences.first.flatMap { script.sentences.firstIndex(of: segments[$0].text) }
            return FootageQuery(index: scene.index, text: scene.sentences.map { segments[$0].text }.joined(separator: " "),
                                topic: script.topic, seconds: scene.duration,
                                visual: first.flatMap { script.script.visual(forSentence: $0, of: script.sentences.count) })
        }
        let assets = try await source.footage(for: queries, job: job.id)
        let scenes = zip(planned, assets).map { scene, asset in
            var scene = scene
            scene.footage = asset
            return scene
        }
        let scenesFile = try await Self.write(scenes, dir.appending(path: "scenes.json"))
        let w = channel.format.width * 2, h = channel.format.height * 2
        let tools = self.tools
        let progress = onProgress
        let paths = try await concurrentMap(scenes, width: width) { _, scene -> String in
            let asset = scene.footage!
            let path = Self.stillPath(dir, scene.index)
            let stamp = try Self.stamp(asset.path)
            try await Files.item(path, key: "footage|\(asset.path)|\(stamp)|\(w)x\(h)") { tmp in
                let at = asset.kind == .clip ? ["-ss", String(format: "%.3f", (asset.seconds ?? 0) / 2)] : []
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + at + ["-i", asset.path, "-frames:v", "1",
                    "-vf", "scale=\(w):\(h):force_original_aspect_ratio=increase,crop=\(w):\(h),setsar=1", tmp])
            }
            progress?(job.id, "footage \(scene.index + 1)/\(scenes.count)")
            return path
        }
        let music = try await source.music(tags: [channel.type.rawValue, ChannelStyle.of(channel).mood.rawValue, channel.name],
                                           job: job.id)
        let media = try await Self.write(assets + (music.map { [$0] } ?? []), dir.appending(path: "media.json"))
        return [scenesFile, media] + (try paths.map(Files.artifact))
    }

    /// The picture: the captions from the measured sentences, then every segment (each scene, each
    /// crossfade) drawn from the stills with its captions (``PictureRenderer``). The sound (music
    /// bed, ducking, two-pass loudness: ``FFmpegComposer/soundtrack(narration:music:total:folder:)``)
    /// is made meanwhile, since it needs nothing from the picture; compose then finds it done.
    func clips(_ job: Job, _ channel: ChannelConfig, _ dir: URL) async throws -> [Artifact] {
        let segments = try Self.read([Segment].self, dir.appending(path: "narration.json"))
        let scenes = try Self.read([Scene].self, dir.appending(path: "scenes.json"))
        let style = ChannelStyle.of(channel)
        let total = segments.reduce(0) { $0 + $1.duration }
        let captions = dir.appending(path: "captions.ass").path
        try await Files.write(Data(Captions.ass(segments.map(\.cue), style: style, captions: channel.captions,
                                                width: channel.format.width, height: channel.format.height).utf8), to: captions)
        let progress = onProgress
        async let sound = soundtrack(dir, style: style, total: total)
        let paths: [String]
        do {
            paths = try await PictureRenderer(tools: tools, style: style, format: channel.format, concurrency: width).render(
                scenes: scenes.map { s in
                    PictureRenderer.Scene(image: Self.stillPath(dir, s.index), motion: s.motion, seconds: s.duration,
                                          clip: s.footage.flatMap { $0.kind == .clip ? $0 : nil }.map { .init(path: $0.path, seconds: $0.seconds ?? 0) })
                },
                captions: captions, total: total, folder: dir.appending(path: "clips"),
                onSegment: { i, n in progress?(job.id, "segment \(i + 1)/\(n)") })
        } catch {
            _ = try? await sound  // let the sound finish (and keep its file for the retry), then report the picture's error
            throw error
        }
        let audio = try await sound
        let list = try await Self.write(paths, dir.appending(path: "segments.json"))
        return [try Files.artifact(captions), list, try Files.artifact(audio)] + (try paths.map(Files.artifact))
    }

    /// The music bed and the finished sound track (both reusable items); returns the track's path.
    func soundtrack(_ dir: URL, style: ChannelStyle, total: Double) async throws -> String {
        try await FFmpegComposer(tools: tools, style: style).soundtrack(
            narration: dir.appending(path: "narration.wav").path, music: try await musicBed(dir, style: style, total: total),
            total: total, folder: dir)
    }

    /// The music bed (a reusable item); returns its path. A track the footage source chose
    /// (media.json) is looped or cut to the narration's length and faded in and out; otherwise
    /// the bed is synthesised for the style's mood.
    func musicBed(_ dir: URL, style: ChannelStyle, total: Double) async throws -> String {
        let music = dir.appending(path: "music.wav").path
        // Only a footage source writes media.json; one that cannot be read is an error, not a bed.
        let media = dir.appending(path: "media.json")
        let chosen = FileManager.default.fileExists(atPath: media.path)
            ? try Self.read([FootageAsset].self, media).first(where: { $0.kind == .music }) : nil
        if let track = chosen {
            let fadeOut = String(format: "%.3f", max(0, total - 1.5))
            let stamp = try Self.stamp(track.path)
            try await Files.item(music, key: "music|library|\(track.path)|\(stamp)|\(total)") { tmp in
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-stream_loop", "-1", "-i", track.path, "-vn",
                    "-af", "afade=t=in:d=1.5,afade=t=out:st=\(fadeOut):d=1.5,aformat=sample_rates=48000:channel_layouts=stereo",
                    "-t", String(format: "%.3f", total), tmp], timeout: .seconds(300))
            }
            return music
        }
        try await Files.item(music, key: "music|\(style.mood.rawValue)|\(total)") { tmp in
            try await MusicBed(tools: tools).make(mood: style.mood, seconds: total, outputPath: tmp)
        }
        return music
    }

    /// The composed video, its captions and `qa.json` (the QA gate's figures, also saved as the
    /// stage's notes: the work folder goes when the job succeeds, the notes stay with its history).
    func compose(_ job: Job, _ channel: ChannelConfig, _ dir: URL, _ context: StageContext) async throws -> [Artifact] {
        let segments = try Self.read([Segment].self, dir.appending(path: "narration.json"))
        let pieces = try Self.read([String].self, dir.appending(path: "segments.json"))
        let style = ChannelStyle.of(channel)
        let total = segments.reduce(0) { $0 + $1.duration }
        // The bed and the sound track were made by the clips stage; they are made again here
        // (by the composer, for the track) only if missing or stale.
        let music = try await musicBed(dir, style: style, total: total)
        let captions = dir.appending(path: "captions.ass").path
        var project = VideoProject(id: String(job.id), channel: channel.type)
        project.format = channel.format
        project.narration = segments.map { AudioSegment(content: $0.text, voiceSettings: VoiceSettings(voiceID: channel.voiceID), duration: $0.duration, path: $0.path) }
        project.clips = pieces.map { VisualAsset(path: $0, type: .video) }
        project.narrationPath = dir.appending(path: "narration.wav").path
        project.musicPath = music
        project.captionsPath = captions
        let video = dir.appending(path: "video.mp4")
        onProgress?(job.id, "composing \(Int(total)) s")
        _ = try await FFmpegComposer(tools: tools, style: style).compose(project, outputPath: video)
        onProgress?(job.id, "checking the video")
        // Word highlights are checked where there are highlights and the engine placed the words.
        let report = try await QualityGate(tools: tools).check(
            video: video.path, format: channel.format, duration: channel.durationRange, captions: captions,
            narration: .init(path: dir.appending(path: "narration.wav").path, sentences: segments.map(\.path),
                             exactWords: channel.captions != .sentences && segments.allSatisfy { $0.wordTiming == .exact }
                                 ? segments.map { $0.words ?? [] } : nil),
            captionFont: style.fontFile, captionText: segments.map(\.text))
        let qa = try await Self.write(report, dir.appending(path: "qa.json"))
        var context = context
        try await context.save(report.notes)
        // The same captions as a subtitle file, published beside the video.
        let vtt = dir.appending(path: "captions.vtt").path
        try await Files.write(Data(Captions.webVTT(segments.map(\.cue)).utf8), to: vtt)
        return [try Files.artifact(video.path), try Files.artifact(captions), qa, try Files.artifact(vtt)]
    }

    func thumbnail(_ job: Job, _ channel: ChannelConfig, _ dir: URL) async throws -> [Artifact] {
        let script = try Self.read(ScriptFile.self, dir.appending(path: "script.json"))
        let scenes = try Self.read([Scene].self, dir.appending(path: "scenes.json"))
        let key = scenes[scenes.count / 3]
        let background = dir.appending(path: "images").appending(path: String(format: "scene%03d.png", key.index)).path
        let path = dir.appending(path: "thumbnail.jpg")
        // A title the thumbnail's font cannot draw would show empty boxes.
        let style = ChannelStyle.of(channel)
        let glyphs = try FontGlyphs(file: style.fontFile)
        let title = glyphs.withoutUndrawableEmoji(script.script.title)
        let missing = glyphs.missing(in: title)
        if !missing.isEmpty {
            throw QualityGateError(issues: ["the thumbnail's font \(style.fontFile) has no glyph for \(FontGlyphs.describe(missing)) "
                + "of the title (is the channel's language: right?)"])
        }
        try await Files.atomically(path.path) { tmp in
            _ = try await FFmpegThumbnailGenerator(tools: tools, background: background)
                .generate(title: title, channel: channel, outputPath: URL(fileURLWithPath: tmp))
        }
        let artifact = try Files.artifact(path.path)
        let probe = try await tools.probe(path.path)
        let v = (probe["streams"] as? [[String: Any]])?.first
        guard v?["width"] as? Int == 1280, v?["height"] as? Int == 720, artifact.bytes < 2_000_000 else {
            throw QualityGateError(issues: ["the thumbnail is not a 1280×720 JPEG under 2 MB (\(artifact.bytes) bytes)"])
        }
        // Not a near-duplicate of the channel's recent thumbnails; then its hash joins them.
        let hash = try await NearDuplicates.differenceHash(of: path.path, tools: tools)
        let limit = channel.duplicateThumbnailBits
        try await history.recordThumbnail(hash, job: job.id, channel: channel.name) { recent in
            if let (twin, bits) = NearDuplicates.repeatedThumbnail(hash, recent: recent, bits: limit) {
                throw NearDuplicateError(what: "the thumbnail is \(bits) bits of 64 from job \(twin.job)'s (\"\(twin.script.title)\"); "
                    + "the channel needs more than \(limit) (duplicate_thumbnail_bits)")
            }
        }
        return [artifact]
    }

    /// What the publish stage sends with the video: the title, description and tags.
    public struct PublishedMetadata: Sendable, Hashable {
        public var title: String
        public var description: String
        public var tags: [String]
    }

    /// The metadata the publish stage will send for the script stage's `script.json` on `channel`
    /// (the review page shows it before anything is published), with the credits of its stock
    /// footage when the images stage used any (``PublishedText/credits(_:room:)``).
    public static func metadata(scriptFile: URL, channel: ChannelConfig) throws -> PublishedMetadata {
        let script = try read(ScriptFile.self, scriptFile)
        var description = script.script.hook + "\n\n" + script.script.cta
        if let d = channel.type.disclaimer, !description.contains(d) { description += "\n\n" + d }
        if channel.format == .long {
            // Chapters from the narration's measured times, beside the script (the narration stage's file).
            let segments = try read([Segment].self, scriptFile.deletingLastPathComponent().appending(path: "narration.json"))
            let lines = chapters(script, segments, type: channel.type, language: channel.spokenLanguage)
            if !lines.isEmpty { description += "\n\n" + lines.joined(separator: "\n") }
        }
        if channel.format == .short {
            description += "\n\n" + PublishedText.hashtags(topic: script.topic, type: channel.type, language: channel.spokenLanguage).joined(separator: " ")
        }
        // The stock footage's credits (media.json, written by the images stage from a footage source).
        let media = scriptFile.deletingLastPathComponent().appending(path: "media.json")
        if FileManager.default.fileExists(atPath: media.path),
           let credits = PublishedText.credits(try read([FootageAsset].self, media), room: 5000 - description.utf8.count - 2) {
            description += "\n\n" + credits
        }
        return PublishedMetadata(title: PublishedText.title(script.script.title, topic: script.topic, language: channel.spokenLanguage),
                                 description: description,
                                 tags: PublishedText.videoTags(topic: script.topic, type: channel.type, language: channel.spokenLanguage,
                                                               short: channel.format == .short))
    }

    /// A long video's chapters as YouTube reads them from a description (`00:00 Intro`): the hook,
    /// the body and the call to action. YouTube shows them only when there are three or more and
    /// each lasts at least 10 s, and a hook or a call to action is often shorter (the template
    /// writer's hook is about 5 s): so the body's chapter starts at its first sentence that
    /// starts 10 s in or later (the intro keeps the body's first sentences), and the wrap-up at
    /// the call to action, or, when that is under 10 s, at the last sentence that leaves it 10 s.
    /// None when the video is too short for three such chapters.
    /// The chapters' names are in the channel's language (``PublishedText/chapterNames(_:language:)``).
    static func chapters(_ script: ScriptFile, _ segments: [Segment], type: ChannelType, language: Language = .english) -> [String] {
        guard let end = segments.last.map({ $0.start + $0.duration }) else { return [] }
        let hook = Set(script.sentences.prefix(script.hookSentences))
        let body = Set(script.sentences.dropFirst(script.hookSentences).prefix(script.bodySentences))
        let names = PublishedText.chapterNames(type, language: language)
        let least = 10.0
        guard let story = segments.first(where: { body.contains($0.text) && !hook.contains($0.text) && $0.start >= least }) else { return [] }
        // The call to action's first sentence (no later than it: the wrap-up never starts inside it).
        let cta = segments.first { !body.contains($0.text) && !hook.contains($0.text) && $0.start > story.start }?.start ?? end
        guard let wrap = segments.last(where: { $0.start <= cta && $0.start - story.start >= least && end - $0.start >= least }) else { return [] }
        let marks: [(Double, String)] = [(0, names.intro), (story.start, names.body), (wrap.start, names.wrapUp)]
        return marks.map { start, name in
            let s = Int(start.rounded(.down))
            let stamp = s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
            return "\(stamp) \(name)"
        }
    }

    func publish(_ job: Job, _ channel: ChannelConfig, _ dir: URL, _ context: StageContext) async throws -> [Artifact] {
        let meta = try Self.metadata(scriptFile: dir.appending(path: "script.json"), channel: channel)
        let folder = publishFolder(job)
        let publisher = try services.publisher(for: channel, job: job, folder: folder, context: context)
        // The subtitle file (a job composed before it existed has none).
        let vtt = dir.appending(path: "captions.vtt")
        let captions = FileManager.default.fileExists(atPath: vtt.path) ? vtt : nil
        let result = try await publisher.publish(
            video: dir.appending(path: "video.mp4"), title: meta.title, description: meta.description, tags: meta.tags,
            thumbnail: dir.appending(path: "thumbnail.jpg"), captions: captions)
        if publisher is LocalPublisher {
            let names = ["video.mp4", "thumbnail.jpg", "metadata.json"] + (captions == nil ? [] : ["captions.vtt"])
            return try names.map { try Files.artifact(folder.appending(path: $0).path) }
        }
        return [try await Self.write(["video_id": result.videoID, "url": result.url], dir.appending(path: "publish.json"))]
    }
}

/// A file of a stage could not be read or written (a full disk, a permission, a path in the way).
/// A full disk (ENOSPC or EDQUOT anywhere in Foundation's error, as copying the video into
/// `output_dir` reports it) is `media.disk_full`, like ffmpeg's, naming the file it could not
/// write; anything else is `media.file`. Both are retryable.
public struct MediaFileError: YTAutoError {
    public let stage: String
    public let description: String
    public let detail: String
    public let isDiskFull: Bool
    public var code: String { isDiskFull ? "media.disk_full" : "media.file" }
    /// Without the stage, which ``PipelineError`` puts first.
    public var message: String { "\(description) (\(detail))" }
    public var isRetryable: Bool { true }

    public init(stage: String, error: any Error) {
        self.stage = stage
        let ns = error as NSError
        var posix: Int32?
        var next: NSError? = ns
        while let e = next {
            if e.domain == NSPOSIXErrorDomain { posix = Int32(e.code) }
            next = e.userInfo[NSUnderlyingErrorKey] as? NSError
        }
        isDiskFull = posix == ENOSPC || posix == EDQUOT || (ns.domain == NSCocoaErrorDomain && ns.code == CocoaError.fileWriteOutOfSpace.rawValue)
        if isDiskFull {
            // A copy names its source as NSFilePath; the file that could not be written is its destination.
            let file = ((ns.userInfo["NSDestinationFilePath"] ?? ns.userInfo[NSFilePathErrorKey]) as? String).map(Files.target(ofTemporary:))
            description = "the disk is full: could not write \(file ?? "a file")"
            detail = String(cString: strerror(posix ?? ENOSPC))
        } else if let file = ((ns.userInfo["NSDestinationFilePath"] ?? ns.userInfo[NSFilePathErrorKey]) as? String).map(Files.target(ofTemporary:)) {
            // Which file, and why in plain words: "Permission denied" alone named neither.
            description = "cannot use \(file): \(posix.map { String(cString: strerror($0)) } ?? ns.localizedDescription)"
            detail = posix == EACCES || posix == EPERM || posix == EROFS
                ? "this user (uid \(getuid())) may not write there; fix the permissions of the work or output folder, and the job is retried"
                : (Self.pathProblem(file).map { $0 + "; the job is retried" } ?? Self.brief(ns, posix: posix))
        } else {
            description = ns.localizedDescription
            detail = Self.brief(ns, posix: posix)
        }
    }

    /// What is wrong with the folders above `file`, the path the operator must fix: a file where a
    /// folder should be (the error named only the job's folder below it), or the first missing
    /// folder (a work folder removed while the job ran). Nil when the folders above are there.
    static func pathProblem(_ file: String) -> String? {
        let nearest = Files.nearestExisting(URL(fileURLWithPath: file).deletingLastPathComponent().path)
        guard nearest.isFolder else { return "\(nearest.path) is a file where a folder is needed" }
        return nearest.firstMissing.map { "the folder \($0) is missing (removed while the job ran?)" }
    }

    /// The error's kind in a few words (Foundation's description of it is a dump of its dictionary).
    static func brief(_ error: NSError, posix: Int32?) -> String {
        posix.map { "errno \($0)" } ?? "\(error.domain) error \(error.code)"
    }
}
