import ArgumentParser
import ResNeXtCore
import ResNeXtModels

/// Prints a model's layer table, exact parameter count and multiply-adds, or the paper's complexity table.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Layer table, parameter count and FLOPs of a model (the original's flags or --arch).")

    @OptionGroup var model: ModelOptions

    @Option(help: "Input height and width (default: 224 for ImageNet, 32 for CIFAR).") var resolution: Int?

    @Flag(
        name: [.customLong("complexityTable", withSingleDash: true), .customLong("complexity-table")],
        help: "Print the original's 1x-complexity table (cardinality 1/2/4/8/32 with baseWidth 64/40/24/14/4) for 50 and 101 layers.")
    var complexityTable = false

    func run() throws {
        if complexityTable {
            printComplexityTable()
            return
        }
        let config = try model.configuration()
        let r = resolution ?? config.nativeResolution
        let analysis = try config.spec().analyze(input: [1, config.inputChannels, r, r])
        print(config)
        print("input [1, \(config.inputChannels), \(r), \(r)]")
        print(
            NumberFormat.padded("layer", 10) + NumberFormat.padded("kind", 28) + NumberFormat.padded("output", 22)
                + NumberFormat.padded("parameters", 14) + "multiply-adds")
        for row in analysis.rows {
            print(
                NumberFormat.padded(row.name, 10) + NumberFormat.padded(row.kind, 28) + NumberFormat.padded("\(row.outputShape)", 22)
                    + NumberFormat.padded(NumberFormat.thousands(row.parameters), 14)
                    + NumberFormat.metric(row.multiplyAdds))
        }
        print("parameters: \(NumberFormat.thousands(analysis.parameters))")
        print(
            "multiply-adds: \(NumberFormat.metric(analysis.multiplyAdds)) (\(NumberFormat.metric(2 * analysis.multiplyAdds))FLOPs at 2 "
                + "per multiply-add)"
        )
    }

    private func printComplexityTable() {
        print(
            NumberFormat.padded("depth", 7) + NumberFormat.padded("template", 10) + NumberFormat.padded("group width", 13)
                + NumberFormat.padded("parameters", 14) + "multiply-adds")
        for depth in [50, 101] {
            for (c, d) in [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)] {
                guard
                    let config = try? ModelConfiguration.original(
                        dataset: .imagenet, depth: depth, baseWidth: d, cardinality: c,
                        blockType: c == 1 ? .resnet : .resnextC),
                    let a = try? config.analyze()
                else { continue }
                print(
                    NumberFormat.padded(String(depth), 7) + NumberFormat.padded("\(c)x\(d)d", 10)
                        + NumberFormat.padded(String(config.innerWidth(planes: 64)), 13)
                        + NumberFormat.padded(NumberFormat.thousands(a.parameters), 14) + NumberFormat.metric(a.multiplyAdds))
            }
        }
    }
}
