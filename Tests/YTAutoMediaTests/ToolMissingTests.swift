import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// A program the pipeline runs goes away after the worker found it (an upgrade, an
/// `apt-get remove`): the stage fails as `media.tool_missing`, naming the package, not as an
/// unreadable file; and once the program is back the stage runs.
@Suite struct ToolMissingTests {
    let dir = TempDir("ytauto-toolgone")

    func job(_ id: Int64) -> Job { Job.running(id, channel: "facts", topic: "why the sky is blue") }

    @Test func aToolGoneAfterStartUpIsToolMissingNamingItsPackageAndRetryable() async throws {
        // The real binaries, copied into a folder of their own, so one can be taken away.
        let installed = try ToolRunner()
        let bin = dir.path("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for tool in MediaTool.allCases {
            try FileManager.default.copyItem(atPath: try #require(installed.paths[tool]), toPath: "\(bin)/\(tool.rawValue)")
        }
        let tools = try ToolRunner(environment: ["PATH": bin])
        #expect(tools.paths[.ffmpeg] == "\(bin)/ffmpeg")
        var channel = ChannelConfig.defaults(for: .facts)
        channel.format = .short
        channel.durationRange = .init(min: 8, max: 20)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: tools)
        let j = job(3)
        // The script stage measures the speaking rate (through libespeak-ng, in this process).
        #expect(try await pipeline.run(stage: "script", job: j, dryRun: false) != .skipped)

        func narrationFailure() async throws -> JobFailure {
            let error = await #expect(throws: (any Error).self) { try await pipeline.run(stage: "narration", job: j, dryRun: false) }
            // As the worker records it.
            return JobFailure(PipelineError(stage: "narration", underlying: try #require(error)))
        }
        let ffmpeg = "\(bin)/ffmpeg"
        // Not executable any more.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: ffmpeg)
        let notExecutable = try await narrationFailure()
        #expect(notExecutable.code == "media.tool_missing", "\(notExecutable.code): \(notExecutable.message)")
        #expect(notExecutable.isRetryable)
        // Deleted.
        try FileManager.default.removeItem(atPath: ffmpeg)
        let deleted = try await narrationFailure()
        #expect(deleted.code == "media.tool_missing", "\(deleted.code): \(deleted.message)")
        #expect(deleted.isRetryable)
        #expect(deleted.message.contains(
            "ffmpeg is not installed or not on PATH (looked in \(ffmpeg), gone or no longer executable, then \(bin)): install the Debian package ffmpeg"),
            "\(deleted.message)")

        // Installed again: the same runner finds it and the stage goes on.
        try FileManager.default.copyItem(atPath: try #require(installed.paths[.ffmpeg]), toPath: ffmpeg)
        #expect(try await pipeline.run(stage: "narration", job: j, dryRun: false) != .skipped)
    }
}
