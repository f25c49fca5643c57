import ArgumentParser

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

@main
struct ResNeXtCLI: ParsableCommand {
    /// Keeps large buffers (decoded images, activations) in the heap for reuse instead of mapping fresh,
    /// zeroed pages for every allocation above glibc's default threshold: loaders and training allocate
    /// megabyte-sized arrays at a high rate.
    static func tuneAllocator() {
        #if canImport(Glibc)
            typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
            guard let symbol = dlsym(nil, "mallopt") else { return }
            let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
            _ = mallopt(-3, 512 << 20)  // M_MMAP_THRESHOLD (malloc.h is not in the Glibc module)
            _ = mallopt(-1, 1 << 30)  // M_TRIM_THRESHOLD
        #endif
    }

    /// Line-buffers standard output (stdio buffers it fully when it is a pipe or file), so a run that
    /// crashes, or is killed by a time limit, still leaves every line it printed; standard error stays
    /// unbuffered, as stdio starts it.
    static func bufferOutputByLine() {
        setvbuf(stdout, nil, _IOLBF, 0)
        setvbuf(stderr, nil, _IONBF, 0)
    }

    static func main() {
        bufferOutputByLine()
        tuneAllocator()
        do {
            if let (argument, suggestion) = MisspelledOptionGuard.misreadAsHelp(Array(CommandLine.arguments.dropFirst()), root: Self.self) {
                throw ValidationError("unknown option '\(argument)'" + (suggestion.map { " (did you mean \($0)?)" } ?? ""))
            }
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "resnext",
        abstract: "ResNeXt and ResNet image classifiers: train, evaluate, benchmark.",
        subcommands: [
            TrainCommand.self, InfoCommand.self, ForwardCommand.self, ClassifyCommand.self, ExtractFeaturesCommand.self,
            ConvertCommand.self, ExportONNXCommand.self, SelftestCommand.self, DemoCommand.self, BenchCommand.self, BenchLoaderCommand.self
        ],
        defaultSubcommand: TrainCommand.self)
}
