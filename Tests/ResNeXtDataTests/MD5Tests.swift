import Foundation
import XCTest
import ResNeXtCore
import ResNeXtData

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
            ("12345678901234567890123456789012345678901234567890123456789012345678901234567890",
             "57edf4a22be3c955ac49da2e2107b67a"),
        ]
        for (message, expected) in vectors {
            XCTAssertEqual(MD5.hexDigest(Array(message.utf8)), expected, "MD5(\"\(message)\")")
        }
        XCTAssertEqual(MD5.digest([]).count, 16)
    }

    func testMillionAs() {
        XCTAssertEqual(MD5.hexDigest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "7707d6ae4e027c70eea2a935c2296f21")
    }

    /// Padding boundaries (55, 56, 63, 64, 65 … bytes) and chunked streaming give the one-shot digest.
    func testStreamingMatchesOneShotAcrossBlockBoundaries() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for length in [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000] {
            let message = Array(data.prefix(length))
            let expected = MD5.hexDigest(message)
            for chunk in [1, 3, 63, 64, 65] {
                var hasher = MD5()
                var offset = 0
                while offset < message.count {
                    let end = min(offset + chunk, message.count)
                    hasher.update(Array(message[offset..<end]))
                    offset = end
                }
                XCTAssertEqual(MD5.hex(hasher.finalize()), expected, "length \(length), chunks of \(chunk)")
            }
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
