/// A stage of the video pipeline, in the order a job runs them: the one list of the pipeline's stages.
///
/// The store's contract keeps stages as text (`job_stages.stage`, ``StagedPipeline/stages``): a stage
/// is stored by its raw value, and a diagnostic pipeline may name stages of its own.
public enum Stage: String, Sendable, Hashable, CaseIterable, Codable {
    case script, narration, images, clips, compose, thumbnail, publish

    /// Every stage's name, in the order a job runs them.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// The earlier stages whose files this stage reads (``StagedPipeline/inputs(of:)``): when one
    /// of them is made again with other files, this stage is made again too, even where its own
    /// files are still intact.
    public var inputs: [Stage] {
        switch self {
        case .script: []
        case .narration: [.script]
        // Scenes are timed to the narration's sentences.
        case .images: [.script, .narration]
        // The captions are cut from the narration; the pictures from the stills.
        case .clips: [.narration, .images]
        // The narration, the music a footage source chose (images), the segments and captions (clips).
        case .compose: [.narration, .images, .clips]
        // The title, and a scene's still.
        case .thumbnail: [.script, .images]
        // The title, description and credits, the captions file, the video and the thumbnail.
        case .publish: [.script, .narration, .images, .compose, .thumbnail]
        }
    }
}
