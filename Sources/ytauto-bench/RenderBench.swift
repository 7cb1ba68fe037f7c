import ArgumentParser
import Foundation
import YTAutoCore
import YTAutoMedia
#if canImport(Glibc)
import Glibc
import YTAutoSupport
#endif

/// `ytauto-bench render`: the real pipeline's render against the floor, one hand-written ffmpeg
/// command that makes the same composition from the same narration and images.
struct RenderBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Time the pipeline's clips + compose against one hand-written ffmpeg command making the same video.",
        discussion: """
            Prepares one facts-channel job (script, narration, images: not timed), then runs, each in its own \
            process and one after the other, "ours" (the pipeline's clips and compose stages as ytauto runs \
            them, QA gate included) and "the floor" (one ffmpeg command: the same Ken Burns motion, crossfades, \
            captions, music bed, ducking and loudness normalisation, single pass). Prints both wall times, the \
            ratio ours/floor, and the peak RSS of each phase's process and of its largest ffmpeg. Goals: ratio \
            under 1.0; peak memory under 400 MB for the long form. Exit 1 if a phase fails.
            """)

    @Option(help: "short (1080×1920, 60 s), long (1920×1080, 600 s) or both.") var format: RenderFormatChoice = .short
    @Option(help: "Target length in seconds, for every format measured (default: 60 for short, 600 for long).") var seconds: Int?
    @Option(help: "Keep the work files in this folder (default: a temporary one, removed after).") var keep: String?
    @Flag(help: "Every scene a video clip from a media library (made first, not timed: \(RenderSetup.libraryClips) clips of 4 s, 1280×720 H.264) instead of a still.")
    var clips = false

    func validate() throws {
        if let seconds, !(10...7_200).contains(seconds) { throw ValidationError("--seconds must be within 10...7200") }
    }

    func run() async throws {
        let root = keep.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appending(path: "ytauto-render-bench-\(getpid())")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(at: root) } }
        let tools = try ToolRunner()
        let version = (try? await tools.run(.ffmpeg, ["-hide_banner", "-version"]).stdout.split(separator: "\n").first.map(String.init)) ?? "unknown"
        say("ytauto-bench render: the pipeline's clips + compose against one hand-written ffmpeg command")
        say("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(version)")

        var failed = false
        for f in format.formats {
            let target = seconds ?? (f == .short ? 60 : 600)
            do {
                try await measure(f, seconds: target, root: root.appending(path: f.rawValue + (clips ? "-clips" : "")), tools: tools)
            } catch {
                say("  FAILED: \(error)")
                failed = true
            }
        }
        say("""

            How to read it:
              ours       the pipeline's "clips" and "compose" stages as a worker runs them (concurrency \(ProcessInfo.processInfo.activeProcessorCount), the core count):
                         the picture from the stills, the mix, the two-pass loudness, the final file, and the QA gate.
              floor      one ffmpeg command making the same composition from the same images, narration and captions
                         (zoompan → xfade chain → ass, music bed → sidechain ducking → single-pass loudnorm, x264 veryfast crf 21 + AAC).
                         It has no QA pass and no intermediate files; it is what a hand-written script would run.
              wall s     seconds from the phase's start to its finished file. Preparation (script, narration, images) is not timed.
              CPU s      user + system seconds of the phase's process and every child it ran (all cores together).
              others'    CPU seconds the rest of the machine used while the phase ran (/proc/stat less the phase's own):
                         near 0 on a quiet machine; a large figure means the wall time was stretched by other work.
              peak RSS   ru_maxrss of the phase's own ytauto-bench process (RUSAGE_SELF) and of its largest child process,
                         an ffmpeg (RUSAGE_CHILDREN); each phase runs in its own process, so the figures do not mix.
              ratio      ours / floor wall time; below 1.00 the pipeline beats the single command (the goal).
              memory     the long form's goal is a peak under 400 MiB for every process of ours.
            """)
        if failed { throw ExitCode(1) }
    }

    /// Prepares one video, runs both phases and prints their figures.
    func measure(_ f: VideoFormat, seconds: Int, root: URL, tools: ToolRunner) async throws {
        let setup = try RenderSetup(format: f, seconds: seconds, root: root, tools: tools, clips: clips)
        say("")
        say("\(f.rawValue) \(f.width)×\(f.height), target \(seconds) s (channel range \(setup.channel.durationRange.min)-\(setup.channel.durationRange.max) s)"
            + (clips ? ", every scene a video clip" : ""))
        if clips { try await setup.makeLibrary(tools: tools) }
        say("  preparing script, narration, images in \(setup.dir.path) (not timed)…")
        let clock = ContinuousClock()
        let prepStart = clock.now
        for stage: Stage in [.script, .narration, .images] {
            _ = try await setup.pipeline.run(stage: stage.rawValue, job: setup.job, dryRun: true)
        }
        let (scenes, segments) = try setup.stored()
        let total = segments.reduce(0) { $0 + $1.duration }
        say("  prepared in \(fmt((clock.now - prepStart).seconds)) s: narration \(fmt(total)) s, \(segments.count) sentences, \(scenes.count) scenes")

        var results: [String: RenderPhaseResult] = [:]
        var failures: [String] = []
        var others: [String: Double] = [:]
        for phase in RenderPhase.Kind.allCases {
            say("  running \(phase.rawValue)…")
            let busyBefore = Self.machineBusySeconds()
            let child = try Spawned(Binaries.path("ytauto-bench"), [
                "render-phase", phase.rawValue, "--work", root.path, "--format", f.rawValue, "--seconds", String(seconds),
            ] + (clips ? ["--clips"] : []), quiet: false)
            let (status, stdout) = await child.finish()
            let busyAfter = Self.machineBusySeconds()
            let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
            if let r = try? JSONDecoder().decode(RenderPhaseResult.self, from: Data(line.utf8)), r.error == nil, status == 0 {
                results[phase.rawValue] = r
                if let busyBefore, let busyAfter { others[phase.rawValue] = max(0, busyAfter - busyBefore - r.cpuSeconds) }
            } else {
                let why = (try? JSONDecoder().decode(RenderPhaseResult.self, from: Data(line.utf8)))?.error ?? "exit status \(status), output: \(line)"
                failures.append("\(phase.rawValue): \(why)")
                say("  \(phase.rawValue) FAILED: \(why)")
            }
        }

        func mib(_ kib: Int) -> String { fmt(Double(kib) / 1024) + " MiB" }
        say("")
        say("  phase      wall s    CPU s   others' CPU s   peak RSS ytauto-bench   peak RSS largest ffmpeg")
        for phase in RenderPhase.Kind.allCases {
            guard let r = results[phase.rawValue] else {
                say("  " + phase.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + "   failed")
                continue
            }
            say("  " + phase.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                + pad(fmt(r.wallSeconds), 9) + pad(fmt(r.cpuSeconds), 9) + pad(others[phase.rawValue].map { fmt($0) } ?? "-", 16)
                + pad(mib(r.selfPeakKiB), 24) + pad(mib(r.childrenPeakKiB), 28))
        }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let busy = RenderPhase.Kind.allCases.filter { k in
            guard let r = results[k.rawValue], let o = others[k.rawValue] else { return false }
            return o > 0.05 * r.wallSeconds * cores
        }
        if !busy.isEmpty {
            say("  note: other processes took more than 5% of the machine during \(busy.map(\.rawValue).joined(separator: " and ")); "
                + "those wall times, and the ratio, are not clean")
        }
        guard let ours = results["ours"], let floor = results["floor"] else {
            throw RenderBenchFailure(message: failures.joined(separator: "; "))
        }
        let ratio = ours.wallSeconds / floor.wallSeconds
        say("  ratio ours/floor: \(fmt(ratio, 2))  (goal < 1.00: \(ratio < 1 ? "met" : "NOT met"))")
        let oursPeak = max(ours.selfPeakKiB, ours.childrenPeakKiB)
        if f == .long {
            say("  ours' largest process: \(mib(oursPeak))  (goal < 400 MiB: \(oursPeak < 400 * 1024 ? "met" : "NOT met"))")
        }

        // Not timed: how much of ours the QA gate is, and whether the floor's video would pass it too.
        let narration = QualityGate.Narration(path: setup.dir.appending(path: "narration.wav").path, sentences: segments.map(\.path))
        let gate = QualityGate(tools: tools)
        let qaStart = clock.now
        _ = try await gate.check(video: ours.output, format: f, duration: setup.channel.durationRange,
                                 captions: setup.dir.appending(path: "captions.ass").path, narration: narration)
        say("  of ours, the QA gate alone (run again on its video): \(fmt((clock.now - qaStart).seconds)) s")
        do {
            _ = try await gate.check(video: floor.output, format: f, duration: setup.channel.durationRange,
                                     captions: setup.floorCaptions.path, narration: narration)
            say("  the floor's video passes the same QA gate")
        } catch {
            say("  the floor's video fails the QA gate: \(error)")
        }
    }

    /// CPU seconds the whole machine has spent busy since boot (all cores, every process), from
    /// `/proc/stat`; nil where there is none. Less a phase's own CPU time, what others took meanwhile.
    static func machineBusySeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let first = stat.split(separator: "\n").first, first.hasPrefix("cpu ") else { return nil }
        let ticks = first.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return nil }
        // user, nice, system, irq, softirq, steal (guest time is already inside user).
        return (ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private func pad(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(1, width - s.count)) + s
    }
}

