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

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.0fms", seconds * 1000) }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
    }
}
