import Foundation
import ResNeXtCore
import ResNeXtData
import XCTest

/// `MD5` (swift-crypto's `Insecure.MD5` behind the project's helpers) against known digests.
final class MD5Tests: XCTestCase {
    /// RFC 1321 appendix A.5 test suite.
    func testRFC1321Vectors() {
        let vectors: [(String, String)] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a"
            )
        ]
        for (message, expected) in vectors {
            XCTAssertEqual(MD5.hexDigest(Array(message.utf8)), expected, "MD5(\"\(message)\")")
        }
    }

    func testMillionAs() {
        XCTAssertEqual(
            MD5.hexDigest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
            "7707d6ae4e027c70eea2a935c2296f21")
    }

    /// Files that end just before, on and after the 1 MiB read chunks (and the 64-byte MD5 blocks) give
    /// the one-shot digest.
    func testFileDigestAcrossChunkBoundaries() throws {
        let path = NSTemporaryDirectory() + "md5-chunks-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let data = (0..<((2 << 20) + 1)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 11) }
        for length in [0, 1, 55, 56, 63, 64, 65, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, 2 << 20, (2 << 20) + 1] {
            let message = Array(data.prefix(length))
            try Data(message).write(to: URL(fileURLWithPath: path))
            XCTAssertEqual(try MD5.hexDigest(ofFile: path), MD5.hexDigest(message), "length \(length)")
        }
    }

    /// The file digest (1 MiB chunks) agrees with the system's md5sum where it exists.
    func testFileDigestMatchesMD5Sum() throws {
        let path = NSTemporaryDirectory() + "md5-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let digest = try MD5.hexDigest(ofFile: path)
        XCTAssertEqual(digest, MD5.hexDigest(bytes))

        for tool in ["/usr/bin/md5sum", "/bin/md5sum"] where FileManager.default.isExecutableFile(atPath: tool) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = [path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(output.split(separator: " ").first.map(String.init), digest)
            break
        }

        XCTAssertThrowsError(try MD5.hexDigest(ofFile: path + ".missing")) { error in
            guard case ResNeXtError.io(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains(path + ".missing"), message)
        }
    }
}