/// One timed phase, run in a process of its own so that its `getrusage` figures are its alone.
struct RenderPhase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render-phase", abstract: "One timed phase of `render` (internal).", shouldDisplay: false)

    enum Kind: String, ExpressibleByArgument, CaseIterable { case ours, floor }

    @Argument var kind: Kind
    @Option var work: String
    @Option var format: RenderFormatChoice
    @Option var seconds: Int
    @Flag var clips = false

    func validate() throws {
        if format == .both { throw ValidationError("a phase renders one format") }
    }

    func run() async throws {
        var result = RenderPhaseResult(phase: kind.rawValue, wallSeconds: 0, cpuSeconds: 0, selfPeakKiB: 0, childrenPeakKiB: 0, output: "", error: nil)
        do {
            let tools = try ToolRunner()
            let setup = try RenderSetup(format: format.formats[0], seconds: seconds, root: URL(fileURLWithPath: work), tools: tools, clips: clips)
            switch kind {
            case .ours: (result.wallSeconds, result.output) = try await ours(setup)
            case .floor: (result.wallSeconds, result.output) = try await floor(setup, tools: tools)
            }
        } catch {
            result.error = "\(error)"
        }
        let mine = Self.usage(children: false), children = Self.usage(children: true)
        result.selfPeakKiB = Int(mine.ru_maxrss)
        result.childrenPeakKiB = Int(children.ru_maxrss)
        result.cpuSeconds = [mine.ru_utime, mine.ru_stime, children.ru_utime, children.ru_stime]
            .reduce(0) { $0 + Double($1.tv_sec) + Double($1.tv_usec) / 1e6 }
        let line = String(decoding: try JSONEncoder().encode(result), as: UTF8.self)
        print(line)
        if result.error != nil { throw ExitCode(1) }
    }

    /// The pipeline's "clips" and "compose" stages, from nothing but the prepared narration and images.
    func ours(_ setup: RenderSetup) async throws -> (Double, String) {
        // Under --keep an earlier run's clips and music would be reused by their `.done` sidecars: start clean.
        let dir = setup.dir
        for name in ["clips", "segments.json", "segments.txt", "music.wav", "music.wav.done", "mix.wav", "audio.m4a", "audio.m4a.done",
                     "captions.ass", "video.mp4", "qa.json"] {
            try? FileManager.default.removeItem(at: dir.appending(path: name))
        }
        let clock = ContinuousClock()
        let start = clock.now
        for stage: Stage in [.clips, .compose] {
            _ = try await setup.pipeline.run(stage: stage.rawValue, job: setup.job, dryRun: true)
        }
        return ((clock.now - start).seconds, dir.appending(path: "video.mp4").path)
    }

    /// One ffmpeg command for the same composition.
    func floor(_ setup: RenderSetup, tools: ToolRunner) async throws -> (Double, String) {
        let (scenes, segments) = try setup.stored()
        let f = setup.format
        let style = ChannelStyle.of(setup.channel.type)
        let total = segments.reduce(0) { $0 + $1.duration }
        let cues = segments.map { Captions.Cue(start: $0.start, end: $0.start + $0.duration, text: $0.text) }
        try Data(Captions.ass(cues, style: style, width: f.width, height: f.height).utf8).write(to: setup.floorCaptions)
        let output = setup.root.appending(path: "floor.mp4").path
        try? FileManager.default.removeItem(atPath: output)

        let fps = VideoFormat.framesPerSecond
        var inputs: [String] = []
        var graph = ""
        var offset = 0.0
        var last = ""
        for (n, scene) in scenes.enumerated() {
            // The same clip length, frame count and motion as the pipeline's clips stage.
            let d = scene.duration + (n < scenes.count - 1 ? style.crossfade : 0)
            let frames = max(1, Int((d * Double(fps)).rounded(.up)))
            if let clip = scene.footage, clip.kind == .clip {
                // The clip from its start, looped, scaled and cropped to cover, as the pipeline plays it.
                inputs += ["-stream_loop", "-1", "-i", clip.path]
                graph += "[\(n):v]fps=\(fps),scale=\(f.width):\(f.height):force_original_aspect_ratio=increase,crop=\(f.width):\(f.height),"
                    + "setsar=1,trim=end_frame=\(frames),setpts=PTS-STARTPTS,format=yuv420p[v\(n)];"
            } else {
                let e = KenBurnsGenerator.expressions(scene.motion, frames: frames)
                inputs += ["-i", setup.dir.appending(path: "images").appending(path: String(format: "scene%03d.png", scene.index)).path]
                graph += "[\(n):v]zoompan=z='\(e.z)':x='\(e.x)':y='\(e.y)':d=\(frames):s=\(f.width)x\(f.height):fps=\(fps),format=yuv420p[v\(n)];"
            }
            if n == 0 {
                last = "v0"
            } else {
                // Each scene starts where its narration starts; its clip runs a crossfade longer (but the last).
                offset += scenes[n - 1].duration
                graph += "[\(last)][v\(n)]xfade=transition=fade:duration=\(style.crossfade):offset=\(String(format: "%.3f", offset))[x\(n)];"
                last = "x\(n)"
            }
        }
        graph += "[\(last)]ass=filename=\(filterPath(setup.floorCaptions.path)),format=yuv420p[vout];"
        inputs += ["-i", setup.dir.appending(path: "narration.wav").path]
        graph += RenderFloor.musicBed(style.mood, seconds: total) + "[mus];"
        graph += "[\(scenes.count):a]aformat=sample_rates=48000:channel_layouts=stereo,asplit=2[nar][key];"
            + "[mus]volume=-14dB[bed];[bed][key]sidechaincompress=threshold=0.02:ratio=10:attack=15:release=450[duck];"
            + "[nar][duck]amix=inputs=2:duration=first:normalize=0,"
            + "loudnorm=I=\(FFmpegComposer.targetLUFS):TP=-1.5:LRA=11,aformat=sample_rates=48000:channel_layouts=stereo[aout]"
        let arguments = ToolRunner.ffmpegQuiet + inputs + [
            "-filter_complex", graph, "-map", "[vout]", "-map", "[aout]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "21", "-r", String(fps),
            "-c:a", "aac", "-b:a", "192k", "-ar", "48000",
            "-t", String(format: "%.3f", total), "-movflags", "+faststart", output,
        ]
        let clock = ContinuousClock()
        let start = clock.now
        try await tools.run(.ffmpeg, arguments, timeout: .seconds(Int64(600 + total * 20)))
        return ((clock.now - start).seconds, output)
    }

    /// Resources used by this process, or by its waited-for children: `ru_maxrss` is the peak
    /// resident set in KiB on Linux (of the largest child, for children).
    static func usage(children: Bool) -> rusage {
        var usage = rusage()
        #if os(Linux)
        let who = __rusage_who_t((children ? RUSAGE_CHILDREN : RUSAGE_SELF).rawValue)
        #else
        let who = children ? RUSAGE_CHILDREN : RUSAGE_SELF
        #endif
        _ = getrusage(who, &usage)
        return usage
    }
}

