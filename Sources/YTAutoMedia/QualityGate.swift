import Foundation
import YTAutoCore
import YTAutoSupport

/// Checks a composed video before it may be published. Every check measures the media itself
/// (the video file, the narration's audio), never the numbers the earlier stages wrote down, so a
/// stage that got its numbers wrong is caught here and not by a viewer.
public struct QualityGate: Sendable {
    public struct Report: Sendable, Codable, Hashable {
        public var duration: Double
        public var width: Int
        public var height: Int
        public var fps: Double
        public var integratedLUFS: Double
        /// The sound's true peak (ebur128's, 4× oversampled), in dBTP.
        public var truePeakDBTP: Double?
        /// The largest distance between a caption's start and where its sentence's speech starts
        /// in the narration, or its end and where the sentence's audio ends.
        public var worstCaptionOffsetMS: Double
        public var blackStretches: Int
        public var silentStretches: Int
        /// With exact word timings: the largest distance between a word's highlight and its sound.
        public var worstWordOffsetMS: Double?

        /// The figures as a stage's notes (`qa_*`), rounded as an operator reads them.
        public var notes: [String: String] {
            var notes = ["qa_seconds": String(format: "%.1f", duration), "qa_lufs": String(format: "%.1f", integratedLUFS),
                         "qa_caption_offset_ms": String(format: "%.0f", worstCaptionOffsetMS)]
            if let truePeakDBTP { notes["qa_true_peak_dbtp"] = String(format: "%.1f", truePeakDBTP) }
            if let worstWordOffsetMS { notes["qa_word_offset_ms"] = String(format: "%.0f", worstWordOffsetMS) }
            return notes
        }
    }

    /// The narration a video was made from: the joined file and its sentence files, in order, and,
    /// when the engine reported them (exact timings), each sentence's words at their places in the
    /// narration.
    public struct Narration: Sendable {
        public var path: String
        public var sentences: [String]
        public var exactWords: [[WordTiming]]?
        public init(path: String, sentences: [String], exactWords: [[WordTiming]]? = nil) {
            self.path = path
            self.sentences = sentences
            self.exactWords = exactWords
        }
    }

    /// Where each sentence of a narration is, measured from its audio.
    public struct SentenceTimes: Sendable, Hashable {
        /// Where each sentence's speech starts: its place in the narration (the sentence files'
        /// lengths, from their samples, end to end) moved past any silence that covers it.
        public var speechStarts: [Double]
        /// Where each sentence's audio ends.
        public var ends: [Double]
    }

    /// The longest a caption may be off its sentence.
    public static let captionTolerance = 0.1

    let tools: ToolRunner
    public init(tools: ToolRunner) { self.tools = tools }

