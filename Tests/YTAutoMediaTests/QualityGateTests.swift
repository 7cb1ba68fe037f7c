import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// The QA gate on real renders made here with ffmpeg, each wrong in exactly one way, beside one
/// that is right: the gate must pass the right one and name the one fault of each other.
@Suite struct QualityGateTests {
    /// Three "sentences" (tones of 1.8 s, each followed by a pause of digital silence), joined as the
    /// narration stage joins them; a picture with and without a black scene.
    struct Fixture: Sendable {
        let dir: TempDir
        let tools: ToolRunner
        let tone = 1.8
        func path(_ name: String) -> String { dir.path(name) }
        func narration(_ name: String) -> QualityGate.Narration {
            .init(path: path("\(name).wav"), sentences: (0..<3).map { path("\(name)-\($0).wav") })
        }
        /// Where each sentence starts and ends, from how the fixture was made (not from the files).
        func cues(pauses: [Double]) -> [Captions.Cue] {
            var t = 0.0
            return pauses.enumerated().map { i, pause in
                defer { t += tone + pause }
                return Captions.Cue(start: t, end: t + tone + pause, text: "Sentence \(i + 1).")
            }
        }
    }

    static let fixture = Task<Fixture, any Error> { try await build() }

    static func build() async throws -> Fixture {
        let f = Fixture(dir: TempDir("ytauto-qa"), tools: try ToolRunner())
        let tools = f.tools
        // "lead": the second sentence's file starts with half a second of silence, as some TTS engines' do.
        for (name, pauses, lead) in [("gap19", [0.3, 1.9, 0.3], 0), ("gap21", [0.3, 2.1, 0.3], 0), ("lead", [0.3, 0.3, 0.3], 500)] {
            for (i, pause) in pauses.enumerated() {
                try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
                    "-f", "lavfi", "-i", "sine=frequency=\(330 + 110 * i):sample_rate=22050:duration=\(f.tone)",
                    "-af", (i == 1 && lead > 0 ? "adelay=\(lead):all=1," : "") + "apad=pad_dur=\(pause)"]
                    + ToolRunner.narrationFormat + [f.path("\(name)-\(i).wav")])
            }
            try (0..<3).map { "file '\(f.path("\(name)-\($0).wav"))'" }.joined(separator: "\n")
                .write(toFile: f.path("\(name).txt"), atomically: true, encoding: .utf8)
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "concat", "-safe", "0", "-i", f.path("\(name).txt"), "-c", "copy", f.path("\(name).wav")])
        }
        // The 1.9 s narration with a click every second: loud for a millisecond, which moves the
        // loudness little and the true peak a lot (a sound that would clip in players).
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-i", f.path("gap19.wav"), "-f", "lavfi", "-i", "aevalsrc=if(lt(mod(t\\,1)\\,0.001)\\,0.5\\,0):s=22050:d=8.1",
            "-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0"] + ToolRunner.narrationFormat + [f.path("peaks.wav")])
        // Pictures the length of the narration (8.1 s covers both), a keyframe every second.
        for (name, filter) in [("plain", ""), ("black", ",drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill:enable='between(t,3,5)'")] {
            try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
                "-f", "lavfi", "-i", "testsrc2=s=1080x1920:r=30:d=8.1\(filter)",
                "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "30", "-an", f.path("\(name).mp4")])
        }
        return f
    }

    /// The picture with the narration as its sound, brought to −14 LUFS (plus `offsetLU`) by a
    /// measured gain, as a publishable video would be.
    static func video(_ f: Fixture, picture: String, narration: String, offsetLU: Double = 0) async throws -> String {
        let wav = f.path("\(narration).wav"), tools = f.tools
        let measured = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-i", wav, "-af", "ebur128", "-f", "null", "-"]).stderr
        let lufs = try #require(QualityGate.integratedLoudness(measured))
        // A file of its own: tests run at once, and several make the same picture and narration.
        let out = f.path("\(picture)-\(narration)-\(offsetLU)-\(UUID().uuidString).mp4")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-i", f.path("\(picture).mp4"), "-i", wav, "-map", "0:v", "-map", "1:a", "-c:v", "copy",
            "-af", String(format: "volume=%.2fdB", -14 - lufs + offsetLU), "-c:a", "aac", "-b:a", "160k", "-ar", "48000", out])
        return out
    }

    /// Runs the gate; returns its issues (none when it passes).
    static func issues(video: String, captions cues: [Captions.Cue], narration: QualityGate.Narration, in f: Fixture) async throws -> [String] {
        let captions = f.path("captions-\(UUID().uuidString).ass")
        try Captions.ass(cues, style: .of(.facts), width: 1080, height: 1920).write(toFile: captions, atomically: true, encoding: .utf8)
        do {
            let report = try await QualityGate(tools: f.tools).check(video: video, format: .short, duration: .init(min: 5, max: 20),
                                                                   captions: captions, narration: narration)
            #expect(report.worstCaptionOffsetMS <= 100 && abs(report.integratedLUFS + 14) <= 1)
            return []
        } catch let e as QualityGateError {
            return e.issues
        }
    }

    @Test func aRightVideoPassesWithItsOnePointNineSecondPause() async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "gap19")
        let issues = try await Self.issues(video: video, captions: f.cues(pauses: [0.3, 1.9, 0.3]), narration: f.narration("gap19"), in: f)
        #expect(issues.isEmpty, "\(issues)")
    }

    @Test func aTwoPointOneSecondSilenceFails() async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "gap21")
        let issues = try await Self.issues(video: video, captions: f.cues(pauses: [0.3, 2.1, 0.3]), narration: f.narration("gap21"), in: f)
        #expect(issues.count == 1 && issues[0].contains("1 silent stretch(es) of 2 s or more"), "\(issues)")
    }

    @Test func aBlackSceneInTheMiddleFails() async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "black", narration: "gap19")
        let issues = try await Self.issues(video: video, captions: f.cues(pauses: [0.3, 1.9, 0.3]), narration: f.narration("gap19"), in: f)
        #expect(issues.count == 1 && issues[0].contains("black stretch(es) on the keyframes"), "\(issues)")
    }

    /// Clicks that reach above −1 dBTP at the right loudness: the gate measures the true peak.
    @Test func aTruePeakAboveMinusOneFails() async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "peaks")
        let issues = try await Self.issues(video: video, captions: f.cues(pauses: [0.3, 1.9, 0.3]), narration: f.narration("gap19"), in: f)
        #expect(issues.count == 1 && issues[0].contains("the sound's true peak is") && issues[0].contains("dBTP, above -1.0"), "\(issues)")
        // ebur128's summary, read: a number, and silence's -inf.
        #expect(QualityGate.truePeak("Summary:\n\n  True peak:\n    Peak:       -1.6 dBFS\n") == -1.6)
        #expect(QualityGate.truePeak("Summary:\n  True peak:\n    Peak:       -inf dBFS\n") == -.infinity)
        #expect(QualityGate.truePeak("Summary:\n  Integrated loudness:\n    I: -14.0 LUFS\n") == nil)
    }

    @Test(arguments: [2.0, -2.0])
    func loudnessTwoLUOffFails(offset: Double) async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "gap19", offsetLU: offset)
        let issues = try await Self.issues(video: video, captions: f.cues(pauses: [0.3, 1.9, 0.3]), narration: f.narration("gap19"), in: f)
        #expect(issues.count == 1 && issues[0].contains("integrated loudness is") && issues[0].contains("not -14 ± 1"), "\(issues)")
    }

    /// Captions 300 ms late (or early) against the sentences as they sound: the check measures the
    /// narration, so it sees the shift although the captions file is well formed.
    @Test(arguments: [0.3, -0.3])
    func captionsShiftedByThreeHundredMillisecondsFail(shift: Double) async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "gap19")
        let shifted = f.cues(pauses: [0.3, 1.9, 0.3]).map { Captions.Cue(start: max(0, $0.start + shift), end: $0.end + shift, text: $0.text) }
        let issues = try await Self.issues(video: video, captions: shifted, narration: f.narration("gap19"), in: f)
        #expect(issues.count == 1 && issues[0].contains("a caption is 300 ms off its sentence"), "\(issues)")
    }

    /// A sentence whose audio leads with half a second of silence: its caption is measured against
    /// where the speech starts, not where the file does.
    @Test func aCaptionIsMeasuredFromWhereItsSpeechStarts() async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "lead")
        // From the files' starts: the second caption is up half a second before its speech.
        var cues = f.cues(pauses: [0.3, 0.3, 0.3])
        cues[1].end += 0.5
        cues[2].start += 0.5
        cues[2].end += 0.5
        let early = try await Self.issues(video: video, captions: cues, narration: f.narration("lead"), in: f)
        #expect(early.count == 1 && early[0].contains("a caption is 500 ms off its sentence"), "\(early)")
        // From the speech: right.
        cues[1].start += 0.5
        let right = try await Self.issues(video: video, captions: cues, narration: f.narration("lead"), in: f)
        #expect(right.isEmpty, "\(right)")
    }

    /// Sentence files that are not what was joined: the places the captions are checked against
    /// would be wrong, and the gate says so.
    @Test func aNarrationThatIsNotItsSentencesFails() async throws {
        let f = try await Self.fixture.value
        let video = try await Self.video(f, picture: "plain", narration: "gap19")
        var narration = f.narration("gap19")
        narration.sentences[1] = f.path("gap21-1.wav")
        let issues = try await Self.issues(video: video, captions: f.cues(pauses: [0.3, 1.9, 0.3]), narration: narration, in: f)
        #expect(issues.contains { $0.contains("the narration lasts 7.900 s but its sentences add up to 8.100 s") }, "\(issues)")
    }
}
