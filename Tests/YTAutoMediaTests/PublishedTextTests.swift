import Foundation
import Testing
import YTAutoCore
@testable import YTAutoMedia

/// Titles, hashtags and tags as YouTube and a reader want them.
@Suite struct PublishedTextTests {
    @Test(arguments: [
        ("The Surprising Truth About why octopuses have three hearts", nil,
         "The Surprising Truth About Why Octopuses Have Three Hearts"),
        ("how NASA lost a $125 million orbiter", nil, "How NASA Lost a $125 Million Orbiter"),
        ("the iPhone effect on sleep", nil, "The iPhone Effect on Sleep"),
        ("a tale of two cities: the end of it", nil, "A Tale of Two Cities: The End of It"),
        ("what is a 401(k) and who is it for", nil, "What Is a 401(k) and Who Is It For"),
        ("the well-known secret of the lighthouse keeper", nil, "The Well-Known Secret of the Lighthouse Keeper"),
        ("why ebay beat its rivals", "why eBay beat its rivals", "Why eBay Beat Its Rivals"),
        ("10 facts about mars", nil, "10 Facts About Mars"),
    ] as [(String, String?, String)])
    func titlesAreInTitleCaseKeepingAcronymsAndTheTopicsSpelling(input: String, topic: String?, expected: String) {
        #expect(PublishedText.title(input, topic: topic) == expected)
    }

    @Test func aLongTitleIsCutAtAWordWithinOneHundredCharacters() {
        let long = String(repeating: "octopus ", count: 20) + "hearts"
        let title = PublishedText.title(long)
        #expect(title.count <= 100 && !title.hasSuffix(" ") && title.hasSuffix("Octopus"), "\(title)")
        #expect(PublishedText.title(String(repeating: "x", count: 150)).count == 100)
    }

