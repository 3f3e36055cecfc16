"""Conversions through ONNX, so every framework reaches every client (docs/builder.md, "Conversions").

- ONNX -> TF SavedModel with plain TF ops, by onnx2tf, for torch and JAX models: Java, Go, TFLite
  and TF.js then run them. onnx2tf builds a Keras (tf_keras) model whose weights are constants; we
  serve that model under a signature keyed by the model's own tensor names (onnx2tf names outputs
  `output_0`...), keeping the model's layout at the boundary (`keep_shape_absolutely_input_names`:
  NCHW stays NCHW for a torch CNN).
- ONNX -> PyTorch, by onnx2torch, for Keras and JAX models: traced to TorchScript and compiled by
  AOTInductor, so the C++ client and `builder._native` run them. Measured against onnx2tf 2.x's
  PyTorch output (which needs Python 3.12 and moves pins) and against nothing at all: onnx2torch
  1.5.15 installs without moving a pin, converts the Keras and JAX graphs to <=1.2e-7, and its
  modules trace; `torch.jit.script` fails on them (`aten::eq ... NoneType`), so only the trace edge
  and AOTInductor start from it (../shared/FACTS.md).

Every converted artifact is checked against the source framework's own outputs like any other
(builder.pipeline.check_artifact), never against the ONNX it came from: a conversion that is silently
wrong fails the export. onnx2tf 1.28.8 is, for instance, silently wrong (max diff ~10) on the char
transformer when its sequence length equals its embedding width (64): its layout inference cannot
tell the two axes apart.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from builder.formats import ExportContext, Exported, Unsupported
from builder.versions import package_version


def padded_dims(ctx: ExportContext, converter: str) -> dict[str, int]:
    """The dynamic dims other than batch, each with the size the conversion fixes it at.

    onnx2tf keeps a dynamic batch but no other dynamic dim (it fails on a dynamic sequence:
    unknown-rank transposes, `Dimension must be 6 but is 3`). A dim along which the model is causal
    (`Trained.causal_dims`) and bounded is fixed at its max: the served graph pads inputs on the
    right to it and slices the outputs back, which changes no output (position i never sees i + 1),
    so the artifact keeps the dynamic dim at its signature. Any other dynamic dim: Unsupported."""
    trained = ctx.trained
    bounds = {d.name: d.max for d in trained.dims}
    dynamic = sorted({d for s in trained.inputs for d in s.dim_names if d != "batch"})
    fixed = [d for d in dynamic if d not in trained.causal_dims or bounds.get(d) is None]
    if fixed:
        raise Unsupported(
            f"{converter} cannot keep the dynamic dim(s) {', '.join(fixed)} (not causal and bounded, so not padded)"
        )
    return {d: bounds[d] for d in dynamic}


def onnx_to_keras(ctx: ExportContext):
    """The ONNX artifact converted by onnx2tf into a tf_keras model (once per model)."""
    if "onnx2tf" in ctx.scratch:
        return ctx.scratch["onnx2tf"]
    padded = padded_dims(ctx, f"onnx2tf {package_version('onnx2tf')}")
    import onnx2tf

    names = [s.name for s in ctx.trained.inputs]
    with tempfile.TemporaryDirectory(prefix="deploykit-onnx2tf-") as tmp:
        # onnx2tf rewrites its input file in place (shape inference): convert a copy.
        copy = Path(tmp) / "model.onnx"
        shutil.copyfile(ctx.done["onnx"].path, copy)
        _fix_dims(copy, padded)
        logging.getLogger("onnx2tf").setLevel(logging.ERROR)
        # onnx2tf runs `onnxsim` as a command: find the one installed beside this interpreter.
        path_env = os.environ.get("PATH", "")
        os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), path_env])
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                model = onnx2tf.convert(
                    input_onnx_file_path=str(copy),
                    output_folder_path=str(Path(tmp) / "out"),
                    keep_shape_absolutely_input_names=names,
                    # onnxsim (a subprocess, three runs) folds the shape arithmetic of a padded
                    # (fixed-size) graph, which onnx2tf needs (else `Cannot take the length of
                    # shape with unknown rank`); a graph with only a dynamic batch does not need
                    # it, and skipping it takes a conversion from ~45 s to ~1 s.
                    not_use_onnxsim=not padded,
                    disable_model_save=True,
                    non_verbose=True,
                )
        finally:
            os.environ["PATH"] = path_env
    ctx.scratch["onnx2tf"] = model
    ctx.scratch["padded"] = padded
    return model


def _fix_dims(path: Path, sizes: dict[str, int]) -> None:
    """Rewrites, in place, the graph inputs' named dims in `sizes` as those fixed sizes."""
    if not sizes:
        return
    import onnx

    model = onnx.load(str(path))
    for value in model.graph.input:
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") and dim.dim_param in sizes:
                size = sizes[dim.dim_param]
                dim.ClearField("dim_param")
                dim.dim_value = size
    onnx.save(model, str(path))


