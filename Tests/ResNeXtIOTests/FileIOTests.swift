import Foundation
import ResNeXtCore
import ResNeXtIO
import XCTest

final class FileIOTests: XCTestCase {
    func testWriteThenReadRoundTrip() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.path + "/data.bin"
        var rng = SplitMix64(seed: 7)
        let big = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &rng) }  // > one 64 KiB chunk
        try FileIO.writeAtomically(big, to: path)
        XCTAssertEqual(try FileIO.readAll(path), big)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(big))  // checked independently

        let emptyPath = dir.path + "/empty"
        try FileIO.writeAtomically([], to: emptyPath)
        XCTAssertEqual(try FileIO.readAll(emptyPath), [])
        XCTAssertTrue(FileIO.fileExists(emptyPath))
    }

    func testOverwriteLeavesNoTemporaryFile() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.path + "/weights"
        try FileIO.writeAtomically(Array("first version, longer".utf8), to: path)
        try FileIO.writeAtomically(Array("second".utf8), to: path)
        XCTAssertEqual(try FileIO.readAll(path), Array("second".utf8))
        XCTAssertEqual(try dir.entries(), ["weights"])
    }

    func testRelativePathIsWrittenInTheWorkingDirectory() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try FileIO.writeAtomically([1, 2, 3], to: "relative.bin")
        XCTAssertEqual(try FileIO.readAll(dir.path + "/relative.bin"), [1, 2, 3])
    }

    func testWriteIntoMissingDirectoryThrowsNamingPath() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.path + "/no/such/dir/file.bin"
        assertIOError(try FileIO.writeAtomically([1], to: path), contains: [path, "No such file or directory"])
        XCTAssertFalse(FileIO.fileExists(path))
    }

    func testWriteIntoUnwritableLocationThrowsNamingPath() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        if getuid() == 0 {
            // Root bypasses permission bits: use a parent that is a regular file instead.
            let parent = dir.path + "/plain-file"
            try FileIO.writeAtomically([0], to: parent)
            let path = parent + "/child.bin"
            assertIOError(try FileIO.writeAtomically([1], to: path), contains: [path, "Not a directory"])
            XCTAssertEqual(try FileIO.readAll(parent), [0])
        } else {
            let locked = dir.path + "/locked"
            XCTAssertEqual(mkdir(locked, 0o755), 0)
            XCTAssertEqual(chmod(locked, 0o555), 0)
            let path = locked + "/file.bin"
            assertIOError(try FileIO.writeAtomically([1], to: path), contains: [path, "Permission denied"])
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: locked), [])
        }
    }

    func testFailedRenameRemovesTemporaryFile() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.path + "/target"
        XCTAssertEqual(mkdir(path, 0o755), 0)
        XCTAssertEqual(mkdir(path + "/inside", 0o755), 0)  // a non-empty directory cannot be replaced
        assertIOError(try FileIO.writeAtomically([1, 2], to: path), contains: [path, "cannot rename"])
        XCTAssertEqual(try dir.entries(), ["target"])
        XCTAssertThrowsError(try FileIO.writeAtomically([1], to: "")) {
            guard case .invalidArgument = $0 as? ResNeXtError else { return XCTFail("\($0)") }
        }
    }

    func testReadAllErrors() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let missing = dir.path + "/missing.bin"
        XCTAssertThrowsError(try FileIO.readAll(missing)) {
            XCTAssertEqual($0 as? ResNeXtError, .io("\(missing): No such file or directory"))
        }
        assertIOError(try FileIO.readAll(dir.path), contains: [dir.path, "Is a directory"])
        XCTAssertFalse(FileIO.fileExists(missing))
        XCTAssertFalse(FileIO.fileExists(""))
    }

    func testReadAllOfFileWithoutReportedSize() throws {
        // /proc files report size 0 but have contents: the chunked path must read them.
        let bytes = try FileIO.readAll("/proc/self/stat")
        XCTAssertGreaterThan(bytes.count, 10)
        XCTAssertEqual(bytes.last, 0x0A)
    }

    func testMakeDirectories() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let nested = dir.path + "/a/b//c/"
        try FileIO.makeDirectories(nested)
        var isDirectory: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.path + "/a/b/c", isDirectory: &isDirectory))
        XCTAssertTrue(isDirectory.boolValue)
        XCTAssertTrue(FileIO.fileExists(dir.path + "/a/b/c"))
        try FileIO.makeDirectories(nested)  // already there: fine
        try FileIO.writeAtomically([5], to: dir.path + "/a/b/c/f")
        XCTAssertEqual(try FileIO.readAll(dir.path + "/a/b/c/f"), [5])

        try FileIO.writeAtomically([0], to: dir.path + "/a/file")
        let blocked = dir.path + "/a/file/d/e"
        assertIOError(
            try FileIO.makeDirectories(blocked),
            contains: [blocked, dir.path + "/a/file exists and is not a directory"])
        assertIOError(try FileIO.makeDirectories(dir.path + "/a/file"), contains: ["exists and is not a directory"])
        XCTAssertFalse(FileIO.fileExists(dir.path + "/a/file/d"))

        if getuid() != 0 {
            XCTAssertEqual(chmod(dir.path + "/a", 0o555), 0)
            let denied = dir.path + "/a/x/y"
            assertIOError(try FileIO.makeDirectories(denied), contains: [denied, "Permission denied"])
        }
    }

    func testChunkedReadAndAppend() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let path = dir.path + "/log.jsonl"
        try FileIO.appendLine("{\"epoch\":1}", to: path)
        try FileIO.appendAll(Array("{\"epoch\":2}\n".utf8), to: path)
        XCTAssertEqual(String(decoding: try FileIO.readAll(path), as: UTF8.self), "{\"epoch\":1}\n{\"epoch\":2}\n")

        var chunks: [[UInt8]] = []
        try FileIO.forEachChunk(of: path, size: 5) { chunks.append(Array($0)) }
        XCTAssertEqual(chunks.map(\.count), [5, 5, 5, 5, 4])
        XCTAssertEqual(chunks.flatMap { $0 }, try FileIO.readAll(path))

        let missing = dir.path + "/missing"
        XCTAssertThrowsError(try FileIO.forEachChunk(of: missing) { _ in }) {
            XCTAssertEqual($0 as? ResNeXtError, .io("\(missing): No such file or directory"))
        }
        assertIOError(try FileIO.forEachChunk(of: dir.path) { _ in }, contains: [dir.path, "Is a directory"])
        assertIOError(try FileIO.appendLine("x", to: dir.path + "/no/such/file"), contains: [dir.path + "/no/such/file"])
        assertIOError(try FileIO.appendLine("x", to: dir.path), contains: [dir.path, "Is a directory"])
    }

    func testPathsAndStatus() throws {
        XCTAssertEqual(FileIO.join("a", "b"), "a/b")
        XCTAssertEqual(FileIO.join("a/", "b"), "a/b")
        XCTAssertEqual(FileIO.join("/", "b"), "/b")
        XCTAssertEqual(FileIO.join("", "b"), "b")
        XCTAssertEqual(FileIO.lastComponent("/data/cifar-10-batches-bin/"), "cifar-10-batches-bin")
        XCTAssertEqual(FileIO.lastComponent("name"), "name")

        let dir = try TempDirectory()
        defer { dir.remove() }
        let file = dir.path + "/file", link = dir.path + "/link", broken = dir.path + "/broken"
        try FileIO.writeAtomically([1], to: file)
        XCTAssertEqual(symlink(file, link), 0)
        XCTAssertEqual(symlink(dir.path + "/nothing", broken), 0)
        XCTAssertTrue(FileIO.isRegularFile(file))
        XCTAssertTrue(FileIO.isRegularFile(link))  // links are followed
        XCTAssertFalse(FileIO.isDirectory(file))
        XCTAssertTrue(FileIO.isDirectory(dir.path))
        XCTAssertFalse(FileIO.isRegularFile(dir.path))
        XCTAssertFalse(FileIO.fileExists(broken))
        XCTAssertNil(FileIO.status(broken))
        XCTAssertEqual(FileIO.status(link)?.identity, FileIO.status(file)?.identity)
        XCTAssertNotEqual(FileIO.status(dir.path)?.identity, FileIO.status(file)?.identity)
        XCTAssertFalse(FileIO.isExecutable(file))
        XCTAssertTrue(FileIO.isExecutable("/bin/sh"))
        XCTAssertFalse(FileIO.isExecutable(""))

        try FileIO.requireDirectory(dir.path, what: "data folder")
        assertIOError(try FileIO.requireDirectory(file, what: "data folder"), contains: [file + ": data folder is not a directory"])
        assertIOError(
            try FileIO.requireDirectory(broken, what: "data folder"),
            contains: [broken + ": data folder not found: No such file or directory"])
    }

    func testListRenameAndRemoveTree() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let tree = dir.path + "/tree"
        try FileIO.makeDirectories(tree + "/sub/deeper")
        try FileIO.writeAtomically([1], to: tree + "/file")
        try FileIO.writeAtomically([2], to: tree + "/sub/deeper/file")
        XCTAssertEqual(symlink(dir.path, tree + "/up"), 0)  // removed, never followed
        let entries = try FileIO.listDirectory(tree).sorted { $0.name < $1.name }
        XCTAssertEqual(entries.map(\.name), ["file", "sub", "up"])
        for entry in entries where entry.kind != .unknown {  // file systems without d_type report .unknown
            XCTAssertEqual(entry.kind, ["file": .regularFile, "sub": .directory, "up": .symbolicLink][entry.name])
        }
        assertIOError(
            try FileIO.listDirectory(dir.path + "/missing"),
            contains: [dir.path + "/missing: cannot open directory: No such file or directory"])

        let moved = dir.path + "/moved"
        try FileIO.rename(tree, over: moved)
        XCTAssertFalse(FileIO.fileExists(tree))
        XCTAssertEqual(try FileIO.readAll(moved + "/sub/deeper/file"), [2])
        assertIOError(try FileIO.rename(tree, over: moved), contains: [moved + ": cannot rename " + tree + " over it"])

        FileIO.removeTree(moved)
        XCTAssertFalse(FileIO.fileExists(moved))
        XCTAssertEqual(try dir.entries(), [])
        FileIO.removeTree(moved)  // already gone: fine
    }
}
