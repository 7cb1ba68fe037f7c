import Foundation
import Testing
import YTAutoCore

@Suite struct ErrorTests {
    @Test func codesAndRetryHintsAreStable() {
        let at = Date(timeIntervalSince1970: 2_000_000_000)
        let cases: [(any YTAutoError, String, Bool)] = [
            (LLMRateLimitError(message: "slow down", retryAt: at), "llm.rate_limited", true),
            (LLMContentFilterError(message: "refused"), "llm.content_filtered", false),
            (TTSQuotaExceededError(message: "quota"), "tts.quota_exceeded", true),
            (YouTubeQuotaExceededError(message: "quotaExceeded", retryAt: at), "youtube.quota_exceeded", true),
            (YouTubeAuthError(message: "invalid_grant"), "youtube.auth", false),
            (YouTubeUploadError(message: "503", isRetryable: true), "youtube.upload_failed", true),
            (YouTubeRateLimitError(message: "rateLimitExceeded"), "youtube.rate_limited", true),
            (ScriptValidationError(issues: ["no hook", "too short"]), "script.invalid", false),
            (FFmpegError(command: ["ffmpeg", "-i", "x"], exitStatus: 1, stderrTail: "bad input"), "ffmpeg.failed", false),
            (ProviderError(family: .image, reason: "server_error", message: "502", isRetryable: true), "image.server_error", true),
            (FFmpegError(command: ["ffmpeg", "-i", "x", "out.mp4"], exitStatus: 1, stderrTail: "av_interleaved_write_frame(): No space left on device"),
             "media.disk_full", true),
        ]
        for (error, code, retryable) in cases {
            #expect(error.code == code)
            #expect(error.isRetryable == retryable, "\(code)")
        }
        #expect(LLMRateLimitError(message: "", retryAt: at).retryAt == at)
        #expect(YouTubeQuotaExceededError(message: "", retryAt: at).spendsAttempt == false)
        #expect(LLMRateLimitError(message: "").spendsAttempt)
        #expect(ScriptValidationError(issues: ["no hook", "too short"]).message.contains("no hook; too short"))
        #expect(YouTubeAuthError(message: "x").description.contains("ytauto auth youtube"))
        // The remedy is in the message itself, which is what a job, its attempts and the logs keep.
        #expect(JobFailure(YouTubeAuthError(message: "invalid_grant")).message == "invalid_grant; run `ytauto auth youtube` to authorise again")
        #expect(YouTubeAuthError(message: "invalid_client", remedy: .checkClient).message.contains("client id or secret is wrong"))
        #expect(YouTubeAuthError(message: "the token file is mode 0644; chmod 600 it", remedy: .none).message == "the token file is mode 0644; chmod 600 it")
        #expect(YouTubeRateLimitError(message: "").spendsAttempt)
        let ff = FFmpegError(command: ["ffmpeg", "-i", "in.mp4"], exitStatus: 1, stderrTail: "Invalid data")
        #expect(ff.message.contains("Invalid data") && ff.message.contains("ffmpeg -i in.mp4"))
        let full = FFmpegError(command: ["ffmpeg", "-i", "in.mp4", "/work/7/out.mp4"], exitStatus: 1, stderrTail: "Error: No space left on device")
        #expect(full.message.hasPrefix("the disk is full: ffmpeg could not write /work/7/out.mp4"))
    }

    @Test func pipelineErrorSeesThroughToTheCause() {
        let at = Date(timeIntervalSince1970: 2_000_000_000)
        let e = PipelineError(stage: "upload", underlying: YouTubeQuotaExceededError(message: "quota", retryAt: at))
        #expect(e.code == "youtube.quota_exceeded")
        #expect(e.retryAt == at)
        #expect(!e.spendsAttempt)
        #expect(e.message.hasPrefix("stage upload"))
    }

    @Test func unknownErrorsAreRetryableInternal() {
        struct Odd: Error {}
        let f = JobFailure(Odd())
        #expect(f.code == "internal.unexpected")
        #expect(f.isRetryable)
        #expect(JobFailure(LLMContentFilterError(message: "x")).isRetryable == false)
    }

    @Test func quotaResetsAtNextMidnightInLosAngeles() throws {
        // 2026-11-25 10:00 UTC is 02:00 in Los Angeles (PST, UTC-8): the reset is 2026-11-26 08:00 UTC.
        let now = try #require(Timestamp.date("2026-11-25T10:00:00Z"))
        #expect(Timestamp.string(YouTubeQuotaExceededError.nextQuotaReset(after: now)) == "2026-11-26T08:00:00.000Z")
        // In July (PDT, UTC-7), 06:59 UTC is still the previous LA day: the reset is 07:00 UTC the same day.
        let summer = try #require(Timestamp.date("2026-07-10T06:59:00Z"))
        #expect(Timestamp.string(YouTubeQuotaExceededError.nextQuotaReset(after: summer)) == "2026-07-10T07:00:00.000Z")
    }
}

@Suite struct RetryPolicyTests {
    @Test func backoffStaysWithinBoundsOverManyDraws() {
        let policy = RetryPolicy(base: .seconds(10), cap: .seconds(600))
        var rng = SystemRandomNumberGenerator()
        for attempt in 1...12 {
            let nominal = policy.nominalDelay(afterAttempt: attempt).seconds
            #expect(nominal == min(600, 10 * pow(2, Double(attempt - 1))))
            var low = Double.infinity, high = 0.0
            for _ in 0..<2_000 {
                let d = policy.delay(afterAttempt: attempt, using: &rng).seconds
                #expect(d >= nominal / 2 - 0.001 && d <= nominal + 0.001)
                low = min(low, d)
                high = max(high, d)
            }
            // The jitter really spreads: the draws cover most of [nominal/2, nominal].
            #expect(high - low > nominal * 0.4)
        }
    }

    @Test func anErrorsOwnRetryTimeWins() {
        let now = Date()
        let at = now.addingTimeInterval(7_200)
        let policy = RetryPolicy()
        let f = JobFailure(code: "llm.rate_limited", message: "", isRetryable: true, retryAt: at)
        #expect(policy.nextRun(after: f, attempt: 1, now: now) == at)
        let plain = JobFailure(code: "x", message: "", isRetryable: true)
        let next = policy.nextRun(after: plain, attempt: 1, now: now)
        #expect(next.timeIntervalSince(now) >= 7.5 && next.timeIntervalSince(now) <= 15)
    }
}