    /// - Throws: ``QualityGateError`` listing every check that failed.
    /// - Parameters:
    ///   - captionFont: the font file the captions are drawn with; every character of `captionText`
    ///     (the sentences) must have a glyph in it, or the video fails (a caption of empty boxes).
    public func check(video: String, format: VideoFormat, duration range: ChannelConfig.DurationRange, captions: String,
                      narration: Narration, captionFont: String? = nil, captionText: [String] = []) async throws -> Report {
        var issues: [String] = []
        if let captionFont {
            let missing = try FontGlyphs(file: captionFont).missing(in: captionText.joined(separator: " "))
            if !missing.isEmpty {
                issues.append("the caption font \(captionFont) has no glyph for \(FontGlyphs.describe(missing)): "
                              + "those captions would show empty boxes (is the channel's language: right?)")
            }
        }
        let probe = try await tools.probe(video)
        let streams = probe["streams"] as? [[String: Any]] ?? []
        let v = streams.first { $0["codec_type"] as? String == "video" }
        let a = streams.first { $0["codec_type"] as? String == "audio" }
        let duration = Double((probe["format"] as? [String: Any])?["duration"] as? String ?? "") ?? 0
        let width = v?["width"] as? Int ?? 0, height = v?["height"] as? Int ?? 0
        let rate = (v?["r_frame_rate"] as? String ?? "0/1").split(separator: "/").compactMap { Double($0) }
        let fps = rate.count == 2 && rate[1] > 0 ? rate[0] / rate[1] : 0
        if v?["codec_name"] as? String != "h264" { issues.append("the video stream is \(v?["codec_name"] as? String ?? "missing"), not h264") }
        if a?["codec_name"] as? String != "aac" { issues.append("the audio stream is \(a?["codec_name"] as? String ?? "missing"), not aac") }
        if width != format.width || height != format.height { issues.append("the picture is \(width)×\(height), not \(format.width)×\(format.height)") }
        if abs(fps - Double(VideoFormat.framesPerSecond)) > 0.01 { issues.append("the frame rate is \(fps), not \(VideoFormat.framesPerSecond)") }
        if duration < Double(range.min) || duration > Double(range.max) {
            issues.append(String(format: "it lasts %.1f s; the channel wants %d-%d s", duration, range.min, range.max))
        }
        // One pass for loudness and silence over all the sound, and for black over the picture's
        // keyframes only: each segment of the picture starts with one, and x264 puts one at least
        // every 250 frames, so a black scene shows on its keyframes. Decoding every frame of a
        // 10-minute 1080p video took 50 CPU seconds; the keyframes take a twentieth of that.
        let scan = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-skip_frame:v", "nokey", "-i", video,
                                                  "-vf", "blackdetect=d=0:pix_th=0.04", "-af", "silencedetect=n=-50dB:d=2,ebur128=framelog=verbose:peak=true",
                                                  "-f", "null", "-"], timeout: .seconds(Int64(300 + duration * 5)))
        let lufs = Self.integratedLoudness(scan.stderr)
        if let lufs {
            if abs(lufs - FFmpegComposer.targetLUFS) > 1 { issues.append(String(format: "integrated loudness is %.1f LUFS, not %.0f ± 1", lufs, FFmpegComposer.targetLUFS)) }
        } else {
            issues.append("the loudness could not be measured")
        }
        let peak = Self.truePeak(scan.stderr)
        if let peak {
            if peak > FFmpegComposer.truePeakCeiling {
                issues.append(String(format: "the sound's true peak is %.1f dBTP, above %.1f (it would clip in players)", peak, FFmpegComposer.truePeakCeiling))
            }
        } else {
            issues.append("the true peak could not be measured")
        }
        let black = scan.stderr.components(separatedBy: "black_start").count - 1
        let silent = scan.stderr.components(separatedBy: "silence_start").count - 1
        if black > 0 { issues.append("\(black) black stretch(es) on the keyframes") }
        if silent > 0 { issues.append("\(silent) silent stretch(es) of 2 s or more") }
        // Captions against where the narration's sentences really are.
        var worst = 0.0
        var worstWord: Double?
        do {
            let measured = try await sentenceTimes(narration, issues: &issues)
            let ass = (try? String(contentsOfFile: captions, encoding: .utf8)) ?? ""
            let times = Captions.parseTimes(ass)
            if let words = narration.exactWords {
                worstWord = Self.wordHighlights(Captions.parseEvents(ass), words: words, measured: measured, issues: &issues)
            }
            if times.count != measured.speechStarts.count {
                issues.append("the captions have \(times.count) cues for \(measured.speechStarts.count) sentences")
            } else {
                for (i, t) in times.enumerated() {
                    worst = max(worst, abs(t.start - measured.speechStarts[i]), abs(t.end - measured.ends[i]))
                }
                if worst > Self.captionTolerance { issues.append(String(format: "a caption is %.0f ms off its sentence", worst * 1000)) }
            }
        } catch let e as WAVError {
            issues.append("the captions cannot be checked: \(e)")
        }
        if !issues.isEmpty { throw QualityGateError(issues: issues) }
        return Report(duration: duration, width: width, height: height, fps: fps, integratedLUFS: lufs ?? 0, truePeakDBTP: peak,
                      worstCaptionOffsetMS: worst * 1000, blackStretches: black, silentStretches: silent,
                      worstWordOffsetMS: worstWord.map { $0 * 1000 })
    }

    /// The word check, for exact timings: every word lights up (its first highlight event) within
    /// ``captionTolerance`` of where the engine put its sound, and that place lies inside its
    /// sentence as measured from the audio (so the timings themselves are anchored to the sound,
    /// not only the captions to the timings). Returns the worst distance; adds an issue for the
    /// first few words that fail (and how many in all).
    static func wordHighlights(_ events: [Captions.Event], words: [[WordTiming]], measured: SentenceTimes,
                               issues: inout [String]) -> Double {
        var firstLit: [Int: Double] = [:]
        for e in events { if let w = e.word { firstLit[w] = min(firstLit[w] ?? e.start, e.start) } }
        var worst = 0.0
        var problems: [String] = []
        var index = 0
        for (s, sentence) in words.enumerated() {
            for word in sentence {
                defer { index += 1 }
                if s < measured.ends.count {
                    let from = s == 0 ? 0 : measured.ends[s - 1]
                    if word.start < from - captionTolerance || word.start > measured.ends[s] + captionTolerance {
                        problems.append("word \(index + 1) ('\(word.word)') is placed at "
                            + String(format: "%.2f s, outside its sentence (%.2f-%.2f s)", word.start, from, measured.ends[s]))
                        continue
                    }
                }
                guard let lit = firstLit[index] else {
                    problems.append("word \(index + 1) ('\(word.word)') is never highlighted")
                    continue
                }
                let off = abs(lit - word.start)
                worst = max(worst, off)
                if off > captionTolerance {
                    problems.append("word \(index + 1) ('\(word.word)') lights up " + String(format: "%.0f ms off its sound", off * 1000))
                }
            }
        }
        if !problems.isEmpty {
            issues.append(problems.prefix(3).joined(separator: "; ") + (problems.count > 3 ? " (and \(problems.count - 3) more word(s))" : ""))
        }
        return worst
    }

    /// Measures each sentence's place in the narration from the audio. The sentence files'
    /// lengths come from their samples; the joined file must be exactly them end to end (else an
    /// issue is added, since the places would be wrong). Silences of 20 ms or more below −40 dB
    /// in the joined file (one ffmpeg pass) move each start to where the speech begins.
    public func sentenceTimes(_ narration: Narration, issues: inout [String]) async throws -> SentenceTimes {
        var starts: [Double] = [], ends: [Double] = []
        var t = 0.0
        for file in narration.sentences {
            starts.append(t)
            t += try WAVFile(path: file).seconds
            ends.append(t)
        }
        let joined = try WAVFile(path: narration.path).seconds
        if abs(joined - t) > 0.01 {
            issues.append(String(format: "the narration lasts %.3f s but its sentences add up to %.3f s", joined, t))
        }
        let silences = try await Self.silences(in: narration.path, shortest: 0.02, duration: joined, tools: tools)
        let speech = starts.map { start in
            silences.first { $0.lowerBound <= start + 0.02 && $0.upperBound > start }.map { max(start, $0.upperBound) } ?? start
        }
        return SentenceTimes(speechStarts: speech, ends: ends)
    }

    /// The silences (below -40 dB for at least `shortest` seconds) in the sound file at `path`,
    /// which lasts `duration` seconds, as ffmpeg's silencedetect finds them.
    static func silences(in path: String, shortest: Double, duration: Double, tools: ToolRunner) async throws -> [ClosedRange<Double>] {
        let scan = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-i", path,
                                                 "-af", "silencedetect=n=-40dB:d=\(shortest)", "-f", "null", "-"],
                                       timeout: .seconds(Int64(120 + duration)))
        return silences(scan.stderr, end: duration)
    }

    /// The silences silencedetect printed, as ranges of seconds; one still open at the end runs to `end`.
    static func silences(_ stderr: String, end: Double) -> [ClosedRange<Double>] {
        func value(after key: String, in line: Substring) -> Double? {
            guard let r = line.range(of: key) else { return nil }
            return Double(line[r.upperBound...].trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        var out: [ClosedRange<Double>] = []
        var open: Double?
        for line in stderr.split(separator: "\n") {
            if let s = value(after: "silence_start:", in: line) { open = max(0, s) }
            if let e = value(after: "silence_end:", in: line), let s = open {
                out.append(s...max(s, e))
                open = nil
            }
        }
        if let s = open { out.append(s...max(s, end)) }
        return out
    }

    /// The "Peak: -1.6 dBFS" under "True peak:" in ebur128's summary (with `peak=true`), in dBTP;
    /// nil without one. Silence measures `-inf`, which is no peak above anything.
    public static func truePeak(_ stderr: String) -> Double? { summaryFigure(stderr, section: "True peak:", key: "Peak:") }

    /// The "I: -14.0 LUFS" of ebur128's summary.
    public static func integratedLoudness(_ stderr: String) -> Double? { summaryFigure(stderr, key: "I:") }

    /// The number after `key` in ebur128's last summary, below `section` when given ("-inf" is −∞).
    static func summaryFigure(_ stderr: String, section: String? = nil, key: String) -> Double? {
        guard var start = stderr.range(of: "Summary:", options: .backwards)?.upperBound else { return nil }
        if let section {
            guard let found = stderr.range(of: section, range: start..<stderr.endIndex) else { return nil }
            start = found.upperBound
        }
        for line in stderr[start...].split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix(key) { return Double(t.dropFirst(key.count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") }
        }
        return nil
    }
}

/// The QA gate found the video unfit to publish.
public struct QualityGateError: YTAutoError {
    public let issues: [String]
    public var code: String { "video.qa_failed" }
    public var message: String { "the video failed its checks: " + issues.joined(separator: "; ") }
    public var isRetryable: Bool { false }
}

extension QualityGate {
    /// The stretches of sound in `path` (a sentence's audio, `duration` long) between pauses of
    /// 150 ms or more below −40 dB, in order; leading and trailing silence are left out.
    public static func speech(in path: String, duration: Double, tools: ToolRunner) async throws -> [ClosedRange<Double>] {
        var out: [ClosedRange<Double>] = []
        var t = 0.0
        for silence in try await silences(in: path, shortest: 0.15, duration: duration, tools: tools) {
            if silence.lowerBound > t + 0.02 { out.append(t...silence.lowerBound) }
            t = max(t, silence.upperBound)
        }
        if duration > t + 0.02 { out.append(t...duration) }
        return out
    }
}
