import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// Every offline service against the real ffmpeg, ffprobe and espeak-ng, with clips of a few seconds.
@Suite struct MediaServiceTests {
    let dir = TempDir("ytauto-media")
    let tools: ToolRunner

    init() throws { tools = try ToolRunner() }

    func url(_ name: String) -> URL { dir.url.appending(path: name) }

    @Test func aMissingBinaryIsNamedWithItsPackage() {
        #expect {
            try ToolRunner(environment: ["PATH": dir.path("nothing-here")])
        } throws: { error in
            let e = error as? MissingToolError
            return e?.code == "media.tool_missing" && e!.message.contains("ffmpeg is not installed or not on PATH") && e!.message.contains("install the Debian package ffmpeg")
        }
        // ffmpeg and ffprobe present, espeak-ng not.
        let bin = dir.path("bin")
        try? FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for tool in ["ffmpeg", "ffprobe"] { try? FileManager.default.createSymbolicLink(atPath: "\(bin)/\(tool)", withDestinationPath: tools.paths[tool == "ffmpeg" ? .ffmpeg : .ffprobe]!) }
        #expect {
            try ToolRunner(environment: ["PATH": bin])
        } throws: { ($0 as? MissingToolError)?.message.contains("espeak-ng is not installed or not on PATH (looked in \(bin)): install the Debian package espeak-ng") == true }
    }

    @Test func aFailedCommandCarriesItsStderrTailAndCommand() async throws {
        await #expect {
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-i", dir.path("missing.wav"), dir.path("out.mp3")])
        } throws: { error in
            guard let e = error as? FFmpegError else { return false }
            return e.exitStatus != 0 && e.stderrTail.contains("No such file") && e.command.contains(dir.path("missing.wav"))
                && e.message.contains("command: ffmpeg")
        }
    }

    /// The pids of running processes whose command line contains `marker`.
    static func processes(containing marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let cmd = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return cmd.contains(marker) && !cmd.contains("swift-test") && !cmd.contains("xctest")
        }
    }

    /// A tool that exits well within its limit is not reported past it when the process's task
    /// threads were too busy to read its result until after the limit: the timer's task then ran
    /// first, and a finished ffmpeg became a retryable `media.timeout` (CI runs failed so while a
    /// test held both cooperative threads). Here the one thread the run prefers is held from just
    /// after the tool starts until well past its limit.
    @Test func aToolThatExitedInTimeIsNotPastItsLimitWhenItsResultIsReadLate() async throws {
        let thread = OneThread()
        let marker = dir.path("short.wav")
        let short = ToolRunner.ffmpegQuiet + ["-re", "-f", "lavfi", "-i", "sine=f=440:d=0.3", marker]
        let run = Task(executorPreference: thread) { [tools] in try await tools.run(.ffmpeg, short, timeout: .milliseconds(1200)) }
        #expect(await eventually(timeout: .seconds(10)) { !Self.processes(containing: marker).isEmpty })
        thread.queue.async { usleep(2_500_000) }
        #expect(await eventually(timeout: .seconds(10)) { Self.processes(containing: marker).isEmpty })
        let outcome = await run.result
        #expect(throws: Never.self) { try outcome.get() }
        #expect(FileManager.default.fileExists(atPath: marker))
    }

    @Test func aTimeoutAndACancelBothEndTheChild() async throws {
        let marker = dir.path("endless.wav")
        let endless = ToolRunner.ffmpegQuiet + ["-re", "-f", "lavfi", "-i", "sine=f=440", "-t", "600", marker]
        let start = ContinuousClock.now
        await #expect(throws: ToolTimeoutError.self) { try await tools.run(.ffmpeg, endless, timeout: .milliseconds(700)) }
        #expect(ContinuousClock.now - start < .seconds(60))  // stopped, not run for its 600 s
        #expect(await eventually(timeout: .seconds(5)) { Self.processes(containing: marker).isEmpty })

        let task = Task { try await tools.run(.ffmpeg, endless, timeout: .seconds(600)) }
        #expect(await eventually(timeout: .seconds(10)) { !Self.processes(containing: marker).isEmpty })
        task.cancel()
        _ = await task.result
        #expect(await eventually(timeout: .seconds(5)) { Self.processes(containing: marker).isEmpty })
    }

    @Test func espeakNarratesEachSentenceWithAMeasuredDuration() async throws {
        let tts = EspeakTTS(tools: tools)
        let short = try await tts.synthesize(text: "Hello there.", outputPath: url("a.wav"), voiceID: "en-bright")
        let long = try await tts.synthesize(text: "This sentence is clearly a good deal longer than the first one was.", outputPath: url("b.wav"), voiceID: "en-bright")
        #expect(short.duration > 0.3 && long.duration > short.duration * 2)
        // The reported length against the samples the file holds (its WAV header and size, not ffprobe).
        #expect(abs(try WAVFile(path: url("b.wav").path).seconds - long.duration) < 0.001)
        #expect(abs(try WAVFile(path: url("a.wav").path).seconds - short.duration) < 0.001)
        let rate = try await tts.measureRate(voiceID: "en-deep", scratch: url("cal"))
        #expect(rate > 1.5 && rate < 4.5, "measured \(rate) words/s")
        await #expect(throws: UnknownVoiceError.self) {
            try await tts.synthesize(text: "x", outputPath: url("c.wav"), voiceID: "klingon")
        }
        // Text that looks like an option is spoken, not obeyed.
        let dashed = try await tts.synthesize(text: "--help me", outputPath: url("d.wav"), voiceID: "en-calm")
        #expect(dashed.duration > 0.2)
    }

    @Test func imagesAreDeterministicFromThePromptInThePalette() async throws {
        let style = ChannelStyle.of(.horror)
        let gen = ProceduralImageGenerator(tools: tools, palette: style.palette, width: 320, height: 180)
        _ = try await gen.generate(prompt: "a door that was not there", outputPath: url("1.png"))
        _ = try await gen.generate(prompt: "a door that was not there", outputPath: url("2.png"))
        _ = try await gen.generate(prompt: "a voice in the attic", outputPath: url("3.png"))
        let a = try Files.artifact(url("1.png").path), b = try Files.artifact(url("2.png").path), c = try Files.artifact(url("3.png").path)
        #expect(a.sha256 == b.sha256)
        #expect(a.sha256 != c.sha256)
        let v = (try await tools.probe(url("1.png").path)["streams"] as? [[String: Any]])?.first
        #expect(v?["width"] as? Int == 320 && v?["height"] as? Int == 180)
    }

    @Test(arguments: Motion.allCases)
    func kenBurnsMakesAClipOfTheRightLengthAndSize(motion: Motion) async throws {
        let image = try await ProceduralImageGenerator(tools: tools, palette: ChannelStyle.of(.facts).palette, width: 640, height: 360)
            .generate(prompt: "p", outputPath: url("src-\(motion.rawValue).png"))
        let clip = try await KenBurnsGenerator(tools: tools, width: 320, height: 180)
            .generateFromImage(image, motion: motion, duration: 2.0, outputPath: url("clip-\(motion.rawValue).mp4"))
        let probe = try await tools.probe(clip.path)
        // The file's own length, not the one the request asked for.
        let length = Double((probe["format"] as? [String: Any])?["duration"] as? String ?? "") ?? 0
        #expect(abs(length - 2.0) < 0.04 && abs((clip.duration ?? -1) - length) < 0.04, "\(length) s")
        let v = (probe["streams"] as? [[String: Any]])?.first
        #expect(v?["width"] as? Int == 320 && v?["height"] as? Int == 180 && v?["nb_frames"] as? String == "60")
        // It moves: the first and last frames differ.
        let first = try await tools.run(.ffmpeg, ["-v", "error", "-i", clip.path, "-vf", "select=eq(n\\,0)", "-frames:v", "1", "-f", "md5", "-"]).stdout
        let last = try await tools.run(.ffmpeg, ["-v", "error", "-i", clip.path, "-vf", "select=eq(n\\,59)", "-frames:v", "1", "-f", "md5", "-"]).stdout
        #expect(first != last)
    }

    @Test(arguments: [ChannelStyle.Mood.dread, .bright, .calm])
    func musicBedsAreAudibleAndOfTheRightLength(mood: ChannelStyle.Mood) async throws {
        let path = dir.path("bed-\(mood.rawValue).wav")
        try await MusicBed(tools: tools).make(mood: mood, seconds: 3, outputPath: path)
        #expect(abs(try await tools.duration(of: path) - 3) < 0.05)
        let stats = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-i", path, "-af", "volumedetect", "-f", "null", "-"]).stderr
        let mean = stats.split(separator: "\n").first { $0.contains("mean_volume") }.flatMap { Double($0.split(separator: " ").dropLast().last ?? "") }
        #expect(try #require(mean) > -40)
    }

    @Test func captionsRoundTripTheirTimes() {
        let cues = [Captions.Cue(start: 0, end: 1.234, text: "One {x}."), Captions.Cue(start: 1.234, end: 3.5, text: "Two.")]
        let ass = Captions.ass(cues, style: .of(.facts), width: 1080, height: 1920)
        #expect(ass.contains("PlayResY: 1920") && ass.contains("DejaVu Sans") && ass.contains("One (x)."))
        let times = Captions.parseTimes(ass)
        #expect(times.count == 2)
        #expect(zip(times, cues).allSatisfy { abs($0.start - $1.start) <= 0.005 && abs($0.end - $1.end) <= 0.005 })
    }

    /// A word longer than the frame is wide (a chemical's name, a shouted word in capitals) is drawn
    /// smaller so that it fits: libass breaks lines only at spaces, so such a word ran off both
    /// sides of a short. Drawn by the real libass (ffmpeg's `ass` filter) on black, in every
    /// caption style and both faces: the frame's outer columns stay black, and the text is there.
    @Test(arguments: CaptionStyle.allCases, [ChannelType.facts, .horror])
    func aWordWiderThanTheFrameIsDrawnSmallerToFit(captions: CaptionStyle, type: ChannelType) async throws {
        let text = "They named it PNEUMONOULTRAMICROSCOPICSILICOVOLCANOCONIOSIS and pneumonoultramicroscopicsilicovolcanoconiosis."
        let words = text.split(separator: " ").enumerated().map { i, w in WordTiming(word: String(w), start: Double(i) * 0.2, end: Double(i) * 0.2 + 0.18) }
        let cue = Captions.Cue(start: 0, end: 1.2, text: text, words: words)
        let ass = Captions.ass([cue], style: .of(type), captions: captions, width: 1080, height: 1920)
        let file = dir.path("long-\(captions)-\(type).ass")
        try ass.write(toFile: file, atomically: true, encoding: .utf8)
        // The moments the long words show (the whole line in the sentence styles).
        for at in [0.65, 0.85] {
            let raw = dir.path("long-\(captions)-\(type)-\(at).gray")
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
                "-f", "lavfi", "-i", "color=black:s=1080x1920:r=10:d=1.2", "-vf", "ass=filename=\(file)",
                "-ss", "\(at)", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", raw,
            ])
            let pixels = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
            #expect(pixels.count == 1080 * 1920)
            var edge = 0
            for y in 0..<1920 { for x in Array(0..<6) + Array(1074..<1080) where pixels[y * 1080 + x] > 24 { edge += 1 } }
            #expect(edge == 0, "\(captions) \(type) at \(at) s: \(edge) lit pixels at the frame's sides: the word runs off")
            #expect(pixels.contains { $0 > 200 }, "\(captions) \(type) at \(at) s: no caption drawn")
        }
        // Ordinary words keep the style's size.
        let plain = Captions.ass([Captions.Cue(start: 0, end: 1, text: "An ordinary sentence of words.")], style: .of(type), captions: captions, width: 1080, height: 1920)
        #expect(!plain.contains("\\fs"))
    }

    /// One sentence of narration: a tone of `seconds`, in the narration's format.
    func toneNarration(_ name: String, seconds: Double) async throws -> QualityGate.Narration {
        let path = dir.path("\(name).wav")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "sine=frequency=440:duration=\(seconds)"]
                            + ToolRunner.narrationFormat + [path])
        return .init(path: path, sentences: [path])
    }

    /// A narration with sharp peaks (espeak-ng's speech with a 20 ms burst at 5 kHz every two
    /// seconds) under a music bed: the soundtrack is at −14 LUFS with its true peak at most
    /// −1 dBTP. Normalised only, the AAC encoder's overshoot took it to +0.4 dBTP; the long
    /// horror video of the samples measured −0.99.
    @Test func theSoundtrackKeepsItsTruePeakUnderMinusOne() async throws {
        let speech = dir.path("speech.wav"), narration = dir.path("peaks.wav"), music = dir.path("bed.wav")
        try await tools.run(.espeakNG, ["-v", "en-us+m3", "-s", "150", "-p", "30", "-w", speech,
                                        "The lighthouse keeper wrote the same line every night for forty years. Then one night, the line "
                                        + "changed. He wrote that the light had gone out, but the beam still swept the water."])
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-i", speech, "-f", "lavfi", "-i", "aevalsrc=0.9*sin(2*PI*5000*t)*if(lt(mod(t\\,2)\\,0.02)\\,1\\,0):s=22050:d=30",
            "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0"] + ToolRunner.narrationFormat + [narration])
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "sine=frequency=110:sample_rate=48000:duration=30", music])
        let audio = try await FFmpegComposer(tools: tools, style: .of(.horror)).soundtrack(narration: narration, music: music, total: 15, folder: dir.url)
        let measured = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-i", audio, "-af", "ebur128=peak=true", "-f", "null", "-"]).stderr
        let peak = try #require(QualityGate.truePeak(measured)), lufs = try #require(QualityGate.integratedLoudness(measured))
        #expect(peak <= FFmpegComposer.truePeakCeiling && abs(lufs - FFmpegComposer.targetLUFS) <= 1, "true peak \(peak) dBTP, \(lufs) LUFS")
    }

    /// The spoken word's highlight stands apart from every colour its scenes are drawn in and
    /// from the caption's own white: at least 100 apart in RGB (of 441 at most). Facts' yellow
    /// was 62 from its amber, finance's gold the palette's own.
    @Test(arguments: ChannelType.allCases)
    func theHighlightIsNoColourOfTheScenes(type: ChannelType) throws {
        let style = ChannelStyle.of(type)
        func rgb(hex: String) throws -> (Double, Double, Double) {
            let v = try #require(Int(hex, radix: 16))
            return (Double(v >> 16 & 0xff), Double(v >> 8 & 0xff), Double(v & 0xff))
        }
        // ASS writes &H[AA]BBGGRR.
        func rgb(ass: String) throws -> (Double, Double, Double) {
            let (b, g, r) = try rgb(hex: String(ass.dropFirst(2).suffix(6)))
            return (r, g, b)
        }
        let highlight = try rgb(ass: style.captionHighlight)
        let others = try style.palette.map { try rgb(hex: String($0.dropFirst(2))) } + [try rgb(ass: style.captionPrimary)]
        for (other, name) in zip(others, style.palette + [style.captionPrimary]) {
            let distance = ((highlight.0 - other.0) * (highlight.0 - other.0) + (highlight.1 - other.1) * (highlight.1 - other.1)
                            + (highlight.2 - other.2) * (highlight.2 - other.2)).squareRoot()
            #expect(distance >= 100, "\(type): highlight \(style.captionHighlight) is \(Int(distance)) from \(name)")
        }
    }

    @Test func theQualityGateRefusesABlackSilentWrongSizeVideo() async throws {
        let bad = dir.path("bad.mp4")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-f", "lavfi", "-i", "color=black:s=320x240:r=25:d=4", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
            "-t", "4", "-c:v", "libx264", "-c:a", "aac", "-shortest", bad,
        ])
        let captions = dir.path("c.ass")
        try Captions.ass([Captions.Cue(start: 0, end: 4, text: "x")], style: .of(.facts), width: 1080, height: 1920)
            .write(toFile: captions, atomically: true, encoding: .utf8)
        let narration = try await toneNarration("n35", seconds: 3.5)
        await #expect {
            try await QualityGate(tools: tools).check(
                video: bad, format: .short, duration: .init(min: 10, max: 20), captions: captions, narration: narration)
        } throws: { error in
            guard let e = error as? QualityGateError else { return false }
            let all = e.issues.joined(separator: " | ")
            return e.code == "video.qa_failed" && all.contains("320×240, not 1080×1920") && all.contains("frame rate is 25")
                && all.contains("lasts 4.0 s") && all.contains("black stretch") && all.contains("silent stretch")
                && all.contains("caption is 500 ms off")
        }
    }

    @Test func theQualityGateRefusesASilentVideoThatIsOtherwiseRight() async throws {
        let silent = dir.path("silent.mp4")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-f", "lavfi", "-i", "testsrc2=s=1080x1920:r=30:d=3", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
            "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", silent,
        ])
        let cues = [Captions.Cue(start: 0, end: 3, text: "x")]
        let captions = dir.path("s.ass")
        try Captions.ass(cues, style: .of(.facts), width: 1080, height: 1920).write(toFile: captions, atomically: true, encoding: .utf8)
        let narration = try await toneNarration("n3", seconds: 3)
        await #expect {
            try await QualityGate(tools: tools).check(video: silent, format: .short, duration: .init(min: 2, max: 5), captions: captions, narration: narration)
        } throws: { error in
            guard let e = error as? QualityGateError else { return false }
            // Only the sound is wrong: silent, and so not at -14 LUFS.
            return e.issues.count == 2 && e.issues.contains { $0.contains("silent stretch") }
                && e.issues.contains { $0.contains("loudness") }
        }
    }

    @Test func thumbnailsFitTheTitleIn1280x720Under2MB() async throws {
        let bg = try await ProceduralImageGenerator(tools: tools, palette: ChannelStyle.of(.finance).palette, width: 1280, height: 720)
            .generate(prompt: "bg", outputPath: url("bg.png"))
        let title = String(repeating: "Compound interest explained slowly ", count: 3).trimmingCharacters(in: .whitespaces)
        let layout = FFmpegThumbnailGenerator.layout(title)
        #expect(layout.lines.count <= 3)
        let thumb = try await FFmpegThumbnailGenerator(tools: tools, background: bg.path)
            .generate(title: title, channel: .defaults(for: .finance), outputPath: url("t.jpg"))
        let v = (try await tools.probe(thumb.path)["streams"] as? [[String: Any]])?.first
        #expect(v?["width"] as? Int == 1280 && v?["height"] as? Int == 720 && v?["codec_name"] as? String == "mjpeg")
        #expect(try Files.artifact(thumb.path).bytes < 2_000_000)
    }

    @Test func theLocalPublisherIsIdempotent() async throws {
        try Data("video".utf8).write(to: url("v.mp4"))
        try Data("thumb".utf8).write(to: url("t.jpg"))
        let pub = LocalPublisher(folder: url("out/facts/7-x"))
        let first = try await pub.publish(video: url("v.mp4"), title: "T", description: "D", tags: ["a"], thumbnail: url("t.jpg"))
        let stamp = try FileManager.default.attributesOfItem(atPath: url("out/facts/7-x/video.mp4").path)[.modificationDate] as? Date
        try await Task.sleep(for: .milliseconds(20))
        let second = try await pub.publish(video: url("v.mp4"), title: "T", description: "D", tags: ["a"], thumbnail: url("t.jpg"))
        #expect(first == second)
        #expect(try FileManager.default.attributesOfItem(atPath: url("out/facts/7-x/video.mp4").path)[.modificationDate] as? Date == stamp)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: url("out/facts/7-x/metadata.json"))) as? [String: Any]
        #expect(meta?["title"] as? String == "T" && meta?["tags"] as? [String] == ["a"])
        #expect(try String(contentsOf: url("out/facts/7-x/thumbnail.jpg"), encoding: .utf8) == "thumb")
    }
}
