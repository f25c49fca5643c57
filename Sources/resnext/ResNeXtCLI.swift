import ArgumentParser

@main
struct ResNeXtCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resnext",
        abstract: "ResNeXt and ResNet image classifiers: train, evaluate, benchmark.",
        subcommands: [TrainCommand.self, InfoCommand.self, ForwardCommand.self, DemoCommand.self, BenchCommand.self],
        defaultSubcommand: TrainCommand.self)
}
