import Foundation

/// The length of a PCM WAV file read from its own header and size: the samples it holds, not what
/// a tool reports. The QA gate places the narrated sentences by these lengths, a measurement
/// independent of the durations the narration stage recorded (which came from ffprobe).
public struct WAVFile: Sendable, Hashable {
    public let sampleRate: Int
    public let channels: Int
    public let bytesPerFrame: Int
    /// Sample frames in the data chunk (bounded by the bytes the file really has: a header written
    /// for a stream says 0x7FFFFFFF).
    public let frames: Int

    public var seconds: Double { Double(frames) / Double(sampleRate) }

    public init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw WAVError(path: path, reason: "it cannot be opened") }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map(Int.init) ?? 0
        try? handle.seek(toOffset: 0)
        let head = (try? handle.read(upToCount: 1 << 16)) ?? Data()
        try self.init(header: head, fileSize: size, path: path)
    }

    /// Parses the RIFF chunks in `header` (the file's first bytes) up to the data chunk.
    init(header head: Data, fileSize: Int, path: String) throws {
        let bytes = [UInt8](head)
        func u32(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24 }
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func tag(_ at: Int) -> String { String(decoding: bytes[at..<at + 4], as: UTF8.self) }
        guard bytes.count >= 12, tag(0) == "RIFF", tag(8) == "WAVE" else { throw WAVError(path: path, reason: "it is not a RIFF/WAVE file") }
        var at = 12
        var format: (rate: Int, channels: Int, block: Int, code: Int)?
        while at + 8 <= bytes.count {
            let id = tag(at), length = u32(at + 4), body = at + 8
            if id == "fmt " {
                guard body + 16 <= bytes.count else { break }
                format = (u32(body + 4), u16(body + 2), u16(body + 12), u16(body))
            } else if id == "data" {
                guard let f = format else { throw WAVError(path: path, reason: "its data chunk comes before its format") }
                // 1 = integer PCM, 3 = float, 0xFFFE = extensible (PCM inside).
                guard [1, 3, 0xFFFE].contains(f.code), f.rate > 0, f.block > 0 else {
                    throw WAVError(path: path, reason: "its format (code \(f.code), \(f.rate) Hz, \(f.block)-byte frames) is not PCM")
                }
                let available = max(0, fileSize - body)
                sampleRate = f.rate
                channels = f.channels
                bytesPerFrame = f.block
                frames = min(length, available) / f.block
                return
            }
            at = body + length + (length & 1)
        }
        throw WAVError(path: path, reason: "it has no data chunk in its first \(bytes.count) bytes")
    }
}

extension WAVFile {
    /// Writes 16-bit mono PCM samples as a WAV file at `path` (the caller makes it atomic).
    public static func write(samples: [Int16], sampleRate: Int, to path: String) throws {
        var data = Data(capacity: 44 + samples.count * 2)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { data.append(contentsOf: $0) } }
        func u16(_ v: Int) { withUnsafeBytes(of: UInt16(v).littleEndian) { data.append(contentsOf: $0) } }
        let bytes = samples.count * 2
        data.append(contentsOf: Array("RIFF".utf8)); u32(36 + bytes); data.append(contentsOf: Array("WAVE".utf8))
        data.append(contentsOf: Array("fmt ".utf8)); u32(16); u16(1); u16(1); u32(sampleRate); u32(sampleRate * 2); u16(2); u16(16)
        data.append(contentsOf: Array("data".utf8)); u32(bytes)
        samples.withUnsafeBytes { raw in
            // PCM in a WAV file is little-endian, as this machine's Int16 is.
            data.append(contentsOf: raw)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// A file that should be PCM WAV is not.
public struct WAVError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path) is not a readable WAV file: \(reason)" }
}
