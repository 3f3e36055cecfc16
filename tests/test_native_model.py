"""builder._native.Model: the C++ client's LibTorch runner inside the extension, on every torch
artifact of the shared test export (`make test-fixtures`), every golden set, per output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from builder import _native

REPO = Path(__file__).resolve().parents[1]
TORCH_FORMATS = ("torchscript-script", "torchscript-trace", "aoti")


@pytest.fixture(scope="module")
def manifest_path() -> Path:
    path = Path(os.environ.get("DEPLOYKIT_TEST_MANIFEST", REPO / "build" / "test-models" / "manifest.json"))
    assert path.is_file(), f"{path} is missing: run `make test-fixtures`"
    return path


@pytest.fixture(scope="module")
def torch_models(manifest_path) -> list[dict]:
    models = [m for m in json.loads(manifest_path.read_text())["models"]
              if any(a["format"] in TORCH_FORMATS for a in m["artifacts"])]
    assert models, "the test manifest has no torch model"
    return models


def artifact(model: dict, fmt: str) -> dict:
    return next(a for a in model["artifacts"] if a["format"] == fmt)


def golden_set(manifest_path: Path, model: dict, name: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(inputs, expected outputs) of one named golden set."""
    entry = next(g for g in model["golden"] if g["name"] == name)
    load = lambda files: {k: np.load(manifest_path.parent / v) for k, v in files.items()}  # noqa: E731
    return load(entry["inputs"]), load(entry["expected"])


def tolerance(a: dict, output: str) -> tuple[float, float]:
    chosen = (a["tolerance"].get("outputs") or {}).get(output, a["tolerance"])
    return chosen["atol"], chosen["rtol"]


