"""The conversion edges through ONNX (builder.formats.onnx_convert): each one's artifact matches the
source framework's reference, and a weight scaled by 1.001 in the ONNX it converts from fails exactly
the converted artifact's check. Plus the skipped-format path and the version-skew guard."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from builder import formats, manifest, models, pipeline, versions
from builder.config import ExportConfig
from builder.models.common import TrainConfig
from builder.runtimes import python_loaders

# (model, edge destination): one model per conversion edge and source framework.
EDGES = [
    ("mlp_torch", "saved-model"),  # torch -> ONNX -> onnx2tf
    ("mlp_flax", "tflite"),  # JAX -> ONNX -> onnx2tf -> TFLite
    ("mlp_jax", "tfjs-graph"),  # JAX -> ONNX -> onnx2tf -> TF.js (its fused biases made 1-D)
    ("mlp_keras", "torchscript-trace"),  # Keras -> ONNX -> onnx2torch -> trace
    ("mlp_flax", "aoti"),  # JAX -> ONNX -> onnx2torch -> AOTInductor
]


@pytest.fixture(scope="module")
def trained():
    cache = {}

    def get(model_id: str):
        if model_id not in cache:
            cache[model_id] = models.get(model_id).train(TrainConfig(seed=3, epochs=1))
        return cache[model_id]

    return get


def _scale_first_weight(path: Path) -> None:
    """Scales the first weight matrix by 1.001 (every output moves by ~1e-3 of its size)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    weight = next(t for t in proto.graph.initializer if numpy_helper.to_array(t).ndim >= 2)
    weight.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weight) * np.float32(1.001), weight.name))
    onnx.save(proto, str(path))


def _convert(trained_model, fmt: str, folder: Path, mutate: bool) -> tuple[dict, formats.Exported]:
    """Exports the route to `fmt`; with `mutate`, the ONNX the conversion reads has a weight scaled."""
    via = formats.routes(trained_model.source)[fmt]
    assert "onnx" in via, via
    done: dict[str, formats.Exported] = {}
    scratch: dict = {}
    for step_src, step in itertools.pairwise(via):
        ctx = formats.ExportContext(trained_model, folder, done, None, scratch)
        done[step] = formats.exporter(step_src, step)(ctx)
        if step == "onnx" and mutate:
            copy = folder / "mutated.onnx"
            shutil.copyfile(done["onnx"].path, copy)
            _scale_first_weight(copy)
            done["onnx"] = formats.Exported("onnx", copy, done["onnx"].fields)
    formats.drop_scratch(scratch)
    exported = done[fmt]
    if exported.pending is not None:
        exported.pending.result()
    return manifest.model_specs(trained_model), exported


@pytest.mark.parametrize(("model_id", "fmt"), EDGES)
def test_a_conversion_matches_the_reference_and_a_scaled_weight_fails_it(trained, tmp_path, model_id, fmt):
    model = trained(model_id)
    golden = pipeline.golden_sets(model, ExportConfig(models=(model_id,)))[0]
    tolerance = dict(getattr(models.get(model_id), "TOLERANCE", formats.FORMATS_BY_ID[fmt].tolerance))

    specs, exported = _convert(model, fmt, tmp_path / "good", mutate=False)
    check = pipeline.check_artifact(model_id, exported, specs, golden, tolerance)
    assert check["passed"] and check["max_abs"] < 1e-5, check
    assert exported.fields.get("converter", "").split()[0] in {"onnx2tf", "onnx2torch"}

    specs, exported = _convert(model, fmt, tmp_path / "mutated", mutate=True)
    with pytest.raises(pipeline.ExportError, match=rf"{model_id}/{fmt}: output differs from the reference"):
        pipeline.check_artifact(model_id, exported, specs, golden, tolerance)


