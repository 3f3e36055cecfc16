"""Export format ids (DESIGN.md artifact table) and what each model source can produce."""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Callable

FORMATS: tuple[str, ...] = (
    "torchscript-script",
    "torchscript-trace",
    "aoti",
    "onnx",
    "saved-model",
    "tflite",
    "tfjs-graph",
)

# Artifact location under models/<id>/ for each format (a file, or a folder for saved-model/tfjs).
FORMAT_PATHS: dict[str, str] = {
    "torchscript-script": "torchscript/scripted.pt",
    "torchscript-trace": "torchscript/traced.pt",
    "aoti": "aoti/model.pt2",
    "onnx": "onnx/model.onnx",
    "saved-model": "saved_model",
    "tflite": "tflite/model.tflite",
    "tfjs-graph": "tfjs",
}

# Formats each model source exports, in export order (tflite and tfjs-graph derive from saved-model).
SOURCE_FORMATS: dict[str, tuple[str, ...]] = {
    "torch": ("torchscript-script", "torchscript-trace", "aoti", "onnx"),
    "tensorflow": ("saved-model", "tflite", "tfjs-graph", "onnx"),
    "jax": ("onnx", "saved-model"),
}

# Default per-artifact tolerance: float32 kernels differ in summation order and fusion.
DEFAULT_TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}


@dataclasses.dataclass
class Exported:
    """What an exporter wrote, before hashing: extra manifest fields go in `fields`."""

    format: str
    path: Path  # absolute path of the file or folder written
    fields: dict = dataclasses.field(default_factory=dict)  # signature, keys, notes...


# Module with `export(fmt, trained, model_dir, done) -> Exported` for each model source.
_SOURCE_MODULES = {
    "torch": "builder.formats.torch_formats",
    "tensorflow": "builder.formats.tf_formats",
    "jax": "builder.formats.jax_formats",
}
# Formats converted from another artifact of the same model, which is then exported too.
DERIVED_FROM = {"tflite": "saved-model", "tfjs-graph": "saved-model"}


def plan(source: str, requested: tuple[str, ...]) -> tuple[str, ...]:
    """The formats to export for a model from `source`, in export order, with their prerequisites."""
    wanted = set(requested) | {DERIVED_FROM[f] for f in requested if f in DERIVED_FROM}
    return tuple(f for f in SOURCE_FORMATS[source] if f in wanted)


def exporter(source: str) -> Callable[..., Exported]:
    return importlib.import_module(_SOURCE_MODULES[source]).export
