import ResNeXtCore
import ResNeXtIO
import XCTest

final class JSONTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8), source: "test.json")
    }

    func testParsesNestedValuesInKeyOrder() throws {
        let value = try parse(#" { "z" : [1, {"b": null, "c": true}, []], "a": "x", "e": false, "o": {} } "#)
        let expected = JSONValue.object([
            (key: "z", value: .array([.number(1), .object([(key: "b", value: .null), (key: "c", value: .bool(true))]), .array([])])),
            (key: "a", value: .string("x")),
            (key: "e", value: .bool(false)),
            (key: "o", value: .object([]))
        ])
        XCTAssertEqual(value, expected)
        XCTAssertEqual(value.object?.map(\.key), ["z", "a", "e", "o"])
        XCTAssertEqual(value["z"]?.array?[1]["c"], .bool(true))
        XCTAssertEqual(value["a"]?.string, "x")
        XCTAssertNil(value["missing"])
        XCTAssertNil(JSONValue.array([])["a"])
    }

    func testObjectEqualityIsOrderSensitive() {
        let ab = JSONValue.object([(key: "a", value: .number(1)), (key: "b", value: .number(2))])
        let ba = JSONValue.object([(key: "b", value: .number(2)), (key: "a", value: .number(1))])
        XCTAssertNotEqual(ab, ba)
        XCTAssertNotEqual(ab, JSONValue.object([(key: "a", value: .number(1))]))
        XCTAssertNotEqual(JSONValue.number(1), JSONValue.string("1"))
    }

    func testStringEscapes() throws {
        let value = try parse(#""a\nb\"c\\d\u00e9\ud83d\ude00\/\t\r\b\f\u0041""#)
        XCTAssertEqual(value.string, "a\nb\"c\\d\u{e9}\u{1F600}/\t\r\u{8}\u{C}A")
        XCTAssertEqual(try parse("\"h\u{e9}llo \u{1F600}\"").string, "h\u{e9}llo \u{1F600}")  // raw UTF-8
    }

    func testNumbers() throws {
        XCTAssertEqual(try parse("-0.5e-3").double, -0.0005)
        XCTAssertEqual(try parse("1E2").double, 100)
        XCTAssertEqual(try parse("1E2").int, 100)
        XCTAssertEqual(try parse("12345678901").int, 12_345_678_901)
        XCTAssertEqual(try parse("0").int, 0)
        XCTAssertEqual(try parse("-7").int, -7)
        XCTAssertEqual(try parse("2.5E+1").double, 25)
        XCTAssertNil(try parse("1.5").int)
        XCTAssertNil(try parse("1e300").int)
        XCTAssertNil(try parse("\"3\"").int)
        XCTAssertNil(try parse("3").string)
    }

    func testDuplicateKeysAreKeptAndLookupTakesTheLast() throws {
        let value = try parse(#"{"a":1,"b":0,"a":2}"#)
        XCTAssertEqual(value.object?.count, 3)
        XCTAssertEqual(value["a"]?.int, 2)
    }

    func testRejectsMalformedInputWithByteOffsets() {
        assertIOError(try parse(#"{"a":1,}"#), contains: ["test.json", "byte 7", "expected a string key"])
        assertIOError(try parse("[1 2]"), contains: ["test.json", "byte 3", "expected ',' or ']'"])
        assertIOError(try parse("\"a\u{01}\""), contains: ["test.json", "byte 2", "control character"])
        assertIOError(try parse("{} x"), contains: ["test.json", "byte 3", "trailing data"])
        assertIOError(try parse("[1]]"), contains: ["byte 3", "trailing data"])
        assertIOError(try parse(""), contains: ["byte 0", "end of input"])
        assertIOError(try parse("[1,]"), contains: ["byte 3", "unexpected"])
        assertIOError(try parse("01"), contains: ["byte 1", "trailing data"])
        assertIOError(try parse("1."), contains: ["byte 2", "after '.'"])
        assertIOError(try parse("-"), contains: ["byte 1", "invalid number"])
        assertIOError(try parse("1e"), contains: ["exponent"])
        assertIOError(try parse("1e400"), contains: ["out of range"])
        assertIOError(try parse("tru"), contains: ["invalid literal"])
        assertIOError(try parse("nul1"), contains: ["invalid literal"])
        assertIOError(try parse(#""\x""#), contains: ["byte 1", "invalid escape"])
        assertIOError(try parse(#""\u12g4""#), contains: ["invalid hex digit"])
        assertIOError(try parse(#""\ud83d""#), contains: ["unpaired high surrogate"])
        assertIOError(try parse(#""\ud83dx\ude00""#), contains: ["unpaired high surrogate"])
        assertIOError(try parse(#""\ude00""#), contains: ["unpaired low surrogate"])
        assertIOError(try parse(#""abc"#), contains: ["byte 0", "unterminated string"])
        assertIOError(try parse(#"{"a" 1}"#), contains: ["expected ':'"])
        assertIOError(try JSONValue.parse([0x22, 0xC3, 0x22], source: "t"), contains: ["invalid UTF-8"])
        assertIOError(try parse("'a'"), contains: ["unexpected"])
        assertIOError(try parse("NaN"), contains: ["unexpected"])
    }

    func testDepthLimit() throws {
        let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        var value = try parse(ok)
        var depth = 0
        while let inner = value.array { depth += 1; value = inner.first ?? .null }
        XCTAssertEqual(depth, 64)
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        assertIOError(try parse(deep), contains: ["test.json", "byte 64", "nesting deeper than 64"])
        let deepObjects = String(repeating: #"{"a":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        assertIOError(try parse(deepObjects), contains: ["nesting deeper than 64"])
    }

    func testSerializedIsCompactWithIntegersAndEscapes() {
        let value = JSONValue.object([
            (key: "a", value: .number(1)),
            (key: "b", value: .array([.number(-0.5), .string("q\"\\\n\t\u{01}/\u{e9}")])),
            (key: "c", value: .null),
            (key: "d", value: .bool(true)),
            (key: "big", value: .number(12_345_678_901)),
            (key: "neg", value: .number(-3)),
            (key: "inf", value: .number(.infinity))
        ])
        XCTAssertEqual(
            value.serialized(),
            #"{"a":1,"b":[-0.5,"q\"\\\n\t\u0001/é"],"c":null,"d":true,"big":12345678901,"neg":-3,"inf":null}"#)
        XCTAssertEqual(JSONValue.number(0.001).serialized(), "0.001")
    }

    func testSerializeParseRoundTrip() throws {
        let value = JSONValue.object([
            (key: "text", value: .string("line\nquote\" back\\ ctrl\u{1F} emoji \u{1F600} é")),
            (
                key: "numbers",
                value: .array([
                    .number(0), .number(-0.0005), .number(1e20), .number(1e-7),
                    .number(123456.789), .number(-9_007_199_254_740_992), .number(.pi)
                ])
            ),
            (key: "nested", value: .object([(key: "", value: .array([.null, .bool(false), .object([])]))])),
            (key: "text", value: .string("duplicate"))
        ])
        let text = value.serialized()
        let back = try parse(text)
        XCTAssertEqual(back, value)
        XCTAssertEqual(back.serialized(), text)
    }
}
