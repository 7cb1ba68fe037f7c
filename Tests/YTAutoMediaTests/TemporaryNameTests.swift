import Foundation
import Testing
import YTAutoSupport

/// An error about a temporary file names the file it stands in for (a full disk while the video
/// was copied into `output_dir` named `.video.tmp-4242-17.mp4`).
@Suite struct TemporaryNameTests {
    @Test(arguments: ["/out/facts/1-x/video.mp4", "/w/7/narration.json", "/w/7/clips/seg0002.mp4", "/w/.hidden", "/w/no-extension",
                      "/w/a.tar.gz", "/w/.tmp-odd.txt", "relative/thumbnail.jpg"])
    func aTemporaryPathLeadsBackToItsFile(path: String) {
        let tmp = Files.temporary(for: path)
        #expect(tmp != path)
        #expect(Files.target(ofTemporary: tmp) == URL(fileURLWithPath: path).path)
    }

    @Test func otherPathsAreLeftAsTheyAre() {
        for path in ["/out/facts/1-x/video.mp4", "/w/.hidden", "/w/a.tmp-1", "/"] {
            #expect(Files.target(ofTemporary: path) == path)
        }
    }
}
