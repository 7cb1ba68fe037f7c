import Foundation
import YTAutoCore

/// Which characters a TrueType or OpenType font file draws, read from its `cmap` table (the
/// Unicode subtables: format 12 when the font has one, else format 4): the captions' QA check
/// fails a video whose caption text has a character its font would draw as an empty box.
public struct FontGlyphs: Sendable {
    /// The code points with a glyph, as sorted, disjoint ranges.
    let ranges: [ClosedRange<UInt32>]
    public let file: String

    public struct Unreadable: YTAutoError {
        public let file: String
        public let problem: String
        public var code: String { "media.font" }
        public var message: String { "the font \(file) cannot be read: \(problem)" }
        public var isRetryable: Bool { false }
    }

    public init(file: String) throws {
        self.file = file
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: file), options: .mappedIfSafe) } catch {
            throw Unreadable(file: file, problem: "\(error.localizedDescription) (is its package installed? bash .ci/deps)")
        }
        ranges = try Self.cmap(data, file: file)
    }

    private static func u16(_ d: Data, _ at: Int) -> UInt32? {
        guard at >= 0, at + 2 <= d.count else { return nil }
        return UInt32(d[d.startIndex + at]) << 8 | UInt32(d[d.startIndex + at + 1])
    }

    private static func u32(_ d: Data, _ at: Int) -> UInt32? {
        guard let hi = u16(d, at), let lo = u16(d, at + 2) else { return nil }
        return hi << 16 | lo
    }

    static func cmap(_ d: Data, file: String) throws -> [ClosedRange<UInt32>] {
        func bad(_ why: String) -> Unreadable { Unreadable(file: file, problem: why) }
        guard let tables = u16(d, 4) else { throw bad("it is too short to be a font") }
        var cmap: Int?
        for i in 0..<Int(tables) {
            let rec = 12 + 16 * i
            guard let tag = u32(d, rec), let offset = u32(d, rec + 8) else { throw bad("its table directory is cut short") }
            if tag == 0x636D_6170 { cmap = Int(offset) }  // "cmap"
        }
        guard let base = cmap, let count = u16(d, base + 2) else { throw bad("it has no cmap table") }
        // The Unicode subtables: (3,10) and (0,4|6) are full Unicode, (3,1) and (0,3) the BMP.
        var full: Int?, bmp: Int?
        for i in 0..<Int(count) {
            let rec = base + 4 + 8 * i
            guard let platform = u16(d, rec), let encoding = u16(d, rec + 2), let offset = u32(d, rec + 4) else { break }
            let at = base + Int(offset)
            guard let format = u16(d, at) else { continue }
            if format == 12, (platform == 3 && encoding == 10) || (platform == 0 && (encoding == 4 || encoding == 6)) { full = full ?? at }
            if format == 4, (platform == 3 && encoding == 1) || (platform == 0 && encoding <= 3) { bmp = bmp ?? at }
        }
        if let at = full { return try format12(d, at, bad) }
        if let at = bmp { return try format4(d, at, bad) }
        throw bad("its cmap has no Unicode subtable of format 4 or 12")
    }

    static func format12(_ d: Data, _ at: Int, _ bad: (String) -> Unreadable) throws -> [ClosedRange<UInt32>] {
        guard let groups = u32(d, at + 12) else { throw bad("its cmap format 12 is cut short") }
        var out: [ClosedRange<UInt32>] = []
        for g in 0..<Int(groups) {
            let rec = at + 16 + 12 * g
            guard let start = u32(d, rec), let end = u32(d, rec + 4), let glyph = u32(d, rec + 8), start <= end else {
                throw bad("its cmap format 12 is cut short")
            }
            // A group that starts at glyph 0 maps its first character to .notdef (no glyph).
            let first = glyph == 0 ? start + 1 : start
            if first <= end { out.append(first...end) }
        }
        return merged(out)
    }

    static func format4(_ d: Data, _ at: Int, _ bad: (String) -> Unreadable) throws -> [ClosedRange<UInt32>] {
        guard let segX2 = u16(d, at + 6) else { throw bad("its cmap format 4 is cut short") }
        let segs = Int(segX2 / 2)
        let ends = at + 14, starts = ends + 2 * segs + 2, deltas = starts + 2 * segs, offsets = deltas + 2 * segs
        var out: [ClosedRange<UInt32>] = []
        for s in 0..<segs {
            guard let end = u16(d, ends + 2 * s), let start = u16(d, starts + 2 * s), let delta = u16(d, deltas + 2 * s),
                  let rangeOffset = u16(d, offsets + 2 * s) else { throw bad("its cmap format 4 is cut short") }
            guard start <= end, start != 0xFFFF else { continue }
            var runStart: UInt32?
            for c in start...end {
                let glyph: UInt32
                if rangeOffset == 0 {
                    glyph = (c + delta) & 0xFFFF
                } else {
                    let address = offsets + 2 * s + Int(rangeOffset) + 2 * Int(c - start)
                    let g = u16(d, address) ?? 0
                    glyph = g == 0 ? 0 : (g + delta) & 0xFFFF
                }
                if glyph != 0 {
                    if runStart == nil { runStart = c }
                } else if let r = runStart {
                    out.append(r...(c - 1))
                    runStart = nil
                }
            }
            if let r = runStart { out.append(r...end) }
        }
        return merged(out)
    }

    static func merged(_ ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var out: [ClosedRange<UInt32>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, r.lowerBound <= last.upperBound + 1 {
                out[out.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }

    public func has(_ scalar: Unicode.Scalar) -> Bool {
        var lo = 0, hi = ranges.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            if ranges[mid].contains(scalar.value) { return true }
            if scalar.value < ranges[mid].lowerBound { hi = mid - 1 } else { lo = mid + 1 }
        }
        return false
    }

    /// Up to eight of `missing` as a message names them: `'は' (U+306F), 'ち' (U+3061) and 3 more`.
    public static func describe(_ missing: [Unicode.Scalar]) -> String {
        let listed = missing.prefix(8).map { "'\(Character($0))' (U+\(String(format: "%04X", $0.value)))" }.joined(separator: ", ")
        return listed + (missing.count > 8 ? " and \(missing.count - 8) more" : "")
    }

    /// `text` without the emoji the font cannot draw (a pictograph with its skin-tone modifier,
    /// variation selector and joiners, as one character), spaces closed up after them. An LLM
    /// sprinkles them through a script; drawn, they are empty boxes, and spoken, espeak-ng reads
    /// their names. Characters of a script the font lacks (another language) are kept: they are
    /// the channel's mistake to report, not decoration to drop (``missing(in:)`` finds them).
    public func withoutUndrawableEmoji(_ text: String) -> String {
        var out = ""
        var dropped = false
        for c in text {
            let scalars = c.unicodeScalars
            let emoji = scalars.contains { $0.properties.isEmojiPresentation || $0.value == 0xFE0F || $0.value == 0x200D }
                || scalars.first.map { $0.properties.isEmoji && $0.value > 0x2000 } == true
            if emoji, scalars.contains(where: { !has($0) && !$0.properties.isDefaultIgnorableCodePoint && $0.properties.generalCategory != .format }) {
                dropped = true
                continue
            }
            if dropped, c == " ", out.last == " " || out.isEmpty { continue }
            if dropped, let p = c.unicodeScalars.first, ".,!?;:".unicodeScalars.contains(p), out.last == " " { out.removeLast() }
            out.append(c)
        }
        return dropped ? out.trimmingCharacters(in: .whitespaces) : text
    }

    /// The characters of `text` the font has no glyph for, each once, in order of first use;
    /// spaces, line breaks and other invisible characters are not drawn and not counted.
    public func missing(in text: String) -> [Unicode.Scalar] {
        var seen = Set<UInt32>()
        return text.unicodeScalars.filter { s in
            !(s.properties.isWhitespace || s.properties.generalCategory == .control || s.properties.generalCategory == .format
              || s.properties.isDefaultIgnorableCodePoint) && !has(s) && seen.insert(s.value).inserted
        }
    }
}
