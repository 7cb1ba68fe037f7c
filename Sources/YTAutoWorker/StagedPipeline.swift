import Foundation
import YTAutoCore

/// The diagnostic pipeline of `ytauto worker --synthetic-stage-ms N`: the real stage names,
/// each of which only sleeps. For load and chaos tests; it makes no video.
public struct SyntheticPipeline: StagedPipeline {
    public static let stageNames = ["script", "narration", "images", "clips", "compose", "thumbnail", "publish"]
    public let stageDuration: Duration
    public var stages: [String] { Self.stageNames }

    public init(stageDuration: Duration) { self.stageDuration = stageDuration }

    public func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
        if context.dryRun && stage == "publish" { return .skipped }
        try await Task.sleep(for: stageDuration)
        return .done([])
    }
}
