#!/usr/bin/env bash
# make demo-java: bin/deploykit-java --check on the golden set of every saved-model artifact in
# a manifest, one parity line each. A model refused for the documented XlaCallModule
# incompatibility (java/README.md: TF Java 1.1.0 = TensorFlow 2.18 cannot read the StableHLO
# that jax 0.10 writes) is reported and does not fail the demo; a parity mismatch (exit 1) or
# any other failure does.
# Usage: java/scripts/demo.sh MANIFEST PYTHON
set -euo pipefail
manifest="$1"
python="$2"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
root="$(dirname "$manifest")"
# id, golden input, golden expected of each model that has a saved-model artifact
rows="$("$python" - "$manifest" <<'PY'
import json, sys
for m in json.load(open(sys.argv[1]))["models"]:
    if any(a["format"] == "saved-model" for a in m["artifacts"]):
        print(m["id"], m["golden"]["input"], m["golden"]["expected"])
PY
)"
failed=0
while read -r id input expected; do
  [[ -n "$id" ]] || continue
  set +e
  line="$("$repo/bin/deploykit-java" --manifest "$manifest" --model "$id" --format saved-model \
    --input "$root/$input" --check "$root/$expected" 2>&1)"
  code=$?
  set -e
  case "$code" in
    0) echo "java  $line" ;;
    3) if [[ "$line" == *"XlaCallModule"*"cannot run on TF Java"* ]]; then
         echo "java  $id/saved-model: not runnable on TF Java (documented in java/README.md): ${line#error: $id/saved-model: }"
       else
         echo "java  $id/saved-model: FAILED (exit 3): $line"; failed=1
       fi ;;
    *) echo "java  $id/saved-model: FAILED (exit $code): $line"; failed=1 ;;
  esac
done <<< "$rows"
exit $failed
