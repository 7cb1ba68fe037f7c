import ArgumentParser
import Foundation
import Testing
import YTAutoCore
import YTAutoStore
import YTAutoTestSupport
@testable import YTAutoApp

/// Property tests over seeded random input: the configuration loader and every command's
/// argument parsing never crash (a trap kills the test process, which fails the run), and either
/// accept the input or say what is wrong and where. Iterations are many but seeded, so a failure
/// names the seed that replays it. Serialized: the cases are CPU-bound and the end-to-end tests
/// that run beside them measure time.
@Suite(.serialized) struct FuzzTests {
    /// A configuration using every part of the file: the sample's channels and every provider.
    static let base: String = {
        let sample = (try? AppConfig.sample.yaml()) ?? ""
        return sample + """

            providers:
              credentials_file: ./credentials.yaml
              openai: {base_url: "http://127.0.0.1:1/v1", chat_model: m, voices: {en-deep: onyx}}
              anthropic:
                model: claude
              elevenlabs:
                model_id: eleven
                voices:
                  en-calm: abc
              stable_diffusion:
                steps: 25
              youtube:
                daily_quota: 10000
                upload_cost: 1600
                thumbnail_cost: 50
                chunk_mib: 8
                publish_after_hours: 24
                made_for_kids: false
            """
    }()

    @Test func theConfigurationLoaderNeverCrashesAndNamesALineForEveryProblem() async throws {
        _ = try AppConfig.parse(Self.base)  // The unmutated base is valid.
        var accepted = 0
        for seed in UInt64(0)..<800 {
            await Task.yield()  // seconds of parsing: the run's other tasks get turns between seeds
            var fuzz = Fuzz(seed: seed)
            var text = Self.base
            for _ in 0..<(1 + fuzz.int(4)) { text = fuzz.mutate(text) }
            do {
                let config = try AppConfig.parse(text, path: "fuzz.yaml")
                accepted += 1
                // What is accepted is in range: nothing out of range gets through silently.
                for c in config.channels {
                    #expect(c.problems().isEmpty, "seed \(seed): \(c.problems())")
                    #expect(ConfigLimits.catchUpWindow.contains(Double(c.catchUpWindow)), "seed \(seed)")
                }
                let yt = config.providers.youtube
                #expect(ConfigLimits.youtubeChunkMiB.contains(yt.chunkMiB) && ConfigLimits.youtubeDailyQuota.contains(yt.dailyQuota), "seed \(seed)")
                #expect(ConfigLimits.stableDiffusionSteps.contains(config.providers.stableDiffusion.steps), "seed \(seed)")
            } catch let error as ConfigError {
                #expect(!error.problems.isEmpty, "seed \(seed)")
                for p in error.problems {
                    let placed = p.hasPrefix("line ") || (p.hasPrefix("not valid YAML") && p.contains(where: \.isNumber))
                    #expect(placed, "seed \(seed): a problem without a line: \(p)\n---\n\(text)")
                }
            } catch {
                Issue.record("seed \(seed): not a ConfigError: \(type(of: error)) \(error)\n---\n\(text)")
            }
        }
        // Both outcomes occur: the mutations are neither all harmless nor all fatal.
        #expect(accepted > 20 && accepted < 780, "\(accepted) accepted")
    }

    /// The file as bytes: random bytes put in (any value, so often not UTF-8) never crash the
    /// loader, and every problem it names has a line.
    @Test func theConfigurationFilesBytesNeverCrashTheLoader() async throws {
        let dir = TempDir("ytauto-fuzz-bytes")
        let path = dir.path("ytauto.yaml")
        var notText = 0
        for seed in UInt64(0)..<300 {
            await Task.yield()  // seconds of parsing: the run's other tasks get turns between seeds
            var fuzz = Fuzz(seed: seed)
            var bytes = Array(Self.base.utf8)
            for _ in 0..<(1 + fuzz.int(3)) { bytes[fuzz.int(bytes.count)] = UInt8(fuzz.int(256)) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                _ = try AppConfig.load(path: path)
            } catch let error as ConfigError {
                #expect(!error.problems.isEmpty, "seed \(seed)")
                for p in error.problems {
                    if p.contains("not UTF-8") { notText += 1 }
                    let placed = p.hasPrefix("line ") || (p.hasPrefix("not valid YAML") && p.contains(where: \.isNumber))
                    #expect(placed, "seed \(seed): a problem without a line: \(p)")
                }
            } catch {
                Issue.record("seed \(seed): not a ConfigError: \(type(of: error)) \(error)")
            }
        }
        #expect(notText > 10, "\(notText) files that are not UTF-8")
    }

