"""JAX/Flax exports: ONNX through jax2onnx, and a SavedModel through jax2tf.

jax2tf in jax 0.10 always uses native serialization, so the SavedModel's serving function wraps one
`XlaCallModule` op holding StableHLO. The manifest records that: TF.js cannot run it, and a TF
runtime older than the exporter may reject its StableHLO version (docs/findings.md).

jax 0.10.2 serializes that module for StableHLO 1.15.0 (its "4 weeks old" target), which TF Java
1.1.0 (TensorFlow 2.18) cannot deserialize. Measured on the TF Java client with mlp_flax: modules
serialized for 0.9.0, 1.0.0, 1.5.0, 1.7.0 and 1.8.0 run with parity, 1.9.0 and 1.15.0 fail with
"Cannot deserialize computation". TF 2.19 (Python, the Go client's C library) reads 1.8.0 too, so
we serialize for 1.8.0. jax has no public setting for the target: `stablehlo_target` swaps the one
private function that picks it (`jax._src.export._export._module_to_bytecode`) while the SavedModel
is written; jax is pinned in requirements/lock.txt, and tests/test_export.py reads the version back
from the saved module.

jax 0.10 serializes with calling-convention version 10 by default, but TF 2.19's XlaCallModule
accepts at most version 9 ("supports up to serialization version 9"), so we pin version 9, the
oldest jax 0.10 still writes and the newest the pinned TF (and TF Java 1.1 / TF 2.18) can read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import numpy as np

from builder.formats import ExportContext, Exported, onnx_checks
from builder.versions import package_version

XLA_CALL_MODULE_VERSION = 9
STABLEHLO_TARGET = "1.8.0"


@contextlib.contextmanager
def stablehlo_target(version: str) -> Iterator[None]:
    """jax serializes StableHLO modules for `version` inside this block."""
    from jax._src import xla_bridge
    from jax._src.export import _export
    from jax._src.lib import _jax

    original = _export._module_to_bytecode

    def serialize(module) -> bytes:
        return _jax.mlir.serialize_portable_artifact(module, version, xla_bridge.get_backend().serialize_with_sdy)

    _export._module_to_bytecode = serialize
    try:
        yield
    finally:
        _export._module_to_bytecode = original


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
    extra = {
        "contains_ops": ["XlaCallModule"],
        "xla_call_module_version": XLA_CALL_MODULE_VERSION,
        "stablehlo_target": STABLEHLO_TARGET,
    }
    with stablehlo_target(STABLEHLO_TARGET):  # the module is lowered when the serving function is traced
        serve = tf_formats.serving_function(lambda *inputs: tf_apply(module.params, *inputs), trained)
        return tf_formats.save(module, serve, ctx, extra=extra)
