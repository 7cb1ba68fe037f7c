import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoStore
import YTAutoSupport
import YTAutoTestSupport

/// A media library with the footage ledger (a real SQLite store): a channel's next videos take
/// the matching files it has not shown lately while there are some, then reuse rather than fail.
@Suite struct LibraryLedgerTests {
    let dir = TempDir("ytauto-library-ledger")

    @Test func aChannelsNextVideosPreferFilesItHasNotShownLately() async throws {
        let root = dir.url.appending(path: "library")
        for name in ["forest/pines.png", "forest/oaks.png", "forest/moss.png", "city/street.png"] {
            let url = root.appending(path: name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        let store = try SQLiteJobStore(path: dir.path("q.db"))
        let tools = try ToolRunner()
        func library(_ channel: String) -> MediaLibrary {
            MediaLibrary(root: root, tools: tools, ledger: store, channel: channel, reuseDays: 30)
        }
        let scene = [FootageQuery(index: 0, text: "Deep in the forest.", topic: "forest walks", seconds: 5)]
        var shown: [String] = []
        for job in Int64(1)...3 {
            let asset = try #require(try await library("facts").footage(for: scene, job: job).first)
            shown.append(URL(fileURLWithPath: asset.path).lastPathComponent)
        }
        // Three forest pictures, three videos: each its own.
        #expect(Set(shown) == ["pines.png", "oaks.png", "moss.png"], "\(shown)")
        #expect(try await store.footageUsed(channel: "facts", days: 30, excludingJob: 0)
                == ["library:image:forest/pines.png", "library:image:forest/oaks.png", "library:image:forest/moss.png"])
        // All shown lately: a fourth video still gets a forest picture, not the street.
        let fourth = try #require(try await library("facts").footage(for: scene, job: 4).first)
        #expect(fourth.path.contains("/forest/"), "\(fourth.path)")
        // Without a reuse window, nothing counts as shown: the choice is the library's own for the job.
        let plain = try #require(try await MediaLibrary(root: root, tools: tools).footage(for: scene, job: 2).first)
        let windowless = try #require(try await MediaLibrary(root: root, tools: tools, ledger: store, channel: "facts", reuseDays: 0)
            .footage(for: scene, job: 2).first)
        #expect(plain.path == windowless.path)
    }
}
