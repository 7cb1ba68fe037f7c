/// The kinds of channel the system runs. A channel's type picks its content pipeline's defaults.
public enum ChannelType: String, Sendable, Codable, CaseIterable, Hashable {
    case horror
    case facts
    case finance
}
