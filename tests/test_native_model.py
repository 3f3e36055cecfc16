"""builder._native.Model: the C++ client's LibTorch runner inside the extension, on every torch
artifact of the shared test export (`make test-fixtures`)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from builder import _native
from conftest import within_tolerance

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


def load_golden(manifest_path: Path, model: dict, key: str) -> np.ndarray:
    return np.load(manifest_path.parent / model["golden"][key])


def test_the_extension_has_the_model_runner():
    assert hasattr(_native, "Model"), "builder._native was built without LibTorch"
    assert _native.libtorch_version.startswith("libtorch ")


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_each_torch_artifact_matches_golden(manifest_path, torch_models, fmt):
    for model in torch_models:
        a = artifact(model, fmt)
        native = _native.Model(str(manifest_path.parent / a["path"]), fmt)
        assert native.format == fmt and native.input_width is None
        x, expected = load_golden(manifest_path, model, "input"), load_golden(manifest_path, model, "expected")
        for rows in (1, 7, len(x)):
            got = native.predict(x[:rows])
            assert got.dtype == np.float32 and got.shape == expected[:rows].shape
            result = _native.compare(expected[:rows], got, a["tolerance"]["atol"], a["tolerance"]["rtol"])
            assert result.passed, (model["id"], fmt, rows, result)
        special = native.predict(load_golden(manifest_path, model, "special_input"))
        special_expected = load_golden(manifest_path, model, "special_expected")
        assert _native.compare(special_expected, special, a["tolerance"]["atol"], a["tolerance"]["rtol"]).passed
        assert np.isnan(special).any() == np.isnan(special_expected).any()


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_from_manifest_knows_the_widths_and_checks_them(manifest_path, torch_models, fmt):
    model = torch_models[0]
    native = _native.Model.from_manifest(str(manifest_path), model["id"], fmt)
    width, outputs = model["inputs"][0]["shape"][1], model["outputs"][0]["shape"][1]
    assert (native.input_width, native.output_width) == (width, outputs)
    assert native.predict(np.zeros((0, width), np.float32)).shape == (0, outputs)
    with pytest.raises(ValueError, match="features per row"):
        native.predict(np.zeros((2, width + 1), np.float32))


def test_from_manifest_refuses_a_sha256_mismatch(tmp_path, manifest_path, torch_models):
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


def test_rejects_bad_arguments(tmp_path, manifest_path, torch_models):
    model = torch_models[0]
    path = str(manifest_path.parent / artifact(model, "torchscript-script")["path"])
    with pytest.raises(ValueError, match="format 'onnx'"):
        _native.Model(path, "onnx")
    with pytest.raises(RuntimeError, match="no such file"):
        _native.Model(str(tmp_path / "missing.pt"), "torchscript-script")
    (tmp_path / "junk.pt").write_bytes(b"junk" * 100)
    with pytest.raises(RuntimeError, match="load torchscript-script"):
        _native.Model(str(tmp_path / "junk.pt"), "torchscript-script")
    native = _native.Model(path, "torchscript-script")
    x = load_golden(manifest_path, model, "input")
    with pytest.raises(TypeError):
        native.predict(x.astype(np.float64))
    with pytest.raises(ValueError, match="contiguous"):
        native.predict(np.asfortranarray(x[:5]))
    with pytest.raises(ValueError, match="2-D"):
        native.predict(x[0])


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_concurrent_predict_from_python_threads(manifest_path, torch_models, fmt):
    model = torch_models[-1]
    native = _native.Model(str(manifest_path.parent / artifact(model, fmt)["path"]), fmt)
    x = load_golden(manifest_path, model, "input")
    reference = native.predict(x)
    failures = []

    def work():
        for _ in range(10):
            if not np.array_equal(native.predict(x), reference):
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
    script = f"""
import sys, numpy as np
from builder import _native
assert 'torch' not in sys.modules
x = np.load({str(manifest_path.parent / model['golden']['input'])!r})
a = _native.Model({str(manifest_path.parent / artifact(model, 'aoti')['path'])!r}, 'aoti').predict(x)
import torch
t = _native.Model({str(manifest_path.parent / artifact(model, 'torchscript-trace')['path'])!r}, 'torchscript-trace').predict(x)
assert np.allclose(a, t, atol=1e-5), abs(a - t).max()
print('ok')
"""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
