import Foundation
import YTAutoCore

/// The diagnostic pipeline of `ytauto worker --synthetic-stage-ms N`: the real stage names,
/// each of which only sleeps. For load and chaos tests; it makes no video.
public struct SyntheticPipeline: StagedPipeline {
    public let stageDuration: Duration
    /// If set, each stage also writes a small file here (temporary name, then renamed) and records it,
    /// so a chaos run can check that no recorded artifact is corrupt.
    public let artifactDirectory: URL?
    public var stages: [String] { Stage.names }
    /// It runs only jobs enqueued for diagnostics, never a channel's real video.
    public var kind: JobKind { .synthetic }
    public var name: String { "synthetic \(Int((stageDuration.seconds * 1000).rounded())) ms" }

    public init(stageDuration: Duration, artifactDirectory: URL? = nil) {
        self.stageDuration = stageDuration
        self.artifactDirectory = artifactDirectory
    }

    public func run(stage: String, job: Job, context: StageContext) async throws -> StageOutcome {
        if context.dryRun && stage == Stage.publish.rawValue { return .skipped }
        try await Task.sleep(for: stageDuration)
        guard let artifactDirectory else { return .done([]) }
        let folder = artifactDirectory.appending(path: String(job.id))
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appending(path: "\(stage).bin")
        let tmp = folder.appending(path: ".\(stage).tmp-\(getpid())")
        var bytes = [UInt8](repeating: 0, count: 16 << 10)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: Int(job.id) &* 31 &+ i &* 7 &+ stage.count) }
        let data = Data(bytes)
        try data.write(to: tmp)
        guard rename(tmp.path, path.path) == 0 else { throw CocoaError(.fileWriteUnknown) }
        return .done([Artifact(path: path.path, bytes: Int64(data.count), sha256: Checksum.sha256Hex(data))])
    }
}
