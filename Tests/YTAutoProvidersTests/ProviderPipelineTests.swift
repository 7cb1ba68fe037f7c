import Foundation
import Testing
import YTAutoCore
import YTAutoMedia
import YTAutoProviders
import YTAutoStore
import YTAutoTestSupport

/// Providers inside the real pipeline: what a retry does not buy twice, and what the ledger records.
@Suite struct ProviderPipelineTests {
    let dir = TempDir("ytauto-provpipe")

    @Test func a429MidNarrationDoesNotBuyTheFinishedSentencesAgain() async throws {
        let tools = try ToolRunner()
        let mp3 = dir.path("tone.mp3")
        try await tools.run(.ffmpeg, ToolRunner.ffmpegQuiet + ["-f", "lavfi", "-i", "sine=f=300:d=0.8", "-c:a", "libmp3lame", mp3])
        let audio = try Data(contentsOf: URL(fileURLWithPath: mp3))
        struct Log: Sendable { var served: [String] = []; var refused = 0; var failAfter = 2 }
        let log = Shared(Log())
        let server = try LoopbackServer { req in
            guard req.path.hasPrefix("/v1/text-to-speech/"), req.header("xi-api-key") == "k-eleven" else {
                return .json(401, ["detail": ["status": "invalid_api_key", "message": "Invalid API key"]])
            }
            let text = req.json?["text"] as? String ?? ""
            let allowed = log.update { l -> Bool in
                if l.served.count >= l.failAfter { l.refused += 1; return false }
                l.served.append(text)
                return true
            }
            guard allowed else {
                return .json(429, ["detail": ["status": "too_many_concurrent_requests", "message": "Too many concurrent requests."]],
                             headers: [("Retry-After", "1")])
            }
            return .respond(status: 200, headers: [("Content-Type", "audio/mpeg")], body: audio)
        }
        var channel = ChannelConfig.defaults(for: .facts)
        channel.durationRange = .init(min: 4, max: 30)
        channel.services.tts = [.elevenlabs]
        var providers = ProvidersConfig()
        providers.elevenlabs.baseURL = server.baseURL
        let store = try SQLiteJobStore(path: dir.path("p.db"))
        let services = ProviderServices(tools: tools, config: providers, credentials: Credentials(values: ["ELEVENLABS_API_KEY": "k-eleven"]),
                                        ledger: store, configDirectory: dir.url)
        let pipeline = MediaPipeline(channels: [channel], workDirectory: dir.url.appending(path: "work"), outputDirectory: dir.url.appending(path: "out"),
                                     tools: tools, services: services, concurrency: 1)
        let now = Date()
        let job = Job(id: 3, channel: "facts", topic: "how honey never spoils", payload: "{}", state: .running, priority: 0, runAt: now,
                      attempt: 1, maxAttempts: 3, leaseOwner: "w", leaseToken: 1, leaseExpiresAt: now, cancelRequested: false,
                      currentStage: nil, uniqueKey: nil, lastErrorCode: nil, lastErrorMessage: nil, createdAt: now, updatedAt: now, finishedAt: nil)
        _ = try await pipeline.run(stage: "script", job: job, dryRun: false)
        await #expect {
            try await pipeline.run(stage: "narration", job: job, dryRun: false)
        } throws: { error in
            (error as? ProviderError)?.code == "tts.rate_limited" && (error as? ProviderError)?.isRetryable == true
        }
        let firstRun = log.value.served
        #expect(firstRun.count == 2)
        // The retry: the provider answers again; the two sentences already spoken are not asked for twice.
        log.update { $0.failAfter = .max }
        guard case .done = try await pipeline.run(stage: "narration", job: job, dryRun: false) else { return }
        let served = log.value.served
        #expect(Set(served).count == served.count, "a sentence was bought twice")
        let segments = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appending(path: "work/3/narration.json"))) as? [[String: Any]])
        #expect(Set(segments.compactMap { $0["text"] as? String }).isSubset(of: Set(served)))
        // The characters bought are in the ledger, once each.
        try await Task.sleep(for: .milliseconds(300))
        let rows = try await store.ledger(since: "2000-01-01")
        #expect(rows.first { $0.provider == "elevenlabs" && $0.unit == "characters" }?.amount == Int64(served.reduce(0) { $0 + $1.count }))
        withExtendedLifetime(server) {}
    }
}
