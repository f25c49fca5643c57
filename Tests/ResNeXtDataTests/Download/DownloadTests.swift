import Foundation
import ResNeXtCore
import ResNeXtData
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

/// `CIFARDownload.ensure` end to end against `python3 -m http.server` on 127.0.0.1 serving a small
/// fake release archive made with `tar`.
final class DownloadTests: XCTestCase {
    /// The served fixture and the server are shared by all tests of the class (one python start).
    private nonisolated(unsafe) static var root = ""
    private nonisolated(unsafe) static var port: UInt16 = 0
    private nonisolated(unsafe) static var server: Process?
    private nonisolated(unsafe) static var archiveMD5 = ""
    private nonisolated(unsafe) static var fixtureError: (any Error)?

    private var root: String { Self.root }
    private var served: String { Self.root + "/served" }
    private var port: UInt16 { Self.port }
    private var archiveMD5: String { Self.archiveMD5 }
    private var baseURL: String { "http://127.0.0.1:\(Self.port)" }
    /// A fresh, not yet existing download directory for each test.
    private var destination = ""

    override class func setUp() {
        super.setUp()
        do {
            try makeFixture()
            try startServer()
        } catch {
            fixtureError = error
        }
    }

    override class func tearDown() {
        if let server, server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
        server = nil
        try? FileManager.default.removeItem(atPath: root)
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let error = Self.fixtureError { throw error }
        destination = root + "/data-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        if !destination.isEmpty { try? FileManager.default.removeItem(atPath: destination) }
    }

