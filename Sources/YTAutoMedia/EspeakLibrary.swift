import CEspeakNG
import Foundation
import YTAutoCore
import YTAutoSupport

#if canImport(Glibc)
import Glibc
#endif

/// libespeak-ng in this process: the same synthesiser as the `espeak-ng` program (the program is a
/// thin front end over this library), used directly because the library reports where each word
/// starts in the sound it makes, as it makes it. The word timings are therefore exact, not fitted.
///
/// The library is opened with `dlopen` when first used (`libespeak-ng.so.1`, installed with the
/// espeak-ng package), so a host without it still starts and gets ``MissingToolError`` where a
/// narration needs it. Its state is global and not thread-safe: every synthesis runs on one
/// serial queue, off Swift's cooperative threads.
///
/// It also keeps a little state from one synthesis to the next: a process's first sentence is the
/// program's sample for sample, later ones differ from it by a few milliseconds in length.
/// Re-initialising per sentence would avoid it, but `espeak_Terminate` followed by
/// `espeak_Initialize` hangs in synchronous mode (libespeak-ng 1.51). The word timings are the
/// ones of the sound this library produced, so they stay exact either way.
final class EspeakLibrary: @unchecked Sendable {
    /// What one synthesis gave: 16-bit mono samples and the words' places.
    struct Synthesis {
        var samples: [Int16]
        var sampleRate: Int
        var words: [WordTiming]
    }

    typealias InitializeFn = @convention(c) (espeak_AUDIO_OUTPUT, Int32, UnsafePointer<CChar>?, Int32) -> Int32
    typealias CallbackFn = @convention(c) (UnsafeMutablePointer<Int16>?, Int32, UnsafeMutablePointer<espeak_EVENT>?) -> Int32
    typealias SetCallbackFn = @convention(c) (CallbackFn?) -> Void
    typealias SetVoiceFn = @convention(c) (UnsafePointer<CChar>?) -> espeak_ERROR
    typealias SetVoiceByPropertiesFn = @convention(c) (UnsafeMutablePointer<espeak_VOICE>?) -> espeak_ERROR
    typealias SetParameterFn = @convention(c) (espeak_PARAMETER, Int32, Int32) -> espeak_ERROR
    typealias SynthFn = @convention(c) (UnsafeRawPointer?, Int, UInt32, espeak_POSITION_TYPE, UInt32, UInt32,
                                        UnsafeMutablePointer<UInt32>?, UnsafeMutableRawPointer?) -> espeak_ERROR

    /// What the synthesis callback collects; one synthesis at a time (the queue), so one global.
    final class Capture {
        var samples: [Int16] = []
        /// (text position, from 1, in Unicode scalars; audio position in ms) of each word event.
        var words: [(text: Int, ms: Int)] = []
        var endMS = 0
    }

    nonisolated(unsafe) static var capture: Capture?

    static let library = "libespeak-ng.so.1"
    private static let loaded: Result<EspeakLibrary, MissingToolError> = {
        do { return .success(try EspeakLibrary()) } catch let e as MissingToolError { return .failure(e) } catch {
            return .failure(MissingToolError(tool: .espeakNG, searched: "\(library): \(error)"))
        }
    }()

    /// The process's library, opened and initialised on first use.
    static func shared() throws -> EspeakLibrary { try loaded.get() }

    /// Every call into the library, one at a time (internal: a test holds it to see who waits).
    let queue = DispatchQueue(label: "ytauto.espeak-ng")
    let sampleRate: Int
    private let setVoice: SetVoiceFn
    private let setVoiceByProperties: SetVoiceByPropertiesFn
    private let setParameter: SetParameterFn
    private let synth: SynthFn

