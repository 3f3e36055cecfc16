"""TensorFlow exports: SavedModel with a serving signature, then TFLite, TF.js graph and ONNX from it.

The serving signature is a `tf.function` whose inputs are named after the model's input specs and
whose output dict is keyed by its output names, so every client finds them by name. The keys written to the manifest are read back
from the saved SavedModel, never assumed.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from builder import tf_env
from builder.formats import ExportContext, Exported, onnx_checks
from builder.models.common import Trained
from builder.versions import package_version

SIGNATURE = "serving_default"
TAGS = ["serve"]
# TF.js has no int64, uint8 or float16 tensors: these dtypes cross its boundary as int32/float32,
# and the client casts (docs/contract.md, boundary_dtypes).
TFJS_BOUNDARY = {"int64": "int32", "uint8": "int32", "float16": "float32"}


def input_specs(trained: Trained) -> list[tf.TensorSpec]:
    """One tf.TensorSpec per model input, named after it (the name becomes the signature's key)."""
    return [
        tf.TensorSpec([d if isinstance(d, int) else None for d in s.shape], s.dtype, name=s.name)
        for s in trained.inputs
    ]


def as_outputs(trained: Trained, result) -> dict:
    """The forward's result (a tensor, a list/tuple in output order, or a dict) as {output name: tensor}."""
    names = [s.name for s in trained.outputs]
    if isinstance(result, dict):
        return {n: result[n] for n in names}
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    if len(results) != len(names):
        raise ValueError(f"the model returned {len(results)} outputs, its spec names {len(names)}: {names}")
    return dict(zip(names, results, strict=True))


def serving_function(forward: Callable, trained: Trained) -> tf.types.experimental.ConcreteFunction:
    """The serving signature: inputs keyed by the model's input names, a dict of its output names.
    `forward(*inputs)` takes the inputs in the model's order."""

    # autograph=False: the forward is plain tensor code (Keras, or jax2tf's wrapper); converting
    # jax2tf's Python with AutoGraph fails noisily and costs ~30 s.
    @tf.function(input_signature=input_specs(trained), autograph=False)
    def serve(*inputs):
        return as_outputs(trained, forward(*inputs))

    return serve


def keras_forward(model) -> Callable:
    """Calls a Keras model eagerly with its inputs in the model's order (one tensor, or a list)."""
    return lambda *inputs: model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)


def signature_keys(saved_model_dir: Path, trained: Trained) -> tuple[dict, dict]:
    """Reads the serving signature's keys back from the SavedModel and maps the model's tensor names to them."""
    loaded = tf.saved_model.load(str(saved_model_dir), tags=TAGS)
    fn = loaded.signatures[SIGNATURE]
    _, kwargs = fn.structured_input_signature
    inputs, outputs = set(kwargs), set(fn.structured_outputs)
    want_in, want_out = {s.name for s in trained.inputs}, {s.name for s in trained.outputs}
    if inputs != want_in or outputs != want_out:
        raise ValueError(
            f"{SIGNATURE} has {sorted(inputs)} -> {sorted(outputs)}, expected {sorted(want_in)} -> {sorted(want_out)}"
        )
    return {n: n for n in sorted(want_in)}, {n: n for n in sorted(want_out)}


def save_at(path: Path, module: tf.Module, serve: Callable, trained: Trained) -> dict:
    """Saves `module` with `serve` as its serving signature at `path`; returns the manifest fields.
    `module` must track all variables."""
    tf.saved_model.save(module, str(path), signatures={SIGNATURE: serve})
    input_keys, output_keys = signature_keys(path, trained)
    return {"signature": SIGNATURE, "tags": TAGS, "input_keys": input_keys, "output_keys": output_keys}


def save(module: tf.Module, serve: Callable, ctx: ExportContext, extra: dict | None = None) -> Exported:
    """The model's saved-model artifact: `module` saved with `serve` as its serving signature."""
    path = ctx.path("saved-model")
    return Exported("saved-model", path, save_at(path, module, serve, ctx.trained) | (extra or {}))


def export_saved_model(ctx: ExportContext) -> Exported:
    model = ctx.trained.module
    module = tf.Module()
    # Track the backing tf.Variables, not the Keras model: tracking the model saves two handles per
    # weight, and a session-based loader (TF Serving, TF Java, the C API) restores one while the
    # serving function reads the other ("Could not find variable mlp_keras/dense/kernel").
    module.variables_ = [v.value for v in model.variables]
    return save(module, serving_function(keras_forward(model), ctx.trained), ctx)


