/// A stage of the video pipeline, in the order a job runs them: the one list of the pipeline's stages.
///
/// The store's contract keeps stages as text (`job_stages.stage`, ``StagedPipeline/stages``): a stage
/// is stored by its raw value, and a diagnostic pipeline may name stages of its own.
public enum Stage: String, Sendable, Hashable, CaseIterable, Codable {
    case script, narration, images, clips, compose, thumbnail, publish

    /// Every stage's name, in the order a job runs them.
    public static var names: [String] { allCases.map(\.rawValue) }
}
