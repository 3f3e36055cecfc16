"""Version skew (docs/contract.md) in the C++ library as the extension sees it:
builder._native.Model.from_manifest refuses an artifact whose min_runtime.torch is newer than
the LibTorch it was built against (RuntimeError, the CLI's exit-3 line), loads one whose entry
is older or names another family, and refuses a malformed entry (ValueError, exit 2). The CLI
side is cpp/tests/version_skew_cli_test.cpp (ctest)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from builder import _native

REPO = Path(__file__).resolve().parents[1]
FORMAT = "torchscript-trace"


@pytest.fixture(scope="module")
def model(manifest_path) -> dict:
    doc = json.loads(manifest_path.read_text())
    return next(m for m in doc["models"] if any(a["format"] == FORMAT for a in m["artifacts"]))


def client_torch() -> str:
    """The extension's LibTorch version, read as the client reads it: up to the first
    character that is neither a digit nor a dot."""
    assert _native.libtorch_version.startswith("libtorch ")
    return re.match(r"[0-9.]*", _native.libtorch_version.removeprefix("libtorch ")).group(0).rstrip(".")


def skewed(tmp_path: Path, manifest_path: Path, model: dict, min_runtime) -> Path:
    """The test export with `min_runtime` on `model`'s FORMAT artifact: a rewritten manifest
    beside symlinks to the export's folders."""
    for entry in manifest_path.parent.iterdir():
        if entry.name != "manifest.json":
            (tmp_path / entry.name).symlink_to(entry.resolve())
    doc = json.loads(manifest_path.read_text())
    for m in doc["models"]:
        if m["id"] == model["id"]:
            next(a for a in m["artifacts"] if a["format"] == FORMAT)["min_runtime"] = min_runtime
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    return tmp_path / "manifest.json"


def test_a_newer_torch_is_refused_with_one_line_naming_both_versions(tmp_path, manifest_path, model):
    path = skewed(tmp_path, manifest_path, model, {"torch": "99.0.0"})
    with pytest.raises(RuntimeError) as info:
        _native.Model.from_manifest(str(path), model["id"], FORMAT)
    assert (
        str(info.value) == f"{model['id']}/{FORMAT}: built for torch >= 99.0.0, this client runs torch {client_torch()}"
    )


@pytest.mark.parametrize("entries", [{"torch": "1.0.0"}, {"tensorflow": "99.0.0", "onnxruntime": "99", "tfjs": "99"}])
def test_an_older_torch_or_another_family_loads_and_runs(tmp_path, manifest_path, model, entries):
    path = skewed(tmp_path, manifest_path, model, entries)
    native = _native.Model.from_manifest(str(path), model["id"], FORMAT)
    golden = next(g for g in model["golden"] if g["name"] == "golden")
    inputs = {k: np.load(manifest_path.parent / v) for k, v in golden["inputs"].items()}
    got = native.predict(inputs)
    a = next(a for a in model["artifacts"] if a["format"] == FORMAT)
    for name, file in golden["expected"].items():
        tol = (a["tolerance"].get("outputs") or {}).get(name, a["tolerance"])
        result = _native.compare(np.load(manifest_path.parent / file), got[name], tol["atol"], tol["rtol"])
        assert result.passed, (name, result)


def test_a_malformed_entry_is_a_value_error_naming_model_format_and_family(tmp_path, manifest_path, model):
    path = skewed(tmp_path, manifest_path, model, {"torch": "2.x"})
    with pytest.raises(ValueError, match=rf"model {model['id']} artifacts\[\d+\] \({FORMAT}\)\.min_runtime\.torch: "):
        _native.Model.from_manifest(str(path), model["id"], FORMAT)