def export_tflite(ctx: ExportContext) -> Exported:
    saved = ctx.done["saved-model"]
    return tflite_from(ctx, saved.path, saved.fields)


def tflite_from(ctx: ExportContext, saved_model: Path, saved_fields: dict) -> Exported:
    """The tflite artifact converted from a SavedModel (`saved_fields`: its manifest fields)."""
    path = ctx.path("tflite")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
    path.write_bytes(converter.convert())
    # The TFLite signature keeps the SavedModel signature's keys.
    return Exported(
        "tflite",
        path,
        {"signature": SIGNATURE, "input_keys": saved_fields["input_keys"], "output_keys": saved_fields["output_keys"]},
    )


def export_tfjs(ctx: ExportContext) -> Exported:
    saved = ctx.done["saved-model"]
    return tfjs_from(ctx, saved.path, saved.fields)


def tfjs_from(ctx: ExportContext, saved_model: Path, saved_fields: dict) -> Exported:
    """The tfjs-graph artifact converted from a SavedModel (`saved_fields`: its manifest fields)."""
    path = ctx.path("tfjs-graph")
    convert_tfjs(str(saved_model), str(path))
    trained = ctx.trained
    boundary = {s.name: TFJS_BOUNDARY[s.dtype] for s in trained.inputs + trained.outputs if s.dtype in TFJS_BOUNDARY}
    fields = {
        "entry": "model.json",
        "signature": SIGNATURE,
        "input_keys": saved_fields["input_keys"],
        "output_keys": saved_fields["output_keys"],
    }
    return Exported("tfjs-graph", path, fields | ({"boundary_dtypes": boundary} if boundary else {}))


def export_onnx(ctx: ExportContext) -> Exported:
    """Keras -> ONNX with tf2onnx.from_function (from_keras fails on Keras 3 models, docs/findings.md)."""
    import tf2onnx

    trained = ctx.trained
    path = ctx.path("onnx")
    forward = keras_forward(trained.module)
    names = [s.name for s in trained.outputs]

    @tf.function(input_signature=input_specs(trained))
    def onnx_forward(*inputs):
        outputs = as_outputs(trained, forward(*inputs))
        return [tf.identity(outputs[n], name=n) for n in names]

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(onnx_forward, input_signature=input_specs(trained), opset=17)
    # tf2onnx names graph inputs "<name>:0" and outputs after the TF tensors ("Identity:0", in the
    # function's output order); rename both to the model's tensor names.
    renames = {v.name: v.name.split(":")[0] for v in proto.graph.input}
    renames |= {v.name: n for v, n in zip(proto.graph.output, names, strict=True)}
    _rename_onnx_io(proto, renames)
    path.write_bytes(proto.SerializeToString())
    keys = {s.name: s.name for s in trained.inputs}, {n: n for n in names}
    onnx_checks.check_dims(path, trained, *keys)
    return Exported(
        "onnx",
        path,
        {"converter": f"tf2onnx {package_version('tf2onnx')}", "input_keys": keys[0], "output_keys": keys[1]},
    )


def _rename_onnx_io(proto, renames: dict[str, str]) -> None:
    for value_info in list(proto.graph.input) + list(proto.graph.output):
        if value_info.name in renames:
            value_info.name = renames[value_info.name]
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]


def convert_tfjs(saved_model: str, out: str) -> None:
    """The TF.js graph model of a SavedModel's serving signature, written to `out`."""
    # tensorflowjs imports TF-DF (which prints a banner) and TF-Hub (which warns about
    # pkg_resources) at import time, and the converter prints its own progress: keep them quiet.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")  # else TF-DF needs IPython when stdout is captured
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tensorflowjs as tfjs
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            tfjs.converters.convert_tf_saved_model(saved_model, out, signature_def=SIGNATURE, saved_model_tags="serve")
        except ValueError as e:
            hint = tf_env.onednn_hint(str(e))
            if hint:
                raise ValueError(f"{' '.join(str(e).split())}{hint}") from e
            raise
    _one_dimensional_fused_biases(Path(out) / "model.json")
    _unfuse_tensor_biases(Path(out) / "model.json")


