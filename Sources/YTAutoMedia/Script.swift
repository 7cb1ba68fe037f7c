import Foundation
import YTAutoCore

/// Splits narration into sentences, each narrated and captioned alone (at `.`, `!`, `?` and
/// Japanese `。`, `！`, `？`).
public enum Sentences {
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ".!?。！？".contains(ch) {
                let s = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if Script.countWords(s) > 0 { out.append(s) }
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if Script.countWords(rest) > 0 { out.append(rest) }
        return out
    }
}

/// The offline script writer: varied scripts from the channel's templates, sized to the channel's
/// duration at the voice's measured speaking rate.
///
/// It does not repeat the channel: given the channel's recent scripts (``ChannelHistory``), it
/// takes the title, hook and call to action the channel has gone longest without (one never used
/// first; ties drawn at random), and the body sentences likewise, so consecutive videos share
/// as little as the templates allow.
public struct TemplateScriptGenerator: ScriptGenerator {
    /// Words a second the channel's voice speaks, measured (``EspeakTTS/measureRate(voiceID:)``).
    public let wordsPerSecond: Double
    /// Mixed into the randomness so two jobs on one topic differ.
    public let seed: String
    /// The channel's recent scripts with their topics, newest first.
    public let recent: [ChannelHistory.Entry]

    public init(wordsPerSecond: Double, seed: String = "", recent: [ChannelHistory.Entry] = []) {
        self.wordsPerSecond = wordsPerSecond
        self.seed = seed
        self.recent = recent
    }

    static func fill(_ template: String, topic: String) -> String {
        template.replacingOccurrences(of: "{topic}", with: topic)
            .replacingOccurrences(of: "{Topic}", with: topic.prefix(1).uppercased() + topic.dropFirst())
    }

    /// The parts of a script a template fills.
    enum Part { case title, hook, body, cta }

    /// Whether `script` holds `text` (a filled template) in `part`, regardless of case (a title is
    /// put in title case after it is written): a title is the whole of it, the others contain it
    /// (a finance call to action has the disclaimer after it).
    static func holds(_ script: Script, _ part: Part, _ text: String) -> Bool {
        let t = text.lowercased()
        switch part {
        case .title: return script.title.lowercased() == t
        case .hook: return script.hook.lowercased().contains(t)
        case .body: return script.body.lowercased().contains(t)
        case .cta: return script.cta.lowercased().contains(t)
        }
    }

    /// How many scripts ago the channel last used `template` in `part` (0: the newest);
    /// `Int.max` when it has not in its recent history.
    func lastUse(_ template: String, _ part: Part) -> Int {
        recent.firstIndex { Self.holds($0.script, part, Self.fill(template, topic: $0.topic)) } ?? .max
    }

    /// `templates` from the one used longest ago (or never) to the most recent, in random order among equals.
    func leastRecentFirst(_ templates: [String], _ part: Part, _ rng: inout SplitMix64) -> [String] {
        let shuffled = templates.shuffled(using: &rng)
        let ages = shuffled.map { lastUse($0, part) }
        // Sorted by age, the shuffle's order kept among templates of the same age.
        return shuffled.indices.sorted { ages[$0] != ages[$1] ? ages[$0] > ages[$1] : $0 < $1 }.map { shuffled[$0] }
    }

    public func generate(topic: String, channel: ChannelConfig) async throws -> Script {
        var rng = SplitMix64(text: "\(channel.type.rawValue)|\(topic)|\(seed)")
        let t = Templates.of(channel.type)
        let fill = { (s: String) in Self.fill(s, topic: topic) }
        let title = Self.fit(fill(leastRecentFirst(t.titles, .title, &rng)[0]), limit: 100)
        let hook = fill(leastRecentFirst(t.hooks, .hook, &rng)[0])
        var cta = fill(leastRecentFirst(t.ctas, .cta, &rng)[0])
        if let disclaimer = channel.type.disclaimer { cta += " " + disclaimer }
        // Aim at three quarters of the range: the narration stage measures the real audio and
        // drops closing body sentences if it runs long, which is safer than running short.
        let range = channel.durationRange
        let target = (Double(range.min) + 0.75 * Double(range.max - range.min)) * wordsPerSecond
        let budget = target - Double(Script.countWords(hook) + Script.countWords(cta))
        var body: [String] = []
        var words = 0
        var pool: [String] = []
        repeat {
            // The pool is taken from its end: the sentences used longest ago (or never) go last.
            if pool.isEmpty { pool = leastRecentFirst(t.body, .body, &rng).reversed() }
            let next = fill(pool.removeLast())
            // Near the end, prefer a sentence that does not overshoot by much.
            if !body.isEmpty, Double(words + Script.countWords(next)) > budget + 4, let shorter = pool.last(where: {
                Double(words + Script.countWords(fill($0))) <= budget + 4
            }) {
                pool.removeAll { $0 == shorter }
                body.append(fill(shorter))
                words += Script.countWords(fill(shorter))
                continue
            }
            body.append(next)
            words += Script.countWords(next)
        } while Double(words) < budget - 2
        return Script(title: title, hook: hook, body: body.joined(separator: " "), cta: cta, channel: channel.type)
    }

