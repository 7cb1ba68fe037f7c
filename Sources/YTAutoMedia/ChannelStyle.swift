import Foundation
import YTAutoCore

/// How a channel type looks and sounds. The three pipelines differ only by this value.
public struct ChannelStyle: Sendable, Hashable {
    public enum Mood: String, Sendable, Hashable { case dread, bright, calm }

    /// Scene colours, as ffmpeg colour strings (`0xRRGGBB`).
    public var palette: [String]
    /// A fontconfig family for captions and the thumbnail.
    public var font: String
    /// A font file for ffmpeg's drawtext (thumbnail).
    public var fontFile: String
    public var mood: Mood
    public var motions: [Motion]
    /// Captions: ASS colours (`&HAABBGGRR`), outline width and size as a fraction of the height.
    public var captionPrimary: String
    public var captionOutline: String
    public var captionOutlineWidth: Int
    public var captionSizeFraction: Double
    /// The spoken word's colour in the highlighted caption styles, as an ASS override (`&HBBGGRR`):
    /// one far from every colour of the palette and from the caption's own, so the spoken word
    /// stands out on any scene (facts' lime and finance's mint; facts' yellow sat on its amber
    /// scenes, finance's gold was its palette's gold).
    public var captionHighlight: String
    /// Seconds of crossfade between scenes.
    public var crossfade: Double
    /// Scenes last about this long (sentences are grouped until a scene reaches it).
    public var sceneSeconds: Double

    /// The channel type's style, in a font that has the channel's language's glyphs (``Language/font``).
    public static func of(_ channel: ChannelConfig) -> ChannelStyle {
        var style = of(channel.type)
        if let font = channel.spokenLanguage.font {
            style.font = font.family
            style.fontFile = font.file
        }
        return style
    }

    /// Why `topic` would fail `channel`'s videos, or nil: characters its caption and thumbnail font
    /// has no glyph for (an emoji, another script), which the quality check refuses at compose,
    /// after the narration, scenes and clips were made. Nil too when the font cannot be read here
    /// (the worker says so when it draws).
    public static func topicProblem(_ topic: String, channel: ChannelConfig) -> String? {
        let style = of(channel)
        guard let glyphs = try? FontGlyphs(file: style.fontFile) else { return nil }
        let missing = glyphs.missing(in: topic)
        guard !missing.isEmpty else { return nil }
        return "topic '\(topic)' has characters channel \(channel.name)'s font (\(style.font)) has no glyph for: "
            + "\(FontGlyphs.describe(missing)); its captions and thumbnail would show empty boxes and the video would fail: leave them out"
    }

    public static func of(_ type: ChannelType) -> ChannelStyle {
        switch type {
        case .horror:
            ChannelStyle(
                palette: ["0x2b1d2e", "0x5a1620", "0x23354a", "0x6b6f78"], font: "DejaVu Serif",
                fontFile: "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf", mood: .dread,
                motions: [.zoomIn, .zoomOut, .panLeft, .panRight], captionPrimary: "&H00F0F0F0",
                captionOutline: "&H00101080", captionOutlineWidth: 4, captionSizeFraction: 0.042, captionHighlight: "&H3C3CFF",
                crossfade: 0.6, sceneSeconds: 6)
        case .facts:
            ChannelStyle(
                palette: ["0x1e88e5", "0xffc107", "0x43a047", "0xe53935"], font: "DejaVu Sans",
                fontFile: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", mood: .bright,
                motions: Motion.allCases, captionPrimary: "&H00FFFFFF", captionOutline: "&H00000000",
                captionOutlineWidth: 4, captionSizeFraction: 0.040, captionHighlight: "&H59FFB2", crossfade: 0.4, sceneSeconds: 5)
        case .finance:
            ChannelStyle(
                palette: ["0x0d1b3d", "0xc9a227", "0x1f3a6d", "0xe8e3d3"], font: "DejaVu Sans",
                fontFile: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", mood: .calm,
                motions: [.zoomIn, .panLeft, .panRight, .panUp], captionPrimary: "&H00FFFFFF",
                captionOutline: "&H003D1B0D", captionOutlineWidth: 3, captionSizeFraction: 0.036, captionHighlight: "&H97DC3D",
                crossfade: 0.5, sceneSeconds: 6)
        }
    }
}

/// How a voice id of the configuration is spoken by espeak-ng.
public struct EspeakVoice: Sendable, Hashable {
    public var voice: String
    /// Words per minute.
    public var speed: Int
    /// 0-99, 50 is normal.
    public var pitch: Int

    /// The voices ytauto knows; `espeak:NAME` uses an espeak-ng voice directly at normal speed.
    public static func named(_ id: String) -> EspeakVoice? {
        switch id {
        case "en-deep": return EspeakVoice(voice: "en-us+m3", speed: 150, pitch: 30)
        case "en-bright": return EspeakVoice(voice: "en-us+f3", speed: 170, pitch: 60)
        case "en-calm": return EspeakVoice(voice: "en-gb+m1", speed: 160, pitch: 45)
        default:
            if id.hasPrefix("espeak:"), id.count > 7 { return EspeakVoice(voice: String(id.dropFirst(7)), speed: 165, pitch: 50) }
            return nil
        }
    }

    public static let known = ["en-deep", "en-bright", "en-calm", "espeak:<voice>"]

    /// This voice speaking `language`: its espeak-ng voice with this voice's variant (`en-us+m3`
    /// speaking Spanish is `es+m3`), at its own speed and pitch. English, and an `espeak:` voice
    /// the operator named, are left as they are.
    public func speaking(_ language: Language) -> EspeakVoice {
        guard language != .english, voice.hasPrefix("en") else { return self }
        let variant = voice.firstIndex(of: "+").map { String(voice[$0...]) } ?? ""
        return EspeakVoice(voice: language.espeakVoice + variant, speed: speed, pitch: pitch)
    }
}