def _padding_forward(forward, trained, sizes: dict[str, int]):
    """`forward` behind a right padding of each input's dims in `sizes` to those sizes, with every
    output sliced back to the inputs' own sizes of those dims."""
    import tensorflow as tf

    from builder.formats import tf_formats

    if not sizes:
        return forward

    def padded(*inputs):
        actual: dict[str, tf.Tensor] = {}
        feeds = []
        for spec, x in zip(trained.inputs, inputs, strict=True):
            pads = []
            for axis, dim in enumerate(spec.shape):
                if dim in sizes:
                    actual[dim] = tf.shape(x)[axis]
                    pads.append([0, sizes[dim] - actual[dim]])
                else:
                    pads.append([0, 0])
            feeds.append(tf.pad(x, pads))
        outputs = tf_formats.as_outputs(trained, forward(*feeds))
        result = {}
        for spec in trained.outputs:
            size = [actual.get(d, -1) for d in spec.shape]
            result[spec.name] = tf.slice(outputs[spec.name], [0] * len(size), tf.stack(size))
        return result

    return padded


def plain_saved_model(ctx: ExportContext, path: Path) -> dict:
    """Writes the onnx2tf model as a SavedModel at `path`; returns its manifest fields."""
    import tensorflow as tf

    from builder.formats import tf_formats

    model = onnx_to_keras(ctx)
    module = tf.Module()
    module.variables_ = list(model.variables)  # none today (onnx2tf folds weights into constants)
    padded = ctx.scratch["padded"]
    forward = _padding_forward(tf_formats.keras_forward(model), ctx.trained, padded)
    serve = tf_formats.serving_function(forward, ctx.trained)
    fields = tf_formats.save_at(path, module, serve, ctx.trained)
    return fields | {"converter": f"onnx2tf {package_version('onnx2tf')}"} | ({"padded_dims": padded} if padded else {})


def export_saved_model(ctx: ExportContext) -> Exported:
    path = ctx.path("saved-model")
    return Exported("saved-model", path, plain_saved_model(ctx, path))


def _scratch_saved_model(ctx: ExportContext) -> tuple[Path, dict]:
    """A plain-ops SavedModel for a model whose own SavedModel holds XlaCallModule (jax2tf), which
    neither TFLite nor TF.js converts: written once per model under the export's scratch folder."""
    if "plain-saved-model" not in ctx.scratch:
        folder = tempfile.TemporaryDirectory(prefix="deploykit-plain-saved-model-")
        ctx.scratch["tmp"] = folder  # removed when the model's export ends (ExportContext.scratch)
        path = Path(folder.name) / "saved_model"
        ctx.scratch["plain-saved-model"] = (path, plain_saved_model(ctx, path))
    return ctx.scratch["plain-saved-model"]


def export_tflite(ctx: ExportContext) -> Exported:
    from builder.formats import tf_formats

    saved, fields = _scratch_saved_model(ctx)
    exported = tf_formats.tflite_from(ctx, saved, fields)
    exported.fields["converter"] = fields["converter"]
    return exported


def export_tfjs(ctx: ExportContext) -> Exported:
    from builder.formats import tf_formats

    saved, fields = _scratch_saved_model(ctx)
    exported = tf_formats.tfjs_from(ctx, saved, fields)
    exported.fields["converter"] = fields["converter"]
    return exported


