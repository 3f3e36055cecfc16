"""The smoke export: manifest contents, hashes, golden vectors, and every artifact reloaded."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from builder import formats, manifest
from builder.runtimes.python_loaders import LOADERS
from conftest import within_tolerance

EXPECTED_FORMATS = {
    "mlp_torch": {"torchscript-script", "torchscript-trace", "aoti", "onnx"},
    "mlp_keras": {"saved-model", "tflite", "tfjs-graph", "onnx"},
    "mlp_flax": {"onnx", "saved-model"},
    "mlp_jax": {"onnx", "saved-model"},
    "wide_torch": {"torchscript-script", "torchscript-trace", "aoti", "onnx"},
    "wide_keras": {"saved-model", "tflite", "tfjs-graph", "onnx"},
    "wide_flax": {"onnx", "saved-model"},
}


def _artifacts(doc: dict):
    for model in doc["models"]:
        for artifact in model["artifacts"]:
            yield model, artifact


def test_manifest_validates_against_the_written_schema(smoke_export, smoke_manifest):
    schema = json.loads((smoke_export / "manifest.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(smoke_manifest)
    assert smoke_manifest["schema_version"] == 1
    assert {"builder", "python", "torch", "tensorflow", "jax"} <= set(smoke_manifest["producer"])


def test_schema_rejects_a_broken_manifest(smoke_manifest):
    broken = json.loads(json.dumps(smoke_manifest))
    broken["models"][0]["artifacts"][0]["sha256"] = "not-a-hash"
    with pytest.raises(jsonschema.ValidationError):
        manifest.validate(broken)
    broken = json.loads(json.dumps(smoke_manifest))
    broken["models"][0]["artifacts"][0]["path"] = "../outside.pt"
    with pytest.raises(jsonschema.ValidationError):
        manifest.validate(broken)


def test_every_model_has_its_formats(smoke_manifest):
    got = {m["id"]: {a["format"] for a in m["artifacts"]} for m in smoke_manifest["models"]}
    assert got == EXPECTED_FORMATS
    for model, artifact in _artifacts(smoke_manifest):
        assert artifact["path"] == f"{model['id']}/{formats.FORMAT_PATHS[artifact['format']]}"


def test_sha256_and_bytes_match_recomputation(smoke_export, smoke_manifest):
    for _, artifact in _artifacts(smoke_manifest):
        path = smoke_export / artifact["path"]
        if path.is_file():
            assert artifact["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert artifact["bytes"] == path.stat().st_size
            continue
        # A folder's hash must equal the shell recipe documented in builder/hashing.py and models/README.md.
        shell = "find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum"
        out = subprocess.run(["bash", "-c", shell], cwd=path, check=True, capture_output=True, text=True).stdout
        assert artifact["sha256"] == out.split()[0]
        files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        assert [f["path"] for f in artifact["files"]] == files
        for f in artifact["files"]:
            assert f["sha256"] == hashlib.sha256((path / f["path"]).read_bytes()).hexdigest()
        assert artifact["bytes"] == sum(f["bytes"] for f in artifact["files"])


def test_golden_vectors(smoke_export, smoke_manifest):
    for model in smoke_manifest["models"]:
        x = np.load(smoke_export / model["golden"]["input"])
        y = np.load(smoke_export / model["golden"]["expected"])
        assert x.dtype == np.dtype("<f4") and y.dtype == np.dtype("<f4")
        n_in, n_out = model["inputs"][0]["shape"][1], model["outputs"][0]["shape"][1]
        assert (n_in, n_out) == ((256, 10) if model["id"].startswith("wide_") else (10, 1))
        assert x.flags.c_contiguous and x.shape[0] >= 64 and x.shape[1] == n_in
        assert y.shape == (x.shape[0], n_out)
        assert model["golden"]["rows"] == x.shape[0]
        assert np.all(x[0] == 0), "the first golden row is the zero vector"
        assert np.any(np.abs(x).max(axis=1) >= 99.0), "some golden rows have magnitude about 100"
        if model["id"].startswith("mlp_"):
            assert np.all((y >= 0) & (y <= 1)), "sigmoid outputs"


@pytest.mark.parametrize("batch", [1, 7, None])
def test_every_artifact_reloads_and_matches_golden(smoke_export, smoke_manifest, batch):
    for model, artifact in _artifacts(smoke_manifest):
        x = np.load(smoke_export / model["golden"]["input"])[:batch]
        expected = np.load(smoke_export / model["golden"]["expected"])[:batch]
        predict = LOADERS[artifact["format"]](smoke_export / artifact["path"], artifact)
        got = predict(x)
        tol = artifact["tolerance"]
        assert got.shape == expected.shape, (model["id"], artifact["format"])
        assert within_tolerance(expected, got, tol["atol"], tol["rtol"]), (model["id"], artifact["format"])
        assert artifact["check"]["passed"] and artifact["check"]["batch_sizes"] == [1, len(np.load(smoke_export / model["golden"]["input"]))]


def test_signature_keys_are_read_from_the_saved_model(smoke_export, smoke_manifest):
    import tensorflow as tf

    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] != "saved-model":
            continue
        loaded = tf.saved_model.load(str(smoke_export / artifact["path"]))
        fn = loaded.signatures[artifact["signature"]]
        assert list(fn.structured_input_signature[1]) == [artifact["input_keys"]["input"]]
        assert list(fn.structured_outputs) == [artifact["output_keys"]["output"]]


def _saved_model_ops(path: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((path / "saved_model.pb").read_bytes())
    graph = sm.meta_graphs[0].graph_def
    return {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}


@pytest.mark.parametrize("model_id", ["mlp_flax", "mlp_jax", "wide_flax"])
def test_jax_saved_models_record_xla_call_module(smoke_export, smoke_manifest, model_id):
    model = next(m for m in smoke_manifest["models"] if m["id"] == model_id)
    artifact = next(a for a in model["artifacts"] if a["format"] == "saved-model")
    assert artifact["contains_ops"] == ["XlaCallModule"]
    assert "XlaCallModule" in _saved_model_ops(smoke_export / artifact["path"])


def test_keras_saved_model_has_no_xla_call_module(smoke_export, smoke_manifest):
    keras = next(m for m in smoke_manifest["models"] if m["id"] == "mlp_keras")
    keras_sm = next(a for a in keras["artifacts"] if a["format"] == "saved-model")
    assert "contains_ops" not in keras_sm
    assert "XlaCallModule" not in _saved_model_ops(smoke_export / keras_sm["path"])


def test_training_is_recorded(smoke_manifest):
    for model in smoke_manifest["models"]:
        t = model["training"]
        assert t["epochs"] == 2 and t["seconds"] > 0 and np.isfinite(t["final_loss"])
        assert (0.3 if model["id"].startswith("wide_") else 0.5) < t["accuracy"] <= 1.0


def test_onnx_artifacts_name_their_io_and_keep_the_batch_dynamic(smoke_export, smoke_manifest):
    import onnx

    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] != "onnx":
            continue
        graph = onnx.load(smoke_export / artifact["path"]).graph
        assert [i.name for i in graph.input] == [artifact["input_keys"]["input"]] == ["input"]
        assert [o.name for o in graph.output] == [artifact["output_keys"]["output"]] == ["output"]
        dims = graph.input[0].type.tensor_type.shape.dim
        assert dims[0].dim_param and not dims[0].dim_value, "batch dimension is symbolic"
        assert dims[1].dim_value == model["inputs"][0]["shape"][1]


def test_saved_model_serving_signature_takes_none_by_features(smoke_export, smoke_manifest):
    import tensorflow as tf

    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] != "saved-model":
            continue
        fn = tf.saved_model.load(str(smoke_export / artifact["path"])).signatures["serving_default"]
        spec = fn.structured_input_signature[1][artifact["input_keys"]["input"]]
        assert spec.shape.as_list() == [None, model["inputs"][0]["shape"][1]] and spec.dtype == tf.float32


def test_export_writes_a_loss_curve_per_model(smoke_export, smoke_manifest):
    for model in smoke_manifest["models"]:
        png = (smoke_export / "report" / f"{model['id']}_loss.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_export_ships_the_unsafe_op_deny_list(smoke_export, smoke_manifest):
    """The Java and Go clients read this list from beside the manifest and check its sha256."""
    entry = smoke_manifest["safety"]["unsafe_ops"]
    path = smoke_export / entry["path"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
    ops = [item["op"] for item in json.loads(path.read_text())["ops"]]
    assert ops == manifest.unsafe_ops()
    assert len(ops) == len(set(ops))
    assert {"ReadFile", "WriteFile", "MatchingFiles", "PyFunc", "EagerPyFunc", "SaveV2", "RestoreV2"} <= set(ops)


def test_unsafe_fixture_really_reads_a_file(tmp_path):
    """The fixture the Java and Go suites must refuse: its serving function holds a ReadFile op."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("unsafe_model", Path(__file__).parent / "fixtures" / "unsafe_model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = manifest.read(module.write(tmp_path / "unsafe"))
    artifact = doc["models"][0]["artifacts"][0]
    saved = tmp_path / "unsafe" / artifact["path"]
    assert "ReadFile" in _saved_model_ops(saved)
    x = np.load(tmp_path / "unsafe" / doc["models"][0]["golden"]["input"])
    expected = np.load(tmp_path / "unsafe" / doc["models"][0]["golden"]["expected"])
    got = LOADERS["saved-model"](saved, artifact)(x)
    assert within_tolerance(expected, got, **artifact["tolerance"])
