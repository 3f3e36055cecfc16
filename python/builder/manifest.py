"""The manifest (`models/manifest.json`): build, validate against the JSON Schema, write, read."""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import resources
from pathlib import Path

import jsonschema

from builder import formats, hashing, tensors
from builder.formats import Exported

SCHEMA_VERSION = 2
MANIFEST_NAME = "manifest.json"
SCHEMA_NAME = "manifest.schema.json"
UNSAFE_OPS_NAME = "unsafe_ops.json"


def schema_text() -> str:
    return resources.files("builder").joinpath(SCHEMA_NAME).read_text(encoding="utf-8")


class VersionError(ValueError):
    """The manifest's schema_version is not the one this builder reads (clients exit 3 here)."""


def validate(doc: dict) -> None:
    """Raises VersionError for another schema_version, jsonschema.ValidationError (with the failing
    path) if `doc` breaks the schema, and ValueError for the contract's rules a schema cannot say."""
    if (
        not isinstance(doc, dict)
        or type(doc.get("schema_version")) is not int
        or doc["schema_version"] != SCHEMA_VERSION
    ):
        version = doc.get("schema_version") if isinstance(doc, dict) else None
        raise VersionError(f"schema_version {version!r} is not supported (this builder reads {SCHEMA_VERSION})")
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    for model in doc["models"]:
        if problem := model_problem(model):
            raise ValueError(f"model {model.get('id')}: {problem}")


KEYED_FORMATS = ("onnx", "saved-model", "tflite", "tfjs-graph")


def model_problem(model: dict) -> str | None:
    """The first contract rule (docs/contract.md, "Tensor specs") `model` breaks, or None."""
    for what in ("inputs", "outputs"):
        names = [t["name"] for t in model[what]]
        if len(set(names)) != len(names):
            return f"two {what} share a name: {names}"
    if not model["inputs"] or not model["outputs"]:
        return "a model needs at least one input and one output"
    used = {d for t in model["inputs"] + model["outputs"] for d in t["shape"] if isinstance(d, str)}
    for name, bounds in model.get("dims", {}).items():
        if name not in used:
            return f"dims names {name!r}, which no shape uses"
        if bounds.get("max") is not None and bounds.get("min", 0) > bounds["max"]:
            return f"dim {name}: min {bounds['min']} > max {bounds['max']}"
    inputs, outputs = {t["name"]: t for t in model["inputs"]}, {t["name"]: t for t in model["outputs"]}
    for artifact in model["artifacts"]:
        where = f"artifact {artifact['format']}"
        for key, specs in (("input_keys", inputs), ("output_keys", outputs)):
            keys = artifact.get(key)
            if keys is None:
                if artifact["format"] in KEYED_FORMATS:
                    return f"{where} has no {key}"
                continue
            if set(keys) != set(specs):
                return f"{where}: {key} name {sorted(keys)}, the model's tensors are {sorted(specs)}"
        unknown = set(artifact["tolerance"].get("outputs") or {}) - set(outputs)
        if unknown:
            return f"{where}: tolerance names {sorted(unknown)}, which are no outputs of the model"
        for name, dtype in (artifact.get("boundary_dtypes") or {}).items():
            spec = inputs.get(name) or outputs.get(name)
            if spec is None:
                return f"{where}: boundary_dtypes names {name!r}, which is no tensor of the model"
            if (spec["dtype"], dtype) not in tensors.BOUNDARY_CASTS:
                return f"{where}: boundary cast {spec['dtype']} -> {dtype} for {name} is not allowed"
    return None


def artifact_entry(root: Path, exported: Exported, via: tuple[str, ...], tolerance: dict, check: dict) -> dict:
    """The manifest entry of one artifact; `root` is the manifest's folder."""
    entry = {
        "format": exported.format,
        "path": exported.path.relative_to(root).as_posix(),
        "sha256": hashing.artifact_sha256(exported.path),
        "bytes": hashing.artifact_bytes(exported.path),
        "via": list(via),
    }
    if exported.path.is_dir():
        entry["files"] = [
            {
                "path": rel,
                "sha256": hashing.file_sha256(exported.path / rel),
                "bytes": (exported.path / rel).stat().st_size,
            }
            for rel in hashing.folder_files(exported.path)
        ]
    runtime = {"min_runtime": formats.min_runtime(exported.format)}
    return entry | runtime | exported.fields | {"tolerance": dict(tolerance), "check": check}


def model_specs(trained) -> dict:
    """The manifest's tensor specs of a trained model (`trained` is a builder.models.common.Trained)."""
    used = {d for t in trained.inputs + trained.outputs for d in t.dim_names}
    return {
        "inputs": [t.to_manifest() for t in trained.inputs],
        "outputs": [t.to_manifest() for t in trained.outputs],
        "dims": tensors.dims_table([d for d in trained.dims if d.name in used]),
    }


def model_entry(trained, golden: list[dict], artifacts: list[dict], skipped: list[dict] | None = None) -> dict:
    """The manifest entry of one model; `skipped`: formats an edge could not express, and why."""
    return {
        "id": trained.model_id,
        "source": trained.source,
        "parameters": trained.parameters,
        **trained.info,
        **model_specs(trained),
        **({"training": trained.training} if trained.training else {}),  # none for a user's model
        "golden": golden,
        "artifacts": artifacts,
    } | ({"skipped": skipped} if skipped else {})


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
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
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
    except VersionError as e:
        raise VersionError(f"{path}: {e}") from None
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise ValueError(f"{path}: {where}: {e.message}") from None
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return doc


def finite_or_none(x: float) -> float | None:
    """JSON has no NaN/Inf; the manifest stores non-finite statistics as null."""
    return x if math.isfinite(x) else None