def test_a_causal_sequence_is_padded_and_a_non_causal_one_skipped(monkeypatch, tmp_path):
    """onnx2tf 1.28.8 keeps no dynamic dim but the batch (../shared/FACTS.md). chargpt_torch is causal
    along `seq`, so its SavedModel pads to the window inside the graph and keeps `seq` dynamic; the
    same network without that declaration is skipped, with the reason in the manifest, and the
    TF.js made from it too; --strict fails instead."""
    cfg = ExportConfig(out=tmp_path / "models", models=("chargpt_torch",), formats=("tfjs-graph",), epochs=1)
    path, _ = pipeline.run(cfg)
    entry = json.loads(path.read_text())["models"][0]
    saved = next(a for a in entry["artifacts"] if a["format"] == "saved-model")
    assert saved["padded_dims"] == {"seq": 48} and saved["converter"].startswith("onnx2tf ")
    assert "skipped" not in entry

    spec = models.get("chargpt_torch")
    train = spec.train
    monkeypatch.setattr(spec, "train", lambda *a, **k: dataclasses.replace(train(*a, **k), causal_dims=()))
    path, _ = pipeline.run(dataclasses.replace(cfg, out=tmp_path / "non-causal"))
    entry = json.loads(path.read_text())["models"][0]
    assert [a["format"] for a in entry["artifacts"]] == ["onnx"]
    assert entry["skipped"] == [
        {
            "format": "saved-model",
            "via": ["torch", "onnx", "saved-model"],
            "reason": "onnx2tf 1.28.8 cannot keep the dynamic dim(s) seq (not causal and bounded, so not padded)",
        },
        {
            "format": "tfjs-graph",
            "via": ["torch", "onnx", "saved-model", "tfjs-graph"],
            "reason": "made from saved-model, which was skipped",
        },
    ]
    with pytest.raises(pipeline.ExportError, match=r"chargpt_torch/saved-model: export failed \(--strict\): onnx2tf"):
        pipeline.run(dataclasses.replace(cfg, out=tmp_path / "strict", strict=True))
    assert not (tmp_path / "strict").exists(), "a failed export leaves nothing behind"


def test_the_only_skipped_formats_are_pinned_with_their_reason(smoke_manifest):
    skipped = {(m["id"], s["format"]): s["reason"] for m in smoke_manifest["models"] for s in m.get("skipped", [])}
    assert set(skipped) == {("textcls_keras", "torchscript-trace"), ("textcls_keras", "aoti")}
    for reason in skipped.values():
        assert reason == 'onnx2torch 1.5.15 cannot convert it: "SAME_UPPER" auto_pad is not implemented'


def test_every_artifact_records_the_oldest_runtime_known_to_load_it(smoke_manifest):
    expected = {
        "torchscript-script": "torch",
        "torchscript-trace": "torch",
        "aoti": "torch",
        "onnx": "onnxruntime",
        "saved-model": "tensorflow",
        "tflite": "tensorflow",
        "tfjs-graph": "tfjs",
    }
    for model in smoke_manifest["models"]:
        for artifact in model["artifacts"]:
            (family, version), *rest = artifact["min_runtime"].items()
            assert not rest and family == expected[artifact["format"]], artifact["min_runtime"]
            versions.parse_version(version)
            if artifact["format"] == "saved-model":
                assert version == "2.18.0", "TF Java 1.1.0 (TF 2.18) runs every SavedModel"


@pytest.mark.parametrize(
    ("have", "need", "refused"),
    [
        ("2.13.0+cu130", "2.13.0", False),
        ("2.13.0", "2.13", False),
        ("2.19.0", "2.18.0", False),
        ("2.9.0", "2.10", True),
        ("2.18.0", "2.19.0", True),
        ("1.32.0", "99.0.0", True),
        ("2", "2.0.1", True),
    ],
)
def test_version_comparison_is_numeric(have, need, refused):
    problem = versions.skew_error({"min_runtime": {"tensorflow": need}}, "tensorflow", have)
    assert (problem is not None) == refused
    if refused:
        assert problem == f"built for tensorflow >= {need}, this client runs tensorflow {have.split('+')[0]}"


@pytest.mark.parametrize("bad", ["2.19.0-rc1", "v2", "2.", "1.2.3.4", "", "2.19\n"])
def test_malformed_versions_are_rejected(bad):
    with pytest.raises(ValueError, match="is not a version"):
        versions.parse_version(bad)


def test_an_artifact_built_for_a_newer_runtime_is_refused_before_loading(smoke_export, smoke_manifest):
    model = next(m for m in smoke_manifest["models"] if m["id"] == "mlp_torch")
    for artifact in model["artifacts"]:
        if artifact["format"] == "tfjs-graph":
            continue  # the Python side runs TF.js graphs in TensorFlow; the JS client checks tfjs
        family = python_loaders.PYTHON_RUNTIME[artifact["format"]]
        newer = {**artifact, "min_runtime": {family: "99.0.0"}, "path": "does/not/exist"}
        with pytest.raises(python_loaders.SkewError, match=rf"built for {family} >= 99\.0\.0, this client runs"):
            python_loaders.load(smoke_export / newer["path"], newer, model)
        older = {**artifact, "min_runtime": {family: "1.0"}}
        predict = python_loaders.load(smoke_export / artifact["path"], older, model)
        golden = model["golden"][0]
        predict({n: np.load(smoke_export / p) for n, p in golden["inputs"].items()})
