"""The format registry: one row per artifact format, and the edges that produce them.

A row says where the artifact lives under `models/<id>/`, which Python loader reloads it and its
default tolerance. An edge says how one format is made from a framework (`torch`, `tensorflow`,
`jax`) or from another format (`saved-model` -> `tflite`). Each edge is one function
`export(ctx: ExportContext) -> Exported`, registered here by module and name, so adding a format
is one row plus one function, and adding a conversion is one edge plus one function.

The plan for a model is the closure of the requested formats over their prerequisites; every
artifact records the route it took (`via`, e.g. `["tensorflow", "saved-model", "tflite"]`).
"""

from __future__ import annotations

import dataclasses
import importlib
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.formats.artifact_cache import ArtifactCache
    from builder.models.common import Trained

# Float32 kernels differ in summation order and fusion.
DEFAULT_TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}


@dataclasses.dataclass(frozen=True)
class Format:
    id: str
    path: str  # under models/<id>/: a file, or a folder for saved-model / tfjs
    loader: str  # builder.runtimes.python_loaders function that reloads it
    summary: str
    # The runtime family that loads it and the oldest version known to (docs/contract.md, "Version
    # skew"); None: the exporting environment's version of that family (builder.versions).
    runtime: str
    min_version: str | None = None
    tolerance: dict = dataclasses.field(default_factory=lambda: dict(DEFAULT_TOLERANCE))


@dataclasses.dataclass(frozen=True)
class Edge:
    src: str  # a framework or a format id
    dst: str  # a format id
    exporter: str  # "module:function"
    # Source frameworks whose models may take this edge (None: all). jax2tf SavedModels hold one
    # XlaCallModule op, which neither the TF.js converter nor the TFLite one handles reliably.
    sources: tuple[str, ...] | None = None

    @property
    def from_source(self) -> bool:
        """The edge starts at the model itself (its framework, or the user's ONNX file), not at a format."""
        return self.src == self.dst or self.src not in FORMATS_BY_ID


# Export order: a format's prerequisites come first; ONNX before AOTInductor, because
# torch.onnx.export after torch.export in the same process can freeze a dynamic dim.
FORMAT_TABLE: tuple[Format, ...] = (
    Format(
        "torchscript-script", "torchscript/scripted.pt", "load_torchscript", "torch.jit.script, for LibTorch", "torch"
    ),
    Format("torchscript-trace", "torchscript/traced.pt", "load_torchscript", "torch.jit.trace, for LibTorch", "torch"),
    Format("onnx", "onnx/model.onnx", "load_onnx", "ONNX, for onnxruntime", "onnxruntime"),
    Format("aoti", "aoti/model.pt2", "load_aoti", "torch.export + AOTInductor, for AOTIModelPackageLoader", "torch"),
    # TF Java 1.1.0 (TF 2.18.0) runs every SavedModel the export writes: verify --require-all proves it.
    Format(
        "saved-model",
        "saved_model",
        "load_saved_model",
        "TF SavedModel with a serving signature",
        "tensorflow",
        "2.18.0",
    ),
    Format("tflite", "tflite/model.tflite", "load_tflite", "TFLite flatbuffer", "tensorflow"),
    Format("tfjs-graph", "tfjs", "load_tfjs_graph", "TF.js graph model", "tfjs"),
)
FORMATS_BY_ID: dict[str, Format] = {f.id: f for f in FORMAT_TABLE}
FORMATS: tuple[str, ...] = tuple(FORMATS_BY_ID)
FORMAT_PATHS: dict[str, str] = {f.id: f.path for f in FORMAT_TABLE}

# Conversions through ONNX (builder.formats.onnx_convert) take every framework to every client:
# torch -> ONNX -> SavedModel (then TFLite, TF.js), JAX -> ONNX -> TFLite / TF.js (its own SavedModel
# holds XlaCallModule, which neither converter reads), Keras and JAX -> ONNX -> PyTorch -> TorchScript
# (trace) / AOTInductor.
EDGES: tuple[Edge, ...] = (
    # A user's own .onnx file (builder.user_model): copied as the onnx artifact, then converted.
    Edge("onnx", "onnx", "builder.formats.onnx_file:export_onnx", sources=("onnx",)),
    Edge("torch", "torchscript-script", "builder.formats.torch_formats:export_torchscript_script"),
    Edge("torch", "torchscript-trace", "builder.formats.torch_formats:export_torchscript_trace"),
    Edge("torch", "onnx", "builder.formats.torch_formats:export_onnx"),
    Edge("torch", "aoti", "builder.formats.torch_formats:export_aoti"),
    Edge("tensorflow", "saved-model", "builder.formats.tf_formats:export_saved_model"),
    Edge("tensorflow", "onnx", "builder.formats.tf_formats:export_onnx"),
    Edge("jax", "onnx", "builder.formats.jax_formats:export_onnx"),
    Edge("jax", "saved-model", "builder.formats.jax_formats:export_saved_model"),
    Edge("saved-model", "tflite", "builder.formats.tf_formats:export_tflite", sources=("tensorflow", "torch", "onnx")),
    Edge(
        "saved-model", "tfjs-graph", "builder.formats.tf_formats:export_tfjs", sources=("tensorflow", "torch", "onnx")
    ),
    Edge("onnx", "saved-model", "builder.formats.onnx_convert:export_saved_model", sources=("torch", "onnx")),
    Edge("onnx", "tflite", "builder.formats.onnx_convert:export_tflite", sources=("jax",)),
    Edge("onnx", "tfjs-graph", "builder.formats.onnx_convert:export_tfjs", sources=("jax",)),
    Edge(
        "onnx",
        "torchscript-trace",
        "builder.formats.onnx_convert:export_torchscript_trace",
        sources=("tensorflow", "jax", "onnx"),
    ),
    Edge("onnx", "aoti", "builder.formats.onnx_convert:export_aoti", sources=("tensorflow", "jax", "onnx")),
)
# What a model comes from: a framework, or an ONNX file (a user's model, builder.user_model).
SOURCES = ("torch", "tensorflow", "jax", "onnx")


