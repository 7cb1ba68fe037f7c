import Foundation
import YTAutoCore

/// Writing artifacts safely: to a temporary name beside the target, then renamed into place,
/// so a crash never leaves a half-written file under a final name.
public enum Files {
    /// Why `path` cannot be a folder this process writes in, or nil when it is one or can be made:
    /// the nearest part of it that exists must be a folder (not a file) that this process may write.
    public static func folderProblem(_ path: String) -> String? {
        let nearest = nearestExisting(path)
        guard nearest.isFolder else { return "\(nearest.path) is a file, not a folder" }
        guard access(nearest.path, W_OK | X_OK) == 0 else { return "the folder \(nearest.path) cannot be written by this user" }
        return nil
    }

    /// The nearest part of `path` that exists (itself, or the closest folder above it), whether it
    /// is a folder, and the part just below it that does not exist (nil when `path` exists).
    public static func nearestExisting(_ path: String) -> (path: String, isFolder: Bool, firstMissing: String?) {
        var url = URL(fileURLWithPath: path).standardizedFileURL
        var missing: String?
        while true {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
                return (url.path, isFolder.boolValue, missing)
            }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { return (url.path, true, missing) }
            missing = url.path
            url = parent
        }
    }

    /// Whether `path` is a folder that exists.
    public static func isFolder(_ path: String) -> Bool {
        let nearest = nearestExisting(path)
        return nearest.firstMissing == nil && nearest.isFolder
    }

    /// A temporary path beside `path` with the same extension (ffmpeg picks formats by it).
    public static func temporary(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let base = url.deletingPathExtension().lastPathComponent
        return url.deletingLastPathComponent().appending(path: ".\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" + (ext.isEmpty ? "" : ".\(ext)")).path
    }

    /// The path a ``temporary(for:)`` path stands in for; any other path as it is.
    public static func target(ofTemporary path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let name = url.lastPathComponent
        guard name.hasPrefix("."), let tmp = name.range(of: ".tmp-", options: .backwards) else { return path }
        let base = String(name[name.index(after: name.startIndex)..<tmp.lowerBound])
        let rest = name[tmp.upperBound...]  // PID-RANDOM[.ext]
        let ext = rest.firstIndex(of: ".").map { String(rest[$0...]) } ?? ""
        return url.deletingLastPathComponent().appending(path: base + ext).path
    }

    /// Runs `write` on a temporary path, then renames it to `path`. Removes the temporary on failure.
    @discardableResult
    public static func atomically<T>(_ path: String, _ write: (String) async throws -> T) async throws -> T {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = temporary(for: path)
        do {
            let value = try await write(tmp)
            try moveIntoPlace(tmp, path)
            return value
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }

    public static func write(_ data: Data, to path: String) async throws {
        try writeNow(data, to: path)
    }

    /// ``write(_:to:)`` without suspending: for callers that hold a file lock across the write.
    public static func writeNow(_ data: Data, to path: String) throws {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        let tmp = temporary(for: path)
        do {
            try data.write(to: URL(fileURLWithPath: tmp))
            try moveIntoPlace(tmp, path)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }

    private static func moveIntoPlace(_ tmp: String, _ path: String) throws {
        guard rename(tmp, path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "cannot rename \(tmp) to \(path): \(String(cString: strerror(errno)))"])
        }
    }

    /// The artifact record of a finished file: path, size and SHA-256.
    public static func artifact(_ path: String) throws -> Artifact {
        let (hex, bytes) = try Checksum.sha256Hex(fileAt: URL(fileURLWithPath: path))
        return Artifact(path: path, bytes: bytes, sha256: hex)
    }

    /// Per-item reuse inside a stage (a sentence's audio, a scene's clip): after an item is
    /// renamed into place, a sidecar `<file>.done` records its inputs' key, size and SHA-256.
    /// A retried stage reuses an item whose sidecar matches its key and its file.
    public static func reusable(_ path: String, key: String) -> Bool {
        guard let text = try? String(contentsOfFile: path + ".done", encoding: .utf8) else { return false }
        let parts = text.split(separator: " ").map(String.init)
        guard parts.count == 3, parts[0] == Checksum.sha256Hex(key),
              let (hex, bytes) = try? Checksum.sha256Hex(fileAt: URL(fileURLWithPath: path)) else { return false }
        return parts[1] == String(bytes) && parts[2] == hex
    }

    public static func markDone(_ path: String, key: String) async throws {
        let (hex, bytes) = try Checksum.sha256Hex(fileAt: URL(fileURLWithPath: path))
        try await write(Data("\(Checksum.sha256Hex(key)) \(bytes) \(hex)".utf8), to: path + ".done")
    }

    /// Makes an item unless a reusable one is in place; returns whether it was made now.
    @discardableResult
    public static func item(_ path: String, key: String, make: (String) async throws -> Void) async throws -> Bool {
        if reusable(path, key: key) { return false }
        try await atomically(path) { tmp in try await make(tmp) }
        try await markDone(path, key: key)
        return true
    }
}
