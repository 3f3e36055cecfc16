"""The smoke export: manifest contents, hashes, golden vectors, and every artifact reloaded."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from builder import formats, manifest, tensors
from builder.compare import compare_outputs
from builder.runtimes.python_loaders import load

ALL = set(formats.FORMATS)
CONVERTED = ALL - {"torchscript-script"}  # Keras and JAX reach torch through ONNX -> onnx2torch (trace only)
EXPECTED_FORMATS = {
    "cnn_torch": ALL,
    "cnn_keras": CONVERTED,
    "chargpt_torch": ALL,
    # onnx2torch lacks its pooling's SAME_UPPER padding: its `skipped` list says so (test_conversions.py)
    "textcls_keras": {"onnx", "saved-model", "tflite", "tfjs-graph"},
    "mlp_torch": ALL,
    "mlp_keras": CONVERTED,
    "mlp_flax": CONVERTED,
    "mlp_jax": CONVERTED,
    "wide_torch": ALL,
    "wide_keras": CONVERTED,
    "wide_flax": CONVERTED,
}


def _artifacts(doc: dict):
    for model in doc["models"]:
        for artifact in model["artifacts"]:
            yield model, artifact


def test_manifest_validates_against_the_written_schema(smoke_export, smoke_manifest):
    schema = json.loads((smoke_export / "manifest.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(smoke_manifest)
    assert smoke_manifest["schema_version"] == 2
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
        assert artifact["via"] == list(formats.routes(model["source"])[artifact["format"]])
        assert artifact["via"][0] == model["source"] and artifact["via"][-1] == artifact["format"]


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


def _golden(root: Path, model: dict, name: str = "golden") -> tuple[dict, dict]:
    entry = next(g for g in model["golden"] if g["name"] == name)
    return (
        {n: np.load(root / p) for n, p in entry["inputs"].items()},
        {n: np.load(root / p) for n, p in entry["expected"].items()},
    )


def test_golden_sets_follow_the_specs(smoke_export, smoke_manifest):
    for model in smoke_manifest["models"]:
        names = [g["name"] for g in model["golden"]]
        has_float_input = any(t["dtype"] in tensors.FLOAT_DTYPES for t in model["inputs"])
        assert names == (["golden", "special"] if has_float_input else ["golden"]), model["id"]
        for entry in model["golden"]:
            inputs, expected = _golden(smoke_export, model, entry["name"])
            assert entry["rows"] >= (64 if entry["name"] == "golden" else 10)
            for what, specs, arrays in (("input", model["inputs"], inputs), ("output", model["outputs"], expected)):
                assert sorted(arrays) == sorted(t["name"] for t in specs)
                for t in specs:
                    a = arrays[t["name"]]
                    assert a.dtype == np.dtype(t["dtype"]) and a.ndim == len(t["shape"]) and a.flags.c_contiguous
                    assert a.shape[0] == entry["rows"], (model["id"], what, t["name"])
                    assert all(d == n for d, n in zip(t["shape"], a.shape, strict=True) if isinstance(d, int))
                    if "range" in t and (entry["name"] == "golden" or t["dtype"] not in tensors.FLOAT_DTYPES):
                        # golden values stay in range; a float input's special rows are extremes on purpose
                        assert a.min() >= t["range"][0] and a.max() <= t["range"][1], (model["id"], t["name"])
        inputs, expected = _golden(smoke_export, model)
        for t in model["inputs"]:
            if t["dtype"] == "float32" and "range" not in t:
                x = inputs[t["name"]]
                assert np.all(x[0] == 0), "the first golden row is zero"
                assert np.abs(x[1:5]).max() == pytest.approx(100.0), "rows 1..4 have magnitude about 100"
        if model["id"].startswith("mlp_"):
            y = expected["output"]
            assert np.all((y >= 0) & (y <= 1)), "sigmoid outputs"


def test_special_sets_hold_every_special_value(smoke_export, smoke_manifest):
    for model in smoke_manifest["models"]:
        if not any(g["name"] == "special" for g in model["golden"]):
            continue
        entry = next(g for g in model["golden"] if g["name"] == "special")
        inputs, _ = _golden(smoke_export, model, "special")
        x = next(inputs[t["name"]] for t in model["inputs"] if t["dtype"] == "float32")
        rows = x.reshape(len(x), -1)
        if entry.get("values") == "finite":  # a model whose NaN/Inf behaviour is implementation-defined says why
            assert (
                model["id"] in ("cnn_keras", "cnn_torch") and np.isfinite(x).all() and "outside" in entry["description"]
            )
        else:
            assert np.isnan(rows[0]).all() and (rows[1] == np.inf).all() and (rows[2] == -np.inf).all()
        assert (rows[3] == 0).all() and np.signbit(rows[4]).all() and (rows[5] == 1e30).all()
        assert (rows[7] == np.float32(1e-40)).all(), "denormals"


@pytest.mark.parametrize("batch", [1, 7, None])
def test_every_artifact_reloads_and_matches_golden(smoke_export, smoke_manifest, batch):
    for model, artifact in _artifacts(smoke_manifest):
        inputs, expected = _golden(smoke_export, model)
        predict = load(smoke_export / artifact["path"], artifact, model)
        results = compare_outputs(
            tensors.take(expected, batch), predict(tensors.take(inputs, batch)), artifact["tolerance"]
        )
        assert all(r.passed for r in results.values()), (model["id"], artifact["format"], results)
        assert artifact["check"]["passed"] and artifact["check"]["batch_sizes"] == [1, tensors.batch_of(inputs)]


def test_signature_keys_are_read_from_the_saved_model(smoke_export, smoke_manifest):
    import tensorflow as tf

    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] != "saved-model":
            continue
        loaded = tf.saved_model.load(str(smoke_export / artifact["path"]))
        fn = loaded.signatures[artifact["signature"]]
        assert sorted(fn.structured_input_signature[1]) == sorted(artifact["input_keys"].values())
        assert sorted(fn.structured_outputs) == sorted(artifact["output_keys"].values())
        assert sorted(artifact["input_keys"]) == sorted(t["name"] for t in model["inputs"])


def _saved_model_ops(path: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((path / "saved_model.pb").read_bytes())
    graph = sm.meta_graphs[0].graph_def
    return {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}


def _xla_call_modules(path: Path) -> list[bytes]:
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((path / "saved_model.pb").read_bytes())
    graph = sm.meta_graphs[0].graph_def
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    return [n.attr["module"].s for n in nodes if n.op == "XlaCallModule"]


@pytest.mark.parametrize("model_id", ["mlp_flax", "mlp_jax", "wide_flax"])
def test_jax_saved_models_record_xla_call_module(smoke_export, smoke_manifest, model_id):
    model = next(m for m in smoke_manifest["models"] if m["id"] == model_id)
    artifact = next(a for a in model["artifacts"] if a["format"] == "saved-model")
    assert artifact["contains_ops"] == ["XlaCallModule"]
    assert "XlaCallModule" in _saved_model_ops(smoke_export / artifact["path"])
    # The StableHLO module is serialized for the target TF Java 1.1.0 (TF 2.18) reads: MLIR
    # bytecode starts with "ML\xefR", a varint version, then the producer string.
    assert artifact["stablehlo_target"] == "1.8.0"
    modules = _xla_call_modules(smoke_export / artifact["path"])
    assert modules and all(m.startswith(b"ML\xefR") and b"StableHLO_v1.8.0\0" in m[:64] for m in modules)


def test_keras_saved_model_has_no_xla_call_module(smoke_export, smoke_manifest):
    keras = next(m for m in smoke_manifest["models"] if m["id"] == "mlp_keras")
    keras_sm = next(a for a in keras["artifacts"] if a["format"] == "saved-model")
    assert "contains_ops" not in keras_sm
    assert "XlaCallModule" not in _saved_model_ops(smoke_export / keras_sm["path"])


def test_training_is_recorded(smoke_manifest):
    for model in smoke_manifest["models"]:
        t = model["training"]
        assert t["epochs"] == 2 and t["seconds"] > 0 and np.isfinite(t["final_loss"])
        if model["id"] == "chargpt_torch":
            assert t["accuracy"] is None and t["held_out_bits_per_char"] < t["unigram_bits_per_char"]
            continue
        assert (0.3 if model["id"].startswith(("wide_", "textcls_")) else 0.5) < t["accuracy"] <= 1.0


def test_onnx_artifacts_name_their_io_and_keep_dynamic_dims(smoke_export, smoke_manifest):
    import onnx

    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] != "onnx":
            continue
        graph = onnx.load(smoke_export / artifact["path"]).graph
        assert (
            [i.name for i in graph.input]
            == [artifact["input_keys"][t["name"]] for t in model["inputs"]]
            == [t["name"] for t in model["inputs"]]
        )
        assert [o.name for o in graph.output] == [t["name"] for t in model["outputs"]]
        for value, spec in zip(graph.input, model["inputs"], strict=True):
            for got, declared in zip(value.type.tensor_type.shape.dim, spec["shape"], strict=True):
                if isinstance(declared, str):
                    assert got.dim_param and not got.dim_value, f"{model['id']}: {declared} stays symbolic"
                else:
                    assert got.dim_value == declared


def test_saved_model_signatures_follow_the_specs(smoke_export, smoke_manifest):
    import tensorflow as tf

    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] != "saved-model":
            continue
        fn = tf.saved_model.load(str(smoke_export / artifact["path"])).signatures["serving_default"]
        for t in model["inputs"]:
            spec = fn.structured_input_signature[1][artifact["input_keys"][t["name"]]]
            assert (
                spec.shape.as_list() == [d if isinstance(d, int) else None for d in t["shape"]]
                and spec.dtype.name == t["dtype"]
            )


def test_tfjs_artifacts_record_their_boundary_casts(smoke_manifest):
    for model, artifact in _artifacts(smoke_manifest):
        if artifact["format"] == "tfjs-graph":
            want = {t["name"]: "int32" for t in model["inputs"] + model["outputs"] if t["dtype"] == "int64"}
            assert artifact.get("boundary_dtypes", {}) == want


def test_sequence_models_record_their_data(smoke_manifest):
    for model_id in ("chargpt_torch", "textcls_keras"):
        model = next(m for m in smoke_manifest["models"] if m["id"] == model_id)
        files = model["data"]["files"]
        assert files and all(len(f["sha256"]) == 64 and f["chars"] > 1000 for f in files)
        assert model["inputs"][0]["range"] == [0, len(model["vocabulary"]) - 1]
        assert model["dims"]["seq"]["max"] in (48, 64)


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

    spec = importlib.util.spec_from_file_location(
        "unsafe_model", Path(__file__).parent / "fixtures" / "unsafe_model.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = manifest.read(module.write(tmp_path / "unsafe"))
    artifact = doc["models"][0]["artifacts"][0]
    saved = tmp_path / "unsafe" / artifact["path"]
    assert "ReadFile" in _saved_model_ops(saved)
    inputs, expected = _golden(tmp_path / "unsafe", doc["models"][0])
    got = load(saved, artifact, doc["models"][0])(inputs)
    assert all(r.passed for r in compare_outputs(expected, got, artifact["tolerance"]).values())
