/// When a failure that keeps coming back is written to the log, so that a cause that persists (a
/// database server that is down, a full disk) is neither logged on every try, every few seconds,
/// nor once and then never again while it lasts.
///
/// The first failure is logged, and a different one at once. The same one is logged again after
/// `firstReminder` (1 minute), then after twice as long each time up to `longestReminder` (15
/// minutes), each time with how many tries have failed and for how long (``note``). Its end is
/// logged once, with the same figures (``succeeded(now:)``).
public struct RepeatedFailure: Sendable {
    public let firstReminder: Duration
    public let longestReminder: Duration
    private var text: String?
    /// Tries failed in a row, the last one included.
    public private(set) var tries = 0
    private var since = ContinuousClock.Instant.now
    private var nextReminder = ContinuousClock.Instant.now
    private var gap: Duration

    public init(firstReminder: Duration = .seconds(60), longestReminder: Duration = .seconds(900)) {
        self.firstReminder = firstReminder
        self.longestReminder = longestReminder
        self.gap = firstReminder
    }

    /// Whether a run of failures is going on.
    public var isFailing: Bool { tries > 0 }

    /// Records a failed try, described by `text`; returns whether to log it.
    public mutating func failed(_ text: String, now: ContinuousClock.Instant = .now) -> Bool {
        if tries == 0 { since = now }
        tries += 1
        if text != self.text {
            self.text = text
            gap = firstReminder
            nextReminder = now + gap
            return true
        }
        guard now >= nextReminder else { return false }
        gap = min(gap * 2, longestReminder)
        nextReminder = now + gap
        return true
    }

    /// How long the run of failures has lasted and how many tries it took, for the log: empty for
    /// the first try, else " (failing for 4 min, 48 tries)".
    public func note(now: ContinuousClock.Instant = .now) -> String {
        tries > 1 ? " (failing for \(Self.spoken(now - since)), \(tries) tries)" : ""
    }

    /// Records a try that worked; returns what to log when it ends a run of failures ("after 3 min
    /// and 36 failed tries"), else nil.
    public mutating func succeeded(now: ContinuousClock.Instant = .now) -> String? {
        defer { tries = 0; text = nil; gap = firstReminder }
        guard tries > 0 else { return nil }
        return "after \(Self.spoken(now - since)) and \(tries) failed \(tries == 1 ? "try" : "tries")"
    }

    /// A duration for people: "45 s", "4 min", "2 h 5 min".
    static func spoken(_ d: Duration) -> String {
        let s = max(0, Int(d.components.seconds))
        if s < 120 { return "\(s) s" }
        if s < 7200 { return "\(s / 60) min" }
        return s % 3600 / 60 == 0 ? "\(s / 3600) h" : "\(s / 3600) h \(s % 3600 / 60) min"
    }
}