    private static func makeFixture() throws {
        root = NSTemporaryDirectory() + "download-tests-\(UUID().uuidString)"
        let served = root + "/served"
        let source = root + "/source/cifar-10-batches-bin"
        let fm = FileManager.default
        try fm.createDirectory(atPath: served + "/bad", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: source, withIntermediateDirectories: true)

        // A tiny release: 1 record per training batch (label = batch index - 1), 2 test records.
        for batch in 1...5 {
            try Data([UInt8(batch - 1)] + [UInt8](repeating: UInt8(batch * 10), count: 3072))
                .write(to: URL(fileURLWithPath: source + "/data_batch_\(batch).bin"))
        }
        try Data([7] + [UInt8](repeating: 70, count: 3072) + [8] + [UInt8](repeating: 80, count: 3072))
            .write(to: URL(fileURLWithPath: source + "/test_batch.bin"))
        try "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n"
            .write(toFile: source + "/batches.meta.txt", atomically: true, encoding: .utf8)
        let archive = served + "/cifar-10-binary.tar.gz"
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "-czf", archive, "-C", root + "/source", "cifar-10-batches-bin"]
        try tar.run()
        tar.waitUntilExit()
        guard tar.terminationStatus == 0 else { throw ResNeXtError.io("tar -czf \(archive) failed") }
        archiveMD5 = try MD5.hexDigest(ofFile: archive)
        // Not a gzip file, for the extraction-failure test.
        try Data("this is not a tar archive".utf8).write(to: URL(fileURLWithPath: served + "/bad/cifar-100-binary.tar.gz"))
        // The CIFAR-10 archive under the CIFAR-100 name: it has no cifar-100-binary/ folder.
        try fm.copyItem(atPath: archive, toPath: served + "/cifar-100-binary.tar.gz")
    }

    // MARK: - Helpers

    /// A port that was free a moment ago (bind to port 0, read it back, close).
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ResNeXtError.io("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw ResNeXtError.io("bind/getsockname failed") }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func startServer() throws {
        for _ in 0..<3 {
            port = try freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root + "/served"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            server = process
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline {
                if accepts(port: port) { return }
                usleep(20_000)
            }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        throw ResNeXtError.io("could not start python3 -m http.server")
    }

    private func destinationEntries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: destination)) ?? []).sorted()
    }

    private func ioMessage(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch ResNeXtError.io(let message) {
            return message
        } catch {
            XCTFail("expected ResNeXtError.io, got \(error)", file: file, line: line)
        }
        return ""
    }

    // MARK: - Tests

    func testDownloadsVerifiesExtractsAndReads() throws {
        try CIFARDownload.ensure(
            directory: destination, variant: .cifar10, baseURL: baseURL,
            expectedMD5: archiveMD5, progress: false)
        XCTAssertEqual(destinationEntries(), ["cifar-10-batches-bin"], "no temporary files left behind")

        let train = try CIFARDataset(directory: destination, variant: .cifar10, split: .train)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(train.labels, [0, 1, 2, 3, 4])
        XCTAssertEqual(train.classNames.first, "airplane")
        XCTAssertEqual(try train.sample(at: 4).image.pixels, [Float](repeating: 50, count: 3072))
        let test = try CIFARDataset(directory: destination, variant: .cifar10, split: .test)
        XCTAssertEqual(test.labels, [7, 8])
        XCTAssertEqual(try test.sample(at: 1).image[2, 31, 31], 80)

        // Present now: no network access at all (this base URL would fail).
        try CIFARDownload.ensure(directory: destination, variant: .cifar10, baseURL: "http://127.0.0.1:1", progress: false)
        try CIFARDownload.ensure(
            directory: destination + "/cifar-10-batches-bin", variant: .cifar10,
            baseURL: "http://127.0.0.1:1", progress: false)
    }

    func testRemovesTemporariesOfDeadRuns() throws {
        // pid 2^22 + 1 is above Linux's pid_max limit, so no such process exists.
        let stale = destination + "/.cifar-10-binary.tar.gz.part-4194305"
        try FileManager.default.createDirectory(
            atPath: destination + "/.cifar-10-batches-bin.extract-4194305/x",
            withIntermediateDirectories: true)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: stale))
        try CIFARDownload.ensure(
            directory: destination, variant: .cifar10, baseURL: baseURL,
            expectedMD5: archiveMD5, progress: false)
        XCTAssertEqual(destinationEntries(), ["cifar-10-batches-bin"])
    }

    func testEnvironmentVariableOverridesBaseURL() throws {
        setenv(CIFARDownload.baseURLEnvironmentVariable, baseURL + "/", 1)
        defer { unsetenv(CIFARDownload.baseURLEnvironmentVariable) }
        try CIFARDownload.ensure(directory: destination, variant: .cifar10, expectedMD5: archiveMD5.uppercased(), progress: false)
        XCTAssertEqual(try CIFARDataset(directory: destination, variant: .cifar10, split: .test).count, 2)
    }

    func testChecksumMismatchLeavesNothing() {
        let wrong = String(repeating: "0", count: 32)
        let message = ioMessage {
            try CIFARDownload.ensure(
                directory: destination, variant: .cifar10, baseURL: baseURL,
                expectedMD5: wrong, progress: false)
        }
        XCTAssertTrue(message.contains("checksum"), message)
        XCTAssertTrue(message.contains(wrong), message)
        XCTAssertTrue(message.contains(archiveMD5), message)
        XCTAssertTrue(message.contains(baseURL + "/cifar-10-binary.tar.gz"), message)
        XCTAssertEqual(destinationEntries(), [])
    }

    func testPublishedChecksumRejectsOtherArchive() {
        // Without an override the published CIFAR-10 MD5 applies, which the fake archive cannot match.
        let message = ioMessage {
            try CIFARDownload.ensure(directory: destination, variant: .cifar10, baseURL: baseURL, progress: false)
        }
        XCTAssertTrue(message.contains("c32a1d4ab5d03f1284b67883e8d87530"), message)
        XCTAssertEqual(destinationEntries(), [])
    }

    func testHTTP404NamesTheURL() {
        let message = ioMessage {
            try CIFARDownload.ensure(
                directory: destination, variant: .cifar10, baseURL: baseURL + "/missing",
                expectedMD5: archiveMD5, progress: false)
        }
        XCTAssertTrue(message.contains(baseURL + "/missing/cifar-10-binary.tar.gz"), message)
        XCTAssertTrue(message.contains("exit status 22"), message)
        XCTAssertEqual(destinationEntries(), [])
    }

    func testCorruptArchiveFailsInTarAndLeavesNothing() throws {
        let md5 = try MD5.hexDigest(ofFile: served + "/bad/cifar-100-binary.tar.gz")
        let message = ioMessage {
            try CIFARDownload.ensure(
                directory: destination, variant: .cifar100, baseURL: baseURL + "/bad",
                expectedMD5: md5, progress: false)
        }
        XCTAssertTrue(message.contains("tar"), message)
        XCTAssertEqual(destinationEntries(), [])
    }

    func testArchiveWithoutTheReleaseFolder() throws {
        // The CIFAR-10 archive served under the CIFAR-100 name has no cifar-100-binary/ folder.
        let message = ioMessage {
            try CIFARDownload.ensure(
                directory: destination, variant: .cifar100, baseURL: baseURL,
                expectedMD5: archiveMD5, progress: false)
        }
        XCTAssertTrue(message.contains("cifar-100-binary/"), message)
        XCTAssertEqual(destinationEntries(), [])
    }

    func testCurlMissingAndBadChecksumArgument() throws {
        XCTAssertThrowsError(
            try CIFARDownload.ensure(
                directory: destination, variant: .cifar10, baseURL: baseURL,
                expectedMD5: "xyz", progress: false)
        ) { error in
            guard case ResNeXtError.invalidArgument = error else { return XCTFail("\(error)") }
        }
        let savedPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        setenv("PATH", root + "/no-such-bin", 1)
        defer { setenv("PATH", savedPath, 1) }
        let message = ioMessage {
            try CIFARDownload.ensure(
                directory: destination, variant: .cifar10, baseURL: baseURL,
                expectedMD5: archiveMD5, progress: false)
        }
        XCTAssertTrue(message.contains("curl"), message)
        XCTAssertTrue(message.contains("not found"), message)
    }
}
