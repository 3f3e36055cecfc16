"""PyTorch exports: TorchScript (scripted, traced), AOTInductor `.pt2`, and ONNX (dynamo exporter)."""
from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Iterator

import torch

from builder.formats import ExportContext, Exported, background, onnx_checks
from builder.models.common import Trained

# Example sizes of dynamic dims when tracing: above 1 (torch.export specialises dims of size 0
# and 1) and inside each dim's bounds.
EXAMPLE_SIZES = {"batch": 2}


def example_sizes(trained: Trained) -> dict[str, int]:
    sizes = {}
    for dim in trained.dims:
        size = EXAMPLE_SIZES.get(dim.name, trained.golden_sizes.get(dim.name, 3))
        size = max(size, dim.min, 2)
        sizes[dim.name] = min(size, dim.max) if dim.max is not None else size
    return sizes


def example_inputs(trained: Trained) -> tuple[torch.Tensor, ...]:
    """Zeros of each input's spec at the example sizes, in the model's positional order."""
    sizes = example_sizes(trained)
    dtypes = {"float32": torch.float32, "float16": torch.float16, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8, "bool": torch.bool}
    return tuple(torch.zeros(spec.concrete(sizes), dtype=dtypes[spec.dtype]) for spec in trained.inputs)


def dynamic_shapes(trained: Trained) -> tuple[dict, ...]:
    """torch.export dims for every named dim, one Dim object per name so inputs that share a name
    share the size. Positional, not by argument name (nn.Sequential names its argument `input`)."""
    dims = {d.name: torch.export.Dim(d.name, min=max(d.min, 1), max=d.max if d.max is not None else 1 << 20) for d in trained.dims}
    return tuple({axis: dims[d] for axis, d in enumerate(spec.shape) if isinstance(d, str)} for spec in trained.inputs)


@contextlib.contextmanager
def torchscript_deprecation_silenced() -> Iterator[None]:
    """torch 2.13 deprecates torch.jit in favour of torch.export; TorchScript is still what
    LibTorch's torch::jit::load reads, so we use it on purpose and silence just that warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*deprecated.*torch\.export", category=DeprecationWarning)
        yield


def export_torchscript_script(ctx: ExportContext) -> Exported:
    path = ctx.path("torchscript-script")
    with torchscript_deprecation_silenced():
        torch.jit.save(torch.jit.script(ctx.trained.module), str(path))
    return Exported("torchscript-script", path, {"method": "forward"})


def export_torchscript_trace(ctx: ExportContext) -> Exported:
    path = ctx.path("torchscript-trace")
    with torchscript_deprecation_silenced():
        torch.jit.save(torch.jit.trace(ctx.trained.module, example_inputs(ctx.trained)), str(path))
    return Exported("torchscript-trace", path, {"method": "forward"})


@contextlib.contextmanager
def _export_noise_silenced() -> Iterator[None]:
    """torch.export and the ONNX exporter warn about torch internals (pytree LeafSpec) and log that
    torchvision ops are skipped; neither concerns these models."""
    onnx_logger = logging.getLogger("torch.onnx")
    level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated", category=FutureWarning)
            yield
    finally:
        onnx_logger.setLevel(level)


def export_aoti(ctx: ExportContext) -> Exported:
    """torch.export here; the AOTInductor compile (g++, the slow part) in the background worker,
    from the program saved beside the artifact (the worker deletes it once the compile ends)."""
    path = ctx.path("aoti")
    program_path = path.with_name("program.pt2.tmp")
    with _export_noise_silenced():
        program = torch.export.export(ctx.trained.module, example_inputs(ctx.trained), dynamic_shapes=dynamic_shapes(ctx.trained))
        torch.export.save(program, str(program_path))
    return Exported("aoti", path, {"device": "cpu"}, pending=background.submit(background.compile_aoti, str(program_path), str(path)))


def export_onnx(ctx: ExportContext) -> Exported:
    trained = ctx.trained
    path = ctx.path("onnx")
    with _export_noise_silenced():
        program = torch.onnx.export(
            trained.module,
            example_inputs(trained),
            dynamo=True,
            input_names=[s.name for s in trained.inputs],
            output_names=[s.name for s in trained.outputs],
            dynamic_shapes=dynamic_shapes(trained),
            external_data=False,
            verbose=False,
        )
        program.save(str(path))
    names = {s.name: s.name for s in trained.inputs}, {s.name: s.name for s in trained.outputs}
    onnx_checks.check_dims(path, trained, *names)
    return Exported("onnx", path, {"input_keys": names[0], "output_keys": names[1]})
