"""Peers in the same run (issue 17): the runtime a user would otherwise pick, timed on the same
model in the same process as a deploykit client, in the clients' interleaved blocks, so that
each client figure is a ratio against a named peer:

- `onnxruntime-java`: ONNX Runtime's Java API on the model's onnx artifact against the Java
  client (TF Java on its saved-model), in java/deploykit-bench (`Bench --peers-only --json`);
- `onnxruntime-web`: onnxruntime-web's wasm EP on the onnx artifact against the Chromium client
  (TF.js wasm on its tfjs-graph), in one page (`node js/bench/measure.js --peers-only --json`).

Both tools live in the source checkout (the bench jar, js/node_modules), so peers run from a
checkout only. Each result is attached to the client's bench row as `peers`: per batch the
client's and the peer's p50 and the ratio client / peer with its 95% interval over blocks
(bench/stats.py; `samples_us.latency` is the client, `samples_us.direct` the peer).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from builder.bench import stats
from builder.verify import clients

TIMEOUT_S = 300  # start-up, plus PER_MODEL_S per model
# Issue 17's page target: a person's first visit to the demo page shows a prediction within 1.0 s for
# the seed MLP and the CNNs; measured alongside the Chromium peer (cold profile, FIRST_TRIALS visits).
FIRST_PREDICTION_MODELS = ("mlp_torch", "cnn_torch", "cnn_keras")
FIRST_PREDICTION_TARGET_MS = 1000.0
FIRST_TRIALS = 3
PER_MODEL_S = 600
# The checkout holding java/ and js/ (None when the builder is installed as a package).
ROOT: Path | None = clients.CHECKOUT_BIN.parent if clients.CHECKOUT_BIN else None


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str  # the peer runtime
    client: str  # the bench runtime it is compared with (verify/runners.py)
    client_format: str  # the artifact the client runs; the peer runs the model's onnx

    def command(self, root: Path) -> list[str]:
        if self.name == "onnxruntime-java":
            target = root / "java" / "deploykit-bench" / "target"
            classpath = f"{target / 'deploykit-bench.jar'}:{target / 'lib' / '*'}"
            # The JVM's default heap: JavaCPP caps TensorFlow's native memory at a multiple of -Xmx
            # (maxPhysicalBytes), and chargpt_torch at batch 1024 needs more than 128 MB allows.
            return ["java", "-cp", classpath, "dev.deploykit.Bench", "--peers-only"]
        return ["node", str(root / "js" / "bench" / "measure.js"), "--peers-only"]

    def unavailable(self, root: Path | None) -> str | None:
        """Why the peer cannot run here, or None."""
        if root is None:
            return "peers run from a source checkout only"
        if self.name == "onnxruntime-java":
            target = root / "java" / "deploykit-bench" / "target"
            if shutil.which("java") is None or not any((target / "lib").glob("onnxruntime-*.jar")):
                return "java/deploykit-bench is not built with its ONNX Runtime (make setup-java)"
            return None
        package = root / "js" / "node_modules" / "onnxruntime-web" / "package.json"
        if shutil.which("node") is None or not package.is_file():
            return "onnxruntime-web is not installed (make setup-js)"
        return None


PEERS = {
    "java": Peer("onnxruntime-java", "java", "saved-model"),
    "chromium": Peer("onnxruntime-web", "chromium", "tfjs-graph"),
}


def _batch(entry: dict) -> dict:
    """One batch of a peer comparison: both p50s and the ratio with its interval."""
    samples = entry["samples_us"]
    client, peer = entry["client_latency_us"]["p50"], entry["peer_latency_us"]["p50"]
    return {
        "batch": entry["batch"],
        "client_us": client,
        "peer_us": peer,
        "peer_latency_us": entry["peer_latency_us"],
        "peer_first_ms": entry.get("peer_first_ms"),
        "ratio": client / peer,
        "interval": stats.ratio_interval(samples["latency"], samples["direct"], samples["blocks"]),
    }


def from_entry(peer: Peer, entry: dict, doc: dict) -> dict:
    """A row's `peers` item from one entry of a tool's --json result (its `samples_us` dropped:
    the interval carries what the report needs)."""
    item = {"peer": peer.name, "peer_format": "onnx", "client_format": peer.client_format}
    if entry.get("skipped"):
        return item | {"status": "unsupported", "reason": entry["skipped"]}
    if entry.get("error"):
        return item | {"status": "error", "reason": str(entry["error"])[:300]}
    how = {k: v for k, v in entry.items() if k not in {"batches", "model", "client", "peer", "peer_format"}}
    return item | {
        "status": "ok",
        "reason": None,
        "client_runtime": doc.get("client_runtime") or f"TF.js {entry.get('tfjs_version', '')}".strip(),
        "peer_runtime": doc.get("peer_runtime") or f"onnxruntime-web {entry.get('peer_version', '')}".strip(),
        "how": how,
        "batches": [_batch(b) for b in entry["batches"]],
    }


def _run_tool(peer: Peer, root: Path, manifest: Path, models: list[str], counts: dict, first: list[str] = ()) -> dict:
    with tempfile.TemporaryDirectory(prefix="deploykit-peers-") as tmp:
        out = Path(tmp) / "peers.json"
        cmd = [*peer.command(root), "--json", str(out)]
        for flag, value in counts.items():
            cmd += [f"--{flag}", str(value)]
        cmd.append(str(manifest))
        if peer.name == "onnxruntime-java":
            cmd += models
        else:
            cmd += [arg for m in models for arg in ("--models", m)]
            cmd += [arg for m in first for arg in ("--first-prediction", m)]
            if first:
                cmd += ["--first-trials", str(FIRST_TRIALS)]
        env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT_S + PER_MODEL_S * len(models), env=env, cwd=root
        )
        if proc.returncode != 0 or not out.is_file():
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise RuntimeError(f"{peer.name}: exit {proc.returncode}: {last}"[:300])
        return json.loads(out.read_text())


def attach(
    manifest: Path,
    rows: list[dict],
    models: dict[str, dict],
    repeat: int,
    warmup: int,
    batch_repeat: int,
    progress: Callable[[str], None] = lambda message: None,
    root: Path | None = ROOT,
) -> None:
    """Runs each peer whose client row ran (status ok) on a model with an onnx artifact, and adds
    `peers` to that row: one item per peer, with its status and, when ok, its batches."""
    for peer in PEERS.values():
        targets = {
            r["model"]: r
            for r in rows
            if r["runtime"] == peer.client
            and r["format"] == peer.client_format
            and r["status"] == "ok"
            and any(a["format"] == "onnx" for a in models[r["model"]]["artifacts"])
        }
        if not targets:
            continue
        item = {"peer": peer.name, "peer_format": "onnx", "client_format": peer.client_format}
        if why := peer.unavailable(root):
            for row in targets.values():
                row.setdefault("peers", []).append(item | {"status": "unavailable", "reason": why})
            continue
        progress(f"{peer.name} against {peer.client}: {len(targets)} model(s)")
        counts = {
            "repeat": repeat,
            "warmup": warmup,
            "batch-repeat": batch_repeat,
            "batch-warmup": max(1, warmup // 10),
        }
        first = [m for m in FIRST_PREDICTION_MODELS if m in targets] if peer.client == "chromium" else []
        try:
            doc = _run_tool(peer, root, manifest.resolve(), list(targets), counts, first)
        except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
            for row in targets.values():
                row.setdefault("peers", []).append(item | {"status": "error", "reason": f"{e}"[:300]})
            continue
        for visit in doc.get("first_prediction", []):
            if visit.get("model") in targets:
                targets[visit["model"]]["first_prediction"] = visit | {"target_ms": FIRST_PREDICTION_TARGET_MS}
        entries = {e["model"]: e for e in doc.get("peers", [])}
        for model, row in targets.items():
            entry = entries.get(model, {"error": f"{peer.name} reported nothing for {model}"})
            try:
                row.setdefault("peers", []).append(from_entry(peer, entry, doc))
            except (KeyError, TypeError, ValueError) as e:
                row.setdefault("peers", []).append(item | {"status": "error", "reason": f"bad result: {e}"[:300]})
