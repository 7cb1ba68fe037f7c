import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoSupport
import YTAutoTestSupport

/// The media pipeline's tidying after a job succeeded, and the folder naming and measuring that
/// `prune` and `status` share with it, on real files.
@Suite struct JobFoldersTests {
    let dir = TempDir("ytauto-folders")

    func job(_ id: Int64, topic: String?) -> Job {
        let now = Date()
        return Job(id: id, channel: "facts", topic: topic, payload: "{}", state: .succeeded, priority: 0, runAt: now, attempt: 1,
                   maxAttempts: 3, leaseOwner: nil, leaseToken: 1, leaseExpiresAt: nil, cancelRequested: false, currentStage: nil,
                   uniqueKey: nil, lastErrorCode: nil, lastErrorMessage: nil, createdAt: now, updatedAt: now, finishedAt: now)
    }

    @Test func aSucceededJobLosesItsWorkFolderButADryRunKeepsIt() async throws {
        let pipeline = MediaPipeline(channels: [ChannelConfig.defaults(for: .facts)], workDirectory: dir.url.appending(path: "work"),
                                     outputDirectory: dir.url.appending(path: "out"), tools: try ToolRunner())
        let work = pipeline.folders.work(jobID: 4)
        try FileManager.default.createDirectory(at: work.appending(path: "clips"), withIntermediateDirectories: true)
        try Data(repeating: 1, count: 300_000).write(to: work.appending(path: "clips/seg0000.mp4"))
        #expect(JobFolders.diskUsage(work) >= 300_000)

        try await pipeline.succeeded(job: job(4, topic: "t"), dryRun: true)
        #expect(FileManager.default.fileExists(atPath: work.appending(path: "clips/seg0000.mp4").path))  // its video is only here
        try await pipeline.succeeded(job: job(4, topic: "t"), dryRun: false)
        #expect(!FileManager.default.fileExists(atPath: work.path))
        #expect(JobFolders.diskUsage(work) == 0)
        try await pipeline.succeeded(job: job(4, topic: "t"), dryRun: false)  // already gone: no error
        #expect(FileManager.default.fileExists(atPath: dir.url.appending(path: "work").path))  // only the job's own folder went
    }

    @Test func theOutputFolderIsNamedAsThePublisherNamesIt() {
        let folders = JobFolders(work: dir.url.appending(path: "work"), output: dir.url.appending(path: "out"))
        #expect(folders.output(channel: "facts", jobID: 12, topic: "Why is the sky blue? (really)").lastPathComponent == "12-why-is-the-sky-blue-really")
        #expect(folders.output(channel: "facts", jobID: 13, topic: nil).path == dir.url.appending(path: "out/facts/13-video").path)
    }
}
