import ResNeXtCore
import ResNeXtIO

extension ModelConfiguration {
    /// The configuration as JSON (stored in checkpoint metadata so a weights file rebuilds its model).
    public var json: JSONValue {
        .object([
            ("stem", .string(stem.rawValue)), ("inputChannels", .number(Double(inputChannels))),
            ("stemWidth", .number(Double(stemWidth))),
            ("stagePlanes", .array(stagePlanes.map { .number(Double($0)) })),
            ("blocksPerStage", .array(blocksPerStage.map { .number(Double($0)) })),
            ("blockType", .string(blockType.rawValue)), ("baseWidth", .number(Double(baseWidth))),
            ("cardinality", .number(Double(cardinality))), ("shortcutType", .string(shortcutType.rawValue)),
            ("classes", .number(Double(classes))),
            ("shortcutBatchNorm", .bool(shortcutBatchNorm)), ("batchNormAfterAddition", .bool(batchNormAfterAddition)),
            ("preActivation", .bool(preActivation)), ("convolutionBias", .bool(convolutionBias))
        ])
    }

    /// Reads a configuration written by ``json``, naming `source` in errors.
    public init(json: JSONValue, source: String) throws {
        func field<T>(_ key: String, _ get: (JSONValue) -> T?) throws -> T {
            guard let value = json[key], let v = get(value) else {
                throw ResNeXtError.io("\(source): model configuration lacks a valid '\(key)'")
            }
            return v
        }
        func ints(_ key: String) throws -> [Int] {
            let items = try field(key) { $0.array }
            return try items.map { item in
                guard let i = item.int else { throw ResNeXtError.io("\(source): '\(key)' must hold integers") }
                return i
            }
        }
        /// Fields added later: absent in older files, which mean the default.
        func optionalBool(_ key: String) throws -> Bool? {
            guard let value = json[key] else { return nil }
            guard let b = value.bool else { throw ResNeXtError.io("\(source): '\(key)' must be true or false") }
            return b
        }
        guard let stem = Stem(rawValue: try field("stem") { $0.string }),
            let block = BlockType(rawValue: try field("blockType") { $0.string }),
            let shortcut = ShortcutType(rawValue: try field("shortcutType") { $0.string })
        else {
            throw ResNeXtError.io("\(source): unknown stem, block or shortcut type in the model configuration")
        }
        self.init(
            stem: stem, inputChannels: try field("inputChannels") { $0.int }, stemWidth: try field("stemWidth") { $0.int },
            stagePlanes: try ints("stagePlanes"), blocksPerStage: try ints("blocksPerStage"), blockType: block,
            baseWidth: try field("baseWidth") { $0.int }, cardinality: try field("cardinality") { $0.int },
            shortcutType: shortcut, classes: try field("classes") { $0.int },
            shortcutBatchNorm: try optionalBool("shortcutBatchNorm") ?? true,
            batchNormAfterAddition: try optionalBool("batchNormAfterAddition") ?? false,
            preActivation: try optionalBool("preActivation") ?? false,
            convolutionBias: try optionalBool("convolutionBias") ?? false)
        do {
            try checkSize()  // validates too (through spec())
        } catch {
            throw ResNeXtError.io("\(source): \(error)")
        }
    }
}
