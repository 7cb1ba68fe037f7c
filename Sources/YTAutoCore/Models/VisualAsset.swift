/// An image or a clip: the seed's `VisualAsset(path, type, duration, prompt)`.
public struct VisualAsset: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable {
        case image
        case video
    }

    public var path: String
    public var type: Kind
    /// Seconds on screen; `nil` for a still image not yet placed on the timeline.
    public var duration: Double?
    public var prompt: String?

    public init(path: String, type: Kind, duration: Double? = nil, prompt: String? = nil) {
        self.path = path
        self.type = type
        self.duration = duration
        self.prompt = prompt
    }
}

/// The camera moves a still image can be animated with.
public enum Motion: String, Sendable, Codable, CaseIterable, Hashable {
    case zoomIn = "zoom_in"
    case zoomOut = "zoom_out"
    case panLeft = "pan_left"
    case panRight = "pan_right"
    case panUp = "pan_up"
    case panDown = "pan_down"
}
