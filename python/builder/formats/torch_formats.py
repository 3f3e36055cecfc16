"""PyTorch exports: TorchScript (scripted, traced), AOTInductor `.pt2`, and ONNX (dynamo exporter)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import platform
import subprocess
import sys
import warnings
from collections.abc import Iterator

import torch

from builder.formats import ExportContext, Exported, Unsupported, background, error_line, onnx_checks
from builder.formats.artifact_cache import ArtifactCache
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
    dtypes = {
        "float32": torch.float32,
        "float16": torch.float16,
        "int32": torch.int32,
        "int64": torch.int64,
        "uint8": torch.uint8,
        "bool": torch.bool,
    }
    return tuple(torch.zeros(spec.concrete(sizes), dtype=dtypes[spec.dtype]) for spec in trained.inputs)


def dynamic_shapes(trained: Trained) -> tuple[dict, ...]:
    """torch.export dims for every named dim, one Dim object per name so inputs that share a name
    share the size. Positional, not by argument name (nn.Sequential names its argument `input`)."""
    dims = {
        d.name: torch.export.Dim(d.name, min=max(d.min, 1), max=d.max if d.max is not None else 1 << 20)
        for d in trained.dims
    }
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
    # A user's model sits behind a boundary module (builder.user_frameworks) that script cannot
    # compile; `script_target` is the model itself when it already takes and returns tensors.
    module = getattr(ctx.trained.module, "script_target", ctx.trained.module)
    if module is None:
        raise Unsupported(
            "torch.jit.script compiles the model as it is, and this one takes keyword inputs or returns a dict: "
            "torchscript-trace carries it"
        )
    with torchscript_deprecation_silenced():
        try:
            scripted = torch.jit.script(module)
        except Exception as e:
            if not ctx.trained.user:
                raise
            # Python that TorchScript's compiler does not know (most third-party models): an op the
            # format cannot express, so only this format is skipped.
            raise Unsupported(f"torch.jit.script cannot compile it: {error_line(e)}") from e
        torch.jit.save(scripted, str(path))
    return Exported("torchscript-script", path, {"method": "forward"})


def export_torchscript_trace(ctx: ExportContext) -> Exported:
    return trace(ctx, ctx.trained.module)


def trace(ctx: ExportContext, module: torch.nn.Module) -> Exported:
    """The torchscript-trace artifact of `module` (the model's own, or one converted to torch)."""
    path = ctx.path("torchscript-trace")
    with torchscript_deprecation_silenced():
        torch.jit.save(torch.jit.trace(module, example_inputs(ctx.trained)), str(path))
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
            # Two inputs sharing the dim `batch` give the ONNX exporter one constraint under two
            # names; it keeps one and says so (the ONNX graph's dims are checked right after).
            warnings.filterwarnings("ignore", message=r"# The axis name: .* will not be used", category=UserWarning)
            yield
    finally:
        onnx_logger.setLevel(level)


def export_aoti(ctx: ExportContext) -> Exported:
    return aoti(ctx, ctx.trained.module)


def aoti(ctx: ExportContext, module: torch.nn.Module) -> Exported:
    """torch.export here; the AOTInductor compile (g++, the slow part) in the background worker,
    from the program saved beside the artifact (the worker deletes it once the compile ends), or
    the package from the cache when this program was compiled by this toolchain before."""
    path = ctx.path("aoti")
    program_path = path.with_name("program.pt2.tmp")
    with _export_noise_silenced():
        program = torch.export.export(module, example_inputs(ctx.trained), dynamic_shapes=dynamic_shapes(ctx.trained))
        torch.export.save(program, str(program_path))
    fields = {"device": "cpu"}
    if ctx.cache_root is None:
        return Exported(
            "aoti", path, fields, pending=background.submit(background.compile_aoti, str(program_path), str(path))
        )
    cache = ArtifactCache(ctx.cache_root, "aoti", ".pt2")
    key = cache.key([program_path], aoti_toolchain())
    if cache.fetch(key, path):
        program_path.unlink()
        return Exported("aoti", path, fields, from_cache=True)
    pending = background.submit(background.compile_aoti, str(program_path), str(path))
    return Exported("aoti", path, fields, pending=pending, cache=cache, key=key)


@functools.cache
def aoti_toolchain() -> tuple[str, ...]:
    """What an AOTInductor compile depends on besides the program: part of its cache key."""
    from torch._inductor import cpp_builder

    compiler = cpp_builder.get_cpp_compiler()
    try:
        version = subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        version = "unknown"
    settings = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(("TORCHINDUCTOR_", "TORCH_COMPILE_")))
    # The first item names how compile_aoti compiles: change it when its options change.
    return ("aoti-package-1", torch.__version__, sys.version, platform.machine(), compiler, version, *settings)


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
