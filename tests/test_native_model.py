"""builder._native.Model: the C++ client's LibTorch runner inside the extension, on every torch
artifact of the shared test export (`make test-fixtures`), every golden set, per output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from builder import _native

REPO = Path(__file__).resolve().parents[1]
TORCH_FORMATS = ("torchscript-script", "torchscript-trace", "aoti")


@pytest.fixture(scope="module")
def torch_models(manifest_path) -> list[dict]:
    models = [
        m
        for m in json.loads(manifest_path.read_text())["models"]
        # The torch-source models have every torch format; the Keras/JAX models' converted
        # TorchScript and .pt2 run in the parity matrix (test_verify_clients.py, test_generate.py).
        if m["source"] == "torch" and any(a["format"] in TORCH_FORMATS for a in m["artifacts"])
    ]
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
                    assert result.passed, (
                        model["id"],
                        fmt,
                        g["name"],
                        rows,
                        name,
                        result,
                    )  # NaN/Inf placement included


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
        with pytest.raises(
            ValueError, match=rf"^input {spec['name']}: dim {k} is {x.shape[k] + 1}, expected {x.shape[k]}$"
        ):
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
inputs = {{k: np.load(v) for k, v in { ({k: str(manifest_path.parent / v) for k, v in golden["inputs"].items()})!r}.items()}}
a = _native.Model.from_manifest({str(manifest_path)!r}, {model["id"]!r}, 'aoti').predict(inputs)
import torch
t = _native.Model.from_manifest({str(manifest_path)!r}, {model["id"]!r}, 'torchscript-trace').predict(inputs)
assert all(np.allclose(a[k], t[k], atol=1e-5, equal_nan=True) for k in a), a
print('ok')
"""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]


# --- several inputs and outputs, every integer path --------------------------------------------

MULTI_SOURCE = '''
from typing import Dict
import torch


class Multi(torch.nn.Module):
    """int64 tokens + bool mask -> float32 logits, float16 embedding, int32 count (a dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(96, 5)
        self.proj = torch.nn.Linear(5, 4)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> Dict[str, torch.Tensor]:
        h = self.emb(tokens) * mask.unsqueeze(-1).to(torch.float32)
        return {"logits": h, "embedding": self.proj(h.mean(1)).to(torch.float16),
                "count": mask.sum(1).to(torch.int32)}


class AsTuple(torch.nn.Module):
    def __init__(self, inner: Multi) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor):
        d = self.inner(tokens, mask)
        return d["logits"], d["embedding"], d["count"]
'''


