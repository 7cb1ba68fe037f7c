import Foundation
import ArgumentParser
import Testing
import YTAutoCore
import YTAutoTestSupport
@testable import YTAutoApp

/// The configuration loader: unknown and duplicated keys at every level, numbers out of range,
/// and every problem of a file reported at once, each with its line.
@Suite struct ConfigCheckTests {
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try AppConfig.parse(yaml, path: "test.yaml")
            return []
        } catch let error as ConfigError {
            return error.problems
        } catch {
            return ["unexpected \(type(of: error)): \(error)"]
        }
    }

    /// The file itself: a folder given for it, or bytes that are not UTF-8, are said as such
    /// (they were "NSCocoaErrorDomain error 256" and a text-encoding error without a line).
    @Test func aFolderOrAFileThatIsNotTextIsSaidAsSuch() throws {
        let dir = TempDir("ytauto-config-file")
        func loaded(_ path: String) -> [String] {
            do {
                _ = try AppConfig.load(path: path)
                return []
            } catch let error as ConfigError {
                return error.problems
            } catch {
                return ["unexpected \(type(of: error)): \(error)"]
            }
        }
        #expect(loaded(dir.path("")) == ["it is a folder, not a file: give the configuration file itself (such as \(dir.url.appending(path: "ytauto.yaml").path))"])
        try Data("channels:\n  - name: caf\u{e9}\n    topics: [\"".utf8 + [0xE9, 0x22, 0x5D, 0x0A]).write(to: dir.url.appending(path: "latin1.yaml"))
        #expect(loaded(dir.path("latin1.yaml")) == ["line 3: it is not UTF-8 text (save it as UTF-8)"])
        #expect(loaded(dir.path("none.yaml")) == ["the file does not exist; run `ytauto init` to write a sample"])
        // UTF-8 with a byte-order mark (as some Windows editors save it) is read as without one
        // (it was "not valid YAML: 2:1: … did not find expected <document start>").
        try Data([0xEF, 0xBB, 0xBF] + Array("channels:\n- name: facts\n  type: facts\n".utf8)).write(to: dir.url.appending(path: "bom.yaml"))
        #expect(loaded(dir.path("bom.yaml")) == [])
        #expect((try? AppConfig.load(path: dir.path("bom.yaml")))?.channels.map(\.name) == ["facts"])
    }

    /// An empty `work_dir` or `output_dir` is refused: the job folders went into the current
    /// folder, and `status` counted all of it (the database too) as output.
    @Test func anEmptyFolderPathIsRefused() {
        let found = problems("work_dir: \"\"\noutput_dir: \" \"\nchannels:\n  - name: facts\n")
        #expect(found == ["line 1, work_dir: an empty folder path; give a folder (./work when the key is left out)",
                          "line 2, output_dir: an empty folder path; give a folder (./output when the key is left out)"], "\(found)")
    }

    @Test func aMistypedKeyIsRefusedWithTheNearestKnownOne() {
        let p = problems("""
            channels:
              - name: facts
                schedul: ["0 9 * * *"]
            """)
        #expect(p == ["line 3, channels[0].schedul: unknown key 'schedul'; did you mean 'schedule'?"])
    }

    /// A value of the wrong shape (text where a list or a mapping goes) does not hide the
    /// problems after it in its channel: decoding stops at the first, so each is named by the
    /// walk over the file.
    @Test func wrongShapesDoNotHideEachOther() {
        let p = problems("""
            channels:
              - name: facts
                duration: 7
                topics: octopuses
                schedule: {at: 9}
                voice: {en: deep}
                format: [short]
            providers:
              openai:
                voices: [onyx]
            """)
        #expect(p == [
            "line 3, channels[0].duration: expected a mapping (key: value lines, or {k: v})",
            "line 4, channels[0].topics: expected a list (- item lines, or [a, b])",
            "line 5, channels[0].schedule: expected a list (- item lines, or [a, b])",
            "line 6, channels[0].voice: expected text",
            "line 7, channels[0].format: expected a video format: one of short, long",
            "line 10, providers.openai.voices: expected a mapping (key: value lines, or {k: v})",
        ], "\(p)")
    }

    @Test func everyProblemOfTheFileIsReportedWithItsLine() {
        let p = problems("""
            output_dri: ./out
            channels:
              - name: facts
                topics: [a]
                topics: [b]
                duration: {min: 30, mx: 60}
                max_attempts: 0
                catch_up_window: 1e300d
              - name: horror
                priority: 99999999999999999999999
                topic_recency_days: 1:1:1:1:1:1:1:1:1:1:1:1
                missed_slot: all
            providers:
              youtube:
                daily_quot: 5
                chunk_mib: 0
              openai:
                voices: {en-dep: onyx}
              stable_diffusion: {steps: -1}
            output_dri: ./again
            """)
        let expected = [
            "line 1, output_dri: unknown key 'output_dri'; did you mean 'output_dir'?",
            "line 5, channels[0].topics: the key 'topics' is given twice (first at line 4); keep one",
            "line 6, channels[0].duration.mx: unknown key 'mx'; did you mean 'max'?",
            "line 6, channels[0].duration.max: the key 'max' is missing",
            "line 7, channels[0].max_attempts: 0 is out of range: allowed 1 to 100",
            "line 8, channels[0].catch_up_window: '1e300d' is out of range: allowed 0s to 30d",
            "line 10, channels[1].priority: 99999999999999999999999 is out of range: allowed -1000000 to 1000000",
            "line 11, channels[1].topic_recency_days: '1:1:1:1:1:1:1:1:1:1:1:1' is not a whole number",
            "line 12, channels[1].missed_slot: unknown key 'missed_slot'; did you mean 'missed_slots'?",
            "line 15, providers.youtube.daily_quot: unknown key 'daily_quot'; did you mean 'daily_quota'?",
            "line 16, providers.youtube.chunk_mib: 0 is out of range: allowed 1 to 1024",
            "line 18, providers.openai.voices.en-dep: 'en-dep' is not a known voice; use one of en-deep, en-bright, en-calm, espeak:<voice>",
            "line 19, providers.stable_diffusion.steps: -1 is out of range: allowed 1 to 150",
            "line 20, output_dri: the key 'output_dri' is given twice (first at line 1); keep one",
        ]
        #expect(p == expected)
    }

    /// A channel whose decoding stops at its first bad word still has its other problems named.
    @Test func everyBadWordCronAndZoneOfAChannelIsReported() {
        let p = problems("""
            channels:
              - name: facts
                type: cooking
                format: wide
                missed_slots: sometimes
                tts: [espeak, espek]
                schedule: ["0 9 * * *", "61 * * * *"]
                time_zone: Mars/Olympus
                voice: en-dep
                captions: karaoke
            providers:
              youtube: {privacy_status: pubic, captions_cost: -1}
            """)
        #expect(p == [
            "line 3, channels[0].type: 'cooking' is not a channel type; use one of horror, facts, finance",
            "line 4, channels[0].format: 'wide' is not a video format; use one of short, long",
            "line 5, channels[0].missed_slots: 'sometimes' is not a missed_slots policy; use one of skip, latest, all",
            "line 6, channels[0].tts[1]: 'espek' is not a TTS engine; use one of espeak, elevenlabs, openai",
            "line 7, channels[0].schedule[1]: cron expression '61 * * * *': minute field '61': 61 is outside 0-59",
            "line 8, channels[0].time_zone: 'Mars/Olympus' is not an IANA time zone such as America/New_York",
            "line 9, channels[0].voice: 'en-dep' is not a known voice; use one of en-deep, en-bright, en-calm, espeak:<voice>",
            "line 10, channels[0].captions: 'karaoke' is not a caption style; use one of words, line, sentences",
            "line 12, providers.youtube.privacy_status: 'pubic' is not a privacy status; use one of private, unlisted, public",
            "line 12, providers.youtube.captions_cost: -1 is out of range: allowed 0 to 100000000",
        ])
    }

    /// Foundation's `GMT+5` is UTC+5, IANA's `Etc/GMT+5` UTC−5: the first is refused, saying
    /// which fixed zone was likely meant; the IANA names, `UTC` and `GMT` pass.
    @Test func aFoundationOffsetZoneIsRefusedForItsReversedSign() {
        let p = problems("""
            channels:
              - {name: a, type: facts, time_zone: GMT+5}
              - {name: b, type: facts, time_zone: UTC-0330}
              - {name: c, type: facts, time_zone: Etc/GMT+5}
              - {name: d, type: facts, time_zone: UTC}
              - {name: e, type: facts, time_zone: GMT}
            """)
        #expect(p == [
            "line 2, channels[0].time_zone: 'GMT+5' is not an IANA time zone (Foundation reads it as UTC+5, where IANA's Etc/GMT+N means UTC−N); write a place such as America/New_York, or Etc/GMT-5 for a fixed offset",
            "line 3, channels[1].time_zone: 'UTC-0330' is not an IANA time zone (Foundation reads it as UTC−3:30, where IANA's Etc/GMT+N means UTC−N); write a place such as America/New_York",
        ], "\(p)")
    }

    /// `media_library:` makes the library a channel's image source unless `images:` says otherwise;
    /// a library that is not a folder, or `images: library` without one, is refused with its line.
    @Test func aMediaLibraryIsTheDefaultImageSourceAndMustBeAFolder() throws {
        let folder = FileManager.default.temporaryDirectory.path
        let config = try AppConfig.parse("""
            channels:
              - name: facts
                media_library: \(folder)
              - name: horror
                media_library: \(folder)
                images: procedural
              - name: finance
            """, path: "test.yaml")
        #expect(config.channels.map(\.services.images) == [.library, .procedural, .procedural])
        #expect(config.channels[0].mediaLibrary == folder)
        let p = problems("""
            channels:
              - name: facts
                media_library: /no/such/folder
              - name: horror
                images: library
            """)
        #expect(p == [
            "line 3, channels[0].media_library: '/no/such/folder' is not a folder",
            "line 5, channels[1].images: library needs media_library: PATH, the folder of the channel's pictures, clips and music",
        ])
    }

    /// A channel's name names its folders under output_dir and work_dir, so a name that is a path
    /// (or could climb out of them) is refused; a topic must say something and fit a title.
    @Test func aChannelNameThatIsAPathAndABlankOrHugeTopicAreRefused() {
        let p = problems("""
            channels:
              - {name: ../etc, type: facts}
              - {name: a/b, type: facts}
              - {name: .hidden, type: facts}
              - name: facts
                topics: ["", "   ", "\(String(repeating: "x", count: 301))", "ok"]
              - {name: \(String(repeating: "n", count: 65)), type: facts}
              - {name: horror-2.ok_name, type: horror}
            """)
        let name = "must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"
        #expect(p.count == 7, "\(p.joined(separator: "\n"))")
        #expect(p.filter { $0.contains(name) }.map { String($0.prefix(24)) }
                == ["line 2, channels[0].name", "line 3, channels[1].name", "line 4, channels[2].name", "line 7, channels[4].name"], "\(p)")
        #expect(p.contains("line 6, channels[3].topics[0]: a topic must not be blank"), "\(p)")
        #expect(p.contains("line 6, channels[3].topics[1]: a topic must not be blank"), "\(p)")
        #expect(p.contains("line 6, channels[3].topics[2]: a topic of 301 characters is out of range: allowed 1 to 300"), "\(p)")
    }

    /// `010` is octal 8 to YAML 1.1 and ten to a reader: neither is guessed.
    @Test func aWholeNumberWithALeadingZeroIsRefused() {
        let p = problems("channels:\n  - name: facts\n    max_attempts: 010\n    priority: 0\n")
        #expect(p == ["line 3, channels[0].max_attempts: '010' has a leading zero, which YAML may read as octal: write it without (10, or 8 if octal was meant)"], "\(p)")
    }

    /// A value of the wrong shape says what the key takes, in YAML's words, not the decoder's
    /// ("Expected to decode Sequence but found Node").
    @Test func aValueOfTheWrongShapeSaysWhatTheKeyTakes() {
        let p = problems("channels:\n  - name: facts\n    topics: why the sky is blue\n  - name: horror\n    duration: 60\n")
        #expect(p.count == 2, "\(p)")
        #expect(p.contains("line 3, channels[0].topics: expected a list (- item lines, or [a, b])"), "\(p)")
        #expect(p.contains { $0.hasPrefix("line 5, channels[1].duration: expected a mapping") }, "\(p)")
        #expect(!p.joined().contains("Expected to decode"), "\(p)")
    }

    @Test func aKeyWithoutAValueIsRefusedRatherThanDefaulted() {
        let p = problems("channels:\n  - name: facts\n    schedule:\n    max_attempts: ~\nproviders:\n")
        #expect(p == [
            "line 3, channels[0].schedule: the key 'schedule' has no value; give one, or leave the key out for the default",
            "line 4, channels[0].max_attempts: the key 'max_attempts' has no value; give one, or leave the key out for the default",
            "line 5, providers: the key 'providers' has no value; give one, or leave the key out for the default",
        ])
    }

    @Test func decodingProblemsOfSeveralChannelsAreAllReported() {
        let p = problems("""
            channels:
              - name: facts
                type: cooking
              - name: horror
                schedule: ["0 25 * * *"]
              - type: finance
            """)
        #expect(p.count == 3, "\(p)")
        #expect(p.contains { $0.hasPrefix("line 3, channels[0].type: 'cooking' is not a channel type") })
        #expect(p.contains { $0.hasPrefix("line 5, channels[1].schedule[0]: cron expression '0 25 * * *'") })
        #expect(p.contains("line 6, channels[2].name: the key 'name' is missing"))
    }

    /// A channel whose decoding fails at one key (here `max_attempts: 0`, an unknown type, a
    /// missing name) still has what only the decoded channel shows named: min above max, a blank
    /// topic, a name given twice or not usable as a folder. They were hidden until the first was fixed.
    @Test func aKeyThatStopsDecodingDoesNotHideTheChannelsOtherProblems() {
        let p = problems("""
            channels:
              - name: facts
                max_attempts: 0
                duration: {min: 90, max: 30}
                topics: ["   "]
              - name: facts
                type: cooking
                priority: 5000000
              - name: .hidden
                catch_up_window: 99d
                duration: {min: 9999999, max: 10}
              - type: finance
                topics: [""]
            """)
        #expect(p == [
            "line 3, channels[0].max_attempts: 0 is out of range: allowed 1 to 100",
            "line 4, channels[0].duration: min 90 and max 30 must satisfy 0 < min <= max",
            "line 5, channels[0].topics[0]: a topic must not be blank",
            "line 6, channels[1].name: channel 'facts' is defined twice",
            "line 7, channels[1].type: 'cooking' is not a channel type; use one of horror, facts, finance",
            "line 8, channels[1].priority: 5000000 is out of range: allowed -1000000 to 1000000",
            "line 9, channels[2].type: channel '.hidden' needs a type: one of horror, facts, finance",
            "line 9, channels[2].name: channel name '.hidden' must be 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' "
                + "(it names the channel's folders under output_dir and work_dir)",
            "line 10, channels[2].catch_up_window: '99d' is out of range: allowed 0s to 30d",
            "line 11, channels[2].duration.min: 9999999 is out of range: allowed 1 to 43200",
            "line 12, channels[3].name: the key 'name' is missing",
            "line 13, channels[3].topics[0]: a topic must not be blank",
        ], "\(p.joined(separator: "\n"))")
    }

    @Test func aLanguageMustBeKnownAndNeedsAnLLMScript() {
        let p = problems("channels:\n  - name: facts\n    language: fr\n  - name: horror\n    language: es\n  - name: finance\n    language: ja-JP\n    script: openai\n")
        #expect(p.contains { $0.hasPrefix("line 3, channels[0].language: 'fr' is not a language ytauto speaks; use one of en (English), es (Spanish), ja (Japanese)") }, "\(p)")
        #expect(p.contains { $0.contains("channels[1].language: Spanish needs script: openai or anthropic") }, "\(p)")
        #expect(!p.contains { $0.contains("channels[2]") }, "\(p)")
    }

    @Test func aMistypedKeyFarFromAnyKnownOneListsTheKnownKeys() {
        let p = problems("channels:\n  - name: facts\n    providers:\n      x: 1\n")
        #expect(p.count == 1)
        #expect(p.first?.hasPrefix("line 3, channels[0].providers: unknown key 'providers'; known keys: captions, catch_up_window, duplicate_sentences_percent, duplicate_thumbnail_bits, duration,") == true)
    }

    /// What the sample's header and `ytauto init --help` say is true of the sample: the setting
    /// its comment suggests for an LLM script is one the configuration takes (it once suggested
    /// `services: {script: openai}`, refused as an unknown key), and the help names its channels.
    @Test func theSamplesCommentAndHelpSayWhatItHolds() throws {
        let yaml = try AppConfig.sample.yaml()
        let hint = try #require(yaml.firstMatch(of: /a channel's\s+#?\s*(\w+): (\w+)/), "no suggested setting in the header")
        let (key, value) = (String(hint.output.1), String(hint.output.2))
        let suggested = try #require(yaml.range(of: "\n  \(key): template\n"), "the sample's channels have no \(key) key")
        let changed = try AppConfig.parse(yaml.replacingCharacters(in: suggested, with: "\n  \(key): \(value)\n"))
        #expect(changed.channels[0].services.script.rawValue == value)
        let abstract = YTAutoCommand.Init.configuration.abstract
        for type in Set(AppConfig.sample.channels.map(\.type.rawValue)) { #expect(abstract.contains(type), "\(abstract)") }
        #expect(abstract.contains("shorts") == AppConfig.sample.channels.contains { $0.format == .short }, "\(abstract)")
        #expect(YTAutoCommand.configuration.abstract.contains("PostgreSQL"))
    }

    @Test func theSampleAndEveryRangeBoundParse() throws {
        _ = try AppConfig.parse(try AppConfig.sample.yaml())
        let config = try AppConfig.parse("""
            channels:
              - name: facts
                duration: {min: 1, max: 43200}
                max_attempts: 100
                priority: -1000000
                catch_up_window: 30d
                topic_recency_days: 3650
            providers:
              youtube: {daily_quota: 1, chunk_mib: 1024, publish_after_hours: 8760, upload_cost: 0}
              stable_diffusion: {steps: 150}
              openai: {voices: {en-deep: onyx, "espeak:en-us": alloy}}
            """)
        #expect(config.channels[0].catchUpWindow == 30 * 86_400)
        #expect(config.channels[0].durationRange == .init(min: 1, max: 43_200))
        #expect(config.providers.youtube.chunkMiB == 1024)
        #expect(config.providers.openai.voices["espeak:en-us"] == "alloy")
    }

    /// The schema's typed keys are keys of the types: a typo there would make an unknown key known.
    @Test func theSchemaKnowsExactlyTheTypesKeys() {
        func keys(_ s: ConfigSchema) -> Set<String> {
            if case .map(let m) = s { return Set(m.keys) }
            return []
        }
        func child(_ s: ConfigSchema, _ k: String) -> ConfigSchema {
            if case .map(let m) = s, let c = m[k] { return c }
            return .any
        }
        #expect(keys(.file) == Set(AppConfig.configKeys))
        #expect(keys(ConfigSchema.channel) == Set(ChannelConfig.configKeys))
        #expect(keys(child(ConfigSchema.channel, "duration")) == Set(ChannelConfig.DurationRange.configKeys))
        #expect(keys(ConfigSchema.providers) == Set(ProvidersConfig.configKeys))
        #expect(keys(child(ConfigSchema.providers, "openai")) == Set(ProvidersConfig.OpenAI.configKeys))
        #expect(keys(child(ConfigSchema.providers, "anthropic")) == Set(ProvidersConfig.Anthropic.configKeys))
        #expect(keys(child(ConfigSchema.providers, "elevenlabs")) == Set(ProvidersConfig.ElevenLabs.configKeys))
        #expect(keys(child(ConfigSchema.providers, "stable_diffusion")) == Set(ProvidersConfig.StableDiffusion.configKeys))
        #expect(keys(child(ConfigSchema.providers, "youtube")) == Set(ProvidersConfig.YouTube.configKeys))
    }

    @Test func suggestionsUseEditDistance() {
        #expect(ConfigSchema.editDistance("schedul", "schedule") == 1)
        #expect(ConfigSchema.editDistance("", "abc") == 3)
        #expect(ConfigSchema.suggestion(for: "time_zon", among: ChannelConfig.configKeys) == "did you mean 'time_zone'?")
        #expect(ConfigSchema.suggestion(for: "Voice", among: ChannelConfig.configKeys) == "did you mean 'voice'?")
    }
}
