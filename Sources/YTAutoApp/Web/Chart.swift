import Foundation
import YTAutoCore

/// Charts drawn on the server as SVG: no script, no library, readable without a network.
enum Chart {
    static func colour(_ state: String) -> String {
        switch state {
        case "succeeded": "#3c9a5f"
        case "failed", "lost": "#c0392b"
        case "cancelled", "skipped": "#9aa4ae"
        case "running": "#3d7bd9"
        default: "#d9a53d"
        }
    }

    /// Stacked bars, one an hour, of the jobs that finished in each of the last `hours` hours.
    static func hourly(_ counts: [HourlyCount], hours: Int, now: Date) -> String {
        let hourSeconds = 3600.0
        let end = ConsoleCache.hour(now).timeIntervalSince1970
        let start = end - Double(hours - 1) * hourSeconds
        var stacks = Array(repeating: [JobState: Int](), count: hours)
        for c in counts {
            let i = Int(((c.hour.timeIntervalSince1970 - start) / hourSeconds).rounded())
            guard stacks.indices.contains(i) else { continue }
            stacks[i][c.state, default: 0] += c.count
        }
        let peak = max(1, stacks.map { $0.values.reduce(0, +) }.max() ?? 1)
        let width = 720.0, height = 120.0, left = 34.0, bottom = 16.0
        let barWidth = (width - left) / Double(hours)
        let total = stacks.map { $0.values.reduce(0, +) }.reduce(0, +)
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"100%\" role=\"img\" "
            + "aria-label=\"\(total) jobs finished in the last \(hours) hours\"><title>\(total) jobs finished in the last \(hours) hours</title>"
        svg += "<line x1=\"\(left)\" y1=\"\(height - bottom)\" x2=\"\(width)\" y2=\"\(height - bottom)\" stroke=\"#9aa4ae\"/>"
        svg += "<text x=\"0\" y=\"10\">\(peak)</text><text x=\"0\" y=\"\(Int(height - bottom))\">0</text>"
        for (i, stack) in stacks.enumerated() {
            var y = height - bottom
            for state in [JobState.succeeded, .failed, .cancelled] {
                guard let n = stack[state], n > 0 else { continue }
                let h = Double(n) / Double(peak) * (height - bottom - 4)
                y -= h
                let x = left + Double(i) * barWidth
                svg += "<rect x=\"\(String(format: "%.1f", x))\" y=\"\(String(format: "%.1f", y))\" width=\"\(String(format: "%.1f", max(1, barWidth - 1)))\" "
                    + "height=\"\(String(format: "%.1f", h))\" fill=\"\(colour(state.rawValue))\"><title>\(n) \(state.rawValue)</title></rect>"
            }
        }
        // A label at each bar that starts a UTC day (the week's chart) or a sixth of one (the day's):
        // every 24th bar from the first put "12-04" at 01:00 of 12-04 when the chart was drawn at
        // 00:xx, and 12-05's first hour under it.
        let labelEvery = hours <= 24 ? 6 : 24
        let firstHourOfDay = Int((start / hourSeconds).rounded()) % 24
        for i in 0..<hours where (firstHourOfDay + i) % labelEvery == 0 {
            let t = Date(timeIntervalSince1970: start + Double(i) * hourSeconds)
            let text = hours <= 24 ? String(Timestamp.string(t).dropFirst(11).prefix(5)) : String(Timestamp.string(t).dropFirst(5).prefix(5))
            svg += "<text x=\"\(String(format: "%.1f", left + Double(i) * barWidth))\" y=\"\(Int(height - 3))\">\(text)</text>"
        }
        return svg + "</svg><p class=\"muted\">\(total) finished (UTC hours; green succeeded, red failed, grey cancelled)</p>"
    }
}
