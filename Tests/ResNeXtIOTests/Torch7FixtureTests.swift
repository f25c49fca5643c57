import ResNeXtCore
import ResNeXtIO
import XCTest

/// python-torchfile's test files (see Torch7FixtureData.swift), with the values its tests.py expects.
final class Torch7FixtureTests: XCTestCase {
    private func parse(_ name: String) throws -> Torch7Value {
        try Torch7.parse(Torch7Fixtures.bytes(name), source: name)
    }

    func testFixtureSizes() {
        let sizes = [
            "hello=123.t7": 37, "floattensor.t7": 237, "doubletensor.t7": 175, "list_table.t7": 116, "map_table1.t7": 140,
            "map_table2.t7": 147, "custom_class.t7": 35, "recursive_class.t7": 49, "recursive_kv_table.t7": 28,
            "function.t7": 242, "function_upvals.t7": 186, "nngraph_node.t7": 335, "tds_vec.t7": 58, "tds_hash.t7": 107,
            "gmodule_with_linear_identity.t7": 10_300
        ]
        XCTAssertEqual(Set(sizes.keys), Set(Torch7Fixtures.names))
        for (name, size) in sizes { XCTAssertEqual(Torch7Fixtures.bytes(name).count, size, name) }
    }

    func testHello() throws {
        let value = try parse("hello=123.t7")
        let table = try XCTUnwrap(value.table)
        XCTAssertEqual(table.count, 1)
        XCTAssertEqual(table["hello"]?.number, 123)
        XCTAssertEqual(value["hello"]?.int, 123)
    }

    func testFloatTensor() throws {
        let tensor = try XCTUnwrap(parse("floattensor.t7").tensor)
        XCTAssertEqual(tensor.className, "torch.FloatTensor")
        XCTAssertEqual(tensor.elementType, .float32)
        XCTAssertEqual(tensor.sizes, [2, 3, 4])
        XCTAssertEqual(tensor.strides, [12, 4, 1])
        XCTAssertEqual(tensor.storageOffset, 1)
        XCTAssertEqual(tensor.storage?.className, "torch.FloatStorage")
        XCTAssertEqual(tensor.storage?.count, 24)
        let values = try tensor.floats()
        XCTAssertEqual(values.count, 24)
        XCTAssertEqual(values.reduce(0.0) { $0 + Double($1) }, 12.97241666913, accuracy: 1e-5)
        XCTAssertEqual(try tensor.storedTensor().shape, [2, 3, 4])
    }

    func testDoubleTensor() throws {
        let tensor = try XCTUnwrap(parse("doubletensor.t7").tensor)
        XCTAssertEqual(tensor.className, "torch.DoubleTensor")
        XCTAssertEqual(tensor.sizes, [2, 3])
        XCTAssertEqual(try tensor.doubles(), [1, 2, 3, 4, 5, 6.9])
        XCTAssertEqual(try tensor.floats(), [1, 2, 3, 4, 5, Float(6.9)])
    }

    func testListAndMapTables() throws {
        let list = try XCTUnwrap(parse("list_table.t7").table)
        let items = try XCTUnwrap(list.arrayValues)
        XCTAssertEqual(items.count, 4)
        XCTAssertEqual(items[0].string, "hello")
        XCTAssertEqual(items[1].string, "world")
        XCTAssertEqual(items[2].string, "third item")
        XCTAssertEqual(items[3].number, 123)
        // Keys are Lua numbers (float64), not strings.
        XCTAssertEqual(list.entries.map { $0.key.number }, [1, 2, 3, 4])

        // map_table1: 0 = "zero" plus the same list, so not an array.
        let map1 = try XCTUnwrap(parse("map_table1.t7").table)
        XCTAssertEqual(map1.count, 5)
        XCTAssertNil(map1.arrayValues)
        XCTAssertEqual(map1[0]?.string, "zero")
        XCTAssertEqual(map1[1]?.string, "hello")
        XCTAssertEqual(map1[4]?.number, 123)

        // map_table2: the list plus a = "non number key".
        let map2 = try XCTUnwrap(parse("map_table2.t7").table)
        XCTAssertEqual(map2.count, 5)
        XCTAssertNil(map2.arrayValues)
        XCTAssertEqual(map2["a"]?.string, "non number key")
        XCTAssertEqual(map2[3]?.string, "third item")
    }

    func testCustomAndRecursiveClasses() throws {
        guard case let .object(name, version, payload) = try parse("custom_class.t7") else { return XCTFail("not an object") }
        XCTAssertEqual(name, "Blah")
        XCTAssertEqual(version, 1)
        XCTAssertEqual(payload.table?.count, 0)

        // An instance of torch.class("A") whose field a is the instance itself.
        let object = try parse("recursive_class.t7")
        XCTAssertEqual(object.className, "A")
        let a = try XCTUnwrap(object["a"])
        XCTAssertEqual(a.className, "A")
        XCTAssertTrue(a.isSameReference(as: object))
        XCTAssertTrue(try XCTUnwrap(a["a"]).isSameReference(as: object))
    }

    func testRecursiveKeyValueTable() throws {
        // One entry whose key and value are both the table itself.
        let value = try parse("recursive_kv_table.t7")
        let table = try XCTUnwrap(value.table)
        XCTAssertEqual(table.count, 1)
        let (key, item) = table.entries[0]
        XCTAssertTrue(key.table === table)
        XCTAssertTrue(item.table === table)
        XCTAssertTrue(table[value]?.table === table)
    }

