/// One video being made: the seed's `VideoProject(id, channel, script, outputPath, status)`.
///
/// Status moves `pending → inProgress → completed | failed`. A finished project
/// (completed or failed) does not change again; an invalid move throws
/// ``VideoProject/InvalidTransition`` instead of silently overwriting the outcome.
public struct VideoProject: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        case pending
        case inProgress(stage: String)
        case completed
        case failed(code: String, message: String)

        public var isFinished: Bool {
            switch self {
            case .completed, .failed: true
            case .pending, .inProgress: false
            }
        }
    }

    public struct InvalidTransition: Error, Sendable, CustomStringConvertible {
        public let from: Status
        public let to: Status
        public var description: String { "video project cannot move from \(from) to \(to)" }
    }

    public let id: String
    public let channel: ChannelType
    public var script: Script?
    public var outputPath: String?
    public private(set) var status: Status
    /// The narration, one segment per sentence, in order, with measured durations.
    public var narration: [AudioSegment] = []
    /// The scene clips, in order.
    public var clips: [VisualAsset] = []
    /// The narration as one file (the segments concatenated).
    public var narrationPath: String?
    public var musicPath: String?
    public var captionsPath: String?
    public var format: VideoFormat = .long

    public init(id: String, channel: ChannelType, script: Script? = nil, outputPath: String? = nil) {
        self.id = id
        self.channel = channel
        self.script = script
        self.outputPath = outputPath
        self.status = .pending
    }

    /// Marks a stage as started. Allowed while the project is not finished.
    public mutating func start(stage: String) throws(InvalidTransition) {
        try move(to: .inProgress(stage: stage))
    }

    /// Marks the project completed with its finished video.
    public mutating func markCompleted(outputPath: String) throws(InvalidTransition) {
        try move(to: .completed)
        self.outputPath = outputPath
    }

    /// Marks the project failed with the error's stable code and message.
    public mutating func markFailed(_ error: any YTAutoError) throws(InvalidTransition) {
        try move(to: .failed(code: error.code, message: error.message))
    }

    private mutating func move(to next: Status) throws(InvalidTransition) {
        guard !status.isFinished else { throw InvalidTransition(from: status, to: next) }
        if case .completed = next, case .pending = status { throw InvalidTransition(from: status, to: next) }
        status = next
    }
}
