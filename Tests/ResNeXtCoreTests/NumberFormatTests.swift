import ResNeXtCore
import XCTest

final class NumberFormatTests: XCTestCase {
    func testFixedRoundsHalfAwayFromZero() {
        XCTAssertEqual(NumberFormat.fixed(3.14159), "3.142")
        XCTAssertEqual(NumberFormat.fixed(12.3456, 2), "12.35")
        XCTAssertEqual(NumberFormat.fixed(0.001), "0.001")
        XCTAssertEqual(NumberFormat.fixed(7, 2), "7.00")
        XCTAssertEqual(NumberFormat.fixed(2.5, 0), "3")
        // Finite values past Int64 range used to trap (SIGILL) in the divergence message; now scientific.
        XCTAssertEqual(NumberFormat.fixed(1e15, 4), "1.00e+15")
        XCTAssertEqual(NumberFormat.fixed(-3.2e36), "-3.20e+36")
        XCTAssertEqual(NumberFormat.fixed(Double.greatestFiniteMagnitude, 2), "1.80e+308")
        XCTAssertEqual(NumberFormat.fixed(8.9e14, 3), "890000000000000.000")
        XCTAssertEqual(NumberFormat.fixed(-2.5, 0), "-3")
        XCTAssertEqual(NumberFormat.fixed(-1.25, 1), "-1.3")
        XCTAssertEqual(NumberFormat.fixed(-0.0004), "0.000")  // no "-0.000"
        XCTAssertEqual(NumberFormat.fixed(99.9996), "100.000")
        XCTAssertEqual(NumberFormat.fixed(.infinity), "inf")
        XCTAssertEqual(NumberFormat.fixed(-.infinity, 2), "-inf")
        XCTAssertEqual(NumberFormat.fixed(.nan), "nan")
    }

    func testThousands() {
        XCTAssertEqual(NumberFormat.thousands(0), "0")
        XCTAssertEqual(NumberFormat.thousands(999), "999")
        XCTAssertEqual(NumberFormat.thousands(1000), "1,000")
        XCTAssertEqual(NumberFormat.thousands(25_028_904), "25,028,904")
        XCTAssertEqual(NumberFormat.thousands(1_234_567), "1,234,567")
        XCTAssertEqual(NumberFormat.thousands(-1234), "-1,234")
        XCTAssertEqual(NumberFormat.thousands(Int.min), "-9,223,372,036,854,775,808")
    }

    func testScientific() {
        XCTAssertEqual(NumberFormat.scientific(1.234e-4), "1.23e-04")
        XCTAssertEqual(NumberFormat.scientific(9.996), "1.00e+01")  // rounding carries into the exponent
        XCTAssertEqual(NumberFormat.scientific(0), "0")
        XCTAssertEqual(NumberFormat.scientific(-2.5e12), "-2.50e+12")
        XCTAssertEqual(NumberFormat.scientific(1), "1.00e+00")
        XCTAssertEqual(NumberFormat.scientific(0.5), "5.00e-01")
        XCTAssertEqual(NumberFormat.scientific(1e100), "1.00e+100")
        XCTAssertEqual(NumberFormat.scientific(.infinity), "inf")
        XCTAssertEqual(NumberFormat.scientific(.nan), "nan")
    }

    func testPadded() {
        XCTAssertEqual(NumberFormat.padded("ab", 5), "ab   ")
        XCTAssertEqual(NumberFormat.padded("abcdef", 3), "abcdef")  // never truncated
        XCTAssertEqual(NumberFormat.padded("", 2), "  ")
        XCTAssertEqual(NumberFormat.padded("é→", 3), "é→ ")  // counts characters, not bytes
    }
}