    func testFunctionsAreKeptOpaque() throws {
        guard case .function(let f) = try parse("function.t7") else { return XCTFail("not a function") }
        XCTAssertEqual(f.tag, 8)
        XCTAssertEqual(f.bytecode.count, 218)
        XCTAssertEqual(Array(f.bytecode.prefix(3)), [0x1B, 0x4C, 0x4A])  // LuaJIT bytecode header "\x1bLJ"

        guard case .function(let g) = try parse("function_upvals.t7") else { return XCTFail("not a function") }
        let upvalues = try XCTUnwrap(g.upvalues.table?.arrayValues)
        XCTAssertEqual(upvalues.count, 1)
        XCTAssertEqual(upvalues[0]["name"]?.string, "asdf")
        XCTAssertEqual(upvalues[0]["value"]?.number, 123)
    }

    func testNNGraphNode() throws {
        let node = try parse("nngraph_node.t7")
        XCTAssertEqual(node.className, "nngraph.Node")
        let data = try XCTUnwrap(node["data"])
        let annotations = try XCTUnwrap(data["annotations"])
        XCTAssertEqual(annotations["hello"]?.number, 123)
        XCTAssertTrue(
            try XCTUnwrap(annotations["_debugLabel"]?.string).hasPrefix("[/home/scratch/breord/torch/share/lua/5.1/trepl/init.lua]"))
        XCTAssertEqual(data["mapindex"]?.table?.count, 0)
        XCTAssertEqual(node["id"]?.number, 0)
        XCTAssertEqual(node["visited"]?.boolean, false)
        XCTAssertEqual(node["marked"]?.boolean, false)
        XCTAssertEqual(node["children"]?.table?.count, 0)
    }

    func testGModuleWithLinear() throws {
        let gmodule = try parse("gmodule_with_linear_identity.t7")
        XCTAssertEqual(gmodule.className, "nn.gModule")
        let modules = try XCTUnwrap(gmodule["modules"]?.table?.arrayValues)
        XCTAssertEqual(modules.compactMap(\.className).sorted(), ["nn.CAddTable", "nn.Identity", "nn.Identity", "nn.Linear"])
        let linear = try XCTUnwrap(modules.first { $0.className == "nn.Linear" })
        let weight = try XCTUnwrap(linear["weight"]?.tensor)
        let bias = try XCTUnwrap(linear["bias"]?.tensor)
        XCTAssertEqual(weight.className, "torch.DoubleTensor")
        XCTAssertEqual(weight.sizes, [2, 1])
        XCTAssertEqual(bias.sizes, [2])
        XCTAssertEqual(try weight.doubles().count, 2)
        XCTAssertEqual(try bias.doubles().count, 2)
        XCTAssertEqual(linear["gradWeight"]?.tensor?.sizes, [2, 1])
        // The module objects in the graph's nodes are the very ones in `modules`.
        let forwardNodes = try XCTUnwrap(gmodule["forwardnodes"]?.table?.arrayValues)
        let nodeModules = forwardNodes.compactMap { $0["data"]?["module"] }.filter { $0.className == "nn.Linear" }
        XCTAssertEqual(nodeModules.count, 1)
        XCTAssertTrue(nodeModules[0].isSameReference(as: linear))
    }

    func testTDSClassesAreRejected() {
        assertIOError(try parse("tds_vec.t7"), contains: ["tds_vec.t7: ", "unsupported class tds.Vec"])
        assertIOError(try parse("tds_hash.t7"), contains: ["tds_hash.t7: ", "unsupported class tds.Hash"])
    }

    /// Parsing then serializing gives back every supported file byte for byte (same reference numbering).
    func testSerializeReproducesEveryFixture() throws {
        for name in Torch7Fixtures.names where !name.hasPrefix("tds_") {
            let bytes = Torch7Fixtures.bytes(name)
            XCTAssertEqual(Torch7.serialize(try Torch7.parse(bytes, source: name)), bytes, name)
        }
    }

    /// The writer produces the fixtures from values built by hand.
    func testWriterBuildsFixturesFromScratch() throws {
        let hello = Torch7Value.table(Torch7Table(fields: [("hello", .number(123))]))
        XCTAssertEqual(Torch7.serialize(hello), Torch7Fixtures.bytes("hello=123.t7"))

        let floats = try XCTUnwrap(parse("floattensor.t7").tensor).floats()
        XCTAssertEqual(Torch7.serialize(.tensor(Torch7Tensor(shape: [2, 3, 4], floats: floats))), Torch7Fixtures.bytes("floattensor.t7"))

        let doubles = Torch7Tensor(shape: [2, 3], doubles: [1, 2, 3, 4, 5, 6.9])
        XCTAssertEqual(Torch7.serialize(.tensor(doubles)), Torch7Fixtures.bytes("doubletensor.t7"))

        let list = Torch7Table(array: [.string("hello"), .string("world"), .string("third item"), .number(123)])
        XCTAssertEqual(Torch7.serialize(.table(list)), Torch7Fixtures.bytes("list_table.t7"))

        let recursive = Torch7Table()
        recursive[.table(recursive)] = .table(recursive)
        XCTAssertEqual(Torch7.serialize(.table(recursive)), Torch7Fixtures.bytes("recursive_kv_table.t7"))

        let fields = Torch7Table()
        let instance = Torch7Value.object(className: "A", version: 1, payload: .table(fields))
        fields["a"] = instance
        XCTAssertEqual(Torch7.serialize(instance), Torch7Fixtures.bytes("recursive_class.t7"))
    }
}
