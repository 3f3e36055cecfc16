"""TensorFlow exports: SavedModel with a serving signature, then TFLite, TF.js graph and ONNX from it.

The serving signature is a `tf.function` whose input is named `input` and whose output dict has the
key `output`, so every client can find them by name. The keys written to the manifest are read back
from the saved SavedModel, never assumed.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path
from typing import Callable

import tensorflow as tf

from builder.formats import FORMAT_PATHS, Exported
from builder.versions import package_version

SIGNATURE = "serving_default"
TAGS = ["serve"]
INPUT_NAME, OUTPUT_NAME = "input", "output"


def input_spec(n_inputs: int) -> tf.TensorSpec:
    return tf.TensorSpec([None, n_inputs], tf.float32, name=INPUT_NAME)


def serving_function(forward: Callable[[tf.Tensor], tf.Tensor], n_inputs: int) -> tf.types.experimental.ConcreteFunction:
    # autograph=False: the forward is plain tensor code (Keras, or jax2tf's wrapper); converting
    # jax2tf's Python with AutoGraph fails noisily and costs ~30 s.
    @tf.function(input_signature=[input_spec(n_inputs)], autograph=False)
    def serve(input):  # noqa: A002 - the argument name becomes the signature's input key
        return {OUTPUT_NAME: forward(input)}

    return serve


def signature_keys(saved_model_dir: Path) -> tuple[dict, dict]:
    """Reads the serving signature's input and output keys from a SavedModel on disk."""
    loaded = tf.saved_model.load(str(saved_model_dir), tags=TAGS)
    fn = loaded.signatures[SIGNATURE]
    _, kwargs = fn.structured_input_signature
    inputs, outputs = list(kwargs), list(fn.structured_outputs)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"{SIGNATURE} must have one input and one output, got {inputs} -> {outputs}")
    return {"input": inputs[0]}, {"output": outputs[0]}


def save(module: tf.Module, serve: Callable, dest: Path, extra: dict | None = None) -> Exported:
    """Saves `module` with `serve` as its serving signature; `module` must track all variables."""
    path = dest / FORMAT_PATHS["saved-model"]
    tf.saved_model.save(module, str(path), signatures={SIGNATURE: serve})
    input_keys, output_keys = signature_keys(path)
    fields = {"signature": SIGNATURE, "tags": TAGS, "input_keys": input_keys, "output_keys": output_keys}
    return Exported("saved-model", path, {**fields, **(extra or {})})


def export_saved_model_keras(model, dest: Path, n_inputs: int) -> Exported:
    module = tf.Module()
    # Track the backing tf.Variables, not the Keras model: tracking the model saves two handles per
    # weight, and a session-based loader (TF Serving, TF Java, the C API) restores one while the
    # serving function reads the other ("Could not find variable mlp_keras/dense/kernel").
    module.variables_ = [v.value for v in model.variables]
    return save(module, serving_function(lambda x: model(x, training=False), n_inputs), dest)


def export_tflite(saved_model: Path, dest: Path) -> Exported:
    path = dest / FORMAT_PATHS["tflite"]
    path.parent.mkdir(parents=True, exist_ok=True)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[SIGNATURE])
    path.write_bytes(converter.convert())
    return Exported("tflite", path, {"signature": SIGNATURE, "input_keys": {"input": INPUT_NAME}, "output_keys": {"output": OUTPUT_NAME}})


def export_tfjs(saved_model: Path, dest: Path) -> Exported:
    path = dest / FORMAT_PATHS["tfjs-graph"]
    # tensorflowjs imports TF-DF (which prints a banner) and TF-Hub (which warns about
    # pkg_resources) at import time, and the converter prints its own progress: keep them quiet.
    os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")  # else TF-DF needs IPython when stdout is captured
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import tensorflowjs as tfjs
    with contextlib.redirect_stdout(io.StringIO()):
        tfjs.converters.convert_tf_saved_model(
            str(saved_model), str(path), signature_def=SIGNATURE, saved_model_tags="serve"
        )
    return Exported(
        "tfjs-graph",
        path,
        {"entry": "model.json", "signature": SIGNATURE, "input_keys": {"input": INPUT_NAME}, "output_keys": {"output": OUTPUT_NAME}},
    )


def export_onnx_keras(model, dest: Path, n_inputs: int) -> Exported:
    """Keras -> ONNX with tf2onnx.from_function (from_keras fails on Keras 3 models, FACTS.md)."""
    import tf2onnx

    path = dest / FORMAT_PATHS["onnx"]
    path.parent.mkdir(parents=True, exist_ok=True)

    @tf.function(input_signature=[input_spec(n_inputs)])
    def forward(input):  # noqa: A002
        return tf.identity(model(input, training=False), name=OUTPUT_NAME)

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(forward, input_signature=[input_spec(n_inputs)], opset=17)
    # tf2onnx names graph outputs after the TF tensor ("Identity:0"); rename to the contract's name.
    _rename_onnx_io(proto, {proto.graph.input[0].name: INPUT_NAME, proto.graph.output[0].name: OUTPUT_NAME})
    path.write_bytes(proto.SerializeToString())
    return Exported(
        "onnx", path, {"converter": f"tf2onnx {package_version('tf2onnx')}", "input_keys": {"input": INPUT_NAME}, "output_keys": {"output": OUTPUT_NAME}}
    )


def _rename_onnx_io(proto, renames: dict[str, str]) -> None:
    for value_info in list(proto.graph.input) + list(proto.graph.output):
        if value_info.name in renames:
            value_info.name = renames[value_info.name]
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]


def export(fmt: str, trained, model_dir: Path, done: dict[str, Exported]) -> Exported:
    """Exports `fmt` for a Keras model; tflite and tfjs-graph convert the SavedModel in `done`."""
    if fmt == "saved-model":
        return export_saved_model_keras(trained.module, model_dir, trained.n_inputs)
    if fmt == "onnx":
        return export_onnx_keras(trained.module, model_dir, trained.n_inputs)
    saved_model = done["saved-model"].path
    return export_tflite(saved_model, model_dir) if fmt == "tflite" else export_tfjs(saved_model, model_dir)
