import Foundation
import Testing
import YTAutoCore
@testable import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// Word timings: espeak-ng's, exact, against the sound itself; the estimate for engines that give
/// none; the word-highlighted caption styles; and the QA gate's check of each word's highlight.
@Suite struct WordTimingTests {
    let dir = TempDir("ytauto-words")
    let tools: ToolRunner

    init() throws { tools = try ToolRunner() }

    /// The PCM data of a WAV file (after its `data` chunk header).
    static func pcm(_ path: String) throws -> Data {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let marker = Data("data".utf8)
        let at = try #require(data.range(of: marker))
        return data.subdata(in: (at.upperBound + 4)..<data.count)
    }

    /// 16-bit samples from PCM bytes, and how often a second they cross zero (it follows the pitch).
    static func crossingsPerSecond(_ pcm: Data, rate: Double = 22_050) -> Double {
        let samples = pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        var crossings = 0
        for (a, b) in zip(samples, samples.dropFirst()) where (a < 0) != (b < 0) { crossings += 1 }
        return Double(crossings) / (Double(samples.count) / rate)
    }

    @Test(arguments: ["en-deep", "en-bright", "en-calm"])
    func theLibrarySpeaksWithTheProgramsVoiceSpeedAndPitch(voice: String) async throws {
        // The same voice, speed and pitch through the espeak-ng program. The library keeps a little
        // state from one sentence to the next (a fresh process's first sentence matches the program
        // sample for sample, later ones drift by a few ms), so the test compares what the settings
        // decide: the length within 3 % (1.1 % apart was seen after other voices had spoken in the
        // process; the nearest voice speed, 150 against 160, is 6 % apart) and the pitch (zero
        // crossings a second) within 5 %.
        let text = "The lighthouse keeper wrote one last line, in 1893, and then the lamp went dark."
        let v = try #require(EspeakVoice.named(voice))
        let textFile = dir.path("text.txt")
        try text.write(toFile: textFile, atomically: true, encoding: .utf8)
        let cli = dir.path("cli-\(voice).wav")
        try await tools.run(.espeakNG, ["-v", v.voice, "-s", String(v.speed), "-p", String(v.pitch), "-w", cli, "-f", textFile])
        let lib = dir.url.appending(path: "lib-\(voice).wav")
        let segment = try await EspeakTTS(tools: tools).synthesize(text: text, outputPath: lib, voiceID: voice)
        let a = try Self.pcm(cli), b = try Self.pcm(lib.path)
        #expect(a.count > 20_000 && abs(Double(b.count) / Double(a.count) - 1) < 0.03, "program \(a.count) bytes, library \(b.count) bytes")
        let pitchA = Self.crossingsPerSecond(a), pitchB = Self.crossingsPerSecond(b)
        #expect(abs(pitchB / pitchA - 1) < 0.05, "zero crossings a second: program \(pitchA), library \(pitchB)")
        #expect(abs(segment.duration - (try await tools.duration(of: lib.path))) < 0.01)
        #expect(segment.words?.map(\.word) == ["The", "lighthouse", "keeper", "wrote", "one", "last", "line,", "in", "1893,", "and", "then", "the", "lamp", "went", "dark."])
    }

