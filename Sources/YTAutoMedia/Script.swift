import Foundation
import YTAutoCore

/// Splits narration into sentences, each narrated and captioned alone.
public enum Sentences {
    public static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in text {
            current.append(ch)
            if ".!?".contains(ch) {
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
public struct TemplateScriptGenerator: ScriptGenerator {
    /// Words a second the channel's voice speaks, measured (``EspeakTTS/measureRate(voiceID:)``).
    public let wordsPerSecond: Double
    /// Mixed into the randomness so two jobs on one topic differ.
    public let seed: String

    public init(wordsPerSecond: Double, seed: String = "") {
        self.wordsPerSecond = wordsPerSecond
        self.seed = seed
    }

    public func generate(topic: String, channel: ChannelConfig) async throws -> Script {
        var rng = SplitMix64(text: "\(channel.type.rawValue)|\(topic)|\(seed)")
        let t = Templates.of(channel.type)
        let fill = { (s: String) in
            s.replacingOccurrences(of: "{topic}", with: topic)
                .replacingOccurrences(of: "{Topic}", with: topic.prefix(1).uppercased() + topic.dropFirst())
        }
        let title = Self.fit(fill(t.titles.randomElement(using: &rng)!), limit: 100)
        let hook = fill(t.hooks.randomElement(using: &rng)!)
        var cta = fill(t.ctas.randomElement(using: &rng)!)
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
            if pool.isEmpty { pool = t.body.shuffled(using: &rng) }
            let next = fill(pool.removeLast())
            // Near the end, prefer a sentence that does not overshoot by much.
            if !body.isEmpty, Double(words + Script.countWords(next)) > budget + 4, let shorter = pool.first(where: {
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
                ])
        case .facts:
            Templates(
                titles: ["{Topic}: The Real Answer", "The Surprising Truth About {topic}", "{Topic}, Explained"],
                hooks: [
                    "Here is something about {topic} that most people never learn.",
                    "Did you know? {Topic} is stranger than it sounds.",
                    "Quick question: have you ever wondered about {topic}?",
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
                ],
                ctas: ["Follow for more facts like this.", "Share this with someone curious, and follow for more."])
        case .finance:
            Templates(
                titles: ["{Topic}, In Plain Words", "What Nobody Tells You About {topic}", "{Topic}: A Calm Explainer"],
                hooks: [
                    "Let us talk about {topic}, in plain words.",
                    "If {topic} has ever confused you, give this a minute.",
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
                ],
                ctas: ["Subscribe for calm, plain money explainers.", "Follow for more plain-spoken money basics."])
        }
    }
}