    @Test func shortsGetHashtagsAndTagsStayWithinTheBudget() {
        #expect(PublishedText.hashtags(topic: "why octopuses have three hearts", type: .facts)
                == ["#shorts", "#facts", "#WhyOctopusesHaveThreeHearts"])
        // A topic too long for one hashtag gives none rather than a cut one.
        #expect(PublishedText.hashtags(topic: "the abandoned lighthouse keeper's log of the last winter", type: .horror) == ["#shorts", "#horror"])
        #expect(PublishedText.tagBudget(["a b", "c"]) == 3 + 2 + 1 + 1)
        let many = (1...200).map { "tag number \($0)" }
        let kept = PublishedText.tags(many + ["Tag Number 1"])
        #expect(PublishedText.tagBudget(kept) <= 500 && PublishedText.tagBudget(kept + [many[kept.count]]) > 500)
        #expect(kept.first == "tag number 1" && Set(kept.map { $0.lowercased() }).count == kept.count)
        #expect(PublishedText.tags(["facts", "Facts", " ", "octopus"]) == ["facts", "octopus"])
        // A video's tags: topic and genre (and shorts), not the channel's name in the configuration.
        #expect(PublishedText.videoTags(topic: "why octopuses have three hearts", type: .facts, language: .english, short: true)
                == ["why octopuses have three hearts", "facts", "shorts"])
        #expect(PublishedText.videoTags(topic: "la casa del faro", type: .horror, language: .spanish, short: false) == ["la casa del faro", "terror"])
    }

    /// Title case is English's: another language's title keeps the writer's casing, fitted to 100.
    @Test func titlesInOtherLanguagesKeepTheirCasing() {
        #expect(PublishedText.title("¿Por qué la miel nunca se echa a perder? El secreto de las abejas", language: .spanish)
                == "¿Por qué la miel nunca se echa a perder? El secreto de las abejas")
        #expect(PublishedText.title("はちみつが  くさらない ひみつ", language: .japanese) == "はちみつが くさらない ひみつ")
        #expect(PublishedText.title(String(repeating: "palabra ", count: 20), language: .spanish).count <= 100)
        #expect(PublishedText.hashtags(topic: "la casa del faro", type: .horror, language: .spanish) == ["#shorts", "#terror", "#LaCasaDelFaro"])
    }

    /// A long video's chapters, from where the body and the call to action start in the narration.
    @Test func longVideosGetChaptersWhereYouTubeWouldShowThem() throws {
        let sentences = ["Hook one.", "Body one.", "Body two.", "Body three.", "Goodbye now."]
        let file = MediaPipeline.ScriptFile(
            script: Script(title: "t", hook: "Hook one.", body: "Body one. Body two. Body three.", cta: "Goodbye now.", channel: .facts),
            sentences: sentences, wordsPerSecond: 2.5, topic: "owls", hookSentences: 1, bodySentences: 3)
        func segments(_ seconds: [Double]) -> [MediaPipeline.Segment] {
            var t = 0.0
            return zip(sentences, seconds).map { text, d in defer { t += d }; return MediaPipeline.Segment(text: text, path: "", start: t, duration: d) }
        }
        #expect(MediaPipeline.chapters(file, segments([12, 30, 30, 600, 15]), type: .facts) == ["00:00 Intro", "00:12 The facts", "11:12 Wrap-up"])
        #expect(MediaPipeline.chapters(file, segments([12, 30, 30, 3600, 15]), type: .horror).last == "1:01:12 Wrap-up")
        // A hook under 10 s (the template writer's is about 5 s): the body's chapter starts at its first
        // sentence 10 s in, the intro keeping the ones before.
        #expect(MediaPipeline.chapters(file, segments([5, 30, 30, 30, 15]), type: .facts) == ["00:00 Intro", "00:35 The facts", "01:35 Wrap-up"])
        #expect(MediaPipeline.chapters(file, segments([5, 3, 30, 30, 15]), type: .facts) == ["00:00 Intro", "00:38 The facts", "01:08 Wrap-up"])
        // A call to action under 10 s: the wrap-up starts at the last sentence that leaves it 10 s.
        #expect(MediaPipeline.chapters(file, segments([12, 30, 30, 30, 4]), type: .facts) == ["00:00 Intro", "00:12 The facts", "01:12 Wrap-up"])
        // Too short for three chapters of 10 s: none at all, as YouTube would show none.
        #expect(MediaPipeline.chapters(file, segments([3, 3, 3, 3, 3]), type: .facts).isEmpty)
        #expect(MediaPipeline.chapters(file, segments([12, 5, 4, 3, 2]), type: .facts).isEmpty)
        // Named in the channel's language.
        #expect(MediaPipeline.chapters(file, segments([12, 30, 30, 30, 15]), type: .horror, language: .spanish)
                == ["00:00 Introducción", "00:12 La historia", "01:42 Cierre"])
        #expect(MediaPipeline.chapters(file, segments([12, 30, 30, 30, 15]), type: .facts, language: .japanese).first == "00:00 はじめに")
    }

    /// The published subtitle file: WebVTT, one cue per sentence, times to the millisecond, text escaped.
    @Test func captionsArePublishedAsWebVTT() {
        let vtt = Captions.webVTT([
            .init(start: 0, end: 2.5, text: "Octopuses have three hearts."),
            .init(start: 2.5, end: 3661.0125, text: "Salt & <pepper> --> done"),
        ])
        #expect(vtt == """
            WEBVTT

            1
            00:00:00.000 --> 00:00:02.500
            Octopuses have three hearts.

            2
            00:00:02.500 --> 01:01:01.013
            Salt &amp; &lt;pepper> --&gt; done

            """)
    }

    @Test func stockFootageIsCreditedOnceEachWithinTheRoomLeft() throws {
        func asset(_ kind: FootageAsset.Kind, _ provider: String, _ id: Int, _ author: String) -> FootageAsset {
            FootageAsset(kind: kind, path: "/c/\(id)", source: provider.lowercased(), tags: [],
                         credit: FootageCredit(provider: provider, id: String(id), author: author, authorURL: nil,
                                               page: "https://example.com/\(provider.lowercased())/\(id)/", licence: "L"))
        }
        let assets = [asset(.clip, "Pexels", 1, "Ana <Studio>"), asset(.image, "Pixabay", 2, "Ben"), asset(.clip, "Pexels", 1, "Ana <Studio>"),
                      FootageAsset(kind: .music, path: "/l/tune.wav", source: "library", tags: [])]
        #expect(PublishedText.credits(assets, room: 5000) == """
            Footage:
            Video by Ana Studio on Pexels: https://example.com/pexels/1/
            Photo by Ben on Pixabay: https://example.com/pixabay/2/
            Footage provided by Pexels (https://www.pexels.com) and Pixabay (https://pixabay.com).
            """)
        #expect(PublishedText.credits([FootageAsset(kind: .image, path: "/l/a.png", source: "library", tags: [])], room: 5000) == nil)
        // Forty clips in 600 bytes: the first lines, then how many more, never past the room.
        let many = (1...40).map { asset(.clip, "Pexels", $0, "Author \($0)") }
        let short = try #require(PublishedText.credits(many, room: 600))
        #expect(short.utf8.count <= 600 && short.contains("Video by Author 1 on Pexels") && !short.contains("Author 40"))
        let lines = short.split(separator: "\n")
        let shown = lines.filter { $0.hasPrefix("Video by") }.count
        #expect(lines.contains { $0 == "and \(40 - shown) more on Pexels" }, "\(short)")
        #expect(PublishedText.credits(many, room: 20) == nil)
    }
}
