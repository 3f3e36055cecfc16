"""Which artifacts `serve` serves, under which model names, and how each is loaded.

A served model runs with the same in-process runtime `verify` uses (builder.runtimes.
python_loaders): onnxruntime for ONNX, LibTorch (torch) for TorchScript and `.pt2`, TensorFlow for
the SavedModel, with the artifact's boundary casts. TFLite and TF.js artifacts are for devices and
browsers, not servers, and are not served.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from builder import manifest as manifest_io

# In order of preference: the default format of a model is the first it has.
SERVE_FORMATS = ("onnx", "torchscript-script", "torchscript-trace", "saved-model", "aoti")


class ServeError(ValueError):
    """A usage error of `serve` (exit 2): unknown model id, a format nobody can serve."""


@dataclasses.dataclass(frozen=True)
class Servable:
    """One artifact served under `name` (the protocol's model name)."""

    name: str
    model: dict  # the manifest's model entry (tensor specs, dims, tolerance)
    artifact: dict  # the manifest's artifact entry
    path: Path  # the artifact's file or folder

    @property
    def batched(self) -> bool:
        """Every input and output leads with the `batch` dim, so requests can be batched together."""
        return all(t["shape"] and t["shape"][0] == "batch" for t in self.model["inputs"] + self.model["outputs"])


def served_name(model_id: str, fmt: str, several: bool) -> str:
    """`{id}` when one format per model is served, else `{id}-{format}` (docs/serving.md)."""
    return f"{model_id}-{fmt}" if several else model_id


def choose(manifest_path: Path, models: list[str] | None = None, formats: list[str] | None = None) -> list[Servable]:
    """The artifacts to serve: each chosen model's first format in SERVE_FORMATS, or every listed
    format it has (`formats=["all"]` means every servable format). Raises ServeError for an id the
    manifest lacks, a format that is not servable, or nothing to serve."""
    manifest_path = Path(manifest_path)
    doc = manifest_io.read(manifest_path)
    ids = [m["id"] for m in doc["models"]]
    unknown = [m for m in models or [] if m not in ids]
    if unknown:
        raise ServeError(f"no model {', '.join(unknown)} in {manifest_path} (it has {', '.join(ids)})")
    wanted = list(SERVE_FORMATS) if formats == ["all"] else formats
    bad = [f for f in wanted or [] if f not in SERVE_FORMATS]
    if bad:
        raise ServeError(f"cannot serve format {', '.join(bad)}: servable formats are {', '.join(SERVE_FORMATS)}")
    several = bool(wanted) and len(wanted) > 1
    out: list[Servable] = []
    for model in doc["models"]:
        if models and model["id"] not in models:
            continue
        have = {a["format"]: a for a in model["artifacts"]}
        picked = [f for f in (wanted or SERVE_FORMATS) if f in have]
        for fmt in picked if wanted else picked[:1]:
            artifact = have[fmt]
            out.append(
                Servable(
                    served_name(model["id"], fmt, several), model, artifact, manifest_path.parent / artifact["path"]
                )
            )
    if not out:
        raise ServeError(
            f"nothing to serve in {manifest_path}: no chosen model has a {' or '.join(wanted or SERVE_FORMATS)} artifact"
        )
    return out


def load(servable: Servable):
    """`predict({input: array}) -> {output: array}` for the artifact, as verify loads it."""
    from builder.runtimes import python_loaders

    return python_loaders.load(servable.path, servable.artifact, servable.model)