_FUSED_OPS = ("_FusedMatMul", "_FusedConv2D", "FusedDepthwiseConv2dNative")


def _one_dimensional_fused_biases(model_json: Path) -> None:
    """Rewrites, in place, the shape of a fused op's bias weight from (1, ..., 1, N) to (N,): the same
    bytes, and the same sums (TF.js broadcasts the bias either way), but TensorFlow's fused kernels
    accept only a 1-D bias. onnx2tf writes a (1, N) bias when it converts an ONNX Add (measured on
    mlp_jax: `bias must be 1-dimensional[1,16]` when the graph runs in TensorFlow)."""
    spec = json.loads(model_json.read_text())
    biases = {
        name for node in spec["modelTopology"]["node"] if node["op"] in _FUSED_OPS for name in node.get("input", [])[2:]
    }
    changed = False
    for group in spec["weightsManifest"]:
        for weight in group["weights"]:
            shape = weight["shape"]
            if weight["name"] in biases and len(shape) > 1 and all(d == 1 for d in shape[:-1]):
                weight["shape"] = shape[-1:]
                changed = True
    if changed:
        model_json.write_text(json.dumps(spec))


# The plain op each base of a fused op stands for, and the attrs it keeps.
_BASE_OPS = {
    "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")),
    "FusedDepthwiseConv2dNative": (
        "DepthwiseConv2dNative",
        ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations"),
    ),
    "_FusedMatMul": ("MatMul", ("T", "transpose_a", "transpose_b")),
}
_ACTIVATIONS = ("Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu")


def _unfuse_tensor_biases(model_json: Path) -> None:
    """Splits, in place, a fused op whose "bias" is not a 1-D weight back into its base op, AddV2 and
    the activation. TensorFlow's grappler fuses a residual connection (conv + add(shortcut) + relu in
    a ResNet) as a BiasAdd of a 4-D tensor, and a scalar add (hard-swish's +3 in MobileNetV3) as a
    BiasAdd of a 0-D weight; TensorFlow's own fused kernels and TF.js's wasm backend reject both
    (`bias must be 1-dimensional[1,16,16,64]` on torchvision's ResNet-18, `[]` on keras'
    MobileNetV3Small). The split ops broadcast like the original graph."""
    spec = json.loads(model_json.read_text())
    weights = {w["name"]: w["shape"] for group in spec["weightsManifest"] for w in group["weights"]}
    nodes: list[dict] = []
    changed = False
    for node in spec["modelTopology"]["node"]:
        inputs = node.get("input", [])
        attr = node.get("attr", {})
        num_args = int(attr.get("num_args", {}).get("i", 0))
        args = list(inputs[2 : 2 + num_args])
        fused = [base64.b64decode(f).decode() for f in attr.get("fused_ops", {}).get("list", {}).get("s", [])]
        splittable = all(f in ("BiasAdd", "Add", *_ACTIVATIONS) for f in fused)
        one_dimensional = all(len(weights.get(a.split(":")[0], ())) == 1 for a in args)
        if node["op"] not in _BASE_OPS or one_dimensional or not splittable:
            nodes.append(node)
            continue
        op, kept = _BASE_OPS[node["op"]]
        name = node["name"]
        controls = [i for i in inputs if i.startswith("^")]
        current = f"{name}/unfused_{op}"
        nodes.append(
            {"name": current, "op": op, "input": inputs[:2] + controls, "attr": {k: attr[k] for k in kept if k in attr}}
        )
        pending_args = list(args)
        for step, f in enumerate(fused):
            last = step == len(fused) - 1
            out = name if last else f"{name}/unfused_{step}_{f}"
            if f in ("BiasAdd", "Add"):
                nodes.append(
                    {"name": out, "op": "AddV2", "input": [current, pending_args.pop(0)], "attr": {"T": attr["T"]}}
                )
            else:
                extra = {"alpha": {"f": attr.get("leakyrelu_alpha", {}).get("f", 0.2)}} if f == "LeakyRelu" else {}
                nodes.append({"name": out, "op": f, "input": [current], "attr": {"T": attr["T"], **extra}})
            current = out
        if not fused:  # no fused step: the base op takes the node's name
            nodes[-1]["name"] = name
        changed = True
    if changed:
        spec["modelTopology"]["node"] = nodes
        model_json.write_text(json.dumps(spec))
