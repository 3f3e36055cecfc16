"""Loaders that reload each artifact format in Python, as its users' runtimes would.

Each `load_<format>(path, fields)` returns `predict(x: (batch, 10) float32) -> (batch, 1) float32`.
`fields` is the artifact's manifest entry (signature keys etc.). The export uses these to check
every artifact right after writing it; `verify` reuses them as its in-process runners.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


def _f32(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def load_torchscript(path: Path, fields: dict) -> Predict:
    import torch

    from builder.formats.torch_formats import torchscript_deprecation_silenced

    with torchscript_deprecation_silenced():
        module = torch.jit.load(str(path), map_location="cpu").eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return module(torch.from_numpy(_f32(x))).numpy()

    return predict


def load_aoti(path: Path, fields: dict) -> Predict:
    import torch

    runner = torch._inductor.aoti_load_package(str(path))

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return runner(torch.from_numpy(_f32(x))).numpy()

    return predict


def load_onnx(path: Path, fields: dict) -> Predict:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name, output_name = fields["input_keys"]["input"], fields["output_keys"]["output"]

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run([output_name], {input_name: _f32(x)})[0]

    return predict


def load_saved_model(path: Path, fields: dict) -> Predict:
    """Loads the SavedModel the way TF Serving, TF Java and the TF C API do (the C++
    SavedModelBundle path): restore the `serve` MetaGraph into a Session, then feed and fetch the
    SignatureDef's tensors by its keys. This is stricter than `tf.saved_model.load`, which rebuilds
    Python objects and can hide a SavedModel whose restore op misses the variables it serves."""
    import tensorflow as tf

    graph = tf.Graph()
    session = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        meta_graph = tf.compat.v1.saved_model.loader.load(session, fields.get("tags", ["serve"]), str(path))
    signature = meta_graph.signature_def[fields["signature"]]
    feed = signature.inputs[fields["input_keys"]["input"]].name
    fetch = signature.outputs[fields["output_keys"]["output"]].name

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run(fetch, {feed: _f32(x)})

    return predict


def load_tflite(path: Path, fields: dict) -> Predict:
    import tensorflow as tf

    with warnings.catch_warnings():
        # TF 2.19 deprecates tf.lite.Interpreter for ai_edge_litert, which is not in the pinned stack.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=1)
    runner = interpreter.get_signature_runner(fields["signature"])
    input_key, output_key = fields["input_keys"]["input"], fields["output_keys"]["output"]

    def predict(x: np.ndarray) -> np.ndarray:
        # The signature runner resizes its input for each batch size (the model has shape [-1, 10]).
        return np.array(runner(**{input_key: _f32(x)})[output_key])

    return predict


def load_tfjs_graph(path: Path, fields: dict) -> Predict:
    """Runs a TF.js graph model in TensorFlow: the GraphDef from model.json with the shard weights
    put back into its Const nodes. This checks the converted graph and the weight files themselves
    (TF.js in Node and the browser is run by the JS client and `verify`)."""
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2

    spec = json.loads((path / fields.get("entry", "model.json")).read_text())
    graph_def = json_format.ParseDict(spec["modelTopology"], graph_pb2.GraphDef())
    weights = _read_tfjs_weights(path, spec["weightsManifest"])
    for node in graph_def.node:
        if node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights.pop(node.name)))
    if weights:
        raise ValueError(f"weights with no Const node in the graph: {sorted(weights)}")
    input_name = spec["signature"]["inputs"][fields["input_keys"]["input"]]["name"]
    output_name = spec["signature"]["outputs"][fields["output_keys"]["output"]]["name"]

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run(output_name, {input_name: _f32(x)})

    return predict


def _read_tfjs_weights(base: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Decodes float32 weight groups; each group's shards are concatenated in order."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        buffer = b"".join((base / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for entry in group["weights"]:
            if entry["dtype"] != "float32" or "quantization" in entry:
                raise ValueError(f"unsupported tfjs weight {entry['name']}: dtype {entry['dtype']}")
            count = int(np.prod(entry["shape"], dtype=np.int64))
            nbytes = 4 * count
            if offset + nbytes > len(buffer):
                raise ValueError(f"tfjs weight shards are shorter than the manifest says ({entry['name']})")
            weights[entry["name"]] = np.frombuffer(buffer, "<f4", count, offset).reshape(entry["shape"])
            offset += nbytes
        if offset != len(buffer):
            raise ValueError(f"tfjs weight shards have {len(buffer) - offset} bytes the manifest does not describe")
    return weights


LOADERS: dict[str, Callable[[Path, dict], Predict]] = {
    "torchscript-script": load_torchscript,
    "torchscript-trace": load_torchscript,
    "aoti": load_aoti,
    "onnx": load_onnx,
    "saved-model": load_saved_model,
    "tflite": load_tflite,
    "tfjs-graph": load_tfjs_graph,
}
