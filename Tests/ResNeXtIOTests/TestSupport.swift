import Foundation
import ResNeXtCore
import ResNeXtIO
import XCTest

/// Asserts that `body` throws `ResNeXtError.io` whose message contains every phrase; returns the message.
@discardableResult
func assertIOError<T>(
    _ body: @autoclosure () throws -> T, contains phrases: [String],
    file: StaticString = #filePath, line: UInt = #line
) -> String? {
    do {
        _ = try body()
        XCTFail("expected an I/O error containing \(phrases), got success", file: file, line: line)
    } catch ResNeXtError.io(let message) {
        for phrase in phrases {
            XCTAssertTrue(message.contains(phrase), "'\(message)' does not contain '\(phrase)'", file: file, line: line)
        }
        return message
    } catch {
        XCTFail("expected ResNeXtError.io containing \(phrases), got \(error)", file: file, line: line)
    }
    return nil
}

/// A fresh directory under /tmp, removed (after restoring write permission) by `remove()`.
struct TempDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/resnextio-tests-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ResNeXtError.io("mkdtemp failed")
        }
        path = String(cString: made)
    }

    func remove() {
        if let names = try? FileManager.default.subpathsOfDirectory(atPath: path) {
            for name in names { chmod("\(path)/\(name)", 0o755) }
        }
        chmod(path, 0o755)
        try? FileManager.default.removeItem(atPath: path)
    }

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}

/// SplitMix64: a small seeded generator so randomized tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Little-endian bytes of a fixed-width integer.
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

/// A safetensors byte sequence from a header string (used verbatim) and a data buffer.
func safetensorsBytes(header: String, buffer: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8)
    return le(UInt64(h.count)) + h + buffer
}
