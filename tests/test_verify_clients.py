"""`verify` across every client: a wrong artifact fails exactly its own cells in every runtime
that loads it, while every other client keeps passing (special values included)."""

from __future__ import annotations

import numpy as np
import pytest

from builder.verify import matrix
from builder.verify.runners import RUNNERS
from conftest import mutated_copy
from helpers import documented

CLIENTS = ["libtorch-native", "cpp", "java", "go", "node-cpu", "node-wasm", "chromium", "serve-triton"]
TFJS = {"node-cpu", "node-wasm", "chromium"}


@pytest.fixture(scope="module", autouse=True)
def _every_client_is_built():
    missing = {name: RUNNERS[name].unavailable() for name in CLIENTS if RUNNERS[name].unavailable()}
    assert not missing, f"clients not built (run `make setup`): {missing}"


def _statuses(rep: dict) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for cell in rep["cells"]:
        if not documented(cell):
            out.setdefault((cell["artifact"], cell["runtime"]), set()).add(cell["status"])
    return out


def _scale_first_weight(path) -> None:
    import torch

    from builder.formats.torch_formats import torchscript_deprecation_silenced

    with torchscript_deprecation_silenced():
        module = torch.jit.load(str(path))
        with torch.no_grad():
            next(p for p in module.parameters() if p.dim() >= 2).mul_(1.001)
        torch.jit.save(module, str(path))


def test_a_weight_scaled_by_1_001_fails_that_artifact_in_every_runtime_and_nothing_else(smoke_export, tmp_path):
    copy = tmp_path / "models"
    mutated_copy(smoke_export, copy, "cnn_torch/torchscript/scripted.pt", _scale_first_weight)
    rep = matrix.run(copy / "manifest.json", models=["cnn_torch", "cnn_keras", "textcls_keras"])
    statuses = _statuses(rep)
    broken = {key: s for key, s in statuses.items() if key[0] == "cnn_torch/torchscript-script"}
    # ... and the served copy (serve-triton): a server must not answer with the unmutated numbers
    assert {runtime for _, runtime in broken} == {"torch-python", "libtorch-native", "cpp", "serve-triton"}
    # batch1 is the zero image, which the first conv weight cannot change: the golden batch must fail.
    failed = {
        (c["artifact"], c["runtime"]) for c in rep["cells"] if c["input_set"] == "golden" and c["status"] == "fail"
    }
    assert failed == set(broken), broken
    rest = {key: s for key, s in statuses.items() if key not in broken and s != {"unsupported"}}
    assert all(s == {"pass"} for s in rest.values()), rest
    skipped = {artifact for (artifact, _), s in statuses.items() if s == {"unsupported"}}
    assert skipped == {"textcls_keras/torchscript-trace", "textcls_keras/aoti"}, "only the skipped formats are n/s"
    assert set(CLIENTS) <= {runtime for _, runtime in rest}, "every client ran an untouched artifact"
    two = [c for c in rep["cells"] if c["model"] == "textcls_keras" and c["status"] == "pass"]
    assert {c["runtime"] for c in two} >= {"java", "go", "node-cpu", "node-wasm", "chromium"}, (
        "a two-input, two-output model in every client"
    )
    special = [c for c in rep["cells"] if c["input_set"] == "special" and c["status"] == "pass"]
    assert all(c["stats"]["nan_match"] and c["stats"]["inf_match"] for c in special)


def _reverse_shard(folder) -> None:
    shard = next(folder.glob("*.bin"))
    shard.write_bytes(np.frombuffer(shard.read_bytes(), "<f4")[::-1].tobytes())


def test_a_swapped_tfjs_shard_fails_the_tfjs_cells(smoke_export, tmp_path):
    copy = tmp_path / "models"
    mutated_copy(smoke_export, copy, "mlp_keras/tfjs", _reverse_shard)
    rep = matrix.run(
        copy / "manifest.json", models=["mlp_keras"], runtimes=[*TFJS, "tf-python", "tflite", "onnxruntime"]
    )
    statuses = _statuses(rep)
    tfjs = {key: s for key, s in statuses.items() if key[0] == "mlp_keras/tfjs-graph"}
    assert {runtime for _, runtime in tfjs} == TFJS
    failed = {
        (c["artifact"], c["runtime"]) for c in rep["cells"] if c["input_set"] == "golden" and c["status"] == "fail"
    }
    assert failed == set(tfjs), tfjs
    assert all(s == {"pass"} for key, s in statuses.items() if key not in tfjs)


def test_java_and_go_run_the_jax_saved_models(smoke_export):
    """jax2tf's XlaCallModule, serialized for StableHLO 1.8.0, runs on TF Java 1.1.0 (TF 2.18) too."""
    rep = matrix.run(smoke_export / "manifest.json", models=["mlp_flax", "mlp_jax"], runtimes=["java", "go"])
    statuses = _statuses(rep)
    for model in ("mlp_flax", "mlp_jax"):
        assert statuses[(f"{model}/saved-model", "java")] == {"pass"}
        assert statuses[(f"{model}/saved-model", "go")] == {"pass"}
    assert rep["summary"]["fail"] == rep["summary"]["error"] == rep["summary"].get("unsupported", 0) == 0


def test_a_documented_incompatibility_is_not_support_and_not_failure():
    from builder.verify.runners import CliRunner

    runner = CliRunner("java", ("saved-model",), "bin/deploykit-java", unsupported_ops=(("XlaCallModule", "why"),))
    assert runner.unsupported({"format": "saved-model", "contains_ops": ["XlaCallModule"]}) == "why"
    assert runner.unsupported({"format": "saved-model", "contains_ops": []}) is None
