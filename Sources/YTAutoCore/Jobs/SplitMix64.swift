import Foundation

/// SplitMix64: a small, fast, seeded generator, so that what it chooses can be repeated — the
/// same topic gives the same script and scenes, and a test or chaos run can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// Seeded from the SHA-256 of `text`.
    public init(text: String) {
        state = UInt64(Checksum.sha256Hex(text).prefix(16), radix: 16) ?? 0x1234_5678
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
