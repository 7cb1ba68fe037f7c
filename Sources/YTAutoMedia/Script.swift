import Foundation
import YTAutoCore

/// Splits narration into sentences, each narrated and captioned alone (at `.`, `!`, `?` and
/// Japanese `。`, `！`, `？`).
public enum Sentences {
    public static func split(_ text: String) -> [String] {
        // Slices of the text, not a sentence built a character at a time: the near-duplicate check
        // splits each of a channel's recent scripts for every new one.
        var out: [String] = []
        func add(_ piece: Substring) {
            let s = piece.trimmingCharacters(in: .whitespacesAndNewlines)
            if Script.hasWords(s) { out.append(s) }
        }
        var start = text.startIndex, i = start
        while i < text.endIndex {
            let ch = text[i]
            i = text.index(after: i)
            if isEnd(ch) {
                add(text[start..<i])
                start = i
            }
        }
        add(text[start...])
        return out
    }

    static func isEnd(_ ch: Character) -> Bool {
        if let ascii = ch.asciiValue { return ascii == UInt8(ascii: ".") || ascii == UInt8(ascii: "!") || ascii == UInt8(ascii: "?") }
        return ch == "。" || ch == "！" || ch == "？"
    }
}

/// The offline script writer: varied scripts from the channel's templates, sized to the channel's
/// duration at the voice's measured speaking rate.
///
/// It does not repeat the channel: given the channel's recent scripts (``ChannelHistory``), it
/// takes the title, hook and call to action the channel has gone longest without (one never used
/// first; ties drawn at random), and body sentences that keep the script unlike each recent one
/// (``body(topic:budget:templates:rng:)``). The templates suffice for shorts and for the sample
/// channels' lengths (up to 4 minutes of horror) without using one twice in a script; a longer
/// script repeats sentences (docs/pipeline.md says how far they go).
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

    /// Whether `template`'s own words say again what the topic says: two words in a row of its
    /// text outside `{topic}` that the topic has in a row too. "{Topic}, In Plain Words" on the
    /// topic "compound interest in plain words" titled a video "Compound Interest in Plain
    /// Words, in Plain Words".
    static func repeatsTopic(_ template: String, topic: String) -> Bool {
        func pairs(_ text: String) -> Set<String> {
            let words = text.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "'" }.map(String.init)
            return Set(zip(words, words.dropFirst()).map { "\($0) \($1)" })
        }
        let own = template.replacingOccurrences(of: "{topic}", with: "|").replacingOccurrences(of: "{Topic}", with: "|")
        let ownPairs = own.split(separator: "|").reduce(into: Set<String>()) { $0.formUnion(pairs(String($1))) }
        return !ownPairs.isDisjoint(with: pairs(topic))
    }

    /// `templates` without those that would say the topic's words twice (``repeatsTopic(_:topic:)``),
    /// or all of them if every one would.
    static func notRepeating(_ templates: [String], topic: String) -> [String] {
        let kept = templates.filter { !repeatsTopic($0, topic: topic) }
        return kept.isEmpty ? templates : kept
    }

    /// `template`'s wordings: each `[a|b|c]` group is one of its choices, so
    /// `"[The|A] door [opened|gave]."` is four sentences. A template without a group is one.
    static func wordings(_ template: String) -> [String] {
        guard let open = template.firstIndex(of: "["), let close = template[open...].firstIndex(of: "]") else { return [template] }
        let head = template[..<open], tail = String(template[template.index(after: close)...])
        let choices = template[template.index(after: open)..<close].split(separator: "|", omittingEmptySubsequences: false)
        return choices.flatMap { choice in wordings(tail).map { head + choice + $0 } }
    }

    /// The body's sentences, chosen to keep the new script unlike each recent one, since that is
    /// what the near-duplicate check measures (``NearDuplicates/repeatedScript(_:recent:percent:)``:
    /// the share of its sentences one recent script also has). Each sentence is the wording, of a
    /// template not yet used in this script (until every template has been), that adds least to
    /// the largest overlap with any one recent script; among equals, the one the channel has gone
    /// longest without, then the templates in a random order. Taking the oldest alone would cycle:
    /// the channel's videos would come back round to repeating one of theirs whole.
    func body(topic: String, budget: Double, templates: [String], rng: inout SplitMix64) -> [String] {
        let families = templates.map(Self.wordings)
        // Each wording filled with the topic and its words counted once, not at every sentence chosen.
        let filled = families.map { $0.map { Self.fill($0, topic: topic) } }
        let wordCounts = filled.map { $0.map(Script.countWords) }
        let order = Array(families.indices).shuffled(using: &rng)
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let recentSentences = recent.map { Set(Sentences.split($0.script.body).map(NearDuplicates.normalised)) }
        // For each wording (family, index): the recent scripts that have it, newest first.
        var holders: [[[Int]]] = filled.map { sentences in
            sentences.map { sentence in
                let n = NearDuplicates.normalised(sentence)
                return recentSentences.indices.filter { recentSentences[$0].contains(n) }
            }
        }
        var overlap = [Int](repeating: 0, count: recent.count)
        var usedFamilies = Set<Int>()
        var usedWordings = Set<String>()
        var body: [String] = []
        var words = 0
        repeat {
            if usedFamilies.count == families.count { usedFamilies = [] }
            var candidates: [(family: Int, index: Int, sentence: String)] = []
            for f in families.indices where !usedFamilies.contains(f) {
                for (i, sentence) in filled[f].enumerated() where !usedWordings.contains(sentence) {
                    candidates.append((f, i, sentence))
                }
            }
            if candidates.isEmpty {
                // Every wording of the templates left is in the script already: a long script repeats.
                usedWordings = []
                usedFamilies = []
                continue
            }
            func cost(_ c: (family: Int, index: Int, sentence: String)) -> (Int, Int, Int, Int) {
                let having = holders[c.family][c.index]
                let worst = having.map { overlap[$0] + 1 }.max() ?? 0
                let age = having.first ?? .max
                return (worst, -min(age, Int.max - 1), rank[c.family] ?? 0, c.index)
            }
            var ranked = candidates.map { (c: $0, key: cost($0)) }
            ranked.sort { $0.key < $1.key }
            // Near the end, prefer a sentence that does not overshoot by much.
            var pick = ranked[0].c
            func count(_ c: (family: Int, index: Int, sentence: String)) -> Int { wordCounts[c.family][c.index] }
            if !body.isEmpty, Double(words + count(pick)) > budget + 4,
               let shorter = ranked.first(where: { Double(words + count($0.c)) <= budget + 4 }) {
                pick = shorter.c
            }
            body.append(pick.sentence)
            words += count(pick)
            usedFamilies.insert(pick.family)
            usedWordings.insert(pick.sentence)
            for j in holders[pick.family][pick.index] { overlap[j] += 1 }
            holders[pick.family][pick.index] = []  // counted once, as the check counts distinct sentences
        } while Double(words) < budget - 2
        return body
    }

    /// Writes the script. It never waits on anything, so it starts by giving up its thread once:
    /// its work (about 60 ms a script against fifty recent ones, in a debug build) is on Swift's
    /// cooperative threads, as few as the cores, and a caller writing script after script
    /// (the tests of a channel's sixty videos) would otherwise hold them throughout, with every
    /// timer and child process of the same process waiting (a debug test run on two cores went
    /// minutes without one).
    public func generate(topic: String, channel: ChannelConfig) async throws -> Script {
        await Task.yield()
        var rng = SplitMix64(text: "\(channel.type.rawValue)|\(topic)|\(seed)")
        let t = Templates.of(channel.type)
        let fill = { (s: String) in Self.fill(s, topic: topic) }
        let title = Self.fit(fill(leastRecentFirst(Self.notRepeating(t.titles, topic: topic), .title, &rng)[0]), limit: 100)
        let hook = fill(leastRecentFirst(Self.notRepeating(t.hooks, topic: topic), .hook, &rng)[0])
        var cta = fill(leastRecentFirst(t.ctas, .cta, &rng)[0])
        if let disclaimer = channel.type.disclaimer { cta += " " + disclaimer }
        // Aim at three quarters of the range: the narration stage measures the real audio and
        // drops closing body sentences if it runs long, which is safer than running short.
        let range = channel.durationRange
        let target = (Double(range.min) + 0.75 * Double(range.max - range.min)) * wordsPerSecond
        let budget = target - Double(Script.countWords(hook) + Script.countWords(cta))
        let body = body(topic: topic, budget: budget, templates: t.body, rng: &rng)
        return Script(title: title, hook: hook, body: body.joined(separator: " "), cta: cta, channel: channel.type)
    }

    /// At most `limit` characters: whole words and an ellipsis. A word longer than what is left
    /// (more than 20 characters left) is cut inside rather than dropped: a topic of one long word
    /// made the title "…".
    static func fit(_ text: String, limit: Int) -> String {
        guard text.count > limit else { return text }
        let room = limit - 1
        var out = ""
        for word in text.split(separator: " ") {
            let next = out.isEmpty ? String(word) : out + " " + word
            if next.count > room {
                if room - out.count > 20 { out = String(next.prefix(room)) }
                break
            }
            out = next
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
                    "The air went cold, the kind of cold that [settles in your teeth|gets into your bones|you feel in your teeth].",
                    "Somewhere behind me, a floorboard [answered|echoed] my footsteps [a second too late|half a step behind].",
                    "I told myself it was [the wind|the old pipes|the house settling], and I [almost believed it|nearly believed it|wanted to believe it].",
                    "The lights [flickered once|dimmed for a moment|buzzed and dipped], then held, as if something had decided to wait.",
                    "There was a smell of [wet earth|damp stone|river mud] and [old pennies|rust|candle smoke].",
                    "My phone showed no signal, though it had worked [a minute before|a moment earlier|when I came in].",
                    "I counted the [doors|windows|steps] again, and there was one more than before.",
                    "Every time I looked away, the shadow [in the corner|by the door|at the end of the hall] seemed closer.",
                    "A voice whispered my name, [patient and almost kind|slow and almost gentle|soft, like someone who had all night].",
                    "I kept thinking about {topic} and [wishing I had stayed home|wondering why I had come|telling myself to leave].",
                    "The silence [afterwards|that followed|after that] was worse than any sound.",
                    "When I [checked the time|looked at my watch|finally checked my phone], [three hours|most of the night|two hours] had gone missing.",
                    "Something tapped on the [glass|window|door], slow and deliberate, like a heartbeat.",
                    "I never found out who left the footprints leading [away from my bed|out of the room|down to the water].",
                    "The [photographs|pictures] I took that night show a figure I do not remember seeing.",
                    "[Down the hall|At the top of the stairs|Behind me], a door I had locked stood open.",
                    "[I ran.|I did not look back.|So I ran.]",
                    "[It was quiet.|Then it was quiet.|Everything went still.]",
                    "[The radio|An old radio|A clock radio] in the kitchen turned itself on, playing a song [nobody had heard in years|from my childhood|I did not know].",
                    "I heard breathing [in the dark|close to my ear|on the other side of the wall], and it was not mine.",
                    "[The dog|Our dog|The neighbour's dog] refused to [go past the gate|cross the threshold|come inside] and only stared at the [upstairs window|attic window|dark hallway].",
                    "My own handwriting was on a note I [had never written|did not remember writing|could not have written].",
                    "[Water|Something wet] dripped from the ceiling, though it had not rained [for weeks|all summer|in days].",
                    "The [mirror|window] showed the room behind me, but [the chair was empty|the door was shut|I was not in it].",
                    "[By morning|At first light|When the sun came up], the scratches on the door [were gone|had healed over|looked years old].",
                    "Someone had [set the table|lit the candles|made the bed] for a guest [nobody had invited|who never came|I could not see].",
                    "[I called out,|I asked who was there,] and the house [answered with a knock|went quiet at once|knocked twice].",
                    "[The smell of smoke|A cold draft|The sound of footsteps] followed me from room to room.",
                    "The wallpaper in the hallway was [damp to the touch|warm under my hand|peeling in long strips], though the rest of the house was dry.",
                    "I found my coat hanging on a hook I [had never seen before|did not remember putting up|could have sworn was not there].",
                    "The stairs creaked in the right order, [one after another|step by step|slowly], as if someone heavy were coming up.",
                    "On the table lay a key I did not recognise, [still warm|wet with dew|cold as ice].",
                    "My breath fogged in front of me, [indoors, in the middle of summer|though the heating was on|in a room with the windows shut].",
                    "The old man at the petrol station [had warned me|told me twice|had tried to tell me], and I had laughed.",
                    "[In the attic|Under the floorboards|Behind the cupboard] I found a box of letters, all addressed to me.",
                    "The date on the newspaper by the door was [forty years old|from the week I was born|the day after tomorrow].",
                    "[The phone rang|The doorbell rang|Someone knocked] at exactly three in the morning, and nobody was there.",
                    "I switched on my torch, and the beam [showed nothing but dust|shook in my hand|caught a pair of eyes].",
                    "The rocking chair on the porch was moving [on its own|slowly, back and forth|although there was no wind].",
                    "Someone had written [a single word|my name|a date] in the dust on the window, from the inside.",
                    "[The children's swing|The gate|The shutter] kept swinging long after the wind had died.",
                    "I pressed my ear to the wall and heard [someone humming|a slow scratching|a voice counting], very softly.",
                    "The portrait in the hall had [its eyes open|turned its head|changed] since the last time I passed it.",
                    "Every clock in the house had stopped at [the same minute|ten past three|a quarter to midnight].",
                    "A cold hand [brushed the back of my neck|touched my shoulder|rested on mine] while I stood alone in the kitchen.",
                    "The snow outside showed footprints [walking up to the door|circling the house|stopping at my window], and none walking away.",
                    "I locked myself in the bathroom and watched the handle [turn, very slowly|move, just slightly|rattle once].",
                    "[The candle|The lamp|The fire] burned blue for a moment, then went out.",
                    "The guest book had one name written [over and over|on every page|in fresh ink]: mine.",
                    "My car would not start, and the road back looked [longer than before|darker than it should|like it had moved].",
                    "The cellar door was open, and [cold air|a low hum|the smell of earth] rose from the dark below.",
                    "Out in the field, [a figure|someone|a tall shape] stood perfectly still and watched the house.",
                    "I heard my mother call me from downstairs, [though she had died years ago|in a voice that was almost hers|calm and patient].",
                    "The recording I made that night is silent, except for [one whisper|three knocks|a long breath] near the end.",
                    "[The bed|The sofa|The armchair] was still warm when I came back, and I had been gone an hour.",
                    "Whatever it was, it [knew my name|knew where I slept|had been waiting for me].",
                    "The locals [crossed the road|lowered their voices|stopped talking] whenever the house came up.",
                    "I woke with mud on my feet and [no memory of going out|the back door wide open|leaves in my hair].",
                    "The crows on the roof [did not make a sound|all faced the same window|never flew away].",
                    "In every photograph, [the curtain upstairs|one window|the back door] was open a little wider.",
                    "My reflection [blinked a moment after I did|smiled when I did not|kept looking after I turned away].",
                    "[The well|The pond|The old pump] in the garden gave up water that smelled of [iron|smoke|flowers].",
                    "Something had been [sleeping|sitting|standing] in the spare room: the dust showed where.",
                    "Even now, some nights, I hear [that knock|that voice|those footsteps] again.",
                ],
                ctas: [
                    "If you have a story like this, tell me in the comments, and subscribe for the next one.",
                    "Subscribe, and leave the light on tonight.",
                    "Follow for another story tomorrow night, if you can sleep.",
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
                    "Scientists have studied {topic} for [decades|generations|a long time], and the answers keep [surprising them|changing|getting stranger].",
                    "The short version is simple, but the details are where it gets [interesting|strange|fun].",
                    "Think of it like this: nature rarely [wastes energy|does anything] without a reason.",
                    "Researchers measured it [again and again|in many ways|over many years], and the numbers held.",
                    "It also explains a few everyday things you have probably [noticed|seen|wondered about].",
                    "Here is the part that [surprises most people|most people never hear|gets everyone].",
                    "Historians found records of it going back [centuries|hundreds of years|a very long time].",
                    "Once you see it, you start noticing it [everywhere|all the time|in the strangest places].",
                    "The first people to describe it were [not believed at all|laughed at|mostly ignored].",
                    "It sounds like a myth, but the evidence is [solid|strong|hard to argue with].",
                    "Even experts argued about it until [surprisingly recently|quite recently|the last century].",
                    "Small causes, repeated often, add up to something [remarkable|surprising|huge].",
                    "[It is true.|That is real.|No exaggeration.]",
                    "[Wild, right?|Strange, right?|Surprising, right?]",
                    "The explanation turns out to be [older than anyone expected|simpler than it looks|hiding in plain sight].",
                    "A single careful experiment settled [most of the argument|the question|the debate].",
                    "[Animals and people|Plants and animals] both show traces of it, in different ways.",
                    "The numbers behind it are easy to [check for yourself|look up|verify at home].",
                    "The same pattern turns up in places that have [nothing else in common|no obvious connection].",
                    "For a long time, the accepted answer was simply [wrong|backwards|incomplete].",
                    "It took better instruments, not better guesses, to see it [clearly|properly|at all].",
                    "[Children|Kids] often notice it before adults do.",
                    "The reason fits in a single sentence, once you [know it|see it|hear it].",
                    "And it is still being [studied|measured|argued about] today.",
                    "[Think about that.|Let that sink in.|Remember that.]",
                    "[Simple, and strange.|Simple, but strange.]",
                    "Some of the best clues came from [accidents|mistakes|people looking for something else].",
                    "[In the lab|Under a microscope|In the field], it looks even stranger than it sounds.",
                    "The effect is small on any one day, but [enormous over a lifetime|huge across millions|hard to miss over years].",
                    "People have [told stories about it|wondered about it|argued about it] for as long as there are records.",
                    "A few numbers make it clear: [count it|measure it|time it], and the pattern jumps out.",
                    "[Engineers|Doctors|Designers] now use the same idea in ways you might not expect.",
                    "The common explanation is [half right|only part of the story|close, but not quite].",
                    "There is a good reason it works this way, and it comes down to [energy|survival|simple physics].",
                    "Most of it happens where [nobody can see it|we never look|it is hard to measure].",
                    "[One experiment|A simple test|A clever study] showed it with nothing more than [a stopwatch|a notebook|patience].",
                    "[In other parts of the world|In other species|In the past], the same thing works a little differently.",
                    "[The next time you see it|Next time|Tomorrow], you will know exactly what is going on.",
                    "It is one of those facts that makes the world [a little stranger|more interesting|feel bigger].",
                    "Put simply, [it solves a problem|it saves effort|it is a clever shortcut] that evolution or physics found first.",
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
                    "The idea is simpler than the jargon makes it [sound|seem|look].",
                    "Small amounts, repeated over years, tend to matter more than [timing|luck|clever picks].",
                    "Fees and interest work quietly, which is why they are easy to [ignore|miss|forget].",
                    "A good rule is to understand a product before you [buy it|sign anything|commit to it].",
                    "Write the numbers down, because memory is [an optimist|generous|forgiving].",
                    "Nothing here is a prediction; it is how the [mechanics work|arithmetic works|numbers behave].",
                    "Start with what you can control: [costs, habits and time|spending, saving and patience|fees, habits and time].",
                    "Compare the total cost, not just the [monthly one|monthly payment|first payment].",
                    "An emergency buffer turns a crisis into [an inconvenience|a bad week|a detour].",
                    "Automating a habit removes the need for [willpower|discipline|reminders].",
                    "When something sounds too good to be true, ask who is paid and [how|why|by whom].",
                    "[Keep it simple.|Simple beats clever.|Boring is fine.]",
                    "The cheapest mistake is the one you notice on paper first.",
                    "Time in the market is a different thing from timing the market.",
                    "Read the small print once; it is shorter than the [regret|mistake].",
                    "[A budget|A plan] is not a punishment; it is [a map|a decision made in advance|permission to spend].",
                    "Interest you pay and interest you earn are the same force, [pointed in opposite directions|working for or against you].",
                    "[The first step|Step one] is knowing where the money [goes now|went last month|actually goes].",
                    "[Averages|Headlines] hide the details that matter to [your own situation|one household|you].",
                    "A rule you can keep beats a perfect rule you [abandon|drop|forget] in March.",
                    "[Inflation|Rising prices] quietly [shrinks|erodes|wears down] cash that sits still.",
                    "Ask what happens in a bad year, not only [in a good one|in the best case|in the brochure].",
                    "[Paying yourself first|Saving before spending] turns saving into [a default|a habit|the easy option].",
                    "Every choice here has a trade-off, and naming it [is half the work|makes it easier|helps].",
                    "[Debt|A loan] is a promise [about your future income|your future self has to keep].",
                    "[Diversification|Spreading money around] does not remove risk; it keeps one [surprise|mistake|failure] from being fatal.",
                    "[Check|Review] the plan once a year, [not once a day|not every morning|not after every headline].",
                    "[Small|Modest] fees compound just like returns, [only against you|in the wrong direction].",
                    "[A spending plan|A plan] works best when it has room for [the things you enjoy|a little fun|mistakes].",
                    "The price you see is rarely [the price you pay|the whole price|the full cost] once extras are added.",
                    "[Insurance|Cover] is for the losses you could not [absorb|recover from|pay for yourself], not for every small one.",
                    "[A higher rate|A bigger return] usually comes with [more risk|a catch|strings attached], even when nobody says so.",
                    "The order matters: [expensive debt first|the buffer first|high interest first], then the rest.",
                    "[Your future self|The person you are in ten years] will thank you for [boring, steady choices|a small start today|each automatic transfer].",
                    "A quick calculation [on the back of an envelope|with a calculator|on your phone] often answers the question.",
                    "Money decisions made in a hurry [tend to cost more|rarely age well|are the expensive ones].",
                    "[Rewards|Points and perks] are designed to [change what you buy|keep you spending|feel like savings].",
                    "Know which of your costs are fixed and which ones [you can change|bend|are choices].",
                    "[Your income|A raise] only helps if [the spending does not rise with it|some of it is kept|a part of it is saved].",
                    "[Patience|Consistency] is the least exciting part of money, and [the most effective|the most reliable|often the most profitable].",
                ],
                ctas: ["Subscribe for calm, plain money explainers.", "Follow for more plain-spoken money basics.",
                       "Tell me which money topic confuses you most, and I will explain it next."])
        }
    }
}
