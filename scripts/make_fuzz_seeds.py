#!/usr/bin/env python3
"""Writes the fuzzing seed corpus Tests/Fuzz/<target>/ from the repository's own test fixtures (the .pth,
.t7 and JPEG files the tests embed as base64, a safetensors fixture) plus a few hand-written JSON and zip
files. Small inputs only: at most 4 KiB each, four per source. Usage: scripts/make_fuzz_seeds.py"""
import base64, binascii, io, json, os, re, struct, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fuzz")
LIMIT = 4 * 1024
PER_SOURCE = 4


def base64_blocks(path):
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    found = 0
    for block in re.findall(r'"""\n(.*?)\n\s*"""', text, flags=re.S):
        compact = re.sub(r"\s+", "", block)
        try:
            data = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            continue
        if 0 < len(data) <= LIMIT:
            yield data
            found += 1
            if found == PER_SOURCE:
                return


def write(target, name, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata):
    header, data = {"__metadata__": metadata}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    encoded = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


def main():
    for i, data in enumerate(base64_blocks("Tests/ResNeXtIOTests/PyTorchFixtureData.swift")):
        write("pth", f"fixture-{i}.pth", data)
        write("zip", f"fixture-{i}.zip", data)
    for i, data in enumerate(base64_blocks("Tests/ResNeXtIOTests/Torch7FixtureData.swift")):
        write("t7", f"fixture-{i}.t7", data)
    for i, data in enumerate(base64_blocks("Tests/ResNeXtDataTests/JPEGFixtureData.swift")):
        write("image", f"fixture-{i}.jpg", data)
    write("image", "tiny.ppm", b"P6\n2 2\n255\n" + bytes(range(12)))
    config = {"stem": "cifar", "inputChannels": 3, "stemWidth": 64, "stagePlanes": [64, 128, 256],
              "blocksPerStage": [1, 1, 1], "blockType": "resnext_C", "baseWidth": 4, "cardinality": 2,
              "shortcutType": "B", "classes": 10}
    floats = struct.pack("<4f", 1.0, -2.0, 0.5, 3.25)
    write("safetensors", "small.safetensors",
          safetensors({"fc.weight": ("F32", [2, 2], floats)}, {"format": "resnext-swift/1", "configuration": json.dumps(config)}))
    with open(os.path.join(ROOT, "Tests/ResNeXtModelsTests/Fixtures/chelsea_torchvision.safetensors"), "rb") as f:
        write("safetensors", "chelsea_torchvision.safetensors", f.read())
    write("json", "config.json", json.dumps(config).encode())
    write("json", "latest.json", b'{"epoch":3,"modelFile":"model_3.safetensors","optimFile":"optimState_3.safetensors"}\n')
    write("json", "values.json", b'[1, -2.5e-3, true, null, "a\\u00e9\\n", {"k": [[], {}]}]')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/version", b"3\n")
    write("zip", "small.zip", buffer.getvalue())


if __name__ == "__main__":
    main()