/// What a phase process reports, as one JSON line on stdout.
struct RenderPhaseResult: Codable {
    var phase: String
    var wallSeconds: Double
    /// User + system time of the phase's process and all its children.
    var cpuSeconds: Double
    var selfPeakKiB: Int
    var childrenPeakKiB: Int
    var output: String
    var error: String?
}

enum RenderFormatChoice: String, ExpressibleByArgument, CaseIterable {
    case short, long, both

    var formats: [VideoFormat] {
        switch self {
        case .short: [.short]
        case .long: [.long]
        case .both: [.short, .long]
        }
    }
}

struct RenderBenchFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The job measured, built alike by the parent and by each phase process: a facts channel sized to
/// the target, its work folder under `root/work`.
struct RenderSetup {
    let format: VideoFormat
    let root: URL
    let channel: ChannelConfig
    let job: Job
    let pipeline: MediaPipeline

    init(format: VideoFormat, seconds: Int, root: URL, tools: ToolRunner, clips: Bool = false) throws {
        self.format = format
        self.root = root
        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = format
        if clips {
            channel.mediaLibrary = root.appending(path: "library").path
            channel.services.images = .library
        }
        // The script generator aims at min + 3/4 of the range, so this range puts the narration at
        // about `seconds`: 53–63 s for 60, 555–615 s for 600.
        let half = max(5, seconds / 20)
        channel.durationRange = .init(min: seconds - half * 3 / 2, max: seconds + half / 2)
        self.channel = channel
        let now = Date()
        job = Job(id: format == .short ? 1 : 2, channel: channel.name, topic: channel.topics[1], payload: "{}", state: .running,
                  priority: 0, runAt: now, attempt: 1, maxAttempts: 1, leaseOwner: "bench", leaseToken: 1, leaseExpiresAt: now,
                  cancelRequested: false, currentStage: nil, uniqueKey: nil, lastErrorCode: nil, lastErrorMessage: nil,
                  createdAt: now, updatedAt: now, finishedAt: nil)
        pipeline = MediaPipeline(channels: [channel], workDirectory: root.appending(path: "work"),
                                 outputDirectory: root.appending(path: "out"), tools: tools)
    }

