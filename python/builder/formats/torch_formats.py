"""PyTorch exports: TorchScript (scripted, traced), AOTInductor `.pt2`, and ONNX (dynamo exporter)."""
from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Iterator

import torch

from builder.formats import FORMAT_PATHS, Exported

INPUT_NAME, OUTPUT_NAME = "input", "output"


def _example(n_inputs: int, batch: int = 2) -> tuple[torch.Tensor]:
    return (torch.zeros(batch, n_inputs),)


def _dynamic_batch() -> tuple[dict]:
    # positional (not by argument name): nn.Sequential's forward names its argument `input`
    return ({0: torch.export.Dim("batch", min=1, max=1 << 20)},)


@contextlib.contextmanager
def torchscript_deprecation_silenced() -> Iterator[None]:
    """torch 2.13 deprecates torch.jit in favour of torch.export; TorchScript is still what
    LibTorch's torch::jit::load reads, so we use it on purpose and silence just that warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*deprecated.*torch\.export", category=DeprecationWarning)
        yield


def export_torchscript_script(model: torch.nn.Module, dest: Path, n_inputs: int) -> Exported:
    path = dest / FORMAT_PATHS["torchscript-script"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with torchscript_deprecation_silenced():
        torch.jit.save(torch.jit.script(model), str(path))
    return Exported("torchscript-script", path, {"method": "forward"})


def export_torchscript_trace(model: torch.nn.Module, dest: Path, n_inputs: int) -> Exported:
    path = dest / FORMAT_PATHS["torchscript-trace"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with torchscript_deprecation_silenced():
        torch.jit.save(torch.jit.trace(model, _example(n_inputs)), str(path))
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


def export_aoti(model: torch.nn.Module, dest: Path, n_inputs: int) -> Exported:
    path = dest / FORMAT_PATHS["aoti"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _export_noise_silenced():
        program = torch.export.export(model, _example(n_inputs), dynamic_shapes=_dynamic_batch())
        torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    return Exported("aoti", path, {"device": "cpu"})


def export_onnx(model: torch.nn.Module, dest: Path, n_inputs: int) -> Exported:
    path = dest / FORMAT_PATHS["onnx"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _export_noise_silenced():
        program = torch.onnx.export(
            model,
            _example(n_inputs),
            dynamo=True,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=_dynamic_batch(),
            external_data=False,
            verbose=False,
        )
        program.save(str(path))
    return Exported("onnx", path, {"input_keys": {"input": INPUT_NAME}, "output_keys": {"output": OUTPUT_NAME}})


EXPORTERS = {
    "torchscript-script": export_torchscript_script,
    "torchscript-trace": export_torchscript_trace,
    "aoti": export_aoti,
    "onnx": export_onnx,
}


def export(fmt: str, trained, model_dir: Path, done: dict[str, Exported]) -> Exported:
    return EXPORTERS[fmt](trained.module, model_dir, trained.n_inputs)
