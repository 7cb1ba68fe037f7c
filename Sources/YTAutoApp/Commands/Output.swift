import Foundation
import YTAutoCore

/// Human tables and JSON for the CLIs.
enum Output {
    /// A size for people, as files are counted ("1.2 MB"), and "0 bytes" for nothing (Foundation
    /// says "Zero KB").
    static func bytes(_ count: Int64) -> String {
        let formatter = ByteCountFormatter()
        formatter.countStyle = .file
        formatter.allowsNonnumericFormatting = false
        return formatter.string(fromByteCount: count)
    }

    /// A left-aligned text table with a header row, padded by the columns a terminal gives each
    /// cell (``DisplayWidth``), so topics with emoji or CJK text are neither cut nor misaligned.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        // A cell is one line, and nothing in it acts on the terminal (``TextControls``).
        let rows = rows.map { $0.map(TextControls.visible) }
        var widths = header.map(DisplayWidth.of)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], DisplayWidth.of(cell)) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                i == cells.count - 1 || i >= widths.count ? c : c + String(repeating: " ", count: max(0, widths[i] - DisplayWidth.of(c)))
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// The one encoder of every `--json` record (``JSONRecords``): pretty, key-sorted, slashes as they are.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// A record (or a list of them) as pretty, key-sorted JSON.
    static func json(_ value: some Encodable) -> String {
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    static func time(_ date: Date?) -> String { date.map(Timestamp.string) ?? "-" }

    /// `text` on one line, at most `width` characters: cut at the last space before the limit
    /// (not in the middle of a number or a path, unless one word fills most of it) and ended
    /// with "…".
    static func clip(_ text: String, to width: Int) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        guard flat.count > width else { return flat }
        let head = flat.prefix(width - 1)
        let cut = head.lastIndex(of: " ").flatMap { head.distance(from: head.startIndex, to: $0) >= width / 2 ? $0 : nil } ?? head.endIndex
        return head[..<cut].trimmingCharacters(in: .whitespaces.union(.punctuationCharacters)) + "…"
    }

    /// A stage's files for a table cell: their names (the first three, then how many more) and
    /// their size together; paths and checksums are in `--json`.
    static func files(_ artifacts: [Artifact]) -> String {
        guard !artifacts.isEmpty else { return "-" }
        let names = artifacts.map { URL(fileURLWithPath: $0.path).lastPathComponent }
        let listed = names.prefix(3).joined(separator: ", ") + (names.count > 3 ? " +\(names.count - 3) more" : "")
        return "\(listed) (\(bytes(artifacts.reduce(0) { $0 + $1.bytes })))"
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.0fms", seconds * 1000) }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
    }
}
