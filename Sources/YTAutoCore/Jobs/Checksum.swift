import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SHA-256 digests, as lower-case hex: migration checksums and artifact verification.
public enum Checksum {
    public static func sha256Hex(_ data: some DataProtocol) -> String {
        hex(SHA256.hash(data: data))
    }

    /// Lower-case hex of a digest's bytes, two digits each.
    private static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { byte in (byte < 16 ? "0" : "") + String(byte, radix: 16) }.joined()
    }

    public static func sha256Hex(_ text: String) -> String { sha256Hex(Data(text.utf8)) }

    /// Hashes a file in 1 MiB chunks, so large videos are not read into memory at once.
    ///
    /// It reads with `read(2)` into one buffer: Foundation's `FileHandle.read(upToCount:)` on
    /// Linux fills its chunk 4 KiB at a time, which made hashing a 22 MB scene still take
    /// half a second (9 s of a 120 s render went to hashing its 17 stills).
    public static func sha256Hex(fileAt url: URL) throws -> (hex: String, bytes: Int64) {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code: CocoaError.Code = switch errno {
            case ENOENT: .fileReadNoSuchFile
            case EACCES, EPERM: .fileReadNoPermission
            default: .fileReadUnknown
            }
            throw CocoaError.error(code, url: url, errno: errno)
        }
        defer { close(fd) }
        var hasher = SHA256()
        var total: Int64 = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw CocoaError.error(.fileReadUnknown, url: url, errno: errno)
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            total += Int64(n)
        }
        return (hex(hasher.finalize()), total)
    }
}

extension CocoaError {
    /// A file error that carries the path and the POSIX reason, as Foundation's own do.
    static func error(_ code: CocoaError.Code, url: URL, errno: Int32) -> CocoaError {
        CocoaError(code, userInfo: [NSURLErrorKey: url, NSFilePathErrorKey: url.path,
                                    NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
    }
}
