/// Number formatting for reports, without Foundation.
public enum NumberFormat {
    /// `value` with exactly `digits` decimals, rounded half away from zero.
    /// Values too large for that (|value| · 10^digits ≥ 9e18, e.g. a diverged loss) print in scientific
    /// notation instead of trapping.
    public static func fixed(_ value: Double, _ digits: Int = 3) -> String {
        guard value.isFinite else { return String(value) }
        let digits = min(max(digits, 0), 15)
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        guard abs(value) * scale < 9e18 else { return scientific(value) }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = String(scaled / Int64(scale)), fraction = String(scaled % Int64(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return digits == 0 ? sign + whole : sign + whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// `1234567` → `1,234,567`.
    public static func thousands(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// `1.23e-04`: two decimals and a signed two-digit exponent.
    public static func scientific(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        guard x != 0 else { return "0" }
        var exponent = 0
        var mantissa = abs(x)
        while mantissa >= 10 { mantissa /= 10; exponent += 1 }
        while mantissa < 1 { mantissa *= 10; exponent -= 1 }
        if (mantissa * 100).rounded() >= 1000 { mantissa /= 10; exponent += 1 }
        let digits = abs(exponent) < 10 ? "0\(abs(exponent))" : "\(abs(exponent))"
        return (x < 0 ? "-" : "") + fixed(mantissa, 2) + "e" + (exponent < 0 ? "-" : "+") + digits
    }

    /// `text` padded with spaces on the right to `width` characters.
    public static func padded(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    /// `4_230_000_000` → `4.23 G` (K, M, G with two decimals; plain below 1000).
    public static func metric(_ n: Int) -> String {
        let v = Double(n)
        if v >= 1e9 { return fixed(v / 1e9, 2) + " G" }
        if v >= 1e6 { return fixed(v / 1e6, 2) + " M" }
        if v >= 1e3 { return fixed(v / 1e3, 2) + " K" }
        return String(n)
    }

    /// Lowercase hex spelling of bytes, two digits each (digests: MD5, SHA-256).
    public static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
