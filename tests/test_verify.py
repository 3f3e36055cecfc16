"""`python -m builder verify`: the parity matrix over the smoke export, mutations, CLI runners."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from builder import cli
from builder.verify import matrix, report
from builder.verify.runners import RUNNERS, CliRunner
from conftest import mutated_copy
from helpers import documented

PYTHON_RUNTIMES = ["torch-python", "onnxruntime", "tf-python", "tflite"]
INPUT_SETS = {"golden", "batch1", "batch7", "special"}


def input_sets_of(model: dict) -> set[str]:
    """golden and its batch-1/7 slices, plus special for a model with a float input."""
    return {"golden", "batch1", "batch7"} | (
        {"special"} if any(g["name"] == "special" for g in model["golden"]) else set()
    )


@pytest.fixture(scope="module")
def python_report(smoke_export) -> dict:
    return matrix.run(smoke_export / "manifest.json", runtimes=PYTHON_RUNTIMES)


# Formats the test export skips (textcls_keras through onnx2torch; tests/test_conversions.py pins why).
SKIPPED = {"textcls_keras/torchscript-trace", "textcls_keras/aoti"}


def _by_artifact(rep: dict) -> dict[str, set[str]]:
    statuses: dict[str, set[str]] = {}
    for cell in rep["cells"]:
        if not documented(cell):
            statuses.setdefault(cell["artifact"], set()).add(cell["status"])
    return statuses


def test_every_python_runtime_matches_the_reference_on_every_input_set(python_report, smoke_manifest):
    # The only cells that do not pass are the formats the export could not convert a model to
    # (its `skipped` list: chargpt_torch's dynamic seq stops onnx2tf), shown as n/s with the reason.
    skipped = {f"{m['id']}/{s['format']}": s["reason"] for m in smoke_manifest["models"] for s in m.get("skipped", [])}
    others = [c for c in python_report["cells"] if c["status"] != "pass" and not documented(c)]
    assert all(c["status"] == "unsupported" and c["artifact"] in skipped for c in others), others
    assert all(c["reason"] == f"not exported: {skipped[c['artifact']]}" for c in others)
    cells = [c for c in python_report["cells"] if c["status"] == "pass"]
    loadable = {f for r in PYTHON_RUNTIMES for f in RUNNERS[r].formats} - {"tfjs-graph"}
    expected_artifacts = {
        f"{m['id']}/{a['format']}" for m in smoke_manifest["models"] for a in m["artifacts"] if a["format"] in loadable
    }
    assert {c["artifact"] for c in cells} == expected_artifacts
    models = {m["id"]: m for m in smoke_manifest["models"]}
    n_s = {(c["artifact"], c["input_set"]) for c in python_report["cells"] if documented(c)}
    for artifact in expected_artifacts:
        assert {c["input_set"] for c in cells if c["artifact"] == artifact} == {
            name for name in input_sets_of(models[artifact.split("/")[0]]) if (artifact, name) not in n_s
        }
    two_outputs = [c for c in cells if c["model"] == "textcls_keras"]
    assert two_outputs and all(sorted(c["outputs"]) == ["embedding", "logits"] for c in two_outputs)
    special = [c for c in cells if c["input_set"] == "special"]
    assert all(c["stats"]["nan_match"] and c["stats"]["inf_match"] for c in special)
    assert python_report["input_sets"]["special"]["rows"] == 10
    assert all(python_report["runtimes"][r]["version"] for r in PYTHON_RUNTIMES)


def test_reference_special_outputs_contain_nan_and_saturation(smoke_export, smoke_manifest):
    for model in smoke_manifest["models"]:
        special = next((g for g in model["golden"] if g["name"] == "special"), None)
        if special is None or not model["id"].startswith(("mlp_", "wide_")):
            continue
        y = np.load(smoke_export / special["expected"]["output"])
        assert np.isnan(y[0]).all(), "a NaN row gives NaN"
        assert np.isfinite(y[3:8]).all(), "zeros, +-1e30 and denormals give numbers"


def test_a_runtime_that_cannot_run_is_a_visible_cell(smoke_export, tmp_path, monkeypatch):
    missing = tmp_path / "bin" / "deploykit-missing"
    monkeypatch.setitem(RUNNERS, "missing", CliRunner("missing", ("onnx",), str(missing), needs="test"))
    rep = matrix.run(smoke_export / "manifest.json", models=["mlp_torch"], runtimes=["missing"])
    assert rep["runtimes"]["missing"]["available"] is False and str(missing) in rep["runtimes"]["missing"]["reason"]
    assert {c["status"] for c in rep["cells"]} == {"unavailable"}
    assert "n/a" in report.markdown(rep) and "Unavailable runtimes:" in report.markdown(rep)


def _scale_last_bias(path: Path) -> None:
    proto = onnx.load(path)
    bias = [t for t in proto.graph.initializer if numpy_helper.to_array(t).ndim == 1][-1]
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) * np.float32(1.001), bias.name))
    onnx.save(proto, path)


def test_one_weight_scaled_by_1_001_fails_exactly_that_artifact(smoke_export, tmp_path):
    copy = tmp_path / "models"
    mutated_copy(smoke_export, copy, "mlp_torch/onnx/model.onnx", _scale_last_bias)
    rep = matrix.run(copy / "manifest.json", runtimes=PYTHON_RUNTIMES)
    statuses = _by_artifact(rep)
    assert statuses.pop("mlp_torch/onnx") == {"fail"}
    assert all(s == {"pass"} for a, s in statuses.items() if s != {"unsupported"}), statuses
    assert {a for a, s in statuses.items() if s == {"unsupported"}} == SKIPPED, "only the skipped formats are n/s"


def _scale_one_torchscript_weight(path: Path) -> None:
    import torch

    from builder.formats.torch_formats import torchscript_deprecation_silenced

    with torchscript_deprecation_silenced():
        module = torch.jit.load(str(path))
        with torch.no_grad():
            next(module.parameters()).mul_(1.001)  # the first conv's weight
        torch.jit.save(module, str(path))


def test_one_cnn_weight_scaled_by_1_001_fails_exactly_its_cells(smoke_export, tmp_path):
    copy = tmp_path / "models"
    mutated_copy(smoke_export, copy, "cnn_torch/torchscript/scripted.pt", _scale_one_torchscript_weight)
    rep = matrix.run(copy / "manifest.json", models=["cnn_torch", "cnn_keras"], runtimes=PYTHON_RUNTIMES)
    failed = {(c["artifact"], c["input_set"]) for c in rep["cells"] if c["status"] == "fail"}
    assert {a for a, _ in failed} == {"cnn_torch/torchscript-script"}
    assert {
        c["status"] for c in rep["cells"] if c["artifact"] != "cnn_torch/torchscript-script" and not documented(c)
    } == {"pass"}


def test_one_token_off_by_one_fails_every_chargpt_cell(smoke_export, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(smoke_export, copy)
    doc = json.loads((copy / "manifest.json").read_text())
    model = next(m for m in doc["models"] if m["id"] == "chargpt_torch")
    path = copy / model["golden"][0]["inputs"]["tokens"]
    tokens = np.load(path)
    tokens[0, 0] = (tokens[0, 0] + 1) % len(model["vocabulary"])
    np.save(path, tokens)
    rep = matrix.run(copy / "manifest.json", models=["chargpt_torch"], runtimes=PYTHON_RUNTIMES)
    assert rep["cells"] and {c["status"] for c in rep["cells"]} == {"fail"}, [c["reason"] for c in rep["cells"]]


def test_a_tampered_file_fails_its_integrity_check(smoke_export, tmp_path):
    copy = tmp_path / "models"
    shutil.copytree(smoke_export, copy)
    weights = copy / "mlp_keras/saved_model/variables/variables.data-00000-of-00001"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01
    weights.write_bytes(bytes(data))
    rep = matrix.run(copy / "manifest.json", models=["mlp_keras"], runtimes=["tf-python"])
    assert {c["status"] for c in rep["cells"]} == {"fail"}
    assert all(c["reason"].startswith("sha256 mismatch") for c in rep["cells"])


def _fake_client(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-client"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


FAKE_CLIENT = """
import argparse, json, pathlib, sys
import numpy as np
from builder.runtimes.python_loaders import load
p = argparse.ArgumentParser()
p.add_argument("--manifest", required=True)
p.add_argument("--jobs", required=True)
a = p.parse_args()
doc = json.loads(pathlib.Path(a.manifest).read_text())
for index, line in enumerate(pathlib.Path(a.jobs).read_text().splitlines()):
    job = json.loads(line)
    model = next(m for m in doc["models"] if m["id"] == job["model"])
    art = next(x for x in model["artifacts"] if x["format"] == job["format"])
    inputs = {name: np.load(path) for name, path in job["inputs"].items()}
    for name, y in load(pathlib.Path(a.manifest).parent / art["path"], art, model)(inputs).items():
        np.save(job["outputs"][name], y)
    print(json.dumps({"id": job["id"], "index": index, "exit": 0, "error": None}))
