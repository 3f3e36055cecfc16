"""The examples/ folder on real architectures: one `export --from` of all six, as a user runs it,
then `verify --require-all`: every client each model's formats reach must run and agree.

AOTInductor is left out here: each compile of a real network takes 40-115 s on two cores, and
tests/test_user_model.py compiles a user model's `.pt2` already. Everything else is exported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("resnet18_torch", "bert_tiny", "gpt2_tiny", "mobilenet_keras", "flax_cnn", "onnx_file")
FORMATS = ("torchscript-script", "torchscript-trace", "onnx", "saved-model", "tflite", "tfjs-graph")
# What each example reaches, measured (docs/measurements.md, "Your own model"); every other format is
# skipped with its converter's reason, which the manifest records.
REACHED = {
    "resnet18": set(FORMATS),
    "bert_tiny": {"torchscript-trace", "onnx"},
    "gpt2_tiny": {"torchscript-trace", "onnx"},
    "mobilenet_v3_small": {"saved-model", "tflite", "tfjs-graph", "onnx", "torchscript-trace"},
    "flax_cnn": {"onnx", "saved-model", "tflite", "tfjs-graph"},
    "onnx_mlp": {"onnx", "saved-model", "tflite", "tfjs-graph", "torchscript-trace"},
}


@pytest.fixture(scope="module")
def examples_export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("examples") / "models"
    command = [sys.executable, "-m", "builder", "export", "--out", str(out), "--formats", *FORMATS]
    for name in EXAMPLES:
        command += ["--from", f"examples/{name}.py:build"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "manifest.json"


def test_every_example_reaches_its_formats(examples_export):
    doc = json.loads(examples_export.read_text())
    assert [m["id"] for m in doc["models"]] == list(REACHED)
    for model in doc["models"]:
        made = {a["format"] for a in model["artifacts"]}
        skipped = {s["format"]: s["reason"] for s in model.get("skipped", [])}
        assert made == REACHED[model["id"]], (model["id"], skipped)
        assert made | set(skipped) == set(FORMATS) - ({"torchscript-script"} if model["source"] != "torch" else set())
        assert all(reason for reason in skipped.values())
        assert model["origin"]["kind"] == "user"


def test_verify_require_all_on_the_examples(examples_export):
    """Every runtime runs (C++, Java, Go, Node, Chromium, the Python ones) on every artifact it
    loads, and every cell passes; skipped formats are n/s cells, never passes."""
    report = examples_export.parent / "report"
    done = subprocess.run(
        [sys.executable, "-m", "builder", "verify", "--require-all", "--manifest", str(examples_export)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    parity = json.loads((report / "parity.json").read_text())
    summary = parity["summary"]
    assert summary["fail"] == 0 and summary["error"] == 0 and summary["unavailable"] == 0
    assert summary["pass"] > 0
