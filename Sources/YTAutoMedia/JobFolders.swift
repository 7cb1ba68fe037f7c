import Foundation
import YTAutoCore

/// Where a job's files live, and their removal: the work folder `<work_dir>/<job id>/` (every
/// stage's intermediate files, hundreds of MB for a short, GBs for a long video) and the local
/// publisher's output folder `<output_dir>/<channel>/<job id>-<topic slug>/`.
///
/// One place for the naming, so the pipeline that writes the folders and the commands that
/// remove them (`ytauto-admin prune`) or measure them (`ytauto status`) agree.
public struct JobFolders: Sendable, Hashable {
    public let work: URL
    public let output: URL

    public init(work: URL, output: URL) {
        self.work = work
        self.output = output
    }

    /// `<work_dir>/<job id>/`.
    public func work(jobID: Int64) -> URL { work.appending(path: String(jobID)) }

    /// `<output_dir>/<channel>/<job id>-<topic slug>/`, the slug at most 50 characters of
    /// letters, digits and single dashes.
    public func output(channel: String, jobID: Int64, topic: String?) -> URL {
        let slug = (topic ?? "video").lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        let name = String(String(slug).split(separator: "-").joined(separator: "-").prefix(50))
        return output.appending(path: channel).appending(path: "\(jobID)-\(name)")
    }

    /// Removes `folder` and everything in it; a folder already gone is not an error.
    /// - Returns: the bytes it held on disk.
    @discardableResult
    public static func remove(_ folder: URL) throws -> Int64 {
        guard FileManager.default.fileExists(atPath: folder.path) else { return 0 }
        let bytes = diskUsage(folder)
        try FileManager.default.removeItem(at: folder)
        return bytes
    }

    /// The bytes the files under `folder` occupy on disk (allocated blocks, as `du` counts
    /// them), without following symbolic links; 0 for a folder that does not exist.
    public static func diskUsage(_ folder: URL) -> Int64 {
        var total: Int64 = 0
        var info = stat()
        guard lstat(folder.path, &info) == 0 else { return 0 }
        total += Int64(info.st_blocks) * 512
        guard (info.st_mode & S_IFMT) == S_IFDIR, let walk = FileManager.default.enumerator(atPath: folder.path) else { return total }
        while let relative = walk.nextObject() as? String {
            if lstat(folder.path + "/" + relative, &info) == 0 { total += Int64(info.st_blocks) * 512 }
        }
        return total
    }
}
