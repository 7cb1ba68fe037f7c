import Foundation
import YTAutoCore
import YTAutoSupport

/// The default "upload": copies the video, the thumbnail, the captions (`captions.vtt`) and a `metadata.json` into
/// `<output_dir>/<channel>/<job id>-<slug>/`. Idempotent: publishing the same files again changes nothing.
public struct LocalPublisher: VideoPublisher {
    public let folder: URL

    /// `metadata.json`: what an upload would have sent.
    struct Metadata: Codable, Hashable {
        var title: String
        var description: String
        var tags: [String]
    }

    /// Pretty and key-sorted, as the file has always been written, so publishing again finds it unchanged.
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }()

    public init(folder: URL) { self.folder = folder }

    /// Copies `source` into the folder as `name`, atomically; a file already there with the same
    /// bytes is left alone, so publishing again changes nothing.
    func place(_ source: URL, as name: String) async throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let target = folder.appending(path: name).path
        if let a = try? Files.artifact(target), let b = try? Files.artifact(source.path), a.sha256 == b.sha256 { return }
        try await Files.atomically(target) { tmp in try FileManager.default.copyItem(atPath: source.path, toPath: tmp) }
    }

    public func publish(video: URL, title: String, description: String, tags: [String], thumbnail: URL?, captions: URL?) async throws -> PublishResult {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try await place(video, as: "video.mp4")
        if let thumbnail { try await place(thumbnail, as: "thumbnail.jpg") }
        if let captions { try await place(captions, as: "captions.vtt") }
        let data = try Self.encoder.encode(Metadata(title: title, description: description, tags: tags))
        let metaPath = folder.appending(path: "metadata.json").path
        if (try? Data(contentsOf: URL(fileURLWithPath: metaPath))) != data { try await Files.write(data, to: metaPath) }
        return PublishResult(videoID: "local:" + folder.lastPathComponent, url: folder.appending(path: "video.mp4").absoluteString)
    }
}
