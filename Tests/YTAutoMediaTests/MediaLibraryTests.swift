import Foundation
import Testing
@testable import YTAutoMedia
import YTAutoCore
import YTAutoSupport
import YTAutoTestSupport

/// The operator's media library: tags, the choice per scene, and a video made from it with the
/// real ffmpeg (a picture, a clip shorter than its scene, a track of music).
@Suite struct MediaLibraryTests {
    let dir = TempDir("ytauto-library")
    let tools: ToolRunner

    init() throws { tools = try ToolRunner() }

    func item(_ kind: FootageAsset.Kind, _ path: String, _ tags: String) -> MediaLibrary.Item {
        MediaLibrary.Item(kind: kind, path: path, tags: MediaLibrary.words(tags))
    }

    @Test func wordsAreComparedLowerCasedSingularAndWithoutCommonWords() {
        #expect(FootageWords.words("The Ocean's WAVES, and octopuses; 1893 at sea", language: "en").map(\.word)
                == ["ocean", "waves", "octopuses", "1893", "sea"])
        #expect(meets("glass boxes", "glass_box") == 2 && meets("octopuses", "octopus") == 1)
        // Japanese is split into its nouns, in a file's name as in narration, so the two meet.
        #expect(MediaLibrary.words("古い家_夜") == ["家", "夜"])
        #expect(MediaLibrary.words("古い家で奇妙な音が聞こえた。") == ["家", "奇妙", "音"])
        #expect(MediaLibrary.words("ホテル_hallway チャンネル") == ["ホテル", "hallway"])
        #expect(MediaLibrary.words("波が高い海だった") == ["波", "海"])
        #expect(MediaLibrary.words("ﾎﾃﾙ_ＮＡＳＡ") == ["ホテル", "nasa"])
        let items = [item(.image, "/l/haunted/家.png", "古い家_夜"), item(.image, "/l/sea/海.png", "海 波")]
        #expect(MediaLibrary.choose(items, text: "その夜、家の中で音がした。", topic: "怖い話", uses: [:], seed: "1|0").0.path == "/l/haunted/家.png")
        #expect(MediaLibrary.choose(items, text: "波が高い海だった。", topic: "怖い話", uses: [:], seed: "1|0").0.path == "/l/sea/海.png")
    }

    /// How many of the words `said` (in `language`) meet a file named `file`.
    func meets(_ said: String, _ file: String, language: String = "en") -> Int {
        FootageWords.words(said, language: language).filter { !$0.forms.isDisjoint(with: MediaLibrary.words(file, language: language)) }.count
    }

    @Test func aWordAndItsPluralMeetWhicheverSideSaysWhich() {
        for (one, many) in [("house", "houses"), ("wave", "waves"), ("city", "cities"), ("sky", "skies"), ("story", "stories"),
                            ("movie", "movies"), ("octopus", "octopuses"), ("glass", "glasses"), ("box", "boxes"), ("bus", "buses"),
                            ("church", "churches"), ("bee", "bees"), ("tree", "trees"), ("monkey", "monkeys")] {
            #expect(meets(one, many) == 1 && meets(many, one) == 1, "\(one) / \(many)")
        }
        for (one, many) in [("flor", "flores"), ("ciudad", "ciudades"), ("noche", "noches"), ("ola", "olas"), ("cancion", "canciones")] {
            #expect(meets(one, many, language: "es") == 1 && meets(many, one, language: "es") == 1, "\(one) / \(many)")
        }
        // Different words stay apart, a singular's final e included (a scare is not a scar).
        for (a, b) in [("scare", "scar"), ("stare", "star"), ("fire", "fir"), ("plane", "plan"), ("house", "horse"),
                       ("bus", "bust"), ("tres", "tree"), ("ski", "skies")] {
            #expect(meets(a, b) == 0 && meets(b, a) == 0, "\(a) / \(b)")
        }
        // English reads `-es` after other letters as `-s` alone, on both sides: `fires` does not meet a
        // file named `fir`, nor `fir` a file named `fires` (a Spanish channel's library reads it as Spanish).
        #expect(meets("fires", "fir") == 0 && meets("fires", "fire") == 1 && meets("fir", "fires") == 0 && meets("fire", "fires") == 1)
        #expect(meets("flor", "flores", language: "es") == 1 && meets("flor", "flores") == 0)
        // Irregular plurals, English's from a list and Spanish's `-ces` of a `-z`.
        for (one, many) in [("wolf", "wolves"), ("mouse", "mice"), ("child", "children"), ("knife", "knives"), ("leaf", "leaves"),
                            ("woman", "women"), ("tooth", "teeth"), ("fireman", "firemen")] {
            #expect(meets(one, many) == 1 && meets(many, one) == 1, "\(one) / \(many)")
        }
        for (one, many) in [("luz", "luces"), ("pez", "peces"), ("voz", "voces"), ("cruz", "cruces")] {
            #expect(meets(one, many, language: "es") == 1 && meets(many, one, language: "es") == 1, "\(one) / \(many)")
        }
        #expect(meets("cave", "cafe") == 0 && meets("caves", "cafe") == 0 && meets("men", "man") == 1)
        // Words ending in ss, us or is are no plurals: they have no other form.
        #expect(FootageWords.forms("octopus", language: "en") == ["octopus"] && FootageWords.forms("glass", language: nil) == ["glass"]
                && FootageWords.forms("basis", language: "es") == ["basis"])
    }

    /// Accents fold away, but a letter of its own that looks like one with a mark stays itself:
    /// Russian `мой` (my) is not `мои` (my, plural), nor Ukrainian `їжак` `іжак`.
    @Test func foldingKeepsLettersOfTheirOwn() {
        func folded(_ text: String) -> [String] { FootageWords.words(text, language: "ru").map(\.word) }
        #expect(folded("canción ёлка чайка́") == ["cancion", "елка", "чайка"])
        #expect(folded("мой їжак ўзор") == ["мой", "їжак", "ўзор"])
        #expect(meets("мой дом", "мои_дома", language: "ru") == 0 && meets("лес", "лес", language: "ru") == 1)
    }

    @Test func aSpanishNarrationsCommonWordsMatchNothingAndItsAccentsAndPluralsDo() {
        #expect(FootageWords.words("La casa del faro estaba vacía; las flores", language: "es").map(\.word) == ["casa", "faro", "vacia", "flores"])
        // `sea` is a word of Spanish's (`sea como sea`) and a thing in English.
        #expect(FootageWords.words("sea waves", language: "es").map(\.word) == ["waves"])
        #expect(FootageWords.words("sea waves", language: "en").map(\.word) == ["sea", "waves"])
        let items = [item(.clip, "/l/sea/waves.mp4", "sea waves"), item(.image, "/l/forest/arbol_cancion.jpg", "árbol canción")]
        let said = MediaLibrary.choose(items, text: "Sea como sea, nadie volvió.", topic: "la casa vacía", uses: [:], seed: "3|0", language: "es")
        #expect(said.1.isEmpty, "a Spanish scene that names nothing in the library matched \(said.1)")
        let english = MediaLibrary.choose(items, text: "Sea como sea, nadie volvió.", topic: "la casa vacía", uses: [:], seed: "3|0")
        #expect(english.1 == ["sea"], "read as English, Spanish's `sea` matches the sea clip: \(english.1)")
        // A file named without accents meets narration written with them, in the plural.
        let trees = MediaLibrary.choose(items, text: "Los árboles y las canciones del bosque.", topic: "el bosque", uses: [:], seed: "3|1",
                                        language: "es")
        #expect(trees.0.path == "/l/forest/arbol_cancion.jpg" && trees.1 == ["arboles", "canciones"], "\(trees)")
    }

    @Test func eachSceneGetsTheBestUnusedMatchAClipBeforeAPictureAndTheSameChoiceAgain() {
        let items = [
            item(.image, "/l/honey/jar.png", "honey jar"),
            item(.image, "/l/honey/comb.png", "honey comb bee"),
            item(.clip, "/l/honey/bees.mp4", "honey bee"),
            item(.image, "/l/forest/trees.png", "forest trees"),
        ]
        func pick(_ text: String, uses: [String: Int] = [:], seed: String = "7|0") -> String {
            MediaLibrary.choose(items, text: text, topic: "how honey never spoils", uses: uses, seed: seed).0.path
        }
        // Honey, bee: the clip and the comb match as well (2 × 2 + 1); the clip goes first.
        #expect(pick("Bees make honey.") == "/l/honey/bees.mp4")
        // Used once, it gives way to the next best unused match, then to the last one.
        #expect(pick("Bees make honey.", uses: ["/l/honey/bees.mp4": 1]) == "/l/honey/comb.png")
        #expect(pick("Bees make honey.", uses: ["/l/honey/bees.mp4": 1, "/l/honey/comb.png": 1]) == "/l/honey/jar.png")
        // Every match used: the better match used least.
        #expect(pick("Bees make honey.", uses: ["/l/honey/bees.mp4": 2, "/l/honey/comb.png": 1, "/l/honey/jar.png": 1]) == "/l/honey/comb.png")
        // A scene about nothing in the library (and a topic that matches only honey) still gets honey.
        #expect(pick("A quiet afternoon.").contains("/honey/"))
        // Nothing matches at all: an unused file, the same one for the same job and scene.
        let none = MediaLibrary.choose(items, text: "Quiet.", topic: "silence", uses: ["/l/forest/trees.png": 0], seed: "7|3")
        #expect(none.1.isEmpty)
        #expect(MediaLibrary.choose(items, text: "Quiet.", topic: "silence", uses: [:], seed: "7|3").0 == none.0)
    }

    @Test func tagsComeFromFoldersNamesAndSidecarsAndOtherFilesAreIgnored() throws {
        let root = dir.url.appending(path: "lib")
        for path in ["horror/forest/fog_at_night.mp4", "horror/door.PNG", "music/dread/low-drone.wav", "notes.txt", ".hidden.png"] {
            let url = root.appending(path: path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        try "creaking, old house\nbasement".write(to: root.appending(path: "horror/door.PNG.tags"), atomically: true, encoding: .utf8)
        let items = try MediaLibrary(root: root, tools: tools).scan()
        #expect(items.map { "\($0.kind.rawValue) \($0.path.dropFirst(root.path.count))" } == [
            "image /horror/door.PNG", "clip /horror/forest/fog_at_night.mp4", "music /music/dread/low-drone.wav",
        ])
        #expect(items[0].tags == ["horror", "door", "creaking", "house", "basement"])
        #expect(items[1].tags == ["horror", "forest", "fog", "night"])
        #expect(items[2].tags == ["music", "dread", "low", "drone"])
    }

    @Test func aMissingOrEmptyLibraryIsAClearError() async throws {
        let missing = MediaLibrary(root: dir.url.appending(path: "nowhere"), tools: tools)
        let e1 = await #expect(throws: MediaLibraryError.self) {
            try await missing.footage(for: [FootageQuery(index: 0, text: "a", topic: "b", seconds: 5)], job: 1)
        }
        #expect(e1?.description.contains("media.library") == true && e1?.message.contains("/nowhere is not a folder") == true)
        let empty = dir.url.appending(path: "empty")
        try FileManager.default.createDirectory(at: empty.appending(path: "music"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: empty.appending(path: "music/a.wav"))
        let e2 = await #expect(throws: MediaLibraryError.self) {
            try await MediaLibrary(root: empty, tools: tools).footage(for: [FootageQuery(index: 0, text: "a", topic: "b", seconds: 5)], job: 1)
        }
        #expect(e2?.message.contains("has no pictures or clips") == true)
    }

    /// A short about honey and the ocean from a library of a picture of "honey" (orange), a
    /// 2-second clip of "ocean waves" (blue, 16:9) and a 440 Hz track: the honey scene shows the
    /// picture, the ocean scene plays the clip, looped to its length and cropped to cover 9:16
    /// (no black bars), and the music bed is the track.
    @Test func aShortFromTheLibraryShowsTheMatchingPictureAndClipAndPlaysItsMusic() async throws {
        let root = dir.url.appending(path: "media")
        for folder in ["images/honey", "clips/ocean", "images/forest", "music/facts"] {
            try FileManager.default.createDirectory(at: root.appending(path: folder), withIntermediateDirectories: true)
        }
        let q = ToolRunner.ffmpegQuiet
        try await tools.run(.ffmpeg, q + ["-f", "lavfi", "-i", "color=c=0xE08020:s=800x600", "-frames:v", "1", root.appending(path: "images/honey/jar.png").path])
        try await tools.run(.ffmpeg, q + ["-f", "lavfi", "-i", "color=c=0x208020:s=800x600", "-frames:v", "1", root.appending(path: "images/forest/trees.png").path])
        // The clip is blue for its first second and red for its second, so where it plays shows.
        try await tools.run(.ffmpeg, q + ["-filter_complex", "color=c=0x2050E0:s=640x360:r=25:d=1[a];color=c=0xE02020:s=640x360:r=25:d=1[b];[a][b]concat=n=2:v=1:a=0",
                                          "-pix_fmt", "yuv420p", root.appending(path: "clips/ocean/waves.mp4").path])
        try await tools.run(.ffmpeg, q + ["-f", "lavfi", "-i", "sine=f=440:d=3", root.appending(path: "music/facts/tune.wav").path])

        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = .short
        channel.durationRange = .init(min: 5, max: 30)
        channel.mediaLibrary = root.path
        channel.services.images = .library
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: tools)
        let sentences = [
            "Honey found in ancient tombs was still good to eat.", "Bees seal their honey under wax so it cannot spoil.",
            "Far away, ocean waves roll over the sand.", "The ocean keeps its waves moving for ages.", "Follow for more.",
        ]
        let script: [String: Any] = [
            "script": ["title": "T", "hook": sentences[0], "body": sentences[1...3].joined(separator: " "), "cta": sentences[4], "channel": "facts"],
            "sentences": sentences, "wordsPerSecond": 2.5, "topic": "how honey never spoils", "hookSentences": 1, "bodySentences": 3,
        ]
        let folder = dir.url.appending(path: "work/21")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: script).write(to: folder.appending(path: "script.json"))
        let j = Job.running(21, channel: "facts", topic: "how honey never spoils")
        _ = try MediaPipelineTests.done(try await pipeline.run(stage: "narration", job: j, dryRun: false))
        let images = try MediaPipelineTests.done(try await pipeline.run(stage: "images", job: j, dryRun: false))
        #expect(images.contains { $0.path.hasSuffix("media.json") })

        let scenes = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appending(path: "scenes.json"))) as? [[String: Any]])
        let chosen = scenes.map { (($0["footage"] as? [String: Any])?["path"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } }
        try #require(scenes.count == 2, "\(scenes.map { $0["sentences"] ?? "" })")
        #expect(chosen == ["jar.png", "waves.mp4"])
        let media = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appending(path: "media.json"))) as? [[String: Any]])
        #expect(media.map { $0["kind"] as? String } == ["image", "clip", "music"])
        #expect(media.allSatisfy { $0["source"] as? String == "library" })
        #expect((media[1]["matched"] as? [String])?.contains("ocean") == true && abs((media[1]["seconds"] as? Double ?? 0) - 2) < 0.1)

        let clips = try MediaPipelineTests.done(try await pipeline.run(stage: "clips", job: j, dryRun: false))
        let segments = clips.map(\.path).filter { $0.hasSuffix(".mp4") }.sorted()
        #expect(segments.count == 3)  // the picture's scene, the crossfade, the clip's scene
        // The clip's scene lasts far longer than its 2 s: every frame is there (it loops).
        let last = try #require(segments.last)
        let clipScene = try #require(scenes[1]["duration"] as? Double)
        let seconds = scenes.compactMap { $0["duration"] as? Double }
        let plan = PictureRenderer.plan(sceneSeconds: seconds, crossfade: ChannelStyle.of(.facts).crossfade, total: seconds.reduce(0, +))
        guard case .solo(scene: 1, let from, let to, at: _) = plan.segments.last else { Issue.record("\(plan.segments)"); return }
        let expectedFrames = to - from
        #expect(clipScene > 4)
        let frames = try await frameCount(last)
        #expect(abs(frames - expectedFrames) <= 2, "\(frames) frames, expected about \(expectedFrames)")
        // The clip plays (blue, red, blue … as its seconds go by, from where the scene's own frames
        // begin in it, looping), and fills the frame: its top edge and a band at a fifth of the
        // height show it, not a letterbox's black.
        for k in [5, 20, 35, 50, 65, 80, 95, 110].filter({ $0 < frames }) {
            let t = Double(from + k) / 30
            let phase = t.truncatingRemainder(dividingBy: 2)
            guard abs(phase - 1) > 0.1, phase > 0.1, phase < 1.9 else { continue }
            for y in [0, 384] {
                let (r, g, b) = try await colour(of: last, frame: k, y: y)
                if phase < 1 {
                    #expect(b > 180 && r < 80 && g < 120, "frame \(k) (clip at \(phase) s), row \(y): \(r), \(g), \(b) is not blue")
                } else {
                    #expect(r > 180 && g < 80 && b < 80, "frame \(k) (clip at \(phase) s), row \(y): \(r), \(g), \(b) is not red")
                }
            }
        }
        #expect(frames > 75)  // more than the clip's 2 s: it looped
        let (r, g, b) = try await colour(of: segments[0], frame: 10, y: 0)
        #expect(r > 180 && g > 90 && g < 170 && b < 80, "the honey picture: \(r), \(g), \(b)")

        // The bed is the library's 440 Hz track (two zero crossings a cycle), as long as the narration.
        let music = folder.appending(path: "music.wav").path
        let total = try await tools.duration(of: folder.appending(path: "narration.wav").path)
        #expect(abs(try await tools.duration(of: music) - total) < 0.05)
        let raw = dir.path("second.pcm")
        try await tools.run(.ffmpeg, q + ["-ss", "2", "-t", "1", "-i", music, "-ac", "1", "-f", "s16le", raw])
        let pcm = try Data(contentsOf: URL(fileURLWithPath: raw))
        let samples = pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let crossings = zip(samples, samples.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 880) < 20, "\(crossings) zero crossings in a second")
    }

    /// Without media.json the bed is synthesised; a media.json that cannot be read is an error
    /// naming it, not a silent fall back to the synthesised bed.
    @Test func anUnreadableMediaRecordFailsTheBedRatherThanFallingBack() async throws {
        let pipeline = MediaPipeline(channels: [ChannelConfig.defaults(for: .facts)], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: tools)
        let plain = dir.url.appending(path: "plain")
        try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
        let bed = try await pipeline.musicBed(plain, style: .of(.facts), total: 3)
        #expect(abs(try await tools.duration(of: bed) - 3) < 0.05)
        let broken = dir.url.appending(path: "broken")
        try FileManager.default.createDirectory(at: broken, withIntermediateDirectories: true)
        try Data("{not json".utf8).write(to: broken.appending(path: "media.json"))
        let error = await #expect(throws: (any Error).self) { try await pipeline.musicBed(broken, style: .of(.facts), total: 3) }
        #expect("\(error.map { String(describing: $0) } ?? "")".contains("media.json"))
        #expect(!FileManager.default.fileExists(atPath: broken.appending(path: "music.wav").path))
    }

    func frameCount(_ path: String) async throws -> Int {
        let out = try await tools.run(.ffprobe, ["-v", "error", "-count_frames", "-select_streams", "v:0",
                                                 "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path])
        return Int(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// The mean colour of a 40-pixel band of rows from `y` in frame `frame`.
    func colour(of path: String, frame: Int, y: Int) async throws -> (Int, Int, Int) {
        let raw = dir.path("pixel-\(UUID().uuidString).rgb")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-i", path, "-vf", "select=eq(n\\,\(frame)),crop=iw:40:0:\(y),scale=1:1",
                                                             "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", raw])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        guard bytes.count >= 3 else { return (-1, -1, -1) }
        return (Int(bytes[0]), Int(bytes[1]), Int(bytes[2]))
    }
}
