import ResNeXtCore
import XCTest

/// Asserts `body` throws a ``ResNeXtError`` whose description contains `fragment`; returns the error.
@discardableResult
func assertThrows<T>(
    _ fragment: String, file: StaticString = #filePath, line: UInt = #line,
    _ body: () throws -> T
) -> ResNeXtError? {
    do {
        _ = try body()
        XCTFail("expected an error containing '\(fragment)'", file: file, line: line)
    } catch let error as ResNeXtError {
        XCTAssertTrue(error.description.contains(fragment), "error '\(error)' does not mention '\(fragment)'", file: file, line: line)
        return error
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: line)
    }
    return nil
}