    /// A voice check waits for espeak-ng's queue suspended, not holding a thread. With the queue
    /// held, more checks wait than the process has threads for its tasks (one a core), and yet
    /// another task runs. A check that held its thread while it waited (`queue.sync`) left none:
    /// the other task ran only once the queue was let go, 10 s later.
    @Test func voiceChecksWaitingForEspeaksQueueLeaveThreadsToOtherTasks() async throws {
        let library = try EspeakLibrary.shared()
        let voice = try #require(EspeakVoice.named("en-calm"))
        let order = Locked<[String]>([])
        let held = DispatchSemaphore(value: 0)
        library.queue.async { held.wait() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) {
            order.update { $0.append("queue let go") }
            held.signal()
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<(4 * ProcessInfo.processInfo.activeProcessorCount) {
                group.addTask { #expect(await library.canSpeak(voice)) }
            }
            group.addTask {
                order.update { $0.append("other task") }
                held.signal()
            }
            try await group.waitForAll()
        }
        #expect(order.value.first == "other task")
    }

    @Test func theVoicesDifferInPitch() async throws {
        // What the pitch comparison above can tell apart: the deep voice crosses zero less often.
        let text = "Numbers tell a story, but only if somebody reads them."
        var rates: [String: Double] = [:]
        for voice in ["en-deep", "en-bright"] {
            let out = dir.url.appending(path: "pitch-\(voice).wav")
            _ = try await EspeakTTS(tools: tools).synthesize(text: text, outputPath: out, voiceID: voice)
            rates[voice] = Self.crossingsPerSecond(try Self.pcm(out.path))
        }
        let deep = try #require(rates["en-deep"]), bright = try #require(rates["en-bright"])
        #expect(bright / deep > 1.05, "deep \(deep), bright \(bright)")
    }

    @Test func eachWordStartsWhereItsSoundStarts() async throws {
        // Sentences apart: espeak-ng leaves a pause after each, so the sound itself says where the
        // next word starts (the end of the silence, measured by ffmpeg), independently of the library.
        let out = dir.url.appending(path: "pauses.wav")
        let segment = try await EspeakTTS(tools: tools).synthesize(text: "Stop. Wait here. Listen now.", outputPath: out, voiceID: "en-calm")
        let words = try #require(segment.words)
        #expect(words.map(\.word) == ["Stop.", "Wait", "here.", "Listen", "now."])
        let scan = try await tools.run(.ffmpeg, ["-nostdin", "-hide_banner", "-nostats", "-i", out.path,
                                                  "-af", "silencedetect=n=-45dB:d=0.1", "-f", "null", "-"])
        let silences = QualityGate.silences(scan.stderr, end: segment.duration).filter { $0.lowerBound > 0.05 && $0.upperBound < segment.duration - 0.05 }
        #expect(silences.count == 2, "\(silences)")
        guard silences.count == 2 else { return }
        for (silence, word) in zip(silences, [words[1], words[3]]) {
            #expect(abs(word.start - silence.upperBound) <= 0.06, "'\(word.word)' at \(word.start) s, its sound at \(silence.upperBound) s")
        }
        // Ordered, within the sound, each ending where the next begins.
        #expect(words.first?.start == 0 && abs(words.last!.end - segment.duration) < 0.001)
        #expect(zip(words, words.dropFirst()).allSatisfy { $0.end == $1.start && $0.start < $1.start })
    }

    @Test func aNumberSpokenAsSeveralWordsIsOneWordAndDashesAreNotWords() {
        // The library's events as it reports them for "In 1990, the café's owner didn't stop. Go — now!"
        // (from 1; 1990 is spoken "nineteen ninety": two events).
        let text = "In 1990, the café's owner didn't stop. Go — now!"
        let events = [(1, 0), (4, 150), (5, 1071), (10, 1781), (14, 1897), (21, 2404), (27, 2674), (34, 3142), (40, 4010), (45, 4692)]
        let words = EspeakLibrary.place(text: text, events: events.map { (text: $0.0, ms: $0.1) }, end: 5.166)
        #expect(words.map(\.word) == ["In", "1990,", "the", "café's", "owner", "didn't", "stop.", "Go", "now!"])
        #expect(words.map(\.start) == [0, 0.15, 1.781, 1.897, 2.404, 2.674, 3.142, 4.01, 4.692])
        #expect(words[1].end == 1.781 && words.last?.end == 5.166)
    }

    @Test func oneLetterWordsKeepTheirOwnEvents() {
        // The library's events for "I saw a cat, A to Z." (en-us+m3, 150 words a minute): a
        // one-letter word is where counting from 1 rather than 0 shows.
        let events = [(1, 0), (3, 121), (7, 358), (9, 435), (14, 1040), (16, 1115), (19, 1276)]
        let words = EspeakLibrary.place(text: "I saw a cat, A to Z.", events: events.map { (text: $0.0, ms: $0.1) }, end: 1.626)
        #expect(words.map(\.word) == ["I", "saw", "a", "cat,", "A", "to", "Z."])
        #expect(words.map(\.start) == [0, 0.121, 0.358, 0.435, 1.04, 1.115, 1.276])
    }

    @Test func estimatedTimingsShareTheSentenceByLetters() {
        let words = WordTiming.estimate("A lighthouse, dark.", span: 1...3)
        #expect(words.map(\.word) == ["A", "lighthouse,", "dark."])
        #expect(words.first?.start == 1 && words.last?.end == 3)
        #expect(zip(words, words.dropFirst()).allSatisfy { $0.end <= $1.start })
        // "lighthouse" (10 letters) lasts longer than "dark" (4), which lasts longer than "A" (counted as 2).
        let lengths = words.map { $0.end - $0.start }
        #expect(lengths[1] > lengths[2] && lengths[2] > lengths[0])
        #expect(WordTiming.estimate("— …", span: 0...1).isEmpty)
    }

    @Test func estimatedTimingsFollowTheSpeechClauseByClause() async throws {
        // A sentence's audio as a provider might send it: 0.3 s of silence, a clause, a 0.3 s
        // pause, another clause, 0.2 s of silence.
        let path = dir.path("two-clauses.wav")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + [
            "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=0.3", "-f", "lavfi", "-i", "sine=f=220:r=22050:d=0.8",
            "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=0.3", "-f", "lavfi", "-i", "sine=f=220:r=22050:d=0.6",
            "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono:d=0.2",
            "-filter_complex", "[0][1][2][3][4]concat=n=5:v=0:a=1", "-c:a", "pcm_s16le", path,
        ])
        let duration = try await tools.duration(of: path)
        let speech = try await QualityGate.speech(in: path, duration: duration, tools: tools)
        #expect(speech.count == 2, "\(speech)")
        guard speech.count == 2 else { return }
        #expect(abs(speech[0].lowerBound - 0.3) < 0.03 && abs(speech[0].upperBound - 1.1) < 0.03, "\(speech)")
        #expect(abs(speech[1].lowerBound - 1.4) < 0.03 && abs(speech[1].upperBound - 2.0) < 0.03, "\(speech)")
        // Two clauses, two stretches: each clause in its own.
        let words = WordTiming.estimate("The lamp went dark, and nobody came.", speech: speech, whole: 0...duration)
        #expect(words.map(\.word) == ["The", "lamp", "went", "dark,", "and", "nobody", "came."])
        #expect(words[0].start == speech[0].lowerBound && words[3].end == speech[0].upperBound)
        #expect(words[4].start == speech[1].lowerBound && words[6].end == speech[1].upperBound)
        // Three clauses for two stretches: fitted to the speech as a whole, the silence at either end left out.
        let three = WordTiming.estimate("Dark, cold, and quiet.", speech: speech, whole: 0...duration)
        #expect(three.first?.start == speech[0].lowerBound && three.last?.end == speech[1].upperBound)
        // No speech measured: the whole sentence.
        #expect(WordTiming.estimate("Dark.", speech: [], whole: 0...1) == [WordTiming(word: "Dark.", start: 0, end: 1)])
    }