@dataclasses.dataclass
class Exported:
    """What an exporter wrote, before hashing: extra manifest fields go in `fields`."""

    format: str
    path: Path  # absolute path of the file or folder written
    fields: dict = dataclasses.field(default_factory=dict)  # signature, keys, boundary_dtypes, notes...
    # Set while a worker still writes `path` (builder.formats.background): the future's result is
    # the worker's seconds. The export waits for it, then checks the artifact like any other.
    pending: Future | None = None
    # A slow artifact's cache entry: `key` to store it under once its check has passed, or
    # `from_cache` when it was copied from there (builder.formats.artifact_cache).
    cache: ArtifactCache | None = None
    key: str | None = None
    from_cache: bool = False


class Unsupported(Exception):
    """An edge cannot express this model (an op, a dynamic dim): the export skips that format and
    every format made from it, says why in the manifest's `skipped` list, and goes on (--strict
    makes it an error)."""


@dataclasses.dataclass
class ExportContext:
    """What an edge's exporter gets: the trained model, where to write, and the formats already
    written for this model (a derived format reads its source artifact from `done`)."""

    trained: Trained
    model_dir: Path
    done: dict[str, Exported]
    cache_root: Path | None = None  # where slow artifacts are cached; None: no cache
    # Shared by the model's edges: an intermediate two edges both start from (a converted module),
    # computed once. Dropped when the model's export ends (a TemporaryDirectory in it is removed).
    scratch: dict = dataclasses.field(default_factory=dict)

    def path(self, fmt: str) -> Path:
        """The artifact's path for `fmt`, its parent folder created."""
        path = self.model_dir / FORMAT_PATHS[fmt]
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def error_line(error: Exception, limit: int = 300) -> str:
    """`Type: first line of the message` (at most `limit` characters of it): a converter's
    error as a skipped format's one-line reason."""
    text = str(error).strip()
    return f"{type(error).__name__}: {(text.splitlines()[0] if text else '')[:limit]}"


def drop_scratch(scratch: dict) -> None:
    """Ends a model's scratch: removes its temporary folders, drops its converted modules."""
    for value in scratch.values():
        if isinstance(value, tempfile.TemporaryDirectory):
            value.cleanup()
    scratch.clear()


def min_runtime(fmt: str) -> dict[str, str]:
    """The artifact's `min_runtime` manifest field: {runtime family: oldest version known to load it}."""
    from builder import versions

    row = FORMATS_BY_ID[fmt]
    return {row.runtime: row.min_version or versions.runtime_version(row.runtime)}


def routes(source: str) -> dict[str, tuple[str, ...]]:
    """Every format reachable from `source`, with its route (`via`): the fewest edges, and among
    equals the edge listed first in EDGES."""
    best: dict[str, tuple[str, ...]] = {}
    frontier = []
    for edge in EDGES:  # from the model itself
        if edge.from_source and edge.src == source and edge.dst not in best:
            best[edge.dst] = (source, edge.dst)
            frontier.append(edge.dst)
    while frontier:  # then format to format
        nxt = []
        for node in frontier:
            for edge in EDGES:
                if edge.from_source or edge.src != node or edge.dst in best:
                    continue
                if edge.sources is None or source in edge.sources:
                    best[edge.dst] = best[node] + (edge.dst,)
                    nxt.append(edge.dst)
        frontier = nxt
    return best


def reachable(source: str) -> tuple[str, ...]:
    found = routes(source)
    return tuple(f for f in FORMATS if f in found)


def plan(source: str, requested: tuple[str, ...] | list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(format, via) to export for a model from `source`, in export order: the requested formats it
    can reach plus every format on their routes."""
    found = routes(source)
    wanted = {step for fmt in requested if fmt in found for step in found[fmt][1:]}
    # Shorter routes first (a format's prerequisites before it), then the table's order.
    ordered = sorted(wanted, key=lambda f: (len(found[f]), FORMATS.index(f)))
    return tuple((f, found[f]) for f in ordered)


def exporter(src: str, dst: str) -> Callable[[ExportContext], Exported]:
    for edge in EDGES:
        if (edge.src, edge.dst) == (src, dst):
            module, name = edge.exporter.split(":")
            return getattr(importlib.import_module(module), name)
    raise KeyError(f"no edge {src} -> {dst}")
