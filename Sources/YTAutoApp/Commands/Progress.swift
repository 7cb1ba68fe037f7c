import Foundation
import YTAutoWorker

/// Per-stage progress for long commands (`ytauto run-once`).
///
/// On a terminal it keeps one line per stage that ticks its elapsed time and ends with ✓ or ✗;
/// elsewhere (a pipe, a log file) it prints one plain line per finished stage.
final class StageProgress: @unchecked Sendable {
    // `@unchecked` is safe: every mutable field is touched only under `lock`.
    private let lock = NSLock()
    private let tty: Bool
    private var current: (label: String, started: Date)?
    private var detail = ""
    private var ticker: Task<Void, Never>?

    init(tty: Bool = isatty(STDOUT_FILENO) == 1) { self.tty = tty }

    func handle(_ event: WorkerEvent) {
        guard case .stage(_, let stage, let index, let count, let state) = event else { return }
        let label = "[\(index + 1)/\(count)] \(stage)"
        lock.withLock {
            switch state {
            case .started:
                current = (label, Date())
                detail = ""
                if tty { write("\r\u{1B}[2K\(label) …") }
            case .done(let seconds):
                current = nil
                write(line(label, "done in \(Output.duration(seconds))", mark: "✓"))
            case .skipped:
                current = nil
                write(line(label, "skipped (dry run)", mark: "-"))
            case .alreadyDone:
                write(line(label, "already done by an earlier attempt", mark: "✓"))
            case .failed(let message, let seconds):
                current = nil
                write(line(label, "failed after \(Output.duration(seconds)): \(message)", mark: "✗"))
            case .heldForReview:
                current = nil
                write(line(label, "waiting for review (the channel has review: true)", mark: "⏸"))
            }
        }
        if tty && ticker == nil { startTicker() }
    }

    private func line(_ label: String, _ text: String, mark: String) -> String {
        (tty ? "\r\u{1B}[2K" : "") + "\(mark) \(label): \(text)\n"
    }

    private func startTicker() {
        ticker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                guard let self else { return }
                self.lock.withLock {
                    if let c = self.current {
                        let d = self.detail.isEmpty ? "" : " (\(self.detail))"
                        self.write("\r\u{1B}[2K\(c.label) … \(Output.duration(Date().timeIntervalSince(c.started)))\(d)")
                    }
                }
            }
        }
    }

    /// Progress inside the running stage ("clip 3/12"), shown on a terminal.
    func note(_ text: String) {
        lock.withLock { detail = text }
    }

    func finish() {
        ticker?.cancel()
        if tty { lock.withLock { write("\r\u{1B}[2K") } }
    }

    private func write(_ s: String) {
        fflush(nil)  // what print() buffered goes first
        FileHandle.standardOutput.write(Data(s.utf8))
    }
}
