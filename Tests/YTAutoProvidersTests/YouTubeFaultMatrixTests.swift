import Foundation
import Testing
import YTAutoCore
import YTAutoProviders
import YTAutoStore
import YTAutoTestSupport
import YTAutoSupport

/// Every documented fault at every step of an upload (opening the session, a chunk, asking the
/// session where it stands, setting the thumbnail), against the loopback YouTube.
///
/// Each case ends in exactly one video on the channel (the fake counts completed uploads), at
/// once or after the job's next attempt, or in an error of the right class; and the quota ledger
/// holds one upload's reservation at most, whatever happened (none when no session opened).
@Suite struct YouTubeFaultMatrixTests {
    typealias Fault = FakeYouTube.Fault
    typealias Step = FakeYouTube.Step

    /// What the first attempt ends in.
    enum Outcome: Sendable, CustomStringConvertible {
        /// The upload completes in this attempt, with the thumbnail set (or not).
        case uploaded(thumbnailSet: Bool)
        /// The attempt ends retryably (spending an attempt): the next one completes the upload.
        case retry(code: String)
        /// The job is parked until midnight Pacific, spending no attempt.
        case parked

        var description: String {
            switch self {
            case .uploaded(let t): "uploaded\(t ? "" : " without thumbnail")"
            case .retry(let code): "retry (\(code))"
            case .parked: "parked"
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let step: Step
        let fault: Fault
        /// How many requests in a row get the fault: 1, or enough to outlast the backoff.
        let times: Int
        let outcome: Outcome
        /// Sessions opened in all: 2 when the first one expired.
        var sessions = 1

        var testDescription: String { "\(fault) \(times == 1 ? "once" : "always") at \(step.rawValue) → \(outcome)" }
    }

    static let always = 1000
    static let cost = 1650

    static let cases: [Case] = {
        var all: [Case] = []
        for step in [Step.start, .chunk, .status] {
            // The session opens before the chunk and status faults, and keeps its reservation.
            for code in [500, 503] {
                all.append(Case(step: step, fault: .serverError(code), times: 1, outcome: .uploaded(thumbnailSet: true)))
                all.append(Case(step: step, fault: .serverError(code), times: always, outcome: .retry(code: "youtube.upload_failed")))
            }
            all.append(Case(step: step, fault: .rateLimited, times: 1, outcome: .uploaded(thumbnailSet: true)))
            all.append(Case(step: step, fault: .rateLimited, times: always, outcome: .retry(code: "youtube.rate_limited")))
            all.append(Case(step: step, fault: .drop, times: 1, outcome: .uploaded(thumbnailSet: true)))
            all.append(Case(step: step, fault: .drop, times: always, outcome: .retry(code: "youtube.upload_failed")))
            all.append(Case(step: step, fault: .unauthorized, times: 1, outcome: .uploaded(thumbnailSet: true)))
            all.append(Case(step: step, fault: .quotaExceeded, times: 1, outcome: .parked))
            all.append(Case(step: step, fault: .uploadLimitExceeded, times: 1, outcome: .parked))
            if step != .start {
                for code in [404, 410] {
                    all.append(Case(step: step, fault: .expired(code), times: 1, outcome: .retry(code: "youtube.upload_failed"), sessions: 2))
                }
            }
        }
        // A thumbnail YouTube will not take leaves the video published, the refusal on record.
        for fault in [Fault.serverError(500), .serverError(503), .rateLimited, .drop] {
            all.append(Case(step: .thumbnail, fault: fault, times: 1, outcome: .uploaded(thumbnailSet: true)))
        }
        for fault in [Fault.serverError(500), .serverError(503), .drop] {
            all.append(Case(step: .thumbnail, fault: fault, times: always, outcome: .uploaded(thumbnailSet: false)))
        }
        all.append(Case(step: .thumbnail, fault: .unauthorized, times: 1, outcome: .uploaded(thumbnailSet: true)))
        // A limit that passes is waited out: the video stays up and the next attempt sets the thumbnail.
        all.append(Case(step: .thumbnail, fault: .rateLimited, times: always, outcome: .retry(code: "youtube.rate_limited")))
        all.append(Case(step: .thumbnail, fault: .quotaExceeded, times: 1, outcome: .parked))
        return all
    }()

    let dir = TempDir("ytauto-ytmatrix")
    let fake: FakeYouTube
    let video: URL
    let thumb: URL

    init() throws {
        fake = try FakeYouTube()
        (video, thumb) = try YouTubeTests.uploadFiles(in: dir)
        let path = dir.path("youtube-token.json")
        try Credentials.writePrivate(Data(#"{"refresh_token":"refresh-1"}"#.utf8), to: path)
    }

    /// One attempt of the publish stage: a fresh uploader over the job's notes, as the worker makes one.
    func attempt(_ notes: Locked<[String: String]>, quota: YouTubeQuota) async throws -> PublishResult {
        let oauth = YouTubeOAuth(clientID: "client-id", clientSecret: "client-secret", authURL: fake.base + "/auth",
                                 tokenURL: fake.base + "/token", tokenFile: dir.path("youtube-token.json"))
        let uploader = YouTubeDataAPIUploader(
            oauth: oauth, uploadBase: fake.base + "/upload", apiBase: fake.base, chunkSize: 256 << 10,
            metadata: { t, d, g in YouTubeMetadata(title: t, description: d, tags: g) }, notes: notes.value,
            save: { more in notes.update { $0.merge(more) { _, n in n } } },
            backoff: [.milliseconds(5), .milliseconds(10), .milliseconds(20)], quota: quota)
        return try await uploader.publish(video: video, title: "T", description: "D", tags: [], thumbnail: thumb)
    }

    @Test(arguments: cases)
    func aFaultEndsInOneUploadOrAClassifiedError(_ c: Case) async throws {
        let store = try SQLiteJobStore(path: dir.path("ledger.db"))
        let day = QuotaDay.youtube(Date())
        let quota = YouTubeQuota(ledger: store, channel: "facts", cost: Self.cost, dailyQuota: 10_000)
        let original = try Data(contentsOf: video)
        var injections = [FakeYouTube.Injection(c.fault, at: c.step, skip: c.step == .chunk ? 1 : 0, times: c.times)]
        // The session is asked where it stands after a chunk fails: a dropped second chunk makes it ask.
        if c.step == .status { injections.insert(.init(.drop, at: .chunk, skip: 1), at: 0) }
        fake.state.update { $0.injections = injections }
        let notes = Locked<[String: String]>([:])

        let first: Result<PublishResult, any Error>
        do { first = .success(try await attempt(notes, quota: quota)) } catch { first = .failure(error) }
        // The fault was met where it was put.
        #expect(fake.state.value.injected.contains("\(c.step.rawValue) \(c.fault)"), "\(fake.state.value.injected)")
        let opened = fake.state.value.opened
        switch c.outcome {
        case .uploaded(let thumbnailSet):
            let result = try first.get()
            #expect(fake.state.value.completed == 1 && fake.state.value.videos[result.videoID] == original)
            #expect(notes.value["video_id"] == result.videoID)
            #expect(notes.value["thumbnail_set"] == (thumbnailSet ? "true" : "false"), "\(notes.value)")
            #expect((fake.state.value.thumbnails[result.videoID] != nil) == thumbnailSet)
            if !thumbnailSet {
                let why = notes.value["thumbnail_error"] ?? ""
                #expect(why.contains("HTTP") || why.contains("failed"), "\(notes.value)")
            }
            #expect(try await store.used(provider: "youtube", unit: "units", day: day) == Self.cost)
            #expect(opened == 1)
        case .retry(let code):
            let error = try #require(Self.error(of: first), "the attempt did not fail")
            let failure = JobFailure(error)
            #expect(failure.code == code && failure.isRetryable && failure.spendsAttempt, "\(failure)")
            #expect(!Self.isNextPacificMidnight(failure.retryAt), "a retryable fault must not park the job: \(failure)")
            try await expectNextAttemptUploads(c, notes: notes, quota: quota, store: store, opened: opened)
        case .parked:
            let error = try #require(Self.error(of: first), "the attempt did not fail")
            let failure = JobFailure(error)
            #expect(error is YouTubeQuotaExceededError && failure.code == "youtube.quota_exceeded", "\(failure)")
            #expect(failure.isRetryable && !failure.spendsAttempt && Self.isNextPacificMidnight(failure.retryAt), "\(failure)")
            #expect(failure.message.contains(c.fault == .quotaExceeded ? "quotaExceeded" : "uploadLimitExceeded"), "\(failure)")
            try await expectNextAttemptUploads(c, notes: notes, quota: quota, store: store, opened: opened)
        }

        // One more attempt, the fault gone (the worker died before marking the stage done): it
        // uploads nothing more, reserves nothing more, and sets a thumbnail left unset.
        fake.state.update { $0.injections = [] }
        let videoID = try #require(notes.value["video_id"])
        let again = try await attempt(notes, quota: quota)
        #expect(again.videoID == videoID && fake.state.value.completed == 1 && fake.state.value.opened == c.sessions)
        #expect(fake.state.value.thumbnails[videoID] != nil && notes.value["thumbnail_set"] == "true")
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == Self.cost)
    }

    /// After a failed first attempt: no video yet (or, when the thumbnail failed, the video up
    /// with the thumbnail's error on record), the ledger holding the reservation only if a
    /// session opened (it stays with the job); then the job's next attempt, the fault gone,
    /// makes exactly one video under that one reservation, its thumbnail set.
    func expectNextAttemptUploads(
        _ c: Case, notes: Locked<[String: String]>, quota: YouTubeQuota, store: SQLiteJobStore, opened: Int
    ) async throws {
        let day = QuotaDay.youtube(Date())
        let videoUp = c.step == .thumbnail
        #expect(fake.state.value.completed == (videoUp ? 1 : 0))
        if videoUp {
            #expect(notes.value["video_id"] != nil && notes.value["thumbnail_set"] == "false", "\(notes.value)")
            #expect((notes.value["thumbnail_error"] ?? "").contains("youtube."), "\(notes.value)")
        }
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == (opened > 0 ? Self.cost : 0))
        #expect(notes.value["quota_reserved"] == (opened > 0 ? day : ""), "\(notes.value)")

        fake.state.update { $0.injections = [] }
        let result = try await attempt(notes, quota: quota)
        let s = fake.state.value
        let original = try Data(contentsOf: video)
        #expect(s.completed == 1 && s.videos[result.videoID] == original)
        #expect(s.opened == c.sessions, "sessions opened: \(s.opened)")
        #expect(s.thumbnails[result.videoID] != nil && notes.value["thumbnail_set"] == "true")
        #expect(try await store.used(provider: "youtube", unit: "units", day: day) == Self.cost)
        // One upload of the insert's own bucket, and the units of the others (see YouTubeQuota).
        #expect(try await store.used(provider: "youtube", unit: "uploads", day: day) == 1)
        #expect(try await store.ledger(since: day).filter { $0.provider == "youtube" }.map(\.unit).sorted() == ["units", "uploads"])
    }

    static func error(of result: Result<PublishResult, any Error>) -> (any Error)? {
        if case .failure(let error) = result { return error }
        return nil
    }

    /// Whether `date` is a midnight in Los Angeles within the next day.
    static func isNextPacificMidnight(_ date: Date?) -> Bool {
        guard let date else { return false }
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "America/Los_Angeles")!
        let c = cal.dateComponents([.hour, .minute], from: date)
        return c.hour == 0 && c.minute == 0 && date > Date() && date < Date().addingTimeInterval(86_400 + 3600)
    }
}
