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

    @Flag(name: [.customLong("complexityTable", withSingleDash: true), .customLong("complexity-table")],
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
        print(padded("layer", 10) + padded("kind", 28) + padded("output", 22) + padded("parameters", 14) + "multiply-adds")
        for row in analysis.rows {
            print(padded(row.name, 10) + padded(row.kind, 28) + padded("\(row.outputShape)", 22) + padded(grouped(row.parameters), 14)
                  + scaled(row.multiplyAdds))
        }
        print("parameters: \(grouped(analysis.parameters))")
        print("multiply-adds: \(scaled(analysis.multiplyAdds)) (\(scaled(2 * analysis.multiplyAdds))FLOPs at 2 per multiply-add)")
    }

    private func printComplexityTable() {
        print(padded("depth", 7) + padded("template", 10) + padded("group width", 13) + padded("parameters", 14) + "multiply-adds")
        for depth in [50, 101] {
            for (c, d) in [(1, 64), (2, 40), (4, 24), (8, 14), (32, 4)] {
                guard let config = try? ModelConfiguration.original(dataset: .imagenet, depth: depth, baseWidth: d, cardinality: c,
                                                                    blockType: c == 1 ? .resnet : .resnextC),
                      let a = try? config.analyze() else { continue }
                print(padded(String(depth), 7) + padded("\(c)x\(d)d", 10) + padded(String(config.innerWidth(planes: 64)), 13)
                      + padded(grouped(a.parameters), 14) + scaled(a.multiplyAdds))
            }
        }
    }
}
