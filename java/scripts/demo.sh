#!/usr/bin/env bash
# make demo-java: bin/deploykit-java --check-dir on every golden set of every saved-model artifact
# in a manifest (--input-dir models/<id>/golden/<set>, --check-dir .../expected), one parity line
# per output. Any failure (a parity mismatch, exit 1, or a refused model) fails the demo.
# Usage: java/scripts/demo.sh MANIFEST PYTHON
set -euo pipefail
manifest="$1"
python="$2"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
root="$(dirname "$manifest")"
# id and golden set name of each model that has a saved-model artifact
rows="$("$python" - "$manifest" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if any(a["format"] == "saved-model" for a in m["artifacts"]):
        for g in m["golden"]:
            print(m["id"], g["name"])
PY
)"
failed=0
while read -r id set; do
  [[ -n "$id" ]] || continue
  set +e
  lines="$("$repo/bin/deploykit-java" --manifest "$manifest" --model "$id" --format saved-model \
    --input-dir "$root/$id/golden/$set" --check-dir "$root/$id/golden/$set/expected" 2>&1)"
  code=$?
  set -e
  case "$code" in
    0) while IFS= read -r line; do echo "java  $id/saved-model/$set $line"; done <<< "$lines" ;;
    *) echo "java  $id/saved-model/$set: FAILED (exit $code): $lines"; failed=1 ;;
  esac
done <<< "$rows"
exit $failed
