"""JAX/Flax exports: ONNX through jax2onnx, and a SavedModel through jax2tf.

jax2tf in jax 0.10 always uses native serialization, so the SavedModel's serving function wraps one
`XlaCallModule` op holding StableHLO. The manifest records that: TF.js cannot run it, and a TF
runtime older than the exporter may reject its StableHLO version (FACTS.md).

jax 0.10 serializes with calling-convention version 10 by default, but TF 2.19's XlaCallModule
accepts at most version 9 ("supports up to serialization version 9"), so we pin version 9, the
oldest jax 0.10 still writes and the newest the pinned TF (and TF Java 1.1 / TF 2.18) can read.
"""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from builder.formats import FORMAT_PATHS, Exported
from builder.versions import package_version

INPUT_NAME, OUTPUT_NAME = "input", "output"
XLA_CALL_MODULE_VERSION = 9


def export_onnx(trained_module, dest: Path, n_inputs: int) -> Exported:
    """`trained_module` is `(apply_fn, params)` with `apply_fn(params, x) -> probabilities`."""
    import jax2onnx

    apply_fn, params = trained_module
    path = dest / FORMAT_PATHS["onnx"]
    path.parent.mkdir(parents=True, exist_ok=True)
    proto = jax2onnx.to_onnx(
        lambda x: apply_fn(params, x),
        inputs=[("B", n_inputs)],
        model_name="deploykit",
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
    )
    path.write_bytes(proto.SerializeToString())
    return Exported(
        "onnx", path, {"converter": f"jax2onnx {package_version('jax2onnx')}", "input_keys": {"input": INPUT_NAME}, "output_keys": {"output": OUTPUT_NAME}}
    )


def export_saved_model(trained_module, dest: Path, n_inputs: int) -> Exported:
    import tensorflow as tf
    from jax.experimental import jax2tf

    from builder.formats import tf_formats

    apply_fn, params = trained_module
    jax.config.update("jax_export_calling_convention_version", XLA_CALL_MODULE_VERSION)
    # Parameters become tf.Variables (saved in variables/), not constants folded into StableHLO.
    tf_apply = jax2tf.convert(
        apply_fn, polymorphic_shapes=[None, f"(b, {n_inputs})"], with_gradient=False
    )
    module = tf.Module()
    module.params = jax.tree_util.tree_map(lambda p: tf.Variable(np.asarray(p), trainable=False), params)
    serve = tf_formats.serving_function(lambda x: tf_apply(module.params, x), n_inputs)
    return tf_formats.save(module, serve, dest, extra={"contains_ops": ["XlaCallModule"], "xla_call_module_version": XLA_CALL_MODULE_VERSION})


EXPORTERS = {"onnx": export_onnx, "saved-model": export_saved_model}


def export(fmt: str, trained, model_dir: Path, done: dict[str, Exported]) -> Exported:
    return EXPORTERS[fmt](trained.module, model_dir, trained.n_inputs)
