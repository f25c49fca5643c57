import ArgumentParser

@main
struct ResNeXtCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnext",
        abstract: "ResNeXt and ResNet image classifiers: train, evaluate, benchmark.",
        subcommands: [DemoCommand.self, BenchCommand.self])
}
