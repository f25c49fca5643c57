#!/usr/bin/env bash
# The project's style check (run by scripts/test.sh): swift-format's lint with .swift-format (4-space
# indentation, 140 columns; rules the code deliberately departs from are switched off there), plus a plain
# length check, since swift-format does not break string literals. The generated onnx.pb.swift is exempt.
# Fix with: swift format format -i --configuration .swift-format <files>
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find Sources Tests -name '*.swift' ! -name 'onnx.pb.swift' | sort)
status=0
if ! swift format lint --strict --configuration .swift-format "${files[@]}"; then
    echo "check_format: swift-format found the problems above (fix: swift format format -i --configuration .swift-format FILE...)" >&2
    status=1
fi
# Characters, not bytes; lines inside multi-line string literals (the CUDA C sources the tests compile) are
# data, not Swift.
long=$(python3 - "${files[@]}" <<'PY'
import sys
for path in sys.argv[1:]:
    inside = False
    for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if not inside and len(line) > 140:
            print(f"{path}:{number}: {len(line)} characters")
        if line.count('"""') % 2 == 1:
            inside = not inside
PY
)
if [ -n "$long" ]; then
    echo "$long" >&2
    echo "check_format: lines longer than 140 characters" >&2
    status=1
fi
[ $status -eq 0 ] && echo "check_format: ${#files[@]} files conform to .swift-format and 140 columns"
exit $status
