"""Loaders that reload each artifact format in Python, as its users' runtimes would.

Each `load_<format>(path, artifact, model)` returns `predict({input name: array}) -> {output name:
array}`; `artifact` is the artifact's manifest entry (signature keys etc.) and `model` the model's
(its tensor specs). The export uses these to check every artifact right after writing it; `verify`
reuses them as its in-process runners. `load()` adds the artifact's boundary casts.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from builder import tensors, versions
from builder.formats import FORMAT_TABLE

Arrays = dict[str, np.ndarray]
Predict = Callable[[Arrays], Arrays]


# Threads per runtime call: None lets each runtime choose (every core, as verify and bench measure);
# a process that serves one replica calls single_threaded().
_threads: int | None = None


def single_threaded() -> None:
    """For a process that serves one replica (a Triton stub): each runtime runs a call on one thread,
    without spin-waiting between calls. Replicas give the parallelism, and the cores stay free for the
    server's own front and transport (measured: +6% requests/s through the front on 2 cores, docs/serving.md)."""
    global _threads
    _threads = 1


def _torch_threads() -> None:
    import torch

    if _threads:
        torch.set_num_threads(_threads)


def _names(model: dict, what: str) -> list[str]:
    return [t["name"] for t in model[what]]


def outputs_from(model: dict, result) -> Arrays:
    """A runtime's result (one tensor, a tuple/list in output order, or a dict by name) as a name map."""
    names = _names(model, "outputs")
    if isinstance(result, dict):
        return {n: np.asarray(result[n]) for n in names}
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    if len(results) != len(names):
        raise ValueError(f"the runtime returned {len(results)} outputs, the model has {len(names)}: {names}")
    return {n: np.asarray(r) for n, r in zip(names, results, strict=True)}


def load_torchscript(path: Path, artifact: dict, model: dict) -> Predict:
    import torch

    from builder.formats.torch_formats import torchscript_deprecation_silenced

    _torch_threads()
    with torchscript_deprecation_silenced():
        module = torch.jit.load(str(path), map_location="cpu").eval()
    order = _names(model, "inputs")

    def predict(arrays: Arrays) -> Arrays:
        with torch.inference_mode():
            result = module(*(torch.from_numpy(np.ascontiguousarray(arrays[n])) for n in order))
            return outputs_from(model, _numpy(result))

    return predict


def _numpy(result):
    if isinstance(result, dict):
        return {k: v.numpy() for k, v in result.items()}
    if isinstance(result, (list, tuple)):
        return [r.numpy() for r in result]
    return result.numpy()


def load_aoti(path: Path, artifact: dict, model: dict) -> Predict:
    import torch

    _torch_threads()
    runner = torch._inductor.aoti_load_package(str(path))
    order = _names(model, "inputs")

    def predict(arrays: Arrays) -> Arrays:
        with torch.inference_mode():
            return outputs_from(
                model, _numpy(runner(*(torch.from_numpy(np.ascontiguousarray(arrays[n])) for n in order)))
            )

    return predict


def load_onnx(path: Path, artifact: dict, model: dict) -> Predict:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if _threads:
        options.intra_op_num_threads = options.inter_op_num_threads = _threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    in_keys, out_keys = artifact["input_keys"], artifact["output_keys"]
    out_names = _names(model, "outputs")

    def predict(arrays: Arrays) -> Arrays:
        results = session.run(
            [out_keys[n] for n in out_names], {in_keys[n]: np.ascontiguousarray(a) for n, a in arrays.items()}
        )
        return dict(zip(out_names, results, strict=True))

    return predict


def load_saved_model(path: Path, artifact: dict, model: dict) -> Predict:
    """Loads the SavedModel the way TF Serving, TF Java and the TF C API do (the C++
    SavedModelBundle path): restore the `serve` MetaGraph into a Session, then feed and fetch the
    SignatureDef's tensors by its keys. This is stricter than `tf.saved_model.load`, which rebuilds
    Python objects and can hide a SavedModel whose restore op misses the variables it serves."""
    import tensorflow as tf

    graph = tf.Graph()
    config = None
    if _threads:
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=_threads, inter_op_parallelism_threads=_threads)
    session = tf.compat.v1.Session(graph=graph, config=config)
    with graph.as_default():
        meta_graph = tf.compat.v1.saved_model.loader.load(session, artifact.get("tags", ["serve"]), str(path))
    signature = meta_graph.signature_def[artifact["signature"]]
    feeds = {n: signature.inputs[k].name for n, k in artifact["input_keys"].items()}
    out_names = _names(model, "outputs")
    fetches = [signature.outputs[artifact["output_keys"][n]].name for n in out_names]

    def predict(arrays: Arrays) -> Arrays:
        return dict(zip(out_names, session.run(fetches, {feeds[n]: a for n, a in arrays.items()}), strict=True))

    return predict


def load_tflite(path: Path, artifact: dict, model: dict) -> Predict:
    import tensorflow as tf

    with warnings.catch_warnings():
        # TF 2.19 deprecates tf.lite.Interpreter for ai_edge_litert, which is not in the pinned stack.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=1)
    runner = interpreter.get_signature_runner(artifact["signature"])
    in_keys, out_keys = artifact["input_keys"], artifact["output_keys"]
    out_names = _names(model, "outputs")

    def predict(arrays: Arrays) -> Arrays:
        # The signature runner resizes its inputs for each call (dynamic dims are -1 in the model).
        results = runner(**{in_keys[n]: np.ascontiguousarray(a) for n, a in arrays.items()})
        return {n: np.array(results[out_keys[n]]) for n in out_names}

    return predict


