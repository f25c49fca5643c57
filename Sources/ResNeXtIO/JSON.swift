import ResNeXtCore

/// A JSON value (RFC 8259). Objects keep their keys in document order, duplicates included.
///
/// Why the parser below is not Foundation's `JSONSerialization` or `JSONDecoder` (measured on Linux with
/// swift-corelibs-foundation of Swift 6.3.1, in a scratch program):
/// - Key order is lost. `{"z":1,"a":2,"e":3,"o":4,"m":5,"b":6,"y":7,"c":8}` came back from
///   `JSONSerialization` as z, y, o, b, m, c, a, e and from a `JSONDecoder` keyed container's `allKeys`
///   as a, z, m, y, b, e, o, c. The project depends on document order: a safetensors header lists the
///   tensors in file order and `SafetensorsTests` re-serializes files byte for byte; `latest.json`,
///   `metrics.jsonl` lines and model configurations are written in a fixed order that diffs cleanly.
///   Recovering the order would take a second scan of the text, i.e. a parser of our own anyway.
/// - Duplicate keys collapse: both give 2 members for `{"a":1,"b":0,"a":2}`; here all 3 are kept and
///   lookup takes the last.
/// - They are laxer: both accept trailing commas (`{"a":1,}` and `[1,]`, which RFC 8259 and `JSONTests`
///   reject), nesting is refused only past 512 levels (here `maxDepth`, 64), and errors say "around
///   character N" (`JSONSerialization`; an unpaired `\ud83d` is reported as "Unexpected end of file") or
///   only "The given data was not valid JSON." (`JSONDecoder`) instead of a byte offset and a reason.
/// - Not reasons: numbers (integers up to 2^53 and doubles round-trip in both; 1e400 is rejected) and
///   binary size (`resnext` already links Foundation through ResNeXtONNX and swift-protobuf).
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// Objects are equal when they hold the same keys, in the same order, with equal values.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.string(a), .string(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// The deepest nesting of arrays and objects that `parse` accepts.
    public static let maxDepth = 64

    /// Parses one JSON document (UTF-8, no trailing data except whitespace).
    /// - Throws: `ResNeXtError.io("<source>: invalid JSON at byte <offset>: <reason>")`.
    public static func parse(_ bytes: [UInt8], source: String) throws -> JSONValue {
        do {
            return try parseDocument(bytes)
        } catch {
            throw ResNeXtError.io("\(source): invalid JSON at byte \(error.offset): \(error.reason)")
        }
    }

    /// Parses, reporting failures as a byte offset and reason (for callers that word their own errors).
    static func parseDocument(_ bytes: [UInt8]) throws(JSONParseFailure) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Compact JSON text. Integral numbers print without a fraction; non-finite numbers print as `null`.
    public func serialized() -> String {
        var out: [UInt8] = []
        serialize(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of the last member named `key`, if this is an object that has one.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The string, if this is a string.
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    /// The boolean, if this is a boolean.
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    /// The number, if this is a number.
    public var double: Double? { if case .number(let d) = self { d } else { nil } }
    /// The number, if this is a number that is exactly an integer representable as `Int`.
    public var int: Int? { if case .number(let d) = self { Int(exactly: d) } else { nil } }
    /// The elements, if this is an array.
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// The members in document order, if this is an object.
    public var object: [(key: String, value: JSONValue)]? { if case .object(let o) = self { o } else { nil } }

    private func serialize(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let d): out.append(contentsOf: Self.format(d).utf8)
        case .string(let s): Self.appendQuoted(s, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                element.serialize(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                Self.appendQuoted(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.serialize(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d == 0 { return d.sign == .minus ? "-0" : "0" }
        if d.rounded(.towardZero) == d, d >= -0x1p63, d < 0x1p63 { return String(Int64(d)) }
        return d.description  // shortest round-trip form, e.g. 0.001, 5e-05, 1e+20: all valid JSON
    }

    private static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Where and why parsing stopped.
struct JSONParseFailure: Error {
    let offset: Int
    let reason: String
}

/// A recursive-descent parser over UTF-8 bytes.
private struct JSONParser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws(JSONParseFailure) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index != bytes.count { throw fail("unexpected trailing data \(describe(bytes[index]))") }
        return value
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> JSONParseFailure {
        JSONParseFailure(offset: offset ?? index, reason: reason)
    }

    private func describe(_ byte: UInt8) -> String {
        byte >= 0x21 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws(JSONParseFailure) -> JSONValue {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case let byte: throw fail("unexpected \(describe(byte))")
        }
    }

    private mutating func enter() throws(JSONParseFailure) {
        depth += 1
        if depth > JSONValue.maxDepth { throw fail("nesting deeper than \(JSONValue.maxDepth) levels") }
        index += 1
    }

    private mutating func parseArray() throws(JSONParseFailure) -> JSONValue {
        try enter()
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1; depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated array") }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "]") { break }
            guard byte == UInt8(ascii: ",") else { throw fail("expected ',' or ']' but found \(describe(byte))", at: index - 1) }
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func parseObject() throws(JSONParseFailure) -> JSONValue {
        try enter()
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1; depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated object") }
            guard bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key but found \(describe(bytes[index]))") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':' after object key") }
            index += 1
            skipWhitespace()
            members.append((key: key, value: try parseValue()))
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated object") }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "}") { break }
            guard byte == UInt8(ascii: ",") else { throw fail("expected ',' or '}' but found \(describe(byte))", at: index - 1) }
        }
        depth -= 1
        return .object(members)
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONParseFailure) {
        let start = index
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw fail("invalid literal", at: start) }
        for i in 0..<count where bytes[index + i] != word.utf8Start[i] {
            throw fail("invalid literal", at: start)
        }
        index += count
    }

    private func isDigit(_ i: Int) -> Bool {
        i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9")
    }

    private mutating func parseNumber() throws(JSONParseFailure) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        if index < bytes.count && bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(index) {
            while isDigit(index) { index += 1 }
        } else {
            throw fail("invalid number: expected a digit", at: index)
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else { throw fail("invalid number: expected a digit after '.'") }
            while isDigit(index) { index += 1 }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) { index += 1 }
            guard isDigit(index) else { throw fail("invalid number: expected a digit in the exponent") }
            while isDigit(index) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw fail("number \(text) out of range", at: start) }
        return value
    }

    private mutating func parseHex4() throws(JSONParseFailure) -> UInt32 {
        guard bytes.count - index >= 4 else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit \(describe(byte)) in \\u escape")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    private mutating func parseString() throws(JSONParseFailure) -> String {
        let start = index
        index += 1  // opening quote
        var out: [UInt8] = []
        while true {
            let runStart = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                index += 1
            }
            out.append(contentsOf: bytes[runStart..<index])
            guard index < bytes.count else { throw fail("unterminated string", at: start) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { index += 1; break }
            if byte < 0x20 { throw fail("unescaped control character 0x\(String(byte, radix: 16)) in string") }
            // Backslash escape.
            index += 1
            guard index < bytes.count else { throw fail("unterminated string", at: start) }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                let escapeStart = index - 2
                var code = try parseHex4()
                if code >= 0xDC00 && code <= 0xDFFF {
                    throw fail("unpaired low surrogate in \\u escape", at: escapeStart)
                }
                if code >= 0xD800 && code <= 0xDBFF {
                    guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired high surrogate in \\u escape", at: escapeStart)
                    }
                    index += 2
                    let low = try parseHex4()
                    guard low >= 0xDC00 && low <= 0xDFFF else {
                        throw fail("unpaired high surrogate in \\u escape", at: escapeStart)
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(code, to: &out)
            default:
                throw fail("invalid escape \\\(describe(escape))", at: index - 2)
            }
        }
        guard let string = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in string", at: start) }
        return string
    }

    private func appendUTF8(_ code: UInt32, to out: inout [UInt8]) {
        switch code {
        case 0..<0x80:
            out.append(UInt8(code))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | code >> 6))
            out.append(UInt8(0x80 | code & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | code >> 12))
            out.append(UInt8(0x80 | code >> 6 & 0x3F))
            out.append(UInt8(0x80 | code & 0x3F))
        default:
            out.append(UInt8(0xF0 | code >> 18))
            out.append(UInt8(0x80 | code >> 12 & 0x3F))
            out.append(UInt8(0x80 | code >> 6 & 0x3F))
            out.append(UInt8(0x80 | code & 0x3F))
        }
    }
}