@pytest.fixture(scope="module")
def multi_export(tmp_path_factory) -> Path:
    """A small v2 export of a two-input, three-output torch model in both TorchScript formats
    (a dict result when scripted, a tuple when traced), with one golden set."""
    import hashlib
    import importlib.util

    import torch

    root = tmp_path_factory.mktemp("multi")
    (root / "multi_model.py").write_text(MULTI_SOURCE)
    spec = importlib.util.spec_from_file_location("multi_model", root / "multi_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(7)
    model = module.Multi().eval()
    rng = np.random.default_rng(7)
    tokens = rng.integers(0, 96, size=(3, 6), dtype=np.int64)
    mask = rng.integers(0, 2, size=(3, 6)).astype(bool)
    (root / "multi").mkdir()
    with warnings.catch_warnings(), torch.no_grad():  # TorchScript is deprecated, and still the format
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(model).save(str(root / "multi" / "scripted.pt"))
        torch.jit.trace(module.AsTuple(model), (torch.from_numpy(tokens), torch.from_numpy(mask))).save(
            str(root / "multi" / "traced.pt")
        )
        expected = {k: v.numpy() for k, v in model(torch.from_numpy(tokens), torch.from_numpy(mask)).items()}
    golden = root / "multi" / "golden" / "golden"
    (golden / "expected").mkdir(parents=True)
    np.save(golden / "tokens.npy", tokens)
    np.save(golden / "mask.npy", mask)
    for name, value in expected.items():
        np.save(golden / "expected" / f"{name}.npy", value)

    def artifact(fmt: str, rel: str) -> dict:
        data = (root / rel).read_bytes()
        return {
            "format": fmt,
            "path": rel,
            "via": ["torch", fmt],
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "tolerance": {"atol": 1e-5, "rtol": 1e-4, "outputs": {"embedding": {"atol": 1e-3, "rtol": 1e-3}}},
        }

    manifest = {
        "schema_version": 2,
        "models": [
            {
                "id": "multi",
                "inputs": [
                    {"name": "tokens", "dtype": "int64", "shape": ["batch", "seq"], "range": [0, 95]},
                    {"name": "mask", "dtype": "bool", "shape": ["batch", "seq"]},
                ],
                "outputs": [
                    {"name": "logits", "dtype": "float32", "shape": ["batch", "seq", 5]},
                    {"name": "embedding", "dtype": "float16", "shape": ["batch", 4]},
                    {"name": "count", "dtype": "int32", "shape": ["batch"]},
                ],
                "dims": {"batch": {"min": 1}, "seq": {"min": 1, "max": 16}},
                "golden": [
                    {
                        "name": "golden",
                        "rows": 3,
                        "inputs": {n: f"multi/golden/golden/{n}.npy" for n in ("tokens", "mask")},
                        "expected": {n: f"multi/golden/golden/expected/{n}.npy" for n in expected},
                    }
                ],
                "artifacts": [
                    artifact("torchscript-script", "multi/scripted.pt"),
                    artifact("torchscript-trace", "multi/traced.pt"),
                ],
            }
        ],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.parametrize("fmt", ["torchscript-script", "torchscript-trace"])
def test_several_inputs_and_outputs_of_every_dtype_kind(multi_export, fmt):
    native = _native.Model.from_manifest(str(multi_export / "manifest.json"), "multi", fmt)
    assert native.input_names == ["tokens", "mask"] and native.output_names == ["logits", "embedding", "count"]
    golden = multi_export / "multi" / "golden" / "golden"
    inputs = {n: np.load(golden / f"{n}.npy") for n in ("tokens", "mask")}
    got = native.predict(inputs)
    assert list(got) == ["logits", "embedding", "count"]
    for name, tol in (("logits", 1e-5), ("embedding", 1e-3), ("count", 0.0)):
        want = np.load(golden / "expected" / f"{name}.npy")
        assert got[name].dtype == want.dtype and got[name].shape == want.shape, name
        result = _native.compare(want, got[name], tol, tol)
        assert result.passed, (name, result)
    assert np.array_equal(got["count"], inputs["mask"].sum(1))
    # Other batch and sequence sizes inside the dims run; outside them they are refused.
    assert native.predict({"tokens": inputs["tokens"][:1, :2], "mask": inputs["mask"][:1, :2]})["logits"].shape == (
        1,
        2,
        5,
    )
    with pytest.raises(ValueError, match=r"^input tokens: expected int64, got int32$"):
        native.predict({**inputs, "tokens": inputs["tokens"].astype(np.int32)})
    with pytest.raises(ValueError, match=r"^input mask: expected bool, got uint8$"):
        native.predict({**inputs, "mask": inputs["mask"].astype(np.uint8)})
    long = {"tokens": np.zeros((1, 17), np.int64), "mask": np.ones((1, 17), bool)}
    with pytest.raises(ValueError, match=r"^input tokens: dim 1 \(seq\) is 17, outside \[1, 16\]$"):
        native.predict(long)
    with pytest.raises(ValueError, match=r"^input mask: dim 0 \(batch\) is 2, but input tokens has 3$"):
        native.predict({**inputs, "mask": inputs["mask"][:2]})


def test_the_cli_runs_several_inputs_and_outputs(multi_export, tmp_path):
    cli = REPO / "bin" / "deploykit-cpp"
    golden = multi_export / "multi" / "golden" / "golden"
    base = [str(cli), "--manifest", str(multi_export / "manifest.json"), "--model", "multi"]
    named = ["--input", f"tokens={golden / 'tokens.npy'}", "--input", f"mask={golden / 'mask.npy'}"]
    for fmt in ("torchscript-script", "torchscript-trace"):
        result = subprocess.run(
            [
                *base,
                "--format",
                fmt,
                *named,
                "--output-dir",
                str(tmp_path / fmt),
                "--check-dir",
                str(golden / "expected"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
            "check logits",
            "check embedding",
            "check count",
        ]
        assert result.stdout.splitlines()[-1].endswith("(exact)")
        assert np.load(tmp_path / fmt / "count.npy").dtype == np.int32
        assert np.load(tmp_path / fmt / "embedding.npy").dtype == np.float16
    bare = subprocess.run(
        [*base, "--format", "torchscript-trace", "--input", str(golden / "tokens.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bare.returncode == 2 and bare.stderr.startswith("error: input ") and "use NAME=FILE" in bare.stderr
