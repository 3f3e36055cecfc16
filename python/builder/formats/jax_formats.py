"""JAX/Flax exports: ONNX through jax2onnx, and a SavedModel through jax2tf.

jax2tf in jax 0.10 always uses native serialization, so the SavedModel's serving function wraps one
`XlaCallModule` op holding StableHLO. The manifest records that: TF.js cannot run it, and a TF
runtime older than the exporter may reject its StableHLO version (docs/findings.md).

jax 0.10 serializes with calling-convention version 10 by default, but TF 2.19's XlaCallModule
accepts at most version 9 ("supports up to serialization version 9"), so we pin version 9, the
oldest jax 0.10 still writes and the newest the pinned TF (and TF Java 1.1 / TF 2.18) can read.
"""

from __future__ import annotations

import jax
import numpy as np

from builder.formats import ExportContext, Exported, onnx_checks
from builder.versions import package_version

XLA_CALL_MODULE_VERSION = 9


def _shape(spec) -> tuple:
    return tuple(spec.shape)  # named dims stay symbolic, under the model's own names


def export_onnx(ctx: ExportContext) -> Exported:
    import jax2onnx

    trained, fn = ctx.trained, ctx.trained.module
    path = ctx.path("onnx")
    proto = jax2onnx.to_onnx(
        lambda *inputs: fn.apply(fn.params, *inputs),
        inputs=[
            jax.ShapeDtypeStruct(_shape(s), s.dtype) if s.dtype != "float32" else _shape(s) for s in trained.inputs
        ],
        model_name="deploykit",
        input_names=[s.name for s in trained.inputs],
        output_names=[s.name for s in trained.outputs],
    )
    path.write_bytes(proto.SerializeToString())
    keys = {s.name: s.name for s in trained.inputs}, {s.name: s.name for s in trained.outputs}
    onnx_checks.check_dims(path, trained, *keys)
    return Exported(
        "onnx",
        path,
        {"converter": f"jax2onnx {package_version('jax2onnx')}", "input_keys": keys[0], "output_keys": keys[1]},
    )


def export_saved_model(ctx: ExportContext) -> Exported:
    import tensorflow as tf
    from jax.experimental import jax2tf

    from builder.formats import tf_formats

    trained, fn = ctx.trained, ctx.trained.module
    jax.config.update("jax_export_calling_convention_version", XLA_CALL_MODULE_VERSION)
    polymorphic = [None] + [f"({', '.join(str(d) for d in s.shape)})" for s in trained.inputs]
    # Parameters become tf.Variables (saved in variables/), not constants folded into StableHLO.
    tf_apply = jax2tf.convert(fn.apply, polymorphic_shapes=polymorphic, with_gradient=False)
    module = tf.Module()
    module.params = jax.tree_util.tree_map(lambda p: tf.Variable(np.asarray(p), trainable=False), fn.params)
    serve = tf_formats.serving_function(lambda *inputs: tf_apply(module.params, *inputs), trained)
    extra = {"contains_ops": ["XlaCallModule"], "xla_call_module_version": XLA_CALL_MODULE_VERSION}
    return tf_formats.save(module, serve, ctx, extra=extra)