    /// An option that takes a number, a duration or a time, and the command line it goes on.
    struct NumericOption: Sendable, CustomStringConvertible {
        enum Kind: Sendable {
            /// A whole number in the range.
            case number(ClosedRange<Int>)
            /// A duration whose seconds are in the range.
            case duration(ClosedRange<Double>)
            case time, since
        }
        var admin: Bool
        var prefix: [String]
        var option: String
        var kind: Kind
        var description: String { "\(admin ? "ytauto-admin" : "ytauto") \(prefix.joined(separator: " ")) \(option)" }
    }

    /// Every numeric, duration and time option of both executables.
    static let options: [NumericOption] = [
        .init(admin: false, prefix: ["worker"], option: "--concurrency", kind: .number(1...256)),
        .init(admin: false, prefix: ["worker"], option: "--grace", kind: .duration(0...3_600)),
        .init(admin: false, prefix: ["worker"], option: "--synthetic-stage-ms", kind: .number(0...3_600_000)),
        .init(admin: false, prefix: ["worker"], option: "--lease-seconds", kind: .number(3...3_600)),
        .init(admin: false, prefix: ["scheduler"], option: "--max-sleep", kind: .duration(0.1...3_600)),
        .init(admin: false, prefix: ["scheduler", "--once"], option: "--now", kind: .time),
        .init(admin: false, prefix: ["enqueue", "facts"], option: "--priority", kind: .number(-1_000_000...1_000_000)),
        .init(admin: false, prefix: ["enqueue", "facts"], option: "--at", kind: .time),
        .init(admin: false, prefix: ["run-once", "facts"], option: "--synthetic-stage-ms", kind: .number(0...3_600_000)),
        .init(admin: false, prefix: ["auth", "youtube"], option: "--port", kind: .number(0...65_535)),
        .init(admin: false, prefix: ["auth", "youtube"], option: "--timeout", kind: .duration(1...86_400)),
        .init(admin: true, prefix: ["list-failed"], option: "--since", kind: .since),
        .init(admin: true, prefix: ["list-failed"], option: "--limit", kind: .number(1...1_000_000)),
        .init(admin: true, prefix: ["history"], option: "--limit", kind: .number(1...1_000_000)),
        .init(admin: true, prefix: ["slots"], option: "--limit", kind: .number(1...1_000_000)),
        .init(admin: true, prefix: ["review"], option: "--limit", kind: .number(1...1_000_000)),
        .init(admin: true, prefix: ["audit"], option: "--limit", kind: .number(1...1_000_000)),
        .init(admin: true, prefix: ["quota"], option: "--days", kind: .number(1...3_660)),
        .init(admin: true, prefix: ["prune"], option: "--older-than", kind: .duration(0...36_500 * 86_400)),
        .init(admin: true, prefix: ["prune", "--older-than", "1d"], option: "--batch-size", kind: .number(1...100_000)),
    ]

    /// Parses (and validates) as the executables do; nil when accepted, else the message printed.
    static func refusal(_ option: NumericOption, _ args: [String]) -> String? {
        do {
            if option.admin { _ = try AdminCommand.parseAsRoot(args) } else { _ = try YTAutoCommand.parseAsRoot(args) }
            return nil
        } catch {
            return option.admin ? AdminCommand.message(for: error) : YTAutoCommand.message(for: error)
        }
    }

