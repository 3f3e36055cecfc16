"""The manifest (`models/manifest.json`): build, validate against the JSON Schema, write, read."""
from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources
from pathlib import Path

import jsonschema

from builder import hashing
from builder.formats import Exported

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
SCHEMA_NAME = "manifest.schema.json"
UNSAFE_OPS_NAME = "unsafe_ops.json"


def schema_text() -> str:
    return resources.files("builder").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")


def validate(doc: dict) -> None:
    """Raises jsonschema.ValidationError (with the failing path) if `doc` breaks the schema."""
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)


def artifact_entry(root: Path, exported: Exported, tolerance: dict, check: dict) -> dict:
    """The manifest entry of one artifact; `root` is the manifest's folder."""
    entry = {
        "format": exported.format,
        "path": exported.path.relative_to(root).as_posix(),
        "sha256": hashing.artifact_sha256(exported.path),
        "bytes": hashing.artifact_bytes(exported.path),
    }
    if exported.path.is_dir():
        entry["files"] = [
            {"path": rel, "sha256": hashing.file_sha256(exported.path / rel), "bytes": (exported.path / rel).stat().st_size}
            for rel in hashing.folder_files(exported.path)
        ]
    return entry | exported.fields | {"tolerance": dict(tolerance), "check": check}


def model_entry(trained, golden: dict, artifacts: list[dict]) -> dict:
    """The manifest entry of one model (`trained` is a builder.models.common.Trained)."""
    return {
        "id": trained.model_id,
        "source": trained.source,
        "parameters": trained.parameters,
        "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, trained.n_inputs]}],
        "outputs": [{"name": "output", "dtype": "float32", "shape": [-1, trained.n_outputs]}],
        "training": trained.training,
        "golden": golden,
        "artifacts": artifacts,
    }


def write_unsafe_ops(folder: Path) -> dict:
    """Copies the committed op deny-list beside the manifest; returns the manifest's `safety` entry."""
    text = resources.files("builder").joinpath(UNSAFE_OPS_NAME).read_text(encoding="utf-8")
    path = folder / UNSAFE_OPS_NAME
    path.write_text(text, encoding="utf-8")
    return {"unsafe_ops": {"path": UNSAFE_OPS_NAME, "sha256": hashing.file_sha256(path)}}


def unsafe_ops() -> list[str]:
    """The op names of the committed deny-list."""
    doc = json.loads(resources.files("builder").joinpath(UNSAFE_OPS_NAME).read_text(encoding="utf-8"))
    return [entry["op"] for entry in doc["ops"]]


def build(models: list[dict], producer: dict, export: dict) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "producer": producer,
        "export": export,
        "models": models,
    }


def write(doc: dict, folder: Path) -> Path:
    """Validates and writes the manifest and its schema into `folder`."""
    validate(doc)
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    (folder / SCHEMA_NAME).write_text(schema_text(), encoding="utf-8")
    return path


def read(path: Path) -> dict:
    """Reads and validates a manifest; raises ValueError with one clear line on any problem."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such manifest (run `python -m builder export`)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None
    try:
        validate(doc)
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise ValueError(f"{path}: {where}: {e.message}") from None
    return doc


def finite_or_none(x: float) -> float | None:
    """JSON has no NaN/Inf; the manifest stores non-finite statistics as null."""
    return x if math.isfinite(x) else None