def _batch_free_reshapes(model, trained) -> None:
    """Gives every Reshape whose target shape is computed at run time (tf2onnx's Flatten: Shape ->
    Concat) a constant target, -1 at the one position that follows the batch, in place.

    torch.jit.trace records the computed sizes of the example batch as constants (measured on
    cnn_keras: `shape '[2, 512]' is invalid for input of size 512` at batch 1). The target is
    probed with onnxruntime at two batch sizes: a position that changes becomes -1, the others
    keep their value; a Reshape with no or several changing positions is left alone. The export's
    check (batch 1 and the golden batch) then proves the rewrite."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    from builder.formats import torch_formats

    initializers = {i.name for i in model.graph.initializer}
    computed = list(
        dict.fromkeys(n.input[1] for n in model.graph.node if n.op_type == "Reshape" and n.input[1] not in initializers)
    )
    if not computed:
        return
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.extend(helper.make_empty_tensor_value_info(name) for name in computed)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    shapes = []
    for batch in (2, 3):
        feeds = {}
        for spec, example in zip(trained.inputs, torch_formats.example_inputs(trained), strict=True):
            array = example.numpy()
            feeds[spec.name] = np.zeros((batch, *array.shape[1:]), array.dtype)
        shapes.append(dict(zip(computed, session.run(computed, feeds), strict=True)))
    for node in model.graph.node:
        if node.op_type != "Reshape" or node.input[1] not in computed:
            continue
        at_2, at_3 = shapes[0][node.input[1]], shapes[1][node.input[1]]
        moving = [i for i, (a, b) in enumerate(zip(at_2, at_3, strict=True)) if a != b]
        if len(moving) != 1:
            continue
        target = at_2.copy()
        target[moving[0]] = -1
        name = f"{node.input[1]}__batch_free"
        model.graph.initializer.append(numpy_helper.from_array(target.astype(np.int64), name))
        node.input[1] = name


def _constant_reshapes(module) -> None:
    """Replaces, in place, onnx2torch's Reshape modules whose target is a constant with a plain
    `torch.reshape` to that shape. onnx2torch reads the target from a tensor at run time, which
    torch.export cannot trace (`Could not guard on data-dependent expression`, measured on
    cnn_keras); a Python tuple it can."""
    import torch
    from onnx2torch.node_converters.reshape import OnnxReshape

    graph = module.graph
    for node in list(graph.nodes):
        if node.op != "call_module" or not isinstance(module.get_submodule(node.target), OnnxReshape):
            continue
        source, shape = node.args
        if getattr(shape, "op", None) != "get_attr":
            continue
        owner, _, name = shape.target.rpartition(".")
        values = [int(v) for v in getattr(module.get_submodule(owner), name).tolist()]
        if 0 in values:  # ONNX's "copy this dim" needs the input's shape: left to onnx2torch
            continue
        with graph.inserting_before(node):
            replacement = graph.call_function(torch.reshape, (source, tuple(values)))
        node.replace_all_uses_with(replacement)
        graph.erase_node(node)
    graph.eliminate_dead_code()
    module.recompile()


def onnx_to_torch(ctx: ExportContext):
    """The ONNX artifact as a torch.nn.Module, by onnx2torch (once per model)."""
    if "onnx2torch" not in ctx.scratch:
        import onnx
        import onnx2torch
        import torch

        graph = onnx.load(str(ctx.done["onnx"].path))
        _batch_free_reshapes(graph, ctx.trained)
        try:
            module = onnx2torch.convert(graph).eval()
        except NotImplementedError as e:  # an op or attribute it lacks, e.g. textcls_keras's SAME_UPPER pooling
            raise Unsupported(f"onnx2torch {package_version('onnx2torch')} cannot convert it: {e}") from e
        _constant_reshapes(module)
        # onnx2torch leaves some weights as views sharing one storage; torch.export.save then warns
        # ("No complete tensor found in the group"). Give every tensor its own storage.
        with torch.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                tensor.data = tensor.data.clone(memory_format=torch.contiguous_format)
        ctx.scratch["onnx2torch"] = module
    return ctx.scratch["onnx2torch"]


def export_torchscript_trace(ctx: ExportContext) -> Exported:
    from builder.formats import torch_formats

    exported = torch_formats.trace(ctx, onnx_to_torch(ctx))
    exported.fields["converter"] = f"onnx2torch {package_version('onnx2torch')}"
    return exported


def export_aoti(ctx: ExportContext) -> Exported:
    from builder.formats import torch_formats

    exported = torch_formats.aoti(ctx, onnx_to_torch(ctx))
    exported.fields["converter"] = f"onnx2torch {package_version('onnx2torch')}"
    return exported
