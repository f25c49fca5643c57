import Foundation
import ResNeXtCUDA
import ResNeXtCore
import XCTest

/// Asserts `body` throws a ``ResNeXtError`` whose message contains every fragment; returns the message.
@discardableResult
func assertThrows<T>(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) -> String? {
    do {
        _ = try body()
        XCTFail("expected an error containing \(fragments)", file: file, line: line)
    } catch let error as ResNeXtError {
        for fragment in fragments {
            XCTAssertTrue(error.description.contains(fragment), "error '\(error)' does not mention '\(fragment)'", file: file, line: line)
        }
        return error.description
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
    return nil
}

/// The machine these tests run on has no CUDA: the loader's messages are checked here.
final class LoaderTests: XCTestCase {
    private func environment(_ values: [String: String]) -> (String) -> String? { { values[$0] } }

    func testMissingDriverGivesOneClearMessage() throws {
        try XCTSkipIf(CUDALibraries.unavailableReason() == nil, "a CUDA driver is installed here")
        let message = assertThrows(["no GPU runtime found", "could not load libcuda.so.1", "dlerror:", "set RESNEXT_LIBCUDA to its path"]) {
            try DynamicLibrary.open(.driver, environment: environment([:]))
        }
        XCTAssertEqual(message?.components(separatedBy: "\n").count, 1, "one line")
        assertThrows(["unsupported: no GPU runtime found", "RESNEXT_LIBCUDA"]) { try CUDALibraries.load(environment: environment([:])) }
        assertThrows(["no GPU runtime found", "RESNEXT_LIBCUDA"]) { try CUDABackend() }
        XCTAssertTrue(CUDALibraries.unavailableReason()?.hasPrefix("no GPU runtime found") ?? false)
    }

    func testOverrideWithANonexistentPathNamesThePathAndTheVariable() {
        let path = "/nonexistent/dir/libcuda.so.1"
        assertThrows([
            "no GPU runtime found", path, "(given by RESNEXT_LIBCUDA)", "No such file",
            "set RESNEXT_LIBCUDA to the full path of libcuda.so.1"
        ]) {
            try DynamicLibrary.open(.driver, environment: environment(["RESNEXT_LIBCUDA": path]))
        }
    }

    func testOverrideWithAFileThatIsNotALibrary() throws {
        let path = NSTemporaryDirectory() + "not-a-library-\(getpid()).so"
        try "this is text, not ELF\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let message = assertThrows(["no GPU runtime found", path, "RESNEXT_LIBCUDA", "dlerror:"]) {
            try DynamicLibrary.open(.driver, environment: environment(["RESNEXT_LIBCUDA": path]))
        }
        // glibc says "invalid ELF header" or "file too short".
        XCTAssertTrue(message?.contains("ELF") == true || message?.contains("too short") == true, message ?? "")
    }

    func testEmptyOverrideIsIgnored() throws {
        try XCTSkipIf(CUDALibraries.unavailableReason() == nil, "a CUDA driver is installed here")
        assertThrows(["could not load libcuda.so.1 (dlerror"]) {
            try DynamicLibrary.open(.driver, environment: environment(["RESNEXT_LIBCUDA": ""]))
        }
    }

    func testEveryLibraryNamesItsCandidatesAndVariable() {
        XCTAssertEqual(
            Array(CUDALibrarySpec.nvrtc.candidates.prefix(4)), ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"])
        XCTAssertEqual(CUDALibrarySpec.cudnn.candidates.first, "libcudnn.so.9")
        XCTAssertEqual(Array(CUDALibrarySpec.cublas.candidates.prefix(3)), ["libcublas.so.13", "libcublas.so.12", "libcublas.so.11"])
        let expected = [
            ("RESNEXT_LIBCUDA", "GPU runtime"), ("RESNEXT_LIBNVRTC", "NVRTC"), ("RESNEXT_LIBCUDNN", "cuDNN"),
            ("RESNEXT_LIBCUBLAS", "cuBLAS")
        ]
        XCTAssertEqual(CUDALibrarySpec.all.map(\.variable), expected.map(\.0))
        for (spec, (variable, what)) in zip(CUDALibrarySpec.all, expected) {
            let message = DynamicLibrary.loadFailureMessage(spec, tried: spec.candidates, overridden: false, errors: ["e1", "e2"])
            XCTAssertTrue(message.hasPrefix("no \(what) found: could not load \(spec.candidates.joined(separator: ", "))"), message)
            XCTAssertTrue(message.contains("(dlerror: e1; e2)"), message)
            XCTAssertTrue(message.hasSuffix("set \(variable) to its path"), message)
            // A bad override of each variable names it.
            assertThrows(["no \(what) found", "/bad/\(variable)", "given by \(variable)"]) {
                try DynamicLibrary.open(spec, environment: environment([variable: "/bad/\(variable)"]))
            }
        }
    }

    func testCandidatesAreTriedInOrderAndEachErrorIsKept() {
        let spec = CUDALibrarySpec(what: "test library", candidates: ["/nope/a.so", "/nope/b.so"], variable: "RESNEXT_TEST_LIB")
        assertThrows([
            "no test library found: could not load /nope/a.so, /nope/b.so", "/nope/a.so: cannot open", "/nope/b.so: cannot open",
            "set RESNEXT_TEST_LIB to its path"
        ]) {
            try DynamicLibrary.open(spec, environment: environment([:]))
        }
    }

    /// A real library that is not the CUDA driver loads, but lacks the driver's symbols: the error names
    /// the file, the symbol and the variable.
    func testALibraryWithoutTheSymbolsIsRejectedClearly() throws {
        let libm = "libm.so.6"
        assertThrows(["\(libm) (GPU runtime) has no symbol cuInit", "RESNEXT_LIBCUDA"]) {
            try CUDALibraries.load(environment: environment(["RESNEXT_LIBCUDA": libm]))
        }
        let library = try DynamicLibrary.open(
            CUDALibrarySpec(what: "math", candidates: [libm], variable: "X"), environment: environment([:]))
        typealias Cos = @convention(c) (Double) -> Double
        let cosine: Cos = try library.symbol("cos")
        XCTAssertEqual(cosine(0), 1)
        XCTAssertNil(library.optionalSymbol("cuInit", as: Cos.self))
    }
}
