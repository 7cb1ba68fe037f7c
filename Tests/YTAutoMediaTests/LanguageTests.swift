import Foundation
import Testing
import YTAutoCore
@testable import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// A channel's language: the tag, the voice that speaks it, how its words are counted, and the
/// fonts that draw it (read from the real font files).
@Suite struct LanguageTests {
    @Test func tagsAreReadByTheirLanguage() {
        #expect(Language.parse("es") == .spanish && Language.parse("es-MX") == .spanish && Language.parse("ES") == .spanish)
        #expect(Language.parse("ja-JP") == .japanese && Language.parse("en-GB") == .english)
        for bad in ["", "e", "espanol", "es_MX", "es-", "xx", "fr", "ja-JP-toolongsubtag"] {
            #expect(Language.parse(bad) == nil, "\(bad)")
        }
        #expect(Language.problem("fr").contains("es (Spanish), ja (Japanese)"))
    }

    @Test func japaneseIsCountedInCharactersAndSplitAtItsStops() {
        #expect(Script.countWords("はちみつは くさりません。") == 11)
        #expect(Script.countWords("NASAの ロケット") == 6, "a Latin run counts once, each kana once")
        #expect(Script.countWords("La miel nunca se echa a perder.") == 7)
        #expect(Sentences.split("はちみつは くさりません。なぜでしょう？ふしぎです！") == ["はちみつは くさりません。", "なぜでしょう？", "ふしぎです！"])
    }

    @Test func anEnglishVoiceSpeaksTheChannelsLanguageWithItsOwnVariant() throws {
        let deep = try #require(EspeakVoice.named("en-deep"))
        #expect(deep.speaking(.spanish) == EspeakVoice(voice: "es+m3", speed: deep.speed, pitch: deep.pitch))
        #expect(deep.speaking(.japanese).voice == "ja+m3")
        #expect(deep.speaking(.english) == deep)
        #expect(try #require(EspeakVoice.named("espeak:de")).speaking(.spanish).voice == "de", "a voice the operator named is kept")
    }

    @Test func theFontsSayWhichCharactersTheyDraw() throws {
        let dejavu = try FontGlyphs(file: ChannelStyle.of(.facts).fontFile)
        #expect(dejavu.missing(in: "¿Sabías que la miel nunca se echa a perder? Ñandú, pingüino.").isEmpty)
        #expect(dejavu.missing(in: "はちみつ は はちみつ").map(\.value) == [0x306F, 0x3061, 0x307F, 0x3064])
        var channel = ChannelConfig.defaults(for: .facts)
        channel.language = "ja"
        let ipa = try FontGlyphs(file: ChannelStyle.of(channel).fontFile)
        #expect(ChannelStyle.of(channel).font == "IPAGothic")
        #expect(ipa.missing(in: "はちみつは くさりません。カタカナ、漢字も。ABC 123").isEmpty)
        #expect(ipa.missing(in: "\u{1F600}").count == 1, "an emoji is not in it")
        #expect(throws: FontGlyphs.Unreadable.self) { try FontGlyphs(file: "/nonexistent/font.ttf") }
        let notFont = TempDir("ytauto-font")
        try Data("not a font".utf8).write(to: notFont.url.appending(path: "x.ttf"))
        #expect(throws: FontGlyphs.Unreadable.self) { try FontGlyphs(file: notFont.path("x.ttf")) }
    }

    /// An LLM's emoji are dropped from what is spoken and drawn, with their modifiers and joiners;
    /// letters of another script are kept (the script stage reports them), and so is everything the
    /// font draws, the emoji-like ones (digits, ©, ™) included.
    @Test func emojiTheFontCannotDrawAreDroppedAndLettersAreKept() throws {
        let dejavu = try FontGlyphs(file: ChannelStyle.of(.facts).fontFile)
        let cases: [(String, String)] = [
            ("Honey \u{1F36F} never spoils! \u{1F41D}", "Honey never spoils!"),
            ("Thumbs up \u{1F44D}\u{1F3FD}.", "Thumbs up."),
            ("\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} Family time", "Family time"),
            ("Love \u{2764}\u{FE0F} it", "Love \u{2764}\u{FE0F} it"),  // DejaVu draws this heart (a dingbat)
            ("Honey is 100% pure, © 2026 ™ #1 *", "Honey is 100% pure, © 2026 ™ #1 *"),
            ("はちみつ stays", "はちみつ stays"),
        ]
        for (text, expected) in cases {
            #expect(dejavu.withoutUndrawableEmoji(text) == expected, "\(text)")
            #expect(dejavu.missing(in: dejavu.withoutUndrawableEmoji(text)).allSatisfy { !$0.properties.isEmojiPresentation })
        }
    }

    @Test func aJapaneseTitleBreaksBetweenItsPhrases() {
        let (lines, size) = FFmpegThumbnailGenerator.layout("はちみつが けっして くさらない ほんとうの りゆうと そのひみつ")
        #expect(lines.count >= 2 && lines.count <= 3, "\(lines)")
        #expect(lines.allSatisfy { Double($0.count) * Double(size) <= 1180 }, "\(lines) at \(size)")
        #expect(lines.joined().replacingOccurrences(of: " ", with: "") == "はちみつがけっしてくさらないほんとうのりゆうとそのひみつ")
        // Broken at the title's spaces between phrases, which stay; no phrase cut in two.
        #expect(lines.joined(separator: " ") == "はちみつが けっして くさらない ほんとうの りゆうと そのひみつ", "\(lines)")
        #expect(FFmpegThumbnailGenerator.layout("はちみつが くさらない ひみつ").lines.allSatisfy {
            $0.split(separator: " ").allSatisfy { ["はちみつが", "くさらない", "ひみつ"].contains(String($0)) } }, "\(FFmpegThumbnailGenerator.layout("はちみつが くさらない ひみつ"))")
        // A phrase wider than a line by itself still breaks, between characters.
        let long = String(repeating: "はちみつ", count: 20)
        let broken = FFmpegThumbnailGenerator.layout(long)
        #expect(broken.lines.count > 1 && broken.lines.joined() == long, "\(broken)")
        #expect(FFmpegThumbnailGenerator.layout("Why Honey Never Spoils").lines == ["Why Honey Never", "Spoils"]
                || FFmpegThumbnailGenerator.layout("Why Honey Never Spoils").lines.joined(separator: " ") == "Why Honey Never Spoils")
    }
}
