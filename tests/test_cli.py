"""`python -m builder export` command line: help, usage errors, exit codes, the closing table."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from builder import cli
from builder.runtimes import python_loaders


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_help_explains_the_options():
    result = run("export", "--help")
    assert result.returncode == 0
    for flag in ("--out", "--models", "--formats", "--seed", "--epochs", "mlp_torch", "tfjs-graph"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "the following arguments are required: command"),
        (["export", "--models", "mlp_nope"], "unknown model 'mlp_nope'"),
        (["export", "--formats", "pickle"], "unknown format 'pickle'"),
        (["export", "--epochs", "0"], "--epochs must be at least 1"),
        (
            ["export", "--models", "mlp_keras", "--formats", "torchscript-script"],
            "mlp_keras can export none of the requested formats",
        ),
        (["export", "--seed", "x"], "invalid"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message, tmp_path):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert list(tmp_path.iterdir()) == [], "a usage error writes nothing"


def test_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "models", tmp_path / "missing" / "models"):
        result = run("export", "--out", str(out), "--models", "mlp_torch")
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: export: --out")


def test_export_prints_the_table_and_writes_the_manifest(tmp_path):
    out = tmp_path / "models"
    result = run("export", "--out", str(out), "--models", "mlp_keras", "--formats", "tflite,onnx", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    for word in ("model", "format", "size", "max abs diff", "time", "mlp_keras", "tflite", "saved-model", "onnx"):
        assert word in result.stdout
    doc = json.loads((out / "manifest.json").read_text())
    # tflite is converted from the SavedModel, so asking for it exports saved-model too
    assert [a["format"] for a in doc["models"][0]["artifacts"]] == ["onnx", "saved-model", "tflite"]
    assert [a["via"] for a in doc["models"][0]["artifacts"]][2] == ["tensorflow", "saved-model", "tflite"]
    assert "trained mlp_keras" in result.stderr and "Traceback" not in result.stderr


def test_failed_check_exits_1_with_one_line(tmp_path, monkeypatch, capsys):
    out = tmp_path / "models"
    monkeypatch.setitem(
        python_loaders.LOADERS,
        "torchscript-script",
        lambda path, artifact, model: lambda arrays: {"output": np.full((len(arrays["input"]), 1), np.nan, np.float32)},
    )
    code = cli.main(
        ["export", "--out", str(out), "--models", "mlp_torch", "--formats", "torchscript-script", "--epochs", "1"]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: export: mlp_torch/torchscript-script: output differs from the reference")
    assert err[-1].endswith("is unchanged)")
    assert not out.exists()