    @Test(arguments: options)
    func everyNumericOptionIsRangeCheckedWhereItIsParsed(option: NumericOption) async throws {
        let dir = TempDir("ytauto-fuzz")
        let db = dir.path("ytauto.db")
        // As `ytauto init` would: the commands need an existing database, and prune the configuration.
        _ = try SQLiteJobStore(path: db)
        let config = dir.path("ytauto.yaml")
        try "work_dir: \(dir.path("work"))\noutput_dir: \(dir.path("output"))\nchannels:\n  - name: facts\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        var refused = 0
        var ran = 0
        for seed in UInt64(0)..<200 {
            var fuzz = Fuzz(seed: seed &* 7919 &+ UInt64(option.option.count))
            let value: String
            switch option.kind {
            case .number: value = fuzz.number()
            case .duration: value = fuzz.duration()
            case .time: value = fuzz.time()
            case .since: value = fuzz.chance(50) ? fuzz.duration() : fuzz.time()
            }
            let args = option.prefix + ["\(option.option)=\(value)", "--db", db, "--config", config]
            if let message = Self.refusal(option, args) {
                refused += 1
                #expect(message.contains(option.option), "seed \(seed), \(args): the message does not name the option: \(message)")
                continue
            }
            // What is accepted is within the documented range.
            switch option.kind {
            case .number(let range):
                #expect(Int(value).map(range.contains) == true, "seed \(seed), \(args): accepted out of range")
            case .duration(let range):
                let seconds = value.hasSuffix("ms") ? Double(value.dropLast(2)).map { $0 / 1000 } : DurationText.seconds(value)
                #expect(seconds.map(range.contains) == true, "seed \(seed), \(args): accepted out of range")
            case .time, .since:
                break
            }
            // Accepted: the read-only admin commands run in process on a real database, so the
            // arithmetic of run() meets the accepted value.
            if option.admin && option.prefix != ["prune", "--older-than", "1d"] && ran < 25 {
                var command = try AdminCommand.parseAsRoot(args)
                if var async = command as? any AsyncParsableCommand { try await async.run() } else { try command.run() }
                ran += 1
            }
        }
        #expect(refused > 0 && refused < 200, "\(option): \(refused) of 200 refused")
    }

    /// A negative number given apart from its option (`--priority -5`, as the documented range
    /// allows) is the option's value, not taken for an unknown option ("Missing value for
    /// '--priority'"): valid ones are accepted, invalid ones refused with the option's range.
    @Test func aNegativeNumberApartFromItsOptionIsItsValue() throws {
        let dir = TempDir("ytauto-negative")
        let db = dir.path("ytauto.db"), config = dir.path("ytauto.yaml")
        let enqueue = NumericOption(admin: false, prefix: [], option: "--priority", kind: .number(-1_000_000...1_000_000))
        #expect(Self.refusal(enqueue, ["enqueue", "facts", "--priority", "-5", "--db", db, "--config", config]) == nil)
        for (option, args) in [(NumericOption(admin: true, prefix: [], option: "--limit", kind: .number(1...1_000_000)), ["list-failed", "--limit", "-1"]),
                               (NumericOption(admin: true, prefix: [], option: "--days", kind: .number(1...3_660)), ["quota", "--days", "-3"]),
                               (NumericOption(admin: false, prefix: [], option: "--concurrency", kind: .number(1...256)), ["worker", "--concurrency", "-2"])] {
            let refused = Self.refusal(option, args + ["--db", db])
            #expect(refused?.contains(option.option) == true && refused?.contains("Missing value") == false, "\(args): \(refused ?? "accepted")")
        }
    }

    /// The values of the issue that crashed the binaries (exit 132), each refused naming the option and range.
    @Test(arguments: issueCrashes + [
        (false, ["scheduler", "--once", "--now", "3000-01-01T00:00:00Z"], "--now '3000-01-01T00:00:00Z' is in the future"),
        (false, ["enqueue", "facts", "--at", "0001-01-01T00:00:00Z"], "--at '0001-01-01T00:00:00Z' is out of range"),
    ])
    func theCrashesOfTheIssueAreRefused(admin: Bool, args: [String], message: String) {
        let option = NumericOption(admin: admin, prefix: [], option: "", kind: .time)
        let refused = Self.refusal(option, args)
        #expect(refused?.contains(message) == true, "\(refused ?? "accepted")")
    }
}
