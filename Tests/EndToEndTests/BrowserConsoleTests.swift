import Foundation
import Testing
import YTAutoCore
import YTAutoTestSupport

/// The console in a real browser (headless Chromium over its DevTools protocol), as a person uses
/// it: every page at a desktop's and a phone's width without sideways scrolling, a topic that is
/// markup shown as text, the video played and sought, the list filtered, a failed job retried, a
/// queued one cancelled through its confirmation, every failed job retried in bulk; each action
/// checked in the database; and no JavaScript error on any page.
@Suite(.enabled(if: Browser.available, "Chromium is not installed here (bash .ci/deps installs it)"))
struct BrowserConsoleTests {
    @Test func aPersonWatchesFiltersRetriesAndCancelsInABrowser() async throws {
        let web = WebConsoleTests()
        let (console, store, _) = try await web.start(.sqlite)
        defer { console.child.kill(SIGKILL) }
        let xss = "<script>alert(1)</script>"
        let first = try await web.failed(store, topic: xss)
        let second = try await web.failed(store, topic: "second")
        let queued = try await store.enqueue(NewJob(channel: "facts", topic: "waiting")).job.id
        // A finished job with a real two-second H.264 video as its compose stage's file.
        let video = web.dir.path("video.mp4")
        let made = try await Child(URL(fileURLWithPath: "/usr/bin/ffmpeg"), ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "2",
                                                     "-pix_fmt", "yuv420p", "-c:v", "libx264", "-movflags", "+faststart", video]).wait()
        try #require(made.status == 0, "\(made.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: video))
        let played = try await store.enqueue(NewJob(channel: "facts", topic: "with a video")).job.id
        let lease = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: played))
        try await store.checkpoint(lease, stage: "compose", state: .succeeded,
                                   artifacts: [Artifact(path: video, bytes: Int64(data.count), sha256: Checksum.sha256Hex(data))], startedAt: Date(), error: nil)
        _ = try await store.complete(lease)
        let base = console.base

        let browser = try await blocking { try Browser() }
        defer { browser.close() }
        try await blocking(checking: { check in
            for phone in [false, true] {
                try browser.phone(phone)
                try browser.open(base + "/")
                if phone { check.expect(try browser.evaluate("window.screen.width") as? Int == 390) }
                for path in ["/", "/jobs", "/jobs?state=failed", "/jobs/\(first)", "/jobs/\(played)", "/review", "/channels", "/workers", "/audit"] {
                    try browser.open(base + path)
                    // Against the device's width: a phone's browser would zoom a wider page out instead.
                    let overflow = try browser.evaluate("document.documentElement.scrollWidth - \(phone ? "390" : "window.innerWidth")") as? Int
                    check.expect((overflow ?? 99) <= 1, "\(path) scrolls sideways by \(overflow ?? -1) px at a \(phone ? "phone" : "desktop")'s width")
                    check.expect(try browser.evaluate("document.querySelector('nav a.active') !== null") as? Bool == true, "\(path) has no navigation")
                }
            }
            try browser.phone(false)
            // Markup from a topic is text.
            try browser.open(base + "/jobs/\(first)")
            check.expect(try browser.evaluate("document.querySelector('h1').textContent") as? String == "Job \(first): \(xss)")
            // The video plays and seeks (the console serves byte ranges).
            try browser.open(base + "/jobs/\(played)")
            let times = try browser.evaluate("""
                (async () => {
                  const v = document.getElementById('video');
                  await v.play();
                  await new Promise(r => setTimeout(r, 800));
                  v.pause();
                  const playedTo = v.currentTime;
                  v.currentTime = 1.5;
                  await new Promise(r => v.addEventListener('seeked', r, {once: true}));
                  return [playedTo, v.currentTime, v.duration];
                })()
                """) as? [Double]
            let t = try #require(times, "the video did not report its times")
            check.expect(t[0] > 0.1, "it did not play: \(t)")
            check.expect(abs(t[1] - 1.5) < 0.1 && abs(t[2] - 2) < 0.2, "it did not seek: \(t)")
            // The list, filtered to the failed jobs, newest first.
            try browser.open(base + "/jobs")
            try browser.evaluate("document.querySelector('select[name=state]').value = 'failed'")
            try browser.clickAndWait("form.filters button")
            let shown = try browser.evaluate("[...document.querySelectorAll('tbody tr td:first-child a')].map(a => a.textContent)") as? [String]
            check.expect(shown == [String(second), String(first)], "the failed jobs shown: \(shown ?? [])")
            // Retry the first from its page.
            try browser.open(base + "/jobs/\(first)")
            try browser.clickAndWait("#retry")
            check.expect(try browser.evaluate("document.querySelector('.notice').textContent") as? String == "retried")
        })
        #expect(try await store.job(id: first)?.state == .queued)

        // Cancel the waiting job: the page asks first, the person says yes.
        try await blocking(checking: { check in
            try browser.open(base + "/jobs/\(queued)")
            try browser.clickAndWait("#cancel")
            check.expect(browser.dialogs == ["Cancel job \(queued)?"], "dialogs: \(browser.dialogs)")
        })
        #expect(try await store.job(id: queued)?.state == .cancelled)

        // Retry every failed job: the console says how many, then does it.
        try await blocking(checking: { check in
            try browser.open(base + "/jobs?state=failed")
            try browser.clickAndWait("form[action='/jobs/bulk'] button")
            check.expect(try browser.evaluate("document.querySelector('h1').textContent") as? String == "Retry 1 jobs?")
            try browser.clickAndWait("#confirm")
            check.expect((try browser.evaluate("document.querySelector('.notice').textContent") as? String)?.hasPrefix("retry: 1 of 1") == true)
        })
        #expect(try await store.job(id: second)?.state == .queued)
        // Pause a channel from its page (it asks first), see it paused, resume it.
        try await blocking(checking: { check in
            try browser.open(base + "/channels")
            try browser.clickAndWait("#pause-facts")
            check.expect(browser.dialogs.last == "Pause facts? Its slots will make no job until it is resumed.")
            check.expect(try browser.evaluate("document.querySelector('#channel-facts .state-paused') !== null") as? Bool == true)
        })
        #expect(try await store.pausedChannels().map(\.channel) == ["facts"])
        try await blocking(checking: { check in
            try browser.clickAndWait("#resume-facts")
            check.expect(try browser.evaluate("document.querySelector('#pause-facts') !== null") as? Bool == true)
        })
        #expect(try await store.pausedChannels().isEmpty)
        // Run now asks first, then makes one job and shows it.
        let before = try await store.stats().byState[.queued, default: 0]
        try await blocking(checking: { check in
            try browser.clickAndWait("#run-now-facts")
            check.expect(browser.dialogs.last == "Make a job of facts now, with its next topic?")
            check.expect(try browser.evaluate("document.querySelector('.notice').textContent") as? String == "queued")
        })
        #expect(try await store.stats().byState[.queued, default: 0] == before + 1)
        // A job waiting for review: its video plays on the review page; approving asks first.
        let reviewed = try await store.enqueue(NewJob(channel: "facts", topic: "to review", priority: -100)).job.id
        let held = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: reviewed))
        try await store.checkpoint(held, stage: "compose", state: .succeeded,
                                   artifacts: [Artifact(path: video, bytes: Int64(data.count), sha256: Checksum.sha256Hex(data))], startedAt: Date(), error: nil)
        guard case .held = try await store.holdForReview(held, stage: "publish") else { Issue.record("not held for review"); return }
        try await blocking(checking: { check in
            try browser.open(base + "/review")
            let duration = try browser.evaluate("""
                (async () => {
                  const v = document.querySelector('#review-\(reviewed) video');
                  if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
                  return v.duration;
                })()
                """) as? Double
            check.expect(abs((duration ?? 0) - 2) < 0.2, "the video to review did not load: \(duration ?? -1)")
            try browser.clickAndWait("#approve-\(reviewed)")
            check.expect(browser.dialogs.last == "Approve job \(reviewed) and publish it?", "dialogs: \(browser.dialogs)")
            let notice = try browser.evaluate("document.querySelector('.notice').textContent") as? String
            check.expect(notice == "approved job \(reviewed): a worker publishes it", "notice: \(notice ?? "none")")
        })
        #expect(try await store.job(id: reviewed)?.state == .queued)
        #expect(try await store.review(jobID: reviewed)?.decision == .approved)
        #expect(try await store.auditLog(limit: 10).map(\.action) == ["approve", "run-now", "resume", "pause", "bulk-retry", "cancel", "retry"])
        // Live: the overview follows a running job's stages without a reload (server-sent events).
        let runningID = try await store.enqueue(NewJob(channel: "facts", topic: "live", priority: -200)).job.id
        let running = try #require(try await store.lease(worker: "w", channels: nil, kind: .video, pipeline: nil, duration: .seconds(60), only: runningID))
        try await store.checkpoint(running, stage: "script", state: .running, artifacts: [], startedAt: Date(), error: nil)
        let waitForStage: @Sendable (String) -> String = { stage in
            """
            (async () => {
              for (let i = 0; i < 200; i++) {
                const li = document.getElementById('live-\(runningID)');
                if (li && li.getAttribute('data-stage') === '\(stage)') return window.__sameDocument === true || '\(stage)' === 'script';
                await new Promise(r => setTimeout(r, 50));
              }
              return 'timed out: ' + document.getElementById('live').textContent;
            })()
            """
        }
        try await blocking(checking: { check in
            try browser.open(base + "/")
            let first = try browser.evaluate(waitForStage("script"))
            check.expect(first as? Bool == true, "the live view did not show the stage: \(String(describing: first))")
            try browser.evaluate("window.__sameDocument = true")
        })
        try await store.checkpoint(running, stage: "script", state: .succeeded, artifacts: [], startedAt: Date(), error: nil)
        try await store.checkpoint(running, stage: "narration", state: .running, artifacts: [], startedAt: Date(), error: nil)
        try await blocking(checking: { check in
            let next = try browser.evaluate(waitForStage("narration"))
            check.expect(next as? Bool == true, "the next stage did not arrive in the same page: \(String(describing: next))")
        })
        #expect(browser.errors.isEmpty, "JavaScript errors: \(browser.errors)")
        try await console.stop()
    }
}
