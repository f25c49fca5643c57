import ResNeXtData
import ResNeXtIO
import ResNeXtModels

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// Coverage-guided fuzzing of the parsers with libFuzzer. `scripts/fuzz.sh TARGET SECONDS` builds this with
/// `-DFUZZING`, AddressSanitizer and libFuzzer's coverage, linked against libFuzzer without its `main`
/// (SwiftPM names an executable's `main` itself); `RESNEXT_FUZZ_TARGET` picks the parser. Every input must
/// end in a value or a thrown error: a crash, a hang or running out of memory is a finding.
enum FuzzTarget: String, CaseIterable {
    case safetensors, json, t7, pth, zip, image

    /// Runs one input through the parser.
    func run(_ bytes: [UInt8]) {
        switch self {
        case .safetensors:
            // The file, then the model configuration a crafted header may describe (size limits apply).
            if let file = try? SafetensorsFile.parse(bytes, source: "fuzz.safetensors") {
                _ = try? ModelConfiguration.recorded(in: file, source: "fuzz.safetensors")
            }
        case .json: _ = try? JSONValue.parse(bytes, source: "fuzz.json")
        case .t7: _ = try? Torch7.parse(bytes, source: "fuzz.t7")
        case .pth: _ = try? PyTorchCheckpoint.parse(bytes, source: "fuzz.pth")
        case .zip: _ = try? ZipArchive(bytes: bytes, source: "fuzz.zip")
        case .image: _ = try? ImageDecoder.decode(bytes, source: "fuzz.jpg")
        }
    }

    /// The target named by `RESNEXT_FUZZ_TARGET`.
    static let selected: FuzzTarget = {
        guard let name = getenv("RESNEXT_FUZZ_TARGET").map({ String(cString: $0) }), let target = FuzzTarget(rawValue: name) else {
            fputs("resnext-fuzz: set RESNEXT_FUZZ_TARGET to one of \(allCases.map(\.rawValue).joined(separator: ", "))\n", stderr)
            exit(2)
        }
        return target
    }()
}

/// One input through the selected target (libFuzzer's callback).
func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTarget.selected.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

#if FUZZING
    /// libFuzzer's entry point for programs with their own `main`.
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt
#endif

@main
struct FuzzMain {
    static func main() {
        #if FUZZING
            _ = FuzzTarget.selected
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
        #else
            fputs(
                "resnext-fuzz is built for libFuzzer by scripts/fuzz.sh TARGET SECONDS; targets: "
                    + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ") + "\n", stderr)
            exit(2)
        #endif
    }
}
