/// The kinds of channel the system runs. A channel's type picks its content pipeline's defaults.
public enum ChannelType: String, Sendable, Codable, CaseIterable, Hashable {
    case horror
    case facts
    case finance
}

extension ChannelType {
    /// The sentence a channel of this type must end its script with (the finance channel's), which the
    /// script generators ask for, the validator checks and the publisher adds to the description.
    public var disclaimer: String? {
        switch self {
        case .horror, .facts: nil
        case .finance: "This video is for education only and is not financial advice."
        }
    }

    /// Decodes with an error that lists the valid types.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let value = ChannelType(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "'\(text)' is not a channel type; use one of \(ChannelType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = value
    }
}