    static func fit(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        var out = ""
        for word in text.split(separator: " ") {
            if out.count + word.count + 1 > limit - 1 { break }
            out += (out.isEmpty ? "" : " ") + word
        }
        return out + "…"
    }
}

/// Checks a script before any money or time is spent on it.
public struct ScriptValidator: Sendable {
    public let wordsPerSecond: Double
    /// How far the spoken length may stray outside the duration range, as a fraction.
    public let tolerance: Double

    public init(wordsPerSecond: Double, tolerance: Double = 0.1) {
        self.wordsPerSecond = wordsPerSecond
        self.tolerance = tolerance
    }

    /// - Throws: ``ScriptValidationError`` with every issue found.
    public func validate(_ script: Script, channel: ChannelConfig) throws {
        var issues: [String] = []
        if Script.countWords(script.hook) == 0 { issues.append("the hook is missing") }
        if Script.countWords(script.body) == 0 { issues.append("the body is missing") }
        if Script.countWords(script.cta) == 0 { issues.append("the call to action is missing") }
        if script.title.trimmingCharacters(in: .whitespaces).isEmpty { issues.append("the title is empty") }
        if script.title.count > 100 { issues.append("the title has \(script.title.count) characters; at most 100") }
        let seconds = Double(script.wordCount) / wordsPerSecond
        let lo = Double(channel.durationRange.min) * (1 - tolerance), hi = Double(channel.durationRange.max) * (1 + tolerance)
        if seconds < lo || seconds > hi {
            issues.append(String(
                format: "%d words take about %.0f s at the voice's %.2f words/s; the channel needs %d-%d s",
                script.wordCount, seconds, wordsPerSecond, channel.durationRange.min, channel.durationRange.max))
        }
        let text = (script.title + " " + script.narration).lowercased()
        for banned in channel.forbiddenTopics where text.contains(banned.lowercased()) {
            issues.append("it mentions the forbidden topic '\(banned)'")
        }
        if let disclaimer = channel.type.disclaimer, !script.narration.contains(disclaimer) {
            issues.append("the finance disclaimer is missing (\"\(disclaimer)\")")
        }
        if !issues.isEmpty { throw ScriptValidationError(issues: issues) }
    }
}

/// The offline templates per channel type.
struct Templates {
    var titles: [String]
    var hooks: [String]
    var body: [String]
    var ctas: [String]