    static let cue = Captions.Cue(start: 0, end: 3, text: "Honey never spoils, ever. Truly.", words: [
        WordTiming(word: "Honey", start: 0.05, end: 0.4), WordTiming(word: "never", start: 0.4, end: 0.8),
        WordTiming(word: "spoils,", start: 0.8, end: 1.5), WordTiming(word: "ever.", start: 1.6, end: 2.2),
        WordTiming(word: "Truly.", start: 2.3, end: 3),
    ])

    @Test func theWordsStyleShowsAFewWordsWithTheSpokenOneHighlighted() {
        let second = Captions.Cue(start: 3, end: 4, text: "Yes.", words: [WordTiming(word: "Yes.", start: 3.1, end: 4)])
        let ass = Captions.ass([Self.cue, second], style: .of(.facts), captions: .words, width: 1080, height: 1920)
        let lines = ass.split(separator: "\n").filter { $0.hasPrefix("Dialogue:") }.map(String.init)
        let h = ChannelStyle.of(.facts).captionHighlight
        // One event a word; cues break after "spoils," (a clause ends), "ever." and at the sentence's end.
        #expect(lines.count == 6)
        #expect(lines[0] == "Dialogue: 0,0:00:00.00,0:00:00.40,Words,s0w0,0,0,0,,{\\c\(h)&}Honey{\\r} never spoils,")
        #expect(lines[2] == "Dialogue: 0,0:00:00.80,0:00:01.60,Words,s0w2,0,0,0,,Honey never {\\c\(h)&}spoils,{\\r}")
        #expect(lines[3] == "Dialogue: 0,0:00:01.60,0:00:02.30,Words,s0w3,0,0,0,,{\\c\(h)&}ever.{\\r}")
        #expect(lines[5] == "Dialogue: 0,0:00:03.00,0:00:04.00,Words,s1w5,0,0,0,,{\\c\(h)&}Yes.{\\r}")
        // Large and centred (alignment 5).
        #expect(ass.contains("Style: Words,DejaVu Sans,108,") && ass.contains(",5,108,108,0,1"))
        // Read back: two sentences with their spans, and when each word lights up.
        let spans = Captions.parseTimes(ass)
        #expect(spans.count == 2 && spans[0].start == 0 && spans[0].end == 3 && spans[1].start == 3)
        #expect(Captions.parseEvents(ass).compactMap(\.word) == [0, 1, 2, 3, 4, 5])
        #expect(Captions.wordGroups(Array(repeating: WordTiming(word: "a", start: 0, end: 1), count: 7)) == [0..<3, 3..<6, 6..<7])
    }