"""


def test_cli_runners_run_their_whole_share_in_one_jobs_process(smoke_export, tmp_path, monkeypatch):
    good = CliRunner("fake", ("onnx",), _fake_client(tmp_path, FAKE_CLIENT), needs="test")
    monkeypatch.setitem(RUNNERS, "fake", good)
    rep = matrix.run(
        smoke_export / "manifest.json", models=["mlp_torch"], runtimes=["fake"], keep_outputs=tmp_path / "out"
    )
    assert {c["status"] for c in rep["cells"]} == {"pass"} and len(rep["cells"]) == len(INPUT_SETS)
    assert sorted(p.name for p in (tmp_path / "out/mlp_torch/onnx/fake").iterdir()) == sorted(INPUT_SETS)
    assert (tmp_path / "out/mlp_torch/onnx/fake/golden/output.npy").exists()

    bad = CliRunner(
        "fake",
        ("onnx",),
        _fake_client(tmp_path, "import sys\nprint('error: model: sha256 mismatch', file=sys.stderr)\nsys.exit(3)\n"),
    )
    monkeypatch.setitem(RUNNERS, "fake", bad)
    rep = matrix.run(smoke_export / "manifest.json", models=["mlp_torch"], runtimes=["fake"])
    assert {c["status"] for c in rep["cells"]} == {"error"}
    assert all("exited 3" in c["reason"] and "error: model: sha256 mismatch" in c["reason"] for c in rep["cells"])


def test_histogram_bins_by_decade():
    expected = np.zeros(6, np.float32)
    got = np.array([0, 1e-13, 5e-7, 2e-3, 3.0, np.nan], np.float32)
    h = matrix.histogram({"y": expected}, {"y": got})
    counts = dict(zip(h["labels"], h["counts"], strict=True))
    assert counts["0"] == 1 and counts["<1e-12"] == 1 and counts["[1e-7,1e-6)"] == 1
    assert counts["[1e-3,1e-2)"] == 1 and counts[">=1"] == 1 and sum(h["counts"]) == 5


def test_verify_cli_writes_the_reports_and_sets_the_exit_code(smoke_export, tmp_path, capsys, monkeypatch):
    args = [
        "verify",
        "--manifest",
        str(smoke_export / "manifest.json"),
        "--report-dir",
        str(tmp_path),
        "--models",
        "mlp_keras",
    ]
    assert cli.main([*args, "--runtimes", "tflite", "onnxruntime"]) == 0
    out = capsys.readouterr().out
    assert "| mlp_keras/tflite |" in out and "pass" in out
    rep = json.loads((tmp_path / "parity.json").read_text())
    n_s = sum(documented(c) for c in rep["cells"])  # the tflite special set, on an AVX-512 CPU
    assert rep["summary"]["pass"] == 2 * len(INPUT_SETS) - n_s and rep["summary"]["fail"] == 0
    assert rep["summary"]["unsupported"] == n_s
    html = (tmp_path / "parity.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "https://" not in html
    missing = CliRunner("missing", ("saved-model",), str(tmp_path / "no-such-client"), needs="test")
    monkeypatch.setitem(RUNNERS, "missing", missing)
    assert cli.main([*args, "--runtimes", "tflite", "missing", "--require-all"]) == 1, "an unavailable runtime"
    assert cli.main([*args, "--runtimes", "tflite", "missing"]) == 0


def test_verify_cli_usage_errors(tmp_path, capsys):
    assert cli.main(["verify", "--manifest", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.startswith("error: verify: ")
    with pytest.raises(SystemExit) as info:
        cli.main(["verify", "--runtimes", "cobol"])
    assert info.value.code == 2


def test_comparator_benchmark_agrees_with_numpy():
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "builder.verify.bench_compare", "--n", "100000", "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr  # it asserts equal statistics before timing
    assert "M float32 pairs: native" in result.stdout
