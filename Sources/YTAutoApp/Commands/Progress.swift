import Foundation
import Synchronization
import YTAutoWorker

/// Per-stage progress for long commands (`ytauto run-once`).
///
/// On a terminal it keeps one line per stage that ticks its elapsed time and ends with ✓ or ✗;
/// elsewhere (a pipe, a log file) it prints one plain line per finished stage.
final class StageProgress: Sendable {
    private struct State {
        var current: (label: String, started: Date)?
        var detail = ""
        var ticker: Task<Void, Never>?
    }
    private let tty: Bool
    /// Writes to the terminal happen under it too, so lines never interleave.
    private let state = Mutex(State())

    init(tty: Bool = isatty(STDOUT_FILENO) == 1) { self.tty = tty }

    func handle(_ event: WorkerEvent) {
        guard case .stage(_, let stage, let index, let count, let stageState) = event else { return }
        let label = "[\(index + 1)/\(count)] \(stage)"
        state.withLock { s in
            switch stageState {
            case .started:
                s.current = (label, Date())
                s.detail = ""
                if tty { write("\r\u{1B}[2K\(label) …") }
            case .done(let seconds):
                s.current = nil
                write(line(label, "done in \(Output.duration(seconds))", mark: "✓"))
            case .skipped:
                s.current = nil
                write(line(label, "skipped (dry run)", mark: "-"))
            case .alreadyDone:
                write(line(label, "already done by an earlier attempt", mark: "✓"))
            case .failed(let message, let seconds):
                s.current = nil
                write(line(label, "failed after \(Output.duration(seconds)): \(message)", mark: "✗"))
            case .heldForReview:
                s.current = nil
                write(line(label, "waiting for review (the channel has review: true)", mark: "⏸"))
            }
            if tty && s.ticker == nil { s.ticker = startTicker() }
        }
    }

    private func line(_ label: String, _ text: String, mark: String) -> String {
        (tty ? "\r\u{1B}[2K" : "") + "\(mark) \(label): \(text)\n"
    }

    private func startTicker() -> Task<Void, Never> {
        Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                guard let self, !Task.isCancelled else { return }
                self.state.withLock { s in
                    if let c = s.current {
                        let d = s.detail.isEmpty ? "" : " (\(s.detail))"
                        self.write("\r\u{1B}[2K\(c.label) … \(Output.duration(Date().timeIntervalSince(c.started)))\(d)")
                    }
                }
            }
        }
    }

    /// Progress inside the running stage ("clip 3/12"), shown on a terminal.
    func note(_ text: String) {
        state.withLock { $0.detail = text }
    }

    func finish() {
        state.withLock { s in
            // Nothing is drawn again once the line is cleared, even by a tick under way.
            s.current = nil
            s.ticker?.cancel()
            s.ticker = nil
            if tty { write("\r\u{1B}[2K") }
        }
    }

    private func write(_ s: String) {
        fflush(nil)  // what print() buffered goes first
        FileHandle.standardOutput.write(Data(s.utf8))
    }
}