    private init() throws {
        guard let handle = dlopen(Self.library, RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "not found"
            throw MissingToolError(tool: .espeakNG, searched: "\(Self.library): \(why)")
        }
        func symbol<T>(_ name: String, _: T.Type) throws -> T {
            guard let s = dlsym(handle, name) else {
                throw MissingToolError(tool: .espeakNG, searched: "\(Self.library), which lacks \(name)")
            }
            return unsafeBitCast(s, to: T.self)
        }
        let initialize = try symbol("espeak_Initialize", InitializeFn.self)
        let setCallback = try symbol("espeak_SetSynthCallback", SetCallbackFn.self)
        setVoice = try symbol("espeak_SetVoiceByName", SetVoiceFn.self)
        setVoiceByProperties = try symbol("espeak_SetVoiceByProperties", SetVoiceByPropertiesFn.self)
        setParameter = try symbol("espeak_SetParameter", SetParameterFn.self)
        synth = try symbol("espeak_Synth", SynthFn.self)
        // Synchronous: the samples come to the callback, nothing is played. 0x8000 is
        // espeakINITIALIZE_DONT_EXIT (the library must not exit the process on a fatal error).
        let rate = initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, 0x8000)
        guard rate > 0 else { throw MissingToolError(tool: .espeakNG, searched: "\(Self.library), which could not find its voice data (espeak-ng-data)") }
        sampleRate = Int(rate)
        let callback: CallbackFn = { wav, count, events in
            guard let capture = EspeakLibrary.capture else { return 1 }
            if let wav, count > 0 { capture.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
            var e = events
            while let event = e, event.pointee.type != espeakEVENT_LIST_TERMINATED {
                switch event.pointee.type {
                case espeakEVENT_WORD: capture.words.append((Int(event.pointee.text_position), Int(event.pointee.audio_position)))
                case espeakEVENT_END, espeakEVENT_MSG_TERMINATED: capture.endMS = max(capture.endMS, Int(event.pointee.audio_position))
                default: break
                }
                e = event + 1
            }
            return 0
        }
        setCallback(callback)
    }

    /// Speaks `text` with `voice`; returns the samples and each word's place.
    func synthesize(_ text: String, voice: EspeakVoice) async throws -> Synthesis {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Synthesis, any Error>) in
            queue.async { done.resume(with: Result { try self.synthesizeNow(text, voice: voice) }) }
        }
    }

    private func synthesizeNow(_ text: String, voice: EspeakVoice) throws -> Synthesis {
        guard selectVoice(voice.voice) else { throw UnknownVoiceError(voiceID: "espeak:\(voice.voice)") }
        _ = setParameter(espeakRATE, Int32(voice.speed), 0)
        _ = setParameter(espeakPITCH, Int32(voice.pitch), 0)
        let capture = Capture()
        Self.capture = capture
        defer { Self.capture = nil }
        let status = text.withCString { p in
            // As the program speaks: UTF-8, and the pause at the end of the text (espeakENDPAUSE).
            synth(p, strlen(p) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8) | UInt32(espeakENDPAUSE), nil, nil)
        }
        guard status == EE_OK else {
            throw TTSSynthesisError(message: "espeak-ng could not speak the sentence (error \(status.rawValue))")
        }
        let seconds = Double(capture.samples.count) / Double(sampleRate)
        return Synthesis(samples: capture.samples, sampleRate: sampleRate,
                         words: Self.place(text: text, events: capture.words, end: seconds))
    }

    /// Whether `voice` is one this machine's espeak-ng has (``selectVoice(_:)`` would take it).
    /// It waits its turn behind every sentence queued before it, suspended. A `queue.sync` here
    /// would hold one of the few threads that run all of the process's tasks (one a core) for as
    /// long as those sentences take. Today's callers check at a process's start, when nothing is
    /// queued yet, so the wait was short; a check made later would not be.
    func canSpeak(_ voice: EspeakVoice) async -> Bool {
        await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            queue.async { done.resume(returning: self.selectVoice(voice.voice)) }
        }
    }

    /// Selects a voice as the `espeak-ng -v NAME` program does: by its name, else by language
    /// (`en-gb+m1` is the language en-gb with the variant m1).
    private func selectVoice(_ name: String) -> Bool {
        if setVoice(name) == EE_OK { return true }
        return name.withCString { language in
            var wanted = espeak_VOICE()
            wanted.languages = language
            return setVoiceByProperties(&wanted) == EE_OK
        }
    }

    /// Each word of `text` (``WordTiming/tokens(_:)``) starts at the first word event inside it (a
    /// number such as 1990 is spoken as two words, two events); it ends where the next begins, the
    /// last one at the end of the sound. A word the library reported no event for (none seen) is
    /// put where the one before it ends.
    static func place(text: String, events: [(text: Int, ms: Int)], end: Double) -> [WordTiming] {
        let tokens = WordTiming.tokens(text)
        var starts: [Double?] = Array(repeating: nil, count: tokens.count)
        for event in events {
            let at = event.text - 1  // the library counts from 1
            // The word holding that position, or (on a space) the next one.
            guard let k = tokens.firstIndex(where: { at < $0.scalars.upperBound }) else { continue }
            let t = Double(event.ms) / 1000
            starts[k] = min(starts[k] ?? t, t)
        }
        return WordTiming.placed(tokens, starts: starts, end: end)
    }
}

/// A TTS engine produced no sound for a sentence.
public struct TTSSynthesisError: YTAutoError {
    public let message: String
    public var code: String { "tts.failed" }
    public var isRetryable: Bool { false }
}
