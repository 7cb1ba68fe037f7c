import Foundation
import YTAutoCore

/// Reading a ``Script`` out of a model's answer.
enum ScriptJSON {
    /// Why an answer is not a script.
    struct Unparseable: Error, Sendable {
        let problem: String
    }

    /// The outermost `{…}` of `text`: models wrap JSON in prose or ``` fences despite the prompt.
    static func outermostObject(_ text: String) -> Substring? {
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close else { return nil }
        return text[open...close]
    }

    /// Parses `{title, hook, body, cta, visuals}`. A body given as a list of paragraphs is joined;
    /// `visuals` may be missing.
    static func parse(_ text: String, channel: ChannelType) throws -> Script {
        guard let object = outermostObject(text) else { throw Unparseable(problem: "it contains no JSON object") }
        let json: [String: Any]
        do {
            guard let j = try JSONSerialization.jsonObject(with: Data(object.utf8)) as? [String: Any] else {
                throw Unparseable(problem: "it is not a JSON object")
            }
            json = j
        } catch let e as Unparseable {
            throw e
        } catch {
            throw Unparseable(problem: "it is not valid JSON")
        }
        func field(_ name: String) -> String? {
            if let s = json[name] as? String { return s.trimmingCharacters(in: .whitespacesAndNewlines) }
            if let list = json[name] as? [String] { return list.joined(separator: "\n\n") }
            return nil
        }
        let names = ["title", "hook", "body", "cta"]
        let missing = names.filter { field($0) == nil }
        guard missing.isEmpty, let title = field("title"), let hook = field("hook"), let body = field("body"), let cta = field("cta") else {
            throw Unparseable(problem: "the string field(s) \(missing.joined(separator: ", ")) are missing")
        }
        // The visual searches are a help, not a requirement: a model that leaves them out still wrote a script.
        let visuals = (json["visuals"] as? [Any])?.compactMap { ($0 as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
        return Script(title: title, hook: hook, body: body, cta: cta, channel: channel, visuals: visuals?.isEmpty == false ? visuals : nil)
    }
}
