"""A user's own ONNX file as the model's `onnx` artifact (builder.user_model): copied unchanged,
then converted like any exported ONNX graph (builder.formats.onnx_convert)."""

from __future__ import annotations

import shutil

from builder.formats import ExportContext, Exported, onnx_checks


def export_onnx(ctx: ExportContext) -> Exported:
    path = ctx.path("onnx")
    shutil.copyfile(ctx.trained.module, path)
    trained = ctx.trained
    names = {s.name: s.name for s in trained.inputs}, {s.name: s.name for s in trained.outputs}
    onnx_checks.check_dims(path, trained, *names)
    return Exported("onnx", path, {"input_keys": names[0], "output_keys": names[1]})
