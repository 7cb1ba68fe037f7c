import Foundation
import YTAutoCore

/// Seeded generators of hostile input for the fuzz tests: numbers that overflow, durations with
/// odd units, times past year 9999, and YAML mutations. A failing case prints its seed, and the
/// same seed replays it.
struct Fuzz {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func pick<T>(_ items: [T]) -> T { items[int(items.count)] }
    mutating func chance(_ percent: Int) -> Bool { int(100) < percent }

    /// A number as a user or a fuzzer might type it.
    mutating func number() -> String {
        switch int(12) {
        case 0: return String(Int64(bitPattern: rng.next()))
        case 1: return pick(["9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616",
                             "99999999999999999999999999", "-1", "0", "-0", "+5", "1_000", "010", "0x1F", "0b101", "0o17"])
        case 2: return "1e\(int(400))"
        case 3: return pick(["-", ""]) + "\(int(10))e\(pick(["", "-", "+"]))\(int(500))"
        case 4: return pick(["nan", "NaN", "inf", "-inf", "infinity", ".inf", "-.inf", ".nan", "1e-400", "4.9e-324"])
        case 5: return (0..<(1 + int(12))).map { _ in String(int(100)) }.joined(separator: ":")
        case 6: return String(int(4000))
        case 7: return "\(int(100)).\(int(100))"
        case 8: return pick(["", " ", "~", "null", "true", "[]", "{}", "'5'", "\"7\"", "5 5", "٣", "５", "½", "1,000"])
        case 9: return String(int(10_000_000)) + String(repeating: "0", count: int(30))
        case 10: return "-" + String(int(1_000_000))
        default: return String(repeating: pick(["9", "1", "0"]), count: 1 + int(40))
        }
    }

    /// A duration as typed: a number and a unit (or none, or a wrong one).
    mutating func duration() -> String {
        number() + pick(["s", "m", "h", "d", "ms", "", "x", "S", "D", "µs", " s", "dd"])
    }

    /// An ISO-8601-ish time, often out of range.
    mutating func time() -> String {
        let year = pick(["0000", "0001", "1969", "1970", "2026", "9999", "10000", "99999", "-001", String(int(100_000))])
        let t = "\(year)-\(pick(["01", "12", "13", "00"]))-\(pick(["01", "31", "32"]))T\(pick(["00", "23", "24"])):00:00\(pick(["Z", ".999Z", "+05:00", ""]))"
        return chance(10) ? number() : t
    }

    /// Something to put where a value goes in YAML.
    mutating func scalar() -> String {
        switch int(6) {
        case 0, 1: return number()
        case 2: return duration()
        case 3: return time()
        case 4: return pick(["[a, b]", "{min: 1}", "\"quoted: text\"", "&a x", "*a", "!!int 5", "!!float 1e300", "|", "- x", "'"])
        default: return String((0..<int(12)).map { _ in pick(Array("abc:- {}[]#&*!|>'\"%@`,?\t\\😀中é\u{301}")) })
        }
    }

    /// A cron expression with numbers, ranges and steps that may be far out of range.
    mutating func cron() -> String {
        let fields = (0..<pick([5, 5, 5, 4, 6])).map { _ -> String in
            switch int(5) {
            case 0: return "*"
            case 1: return "\(pick(["*", String(int(60))]))/\(number())"
            case 2: return "\(number())-\(number())"
            case 3: return "\(int(60))-\(int(60))/\(pick([number(), "1", "7"]))"
            default: return number()
            }
        }
        return "\"" + fields.joined(separator: " ") + "\""
    }

    /// Keys whose values are numbers or durations, and lines that hold them (`duration: {min: 1, max: 2}`).
    static let numberKeys = ["max_attempts", "priority", "catch_up_window", "topic_recency_days", "min", "max", "steps",
                             "daily_quota", "upload_cost", "thumbnail_cost", "chunk_mib", "publish_after_hours"]

    /// The YAML text with one random change.
    mutating func mutate(_ text: String) -> String {
        var lines = text.components(separatedBy: "\n")
        guard !lines.isEmpty else { return scalar() }
        let i = int(lines.count)
        // Half the changes give a number key a hostile value.
        let numeric = lines.indices.filter { j in Self.numberKeys.contains { lines[j].contains("\($0):") } }
        if chance(50), let j = numeric.isEmpty ? nil : pick(numeric), let colon = lines[j].firstIndex(of: ":") {
            lines[j] = String(lines[j][...colon]) + " " + (lines[j].contains("catch_up_window") ? duration() : number())
            return lines.joined(separator: "\n")
        }
        switch int(9) {
        case 0, 1, 2:
            // A new value for a key or a list item (a cron expression, a topic).
            let item = lines[i].trimmingCharacters(in: .whitespaces)
            if item.hasPrefix("- ") {
                let indent = lines[i].prefix { $0 == " " }
                lines[i] = indent + "- " + (chance(50) ? cron() : scalar())
            } else if let colon = lines[i].firstIndex(of: ":") {
                lines[i] = String(lines[i][...colon]) + " " + scalar()
            }
        case 3:
            // A mistyped key.
            var chars = Array(lines[i])
            let letters = chars.indices.filter { chars[$0].isLetter || chars[$0] == "_" }
            if let j = letters.isEmpty ? nil : pick(letters) {
                switch int(3) {
                case 0: chars.remove(at: j)
                case 1: chars.insert(pick(Array("abcdefghijklmnopqrstuvwxyz_")), at: j)
                default: chars[j] = pick(Array("abcdefghijklmnopqrstuvwxyz_"))
                }
            }
            lines[i] = String(chars)
        case 4: lines.insert(lines[i], at: i)  // A duplicated key.
        case 5: lines.remove(at: i)
        case 6: lines.insert(String(repeating: " ", count: int(8)) + pick(["x", "schedul", "- name: z", "topics"]) + ": " + scalar(), at: i)
        case 7: lines.swapAt(i, int(lines.count))
        default:
            let all = lines.joined(separator: "\n")
            return String(all.prefix(int(all.count + 1)))
        }
        return lines.joined(separator: "\n")
    }
}