    /// The job's folder, `<work>/<job id>`, as the pipeline lays it out.
    var dir: URL { root.appending(path: "work").appending(path: String(job.id)) }
    var floorCaptions: URL { root.appending(path: "floor-captions.ass") }

    struct StoredScene: Decodable {
        var index: Int
        var motion: Motion
        var duration: Double
        var footage: FootageAsset?
    }

    static let libraryClips = 8

    /// A media library of ``libraryClips`` 4-second 1280×720 H.264 clips, each from another of
    /// ffmpeg's moving test sources, for `--clips` (made once; not timed).
    func makeLibrary(tools: ToolRunner) async throws {
        let folder = root.appending(path: "library")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let sources = ["testsrc2", "mandelbrot", "life=mold=10:ratio=0.1:death_color=#202040", "cellauto=rule=110",
                       "rgbtestsrc", "smptehdbars", "testsrc", "life=ratio=0.3:life_color=#40c0a0"]
        for (i, source) in sources.prefix(Self.libraryClips).enumerated() {
            let path = folder.appending(path: "clip\(i + 1).mp4").path
            guard !FileManager.default.fileExists(atPath: path) else { continue }
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", source + (source.contains("=") ? ":" : "=") + "size=1280x720:rate=30",
                "-t", "4", "-vf", "hue=h=\(i * 45)", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", path])
        }
    }

    struct StoredSegment: Decodable {
        var text: String
        var path: String
        var start: Double
        var duration: Double
    }

    /// The scenes and the narrated sentences the images stage left.
    func stored() throws -> ([StoredScene], [StoredSegment]) {
        let scenes = try JSONDecoder().decode([StoredScene].self, from: Data(contentsOf: dir.appending(path: "scenes.json")))
        let segments = try JSONDecoder().decode([StoredSegment].self, from: Data(contentsOf: dir.appending(path: "narration.json")))
        return (scenes, segments)
    }
}

/// The pieces of the floor command that must equal the pipeline's own, taken from the pipeline
/// itself so that the floor cannot drift from what it is compared with.
enum RenderFloor {
    /// `MusicBed`'s graph, trimmed in the graph instead of by `-t`.
    static func musicBed(_ mood: ChannelStyle.Mood, seconds: Double) -> String {
        MusicBed.graph(mood: mood, seconds: seconds) + ",atrim=end=\(String(format: "%.3f", seconds))"
    }
}

/// Writes a line now, unbuffered, even when stdout is a pipe (the long form runs for minutes).
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