    static func of(_ type: ChannelType) -> Templates {
        switch type {
        case .horror:
            Templates(
                titles: ["{Topic}", "I Should Never Have Looked Into {topic}", "The Night of {topic}", "What I Found: {topic}"],
                hooks: [
                    "I still cannot explain what happened the night of {topic}.",
                    "Nobody believed me about {topic}, so I am telling you.",
                    "Listen closely, because {topic} is not a story I tell twice.",
                    "Everyone in town knows about {topic}, but nobody talks about it after dark.",
                    "This is the last time I will speak about {topic}.",
                ],
                body: [
                    "The air went cold, the kind of cold that settles in your teeth.",
                    "Somewhere behind me, a floorboard answered my footsteps a second too late.",
                    "I told myself it was the wind, and I almost believed it.",
                    "The lights flickered once, then held, as if something had decided to wait.",
                    "There was a smell of wet earth and old pennies.",
                    "My phone showed no signal, though it had worked a minute before.",
                    "I counted the doors again, and there was one more than before.",
                    "Every time I looked away, the shadow in the corner seemed closer.",
                    "A voice whispered my name, patient and almost kind.",
                    "I kept thinking about {topic} and wishing I had stayed home.",
                    "The silence afterwards was worse than any sound.",
                    "When I checked the time, three hours had gone missing.",
                    "Something tapped on the glass, slow and deliberate, like a heartbeat.",
                    "I never found out who left the footprints leading away from my bed.",
                    "The photographs I took that night show a figure I do not remember seeing.",
                    "Down the hall, a door I had locked stood open.",
                    "I ran.",
                    "It was quiet.",
                ],
                ctas: [
                    "If you have a story like this, tell me in the comments, and subscribe for the next one.",
                    "Subscribe, and leave the light on tonight.",
                    "Follow for another true story tomorrow night, if you can sleep.",
                    "Have you ever felt watched like that? Tell me below, and subscribe.",
                ])
        case .facts:
            Templates(
                titles: ["{Topic}: The Real Answer", "The Surprising Truth About {topic}", "{Topic}, Explained",
                         "What Most People Get Wrong About {topic}", "{Topic} in One Minute"],
                hooks: [
                    "Here is something about {topic} that most people never learn.",
                    "Did you know? {Topic} is stranger than it sounds.",
                    "Quick question: have you ever wondered about {topic}?",
                    "Most people get {topic} completely wrong.",
                    "Give me one minute, and {topic} will make perfect sense.",
                ],
                body: [
                    "Scientists have studied {topic} for decades, and the answers keep surprising them.",
                    "The short version is simple, but the details are where it gets interesting.",
                    "Think of it like this: nature rarely wastes energy without a reason.",
                    "Researchers measured it again and again, and the numbers held.",
                    "It also explains a few everyday things you have probably noticed.",
                    "Here is the part that surprises most people.",
                    "Historians found records of it going back centuries.",
                    "Once you see it, you start noticing it everywhere.",
                    "The first people to describe it were not believed at all.",
                    "It sounds like a myth, but the evidence is solid.",
                    "Even experts argued about it until surprisingly recently.",
                    "Small causes, repeated often, add up to something remarkable.",
                    "It is true.",
                    "Wild, right?",
                    "The explanation turns out to be older than anyone expected.",
                    "A single careful experiment settled most of the argument.",
                    "Animals and people both show traces of it, in different ways.",
                    "The numbers behind it are easy to check for yourself.",
                    "The same pattern turns up in places that have nothing else in common.",
                    "For a long time, the accepted answer was simply wrong.",
                    "It took better instruments, not better guesses, to see it clearly.",
                    "Children often notice it before adults do.",
                    "The reason fits in a single sentence, once you know it.",
                    "And it is still being studied today.",
                    "Think about that.",
                    "Simple, and strange.",
                ],
                ctas: ["Follow for more facts like this.", "Share this with someone curious, and follow for more.",
                       "Which fact should I explain next? Tell me in the comments.", "Save this for later, and follow for tomorrow's fact."])
        case .finance:
            Templates(
                titles: ["{Topic}, In Plain Words", "What Nobody Tells You About {topic}", "{Topic}: A Calm Explainer",
                         "{Topic} Without the Jargon"],
                hooks: [
                    "Let us talk about {topic}, in plain words.",
                    "If {topic} has ever confused you, give this a minute.",
                    "Here is {topic}, without the sales pitch.",
                    "Before you decide anything about {topic}, know how it works.",
                ],
                body: [
                    "The idea is simpler than the jargon makes it sound.",
                    "Small amounts, repeated over years, tend to matter more than timing.",
                    "Fees and interest work quietly, which is why they are easy to ignore.",
                    "A good rule is to understand a product before you buy it.",
                    "Write the numbers down, because memory is an optimist.",
                    "Nothing here is a prediction; it is how the mechanics work.",
                    "Start with what you can control: costs, habits and time.",
                    "Compare the total cost, not just the monthly one.",
                    "An emergency buffer turns a crisis into an inconvenience.",
                    "Automating a habit removes the need for willpower.",
                    "When something sounds too good to be true, ask who is paid and how.",
                    "Keep it simple.",
                    "The cheapest mistake is the one you notice on paper first.",
                    "Time in the market is a different thing from timing the market.",
                    "Read the small print once; it is shorter than the regret.",
                ],
                ctas: ["Subscribe for calm, plain money explainers.", "Follow for more plain-spoken money basics.",
                       "Tell me which money topic confuses you most, and I will explain it next."])
        }
    }
}
