import Foundation
import YTAutoCore

/// Human tables and JSON for the CLIs.
enum Output {
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

    /// Pretty, key-sorted JSON of a JSON-compatible value.
    static func json(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            return "null"
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func time(_ date: Date?) -> String { date.map(Timestamp.string) ?? "-" }

    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: "%.0fms", seconds * 1000) }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        if seconds < 3600 { return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%dh%02dm", Int(seconds) / 3600, (Int(seconds) % 3600) / 60)
    }

    static func jobJSON(_ j: Job) -> [String: Any] {
        var o: [String: Any] = [
            "id": j.id, "channel": j.channel, "state": j.state.rawValue, "priority": j.priority,
            "run_at": Timestamp.string(j.runAt), "attempt": j.attempt, "max_attempts": j.maxAttempts,
            "created_at": Timestamp.string(j.createdAt), "updated_at": Timestamp.string(j.updatedAt),
            "cancel_requested": j.cancelRequested,
        ]
        o["topic"] = j.topic
        o["stage"] = j.currentStage
        o["lease_owner"] = j.leaseOwner
        o["unique_key"] = j.uniqueKey
        o["error_code"] = j.lastErrorCode
        o["error_message"] = j.lastErrorMessage
        o["finished_at"] = j.finishedAt.map(Timestamp.string)
        o["kind"] = j.kind.rawValue
        o["scheduled_at"] = j.scheduledAt.map(Timestamp.string)
        return o
    }

    static func attemptJSON(_ a: AttemptRecord) -> [String: Any] {
        var o: [String: Any] = [
            "job_id": a.jobID, "attempt": a.attempt, "channel": a.channel, "worker": a.workerID,
            "started_at": Timestamp.string(a.startedAt),
        ]
        o["finished_at"] = a.finishedAt.map(Timestamp.string)
        o["outcome"] = a.outcome?.rawValue
        o["stage"] = a.stage
        o["pipeline"] = a.pipeline
        o["lease_seconds"] = a.leaseSeconds
        o["heartbeat_at"] = a.heartbeatAt.map(Timestamp.string)
        o["error_code"] = a.errorCode
        o["error_message"] = a.errorMessage
        if let f = a.finishedAt { o["duration_ms"] = Int((f.timeIntervalSince(a.startedAt) * 1000).rounded()) }
        return o
    }
}