def first_rows(tensors: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    return {k: v[:rows] for k, v in tensors.items()}


def test_the_extension_has_the_model_runner():
    assert hasattr(_native, "Model"), "builder._native was built without LibTorch"
    assert _native.libtorch_version.startswith("libtorch ")


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_each_torch_artifact_matches_every_golden_set_per_output(manifest_path, torch_models, fmt):
    for model in torch_models:
        a = artifact(model, fmt)
        native = _native.Model.from_manifest(str(manifest_path), model["id"], fmt)
        assert native.format == fmt
        assert native.input_names == [s["name"] for s in model["inputs"]]
        assert native.output_names == [s["name"] for s in model["outputs"]]
        assert {g["name"] for g in model["golden"]} >= {"golden"}
        for g in model["golden"]:
            inputs, expected = golden_set(manifest_path, model, g["name"])
            for rows in (1, 7, g["rows"]):
                got = native.predict(first_rows(inputs, rows))
                assert list(got) == native.output_names
                for name, want in first_rows(expected, rows).items():
                    assert got[name].dtype == want.dtype and got[name].shape == want.shape, (model["id"], name)
                    result = _native.compare(want, got[name], *tolerance(a, name))
                    assert result.passed, (model["id"], fmt, g["name"], rows, name, result)  # NaN/Inf placement included


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_predict_checks_every_input_against_the_specs(manifest_path, torch_models, fmt):
    model = torch_models[0]
    native = _native.Model.from_manifest(str(manifest_path), model["id"], fmt)
    spec = model["inputs"][0]
    inputs, _ = golden_set(manifest_path, model, "golden")
    x = inputs[spec["name"]]
    names = ", ".join(s["name"] for s in model["inputs"])
    with pytest.raises(ValueError, match=rf"^input {spec['name']}: missing \(model inputs: {names}\)$"):
        native.predict({})
    with pytest.raises(ValueError, match=r'^input bogus: unknown input "bogus"'):
        native.predict({**inputs, "bogus": x})
    with pytest.raises(ValueError, match=rf"^input {spec['name']}: expected {spec['dtype']}, got int32$"):
        native.predict({**inputs, spec["name"]: x.astype(np.int32)})
    with pytest.raises(ValueError, match=rf"^input {spec['name']}: dtype float64 is not a contract dtype"):
        native.predict({**inputs, spec["name"]: x.astype(np.float64)})
    with pytest.raises(ValueError, match=rf"^input {spec['name']}: rank is 1, expected {len(spec['shape'])}"):
        native.predict({**inputs, spec["name"]: x[0]})
    fixed = [k for k, d in enumerate(spec["shape"]) if isinstance(d, int)]
    if fixed:  # an AOTInductor .pt2 would run this silently and return wrong numbers
        k = fixed[-1]
        wider = np.concatenate([x, x.take([0], axis=k)], axis=k)
        with pytest.raises(ValueError, match=rf"^input {spec['name']}: dim {k} is {x.shape[k] + 1}, expected {x.shape[k]}$"):
            native.predict({**inputs, spec["name"]: wider})
    # A non-contiguous array is data like any other: copied, not refused.
    got = native.predict({**inputs, spec["name"]: np.asfortranarray(x)})
    assert np.array_equal(got[model["outputs"][0]["name"]], native.predict(inputs)[model["outputs"][0]["name"]])


def test_from_manifest_refuses_a_sha256_mismatch_and_other_versions(tmp_path, manifest_path, torch_models):
    model = torch_models[0]
    a = artifact(model, "torchscript-trace")
    (tmp_path / a["path"]).parent.mkdir(parents=True)
    data = bytearray((manifest_path.parent / a["path"]).read_bytes())
    data[100] ^= 0xFF
    (tmp_path / a["path"]).write_bytes(bytes(data))
    doc = json.loads(manifest_path.read_text())
    doc["models"] = [model]
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    with pytest.raises(RuntimeError, match="sha256 mismatch"):
        _native.Model.from_manifest(str(tmp_path / "manifest.json"), model["id"], "torchscript-trace")
    with pytest.raises(ValueError, match="not in the manifest"):
        _native.Model.from_manifest(str(tmp_path / "manifest.json"), "nope", "torchscript-trace")
    with pytest.raises(ValueError, match="format onnx: not run by the C\\+\\+ client"):
        _native.Model.from_manifest(str(tmp_path / "manifest.json"), model["id"], "onnx")
    doc["schema_version"] = 1
    (tmp_path / "v1.json").write_text(json.dumps(doc))
    with pytest.raises(RuntimeError, match=r"schema_version 1 is not supported \(this client reads 2\)"):
        _native.Model.from_manifest(str(tmp_path / "v1.json"), model["id"], "torchscript-trace")
    doc["schema_version"] = 2
    doc["models"][0]["inputs"][0]["dtype"] = "float64"
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="unknown dtype 'float64'"):
        _native.Model.from_manifest(str(tmp_path / "bad.json"), model["id"], "torchscript-trace")


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_concurrent_predict_from_python_threads(manifest_path, torch_models, fmt):
    model = torch_models[-1]
    native = _native.Model.from_manifest(str(manifest_path), model["id"], fmt)
    inputs, _ = golden_set(manifest_path, model, "golden")
    reference = native.predict(inputs)
    failures = []

    def work():
        for _ in range(10):
            got = native.predict(inputs)
            if any(not np.array_equal(got[k], reference[k], equal_nan=True) for k in reference):
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_works_in_a_plain_interpreter_with_and_without_torch(manifest_path, torch_models):
    """The extension finds LibTorch through its rpath, loads .pt2 without `import torch`, and
    shares the same library files with torch when both are imported."""
    model = torch_models[0]
    golden = next(g for g in model["golden"] if g["name"] == "golden")
    script = f"""
import sys, numpy as np
from builder import _native
assert 'torch' not in sys.modules
inputs = {{k: np.load(v) for k, v in {({k: str(manifest_path.parent / v) for k, v in golden['inputs'].items()})!r}.items()}}
a = _native.Model.from_manifest({str(manifest_path)!r}, {model['id']!r}, 'aoti').predict(inputs)
import torch
t = _native.Model.from_manifest({str(manifest_path)!r}, {model['id']!r}, 'torchscript-trace').predict(inputs)
assert all(np.allclose(a[k], t[k], atol=1e-5, equal_nan=True) for k in a), a
print('ok')
"""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
