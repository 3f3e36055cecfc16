"""`export --serving`: the Triton model repository and the TF Serving base path.

No server runs here (no Docker engine, no tritonserver / tensorflow_model_server binaries), so the
tests check what each server would check: every config.pbtxt parsed by Triton's own ModelConfig
protobuf, file names and layout per backend, tensor names against the model files themselves, and
each served copy run with the runtime the server embeds (onnxruntime, TorchScript, the SavedModel
loader with the `serve` tag and the `serving_default` signature) against the golden vectors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from builder import hashing, manifest, serving
from conftest import within_tolerance

MODELS = ("mlp_torch", "mlp_keras")
FORMATS = ("torchscript-script", "onnx", "saved-model")
# Triton model folder -> (model id, manifest format, platform, backend, file under 1/)
EXPECTED_TRITON = {
    "mlp_torch_onnx": ("mlp_torch", "onnx", "onnxruntime_onnx", "onnxruntime", "model.onnx"),
    "mlp_torch_torchscript": ("mlp_torch", "torchscript-script", "pytorch_libtorch", "pytorch", "model.pt"),
    # torch -> ONNX -> onnx2tf: a torch model is served by TensorFlow too
    "mlp_torch_savedmodel": ("mlp_torch", "saved-model", "tensorflow_savedmodel", "tensorflow", "model.savedmodel"),
    "mlp_keras_onnx": ("mlp_keras", "onnx", "onnxruntime_onnx", "onnxruntime", "model.onnx"),
    "mlp_keras_savedmodel": ("mlp_keras", "saved-model", "tensorflow_savedmodel", "tensorflow", "model.savedmodel"),
}


@pytest.fixture(scope="module")
def export_root(tmp_path_factory) -> Path:
    from builder import pipeline
    from builder.config import ExportConfig

    out = tmp_path_factory.mktemp("serving") / "models"
    pipeline.run(ExportConfig(out=out, models=MODELS, formats=FORMATS, epochs=1, serving=True))
    return out


@pytest.fixture(scope="module")
def doc(export_root) -> dict:
    return manifest.read(export_root / manifest.MANIFEST_NAME)


@pytest.fixture(scope="module")
def configs(export_root) -> dict[str, mc.ModelConfig]:
    """Every config.pbtxt in the repository, parsed independently of how it was written."""
    parsed = {}
    for path in sorted((export_root / serving.TRITON_DIR).glob("*/config.pbtxt")):
        parsed[path.parent.name] = text_format.Parse(path.read_text(encoding="utf-8"), mc.ModelConfig())
    return parsed


def _model(doc: dict, model_id: str) -> dict:
    return next(m for m in doc["models"] if m["id"] == model_id)


def _artifact(doc: dict, model_id: str, fmt: str) -> dict:
    return next(a for a in _model(doc, model_id)["artifacts"] if a["format"] == fmt)


def _golden(root: Path, doc: dict, model_id: str) -> tuple[np.ndarray, np.ndarray]:
    golden = _model(doc, model_id)["golden"][0]
    return np.load(root / golden["inputs"]["input"]), np.load(root / golden["expected"]["output"])


def _assert_golden(root: Path, doc: dict, model_id: str, fmt: str, got: np.ndarray) -> None:
    _, expected = _golden(root, doc, model_id)
    tol = _artifact(doc, model_id, fmt)["tolerance"]
    assert got.shape == expected.shape and got.dtype == np.float32
    assert within_tolerance(expected, got, tol["atol"], tol["rtol"]), (
        f"{model_id}/{fmt}: max abs {np.abs(got - expected).max()}"
    )


def test_repository_has_one_model_per_servable_artifact(export_root, configs):
    triton = export_root / serving.TRITON_DIR
    assert sorted(p.name for p in triton.iterdir()) == sorted(EXPECTED_TRITON)
    assert sorted(configs) == sorted(EXPECTED_TRITON)
    for name in EXPECTED_TRITON:
        # Triton serves numeric version folders only; exactly one, next to the config.
        assert sorted(p.name for p in (triton / name).iterdir()) == ["1", "config.pbtxt"]
        assert [p.name for p in (triton / name / "1").iterdir()] == [EXPECTED_TRITON[name][4]]


def test_configs_name_platform_batching(configs):
    for name, config in configs.items():
        _, _, platform, backend, _ = EXPECTED_TRITON[name]
        assert config.name == name
        assert (config.platform, config.backend) == (platform, backend)
        assert config.max_batch_size == serving.MAX_BATCH_SIZE > 0
        assert config.HasField("dynamic_batching")
        assert not config.default_model_filename  # the file carries Triton's default name
        assert len(config.input) == 1 and len(config.output) == 1
        # With max_batch_size > 0 the batch dim is implicit: [batch, 10] -> dims [10].
        assert list(config.input[0].dims) == [10] and list(config.output[0].dims) == [1]
        assert config.input[0].data_type == config.output[0].data_type == mc.TYPE_FP32


def test_config_tensor_names_follow_each_backend(doc, configs):
    for name, config in configs.items():
        model_id, fmt, *_ = EXPECTED_TRITON[name]
        names = (config.input[0].name, config.output[0].name)
        if fmt.startswith("torchscript"):
            assert names == ("INPUT__0", "OUTPUT__0")
        else:
            artifact = _artifact(doc, model_id, fmt)
            assert names == (artifact["input_keys"]["input"], artifact["output_keys"]["output"])


def test_served_files_are_the_artifacts(export_root, doc):
    for name, (model_id, fmt, _, _, filename) in EXPECTED_TRITON.items():
        served = export_root / serving.TRITON_DIR / name / "1" / filename
        source = export_root / _artifact(doc, model_id, fmt)["path"]
        assert served.is_dir() == source.is_dir()
        assert (
            hashing.artifact_sha256(served)
            == hashing.artifact_sha256(source)
            == _artifact(doc, model_id, fmt)["sha256"]
        )


def test_onnx_names_match_the_graph_and_it_runs(export_root, doc, configs):
    import onnx
    import onnxruntime as ort

    for name in ("mlp_torch_onnx", "mlp_keras_onnx"):
        model_id, fmt, *_ = EXPECTED_TRITON[name]
        config = configs[name]
        path = export_root / serving.TRITON_DIR / name / "1" / "model.onnx"
        graph = onnx.load(path).graph
        assert [i.name for i in graph.input] == [config.input[0].name]
        assert [o.name for o in graph.output] == [config.output[0].name]
        # The graph's shape is [batch, 10]: a symbolic batch dim, then the config's dims.
        dims = graph.input[0].type.tensor_type.shape.dim
        assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == list(config.input[0].dims)

        x, _ = _golden(export_root, doc, model_id)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run([config.output[0].name], {config.input[0].name: x})[0]
        _assert_golden(export_root, doc, model_id, fmt, got)


def test_torchscript_takes_one_tensor_and_runs(export_root, doc, configs):
    import torch

    from builder.formats.torch_formats import torchscript_deprecation_silenced

    config = configs["mlp_torch_torchscript"]
    with torchscript_deprecation_silenced():
        module = torch.jit.load(
            str(export_root / serving.TRITON_DIR / "mlp_torch_torchscript" / "1" / "model.pt"), map_location="cpu"
        )
    # INPUT__<i> indexes forward()'s arguments after self: there must be exactly len(config.input).
    args = module.forward.schema.arguments[1:]
    assert len(args) == len(config.input) and str(args[0].type) == "Tensor"
    x, _ = _golden(export_root, doc, "mlp_torch")
    with torch.inference_mode():
        got = module(torch.from_numpy(x)).numpy()
    _assert_golden(export_root, doc, "mlp_torch", "torchscript-script", got)


def test_triton_savedmodel_names_are_the_signature_keys(export_root, configs):
    import tensorflow as tf

    config = configs["mlp_keras_savedmodel"]
    path = export_root / serving.TRITON_DIR / "mlp_keras_savedmodel" / "1" / "model.savedmodel"
    fn = tf.saved_model.load(str(path), tags=["serve"]).signatures["serving_default"]
    assert [i.name for i in config.input] == list(fn.structured_input_signature[1])
    assert [o.name for o in config.output] == list(fn.structured_outputs)


def test_tf_serving_base_path(export_root):
    base = export_root / serving.TF_SERVING_DIR
    # every saved-model artifact: Keras's own and mlp_torch's through ONNX -> onnx2tf
    assert sorted(p.name for p in base.iterdir()) == ["mlp_keras", "mlp_torch"]
    assert (base / "mlp_torch" / "1" / "saved_model.pb").is_file()
    # TF Serving watches <base path>/<numeric version>/ for a SavedModel.
    assert sorted(p.name for p in (base / "mlp_keras").iterdir()) == ["1"]
    version = base / "mlp_keras" / "1"
    assert (version / "saved_model.pb").is_file()
    assert (version / "variables" / "variables.index").is_file()
    assert list((version / "variables").glob("variables.data-*-of-*"))


def test_tf_serving_model_loads_with_serve_tag_and_signature(export_root, doc):
    """The SavedModel loader with the `serve` tag, called through `serving_default` by its keys."""
    import tensorflow as tf

    artifact = _artifact(doc, "mlp_keras", "saved-model")
    in_key, out_key = artifact["input_keys"]["input"], artifact["output_keys"]["output"]
    version = export_root / serving.TF_SERVING_DIR / "mlp_keras" / "1"
    assert hashing.artifact_sha256(version) == artifact["sha256"]
    x, _ = _golden(export_root, doc, "mlp_keras")

    loaded = tf.saved_model.load(str(version), tags=["serve"])
    got = loaded.signatures["serving_default"](**{in_key: tf.constant(x)})[out_key].numpy()
    _assert_golden(export_root, doc, "mlp_keras", "saved-model", got)


def test_tf_serving_model_runs_in_a_session_like_the_model_server(export_root, doc):
    """TF Serving (and Triton's TF backend) load with the C++ SavedModelBundle: restore the `serve`
    MetaGraph into a Session, then feed and fetch the SignatureDef's tensor names. TF1's Python
    loader takes the same path (restore op from saver_def, then Session.run)."""
    import tensorflow as tf

    artifact = _artifact(doc, "mlp_keras", "saved-model")
    in_key, out_key = artifact["input_keys"]["input"], artifact["output_keys"]["output"]
    version = export_root / serving.TF_SERVING_DIR / "mlp_keras" / "1"
    x, _ = _golden(export_root, doc, "mlp_keras")
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], str(version))
        signature = meta_graph.signature_def["serving_default"]
        assert (list(signature.inputs), list(signature.outputs)) == ([in_key], [out_key])
        assert signature.method_name == "tensorflow/serving/predict"
        got = session.run(signature.outputs[out_key].name, {signature.inputs[in_key].name: x})
    _assert_golden(export_root, doc, "mlp_keras", "saved-model", got)


def test_summary_matches_disk_and_is_deterministic(export_root, doc, tmp_path):
    """Rewriting from the manifest gives the same configs, and a summary that describes them."""
    again = tmp_path / "models"
    shutil.copytree(export_root, again, ignore=shutil.ignore_patterns(serving.SERVING_DIR))
    summary = serving.write(again, doc["models"])
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary
    if "serving" in doc:  # the manifest stores the summary of the export's own write
        assert doc["serving"] == summary

    assert (summary["triton"], summary["tf_serving"]) == (serving.TRITON_DIR, serving.TF_SERVING_DIR)
    assert summary["skipped"] == []
    triton = {m["name"]: m for m in summary["models"] if m["server"] == "triton"}
    assert sorted(triton) == sorted(EXPECTED_TRITON)
    for name, entry in triton.items():
        original = (export_root / entry["config"]).read_text(encoding="utf-8")
        assert (again / entry["config"]).read_text(encoding="utf-8") == original
        assert (again / entry["path"]).exists()
        assert (entry["model"], entry["format"], entry["platform"], entry["backend"]) == EXPECTED_TRITON[name][:4]
        config = text_format.Parse(original, mc.ModelConfig())
        assert list(entry["inputs"].values()) == [i.name for i in config.input]
        assert list(entry["outputs"].values()) == [o.name for o in config.output]
    tf_serving = {m["name"]: m for m in summary["models"] if m["server"] == "tf-serving"}
    assert sorted(tf_serving) == ["mlp_keras", "mlp_torch"]
    for name, entry in tf_serving.items():
        assert entry["path"] == f"serving/tf-serving/{name}/1"
        assert entry["signature"] == "serving_default" and entry["tags"] == ["serve"]


def _fake_model(root: Path, model_id: str, artifacts: dict[str, dict]) -> dict:
    """A manifest model entry whose artifacts are placeholder files (for layout-only tests)."""
    entries = []
    for fmt, fields in artifacts.items():
        path = root / model_id / fmt
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")
        entries.append({"format": fmt, "path": f"{model_id}/{fmt}", **fields})
    return {
        "id": model_id,
        "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 10]}],
        "outputs": [{"name": "output", "dtype": "float32", "shape": ["batch", 1]}],
        "artifacts": entries,
    }


def test_unservable_models_and_unknown_formats_are_skipped(tmp_path):
    models = [
        _fake_model(tmp_path, "only_tflite", {"tflite": {}, "some-future-format": {}}),
        _fake_model(tmp_path, "traced", {"torchscript-trace": {}, "aoti": {}}),
        _fake_model(tmp_path, "nameless_onnx", {"onnx": {}}),  # no input_keys: no config can name it
    ]
    summary = serving.write(tmp_path, models)
    assert [m["name"] for m in summary["models"]] == ["traced_torchscript"]
    assert summary["models"][0]["format"] == "torchscript-trace"  # the fallback when no script artifact
    assert [(s["model"], s.get("format")) for s in summary["skipped"]] == [
        ("only_tflite", None),
        ("nameless_onnx", "onnx"),
    ]
    assert sorted(p.name for p in (tmp_path / serving.TRITON_DIR).iterdir()) == ["traced_torchscript"]
    assert not (tmp_path / serving.TF_SERVING_DIR).exists()