def load_tfjs_graph(path: Path, artifact: dict, model: dict) -> Predict:
    """Runs a TF.js graph model in TensorFlow: the GraphDef from model.json with the shard weights
    put back into its Const nodes. This checks the converted graph and the weight files themselves
    (TF.js in Node and the browser is run by the JS client and `verify`)."""
    import tensorflow as tf
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2

    spec = json.loads((path / artifact.get("entry", "model.json")).read_text())
    graph_def = json_format.ParseDict(spec["modelTopology"], graph_pb2.GraphDef())
    weights = _read_tfjs_weights(path, spec["weightsManifest"])
    for node in graph_def.node:
        if node.name in weights:
            # The TF.js converter stores int64 constants as int32 weights (TF.js has no int64) but
            # keeps the node's DT_INT64: give TensorFlow the node's own dtype, or it aborts the
            # process (`Check failed: dtype() == expected_dtype`). The values fit (they came from int64).
            dtype = tf.as_dtype(node.attr["dtype"].type).as_numpy_dtype
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights.pop(node.name).astype(dtype)))
    if weights:
        raise ValueError(f"weights with no Const node in the graph: {sorted(weights)}")
    feeds = {n: spec["signature"]["inputs"][k]["name"] for n, k in artifact["input_keys"].items()}
    out_names = _names(model, "outputs")
    fetches = [spec["signature"]["outputs"][artifact["output_keys"][n]]["name"] for n in out_names]

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    config = None
    if _threads:
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=_threads, inter_op_parallelism_threads=_threads)
    session = tf.compat.v1.Session(graph=graph, config=config)

    def predict(arrays: Arrays) -> Arrays:
        return dict(zip(out_names, session.run(fetches, {feeds[n]: a for n, a in arrays.items()}), strict=True))

    return predict


# TF.js weight dtypes and their little-endian storage in the shards.
_TFJS_WEIGHT_DTYPES = {"float32": "<f4", "int32": "<i4", "bool": "|b1"}


def _read_tfjs_weights(base: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Decodes the weight groups (float32, int32 and bool); each group's shards are concatenated in order."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        buffer = b"".join((base / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for entry in group["weights"]:
            if entry["dtype"] not in _TFJS_WEIGHT_DTYPES or "quantization" in entry:
                raise ValueError(f"unsupported tfjs weight {entry['name']}: dtype {entry['dtype']}")
            dtype = np.dtype(_TFJS_WEIGHT_DTYPES[entry["dtype"]])
            count = int(np.prod(entry["shape"], dtype=np.int64))
            nbytes = dtype.itemsize * count
            if offset + nbytes > len(buffer):
                raise ValueError(f"tfjs weight shards are shorter than the manifest says ({entry['name']})")
            weights[entry["name"]] = np.frombuffer(buffer, dtype, count, offset).reshape(entry["shape"])
            offset += nbytes
        if offset != len(buffer):
            raise ValueError(f"tfjs weight shards have {len(buffer) - offset} bytes the manifest does not describe")
    return weights


# Each format registry row names its loader (builder.formats.FORMAT_TABLE); this resolves them.
LOADERS: dict[str, Callable[[Path, dict, dict], Predict]] = {f.id: globals()[f.loader] for f in FORMAT_TABLE}


class SkewError(RuntimeError):
    """The artifact was built for a newer runtime than this one (docs/contract.md, "Version skew")."""


# The runtime family each format's Python loader runs it with: TF.js graphs run in TensorFlow here.
PYTHON_RUNTIME: dict[str, str] = {f.id: ("tensorflow" if f.runtime == "tfjs" else f.runtime) for f in FORMAT_TABLE}


def check_skew(artifact: dict) -> None:
    """Refuses an artifact whose `min_runtime` names a newer version of the runtime that would load it."""
    family = PYTHON_RUNTIME[artifact["format"]]
    problem = versions.skew_error(artifact, family, versions.runtime_version(family))
    if problem:
        raise SkewError(problem)


def load(path: Path, artifact: dict, model: dict) -> Predict:
    """The artifact's loader, with its boundary casts (docs/contract.md) applied around each call:
    inputs to the boundary dtype (refusing values that do not fit), outputs back to the spec's.
    Raises SkewError before loading an artifact built for a newer runtime."""
    check_skew(artifact)
    predict = LOADERS[artifact["format"]](path, artifact, model)
    boundary = artifact.get("boundary_dtypes") or {}
    specs = {t["name"]: t for t in model["inputs"] + model["outputs"]}

    def cast_in(name: str, a: np.ndarray) -> np.ndarray:
        target = boundary.get(name)
        if target is None:
            return a
        problem = tensors.boundary_problem(name, a, target)
        if problem:
            raise ValueError(problem)
        return a.astype(target)

    def call(arrays: Arrays) -> Arrays:
        outputs = predict({n: cast_in(n, a) for n, a in arrays.items()})
        return {
            n: np.ascontiguousarray(a.astype(specs[n]["dtype"]) if n in boundary else a) for n, a in outputs.items()
        }

    return call
