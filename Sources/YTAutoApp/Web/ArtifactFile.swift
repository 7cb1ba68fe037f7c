import Foundation
import HTTPTypes
import Hummingbird
import YTAutoCore
import YTAutoMedia

extension WebConsole {
    /// A file of a job, by its stage and its place in that stage's recorded artifacts: only a
    /// file the store recorded for that job is served (no path comes from the request), with
    /// HTTP range requests so a player can seek.
    func artifact(_ request: Request, _ context: ConsoleContext) async throws -> Response {
        let id = try Self.jobID(context)
        guard let stageName = context.parameters.get("stage"), let indexText = context.parameters.get("index"), let index = Int(indexText) else {
            throw HTTPError(.badRequest, message: "an artifact is /jobs/ID/artifacts/STAGE/N")
        }
        let stages = try await store.stages(jobID: id)
        guard let stage = stages.first(where: { $0.stage == stageName }), stage.artifacts.indices.contains(index) else {
            throw HTTPError(.notFound, message: "job \(id) has no artifact \(index) of stage \(stageName)")
        }
        let path = stage.artifacts[index].path
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              (attributes[.type] as? FileAttributeType) == .typeRegular, let size = (attributes[.size] as? NSNumber)?.intValue else {
            let name = URL(fileURLWithPath: path).lastPathComponent
            throw HTTPError(.notFound, message: "job \(id)'s \(name) is recorded but is not here: \(whyMissing(path, jobSucceeded: try await store.job(id: id)?.state == .succeeded))")
        }
        var headers: HTTPFields = [.contentType: Self.mediaType(path), .acceptRanges: "bytes", .cacheControl: "no-cache"]
        headers[.xContentTypeOptions] = "nosniff"
        let range: ClosedRange<Int>
        let status: HTTPResponse.Status
        // A range in another unit than bytes is ignored, as RFC 9110 (14.2) requires: the whole file.
        if let header = request.headers[.range], header.lowercased().hasPrefix("bytes=") {
            guard let r = Self.byteRange(header, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            range = r
            status = .partialContent
            headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound)/\(size)"
        } else {
            range = 0...max(0, size - 1)
            status = .ok
        }
        headers[.contentLength] = String(size == 0 ? 0 : range.count)
        if size == 0 { return Response(status: .ok, headers: headers) }
        let body = try await FileIO().loadFile(path: path, range: range, context: context)
        return Response(status: status, headers: headers, body: body)
    }

    /// Why a file the store recorded for a job is not on disk, in an operator's words.
    func whyMissing(_ path: String, jobSucceeded: Bool) -> String {
        if case .success(let folders) = folders, path.hasPrefix(folders.output.standardizedFileURL.path + "/") {
            return "it was published to the output folder (\(path)) and has been removed or moved from there since"
        }
        return jobSucceeded
            ? "the job succeeded, so its work files were tidied away (what was published is in the output folder, or on YouTube)"
            : "it was removed, or made on another host whose work folder is not shared with this one"
    }

    /// One range of a `Range: bytes=…` header (`a-b`, `a-`, `-n`), clamped to the file; nil when
    /// it cannot be satisfied or is not one byte range (several ranges are answered with the first).
    /// A position too large for an integer is read as the largest one, so it clamps like any
    /// other past the end (RFC 9110, 14.1.1: a last position or suffix beyond the file means its end).
    static func byteRange(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), size > 0 else { return nil }
        let first = header.dropFirst("bytes=".count).split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let parts = first.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        func position(_ text: String) -> Int? {
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
            return Int(text) ?? Int.max
        }
        if parts[0].isEmpty {
            guard let n = position(parts[1]), n > 0 else { return nil }
            return max(0, size - n)...(size - 1)
        }
        guard let start = position(parts[0]), start < size else { return nil }
        if parts[1].isEmpty { return start...(size - 1) }
        guard let end = position(parts[1]), end >= start else { return nil }
        return start...min(end, size - 1)
    }

    static func mediaType(_ path: String) -> String {
        switch URL(fileURLWithPath: path).pathExtension.lowercased() {
        case "mp4": "video/mp4"
        case "jpg", "jpeg": "image/jpeg"
        case "png": "image/png"
        case "wav": "audio/wav"
        case "m4a": "audio/mp4"
        case "json": "application/json; charset=utf-8"
        case "ass", "srt", "vtt", "txt": "text/plain; charset=utf-8"
        default: "application/octet-stream"
        }
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