    @Test func theLineStyleHighlightsTheWordInItsSentenceAndThePlainStyleDoesNot() {
        let line = Captions.ass([Self.cue], style: .of(.horror), captions: .line, width: 1920, height: 1080)
        let events = line.split(separator: "\n").filter { $0.hasPrefix("Dialogue:") }
        #expect(events.count == 5 && events.allSatisfy { $0.contains(",Default,s0w") })
        #expect(events[1].hasSuffix(",,Honey {\\c&H3C3CFF&}never{\\r} spoils, ever. Truly."))
        let plain = Captions.ass([Self.cue], style: .of(.horror), captions: .sentences, width: 1920, height: 1080)
        #expect(plain.contains("Dialogue: 0,0:00:00.00,0:00:03.00,Default,s0,0,0,0,,Honey never spoils, ever. Truly.\n"))
        #expect(!plain.contains("\\c&H"))
    }

    @Test func theGateFailsAWordLitUpMoreThanATenthOfASecondOffItsSound() {
        let measured = QualityGate.SentenceTimes(speechStarts: [0.05], ends: [3])
        let ass = Captions.ass([Self.cue], style: .of(.facts), captions: .words, width: 1080, height: 1920)
        var issues: [String] = []
        let worst = QualityGate.wordHighlights(Captions.parseEvents(ass), words: [Self.cue.words], measured: measured, issues: &issues)
        #expect(issues.isEmpty && worst <= 0.05 + 1e-9)
        // The captions made from timings 150 ms late.
        var late = Self.cue
        late.words = late.words.map { WordTiming(word: $0.word, start: $0.start + 0.15, end: $0.end + 0.15) }
        let lateAss = Captions.ass([late], style: .of(.facts), captions: .words, width: 1080, height: 1920)
        issues = []
        _ = QualityGate.wordHighlights(Captions.parseEvents(lateAss), words: [Self.cue.words], measured: measured, issues: &issues)
        #expect(issues == ["word 2 ('never') lights up 150 ms off its sound; word 3 ('spoils,') lights up 150 ms off its sound; word 4 ('ever.') lights up 150 ms off its sound (and 1 more word(s))"])
        // Plain sentence captions where word timings are exact: no word ever lights up.
        issues = []
        let plain = Captions.ass([Self.cue], style: .of(.facts), captions: .sentences, width: 1080, height: 1920)
        _ = QualityGate.wordHighlights(Captions.parseEvents(plain), words: [Self.cue.words], measured: measured, issues: &issues)
        #expect(issues.first?.hasPrefix("word 1 ('Honey') is never highlighted") == true)
        // Timings that do not fit the measured sound.
        issues = []
        _ = QualityGate.wordHighlights(Captions.parseEvents(ass), words: [Self.cue.words], measured: .init(speechStarts: [0], ends: [1.2]), issues: &issues)
        #expect(issues.first?.contains("word 4 ('ever.') is placed at 1.60 s, outside its sentence (0.00-1.20 s)") == true)
    }
}
