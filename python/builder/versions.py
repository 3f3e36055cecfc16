"""Versions of the Python runtimes and converters, for the manifest's `producer` block."""

from __future__ import annotations

import importlib.metadata
import platform
import re

from builder import __version__

PRODUCER_PACKAGES = (
    "torch",
    "tensorflow",
    "keras",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "jax2onnx",
    "tf2onnx",
    "tensorflowjs",
    "numpy",
)


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def producer() -> dict[str, str]:
    return {"builder": __version__, "python": platform.python_version()} | {
        name: package_version(name) for name in PRODUCER_PACKAGES
    }


# The package whose version is each runtime family's version on the Python side (docs/contract.md,
# "Version skew"). TF.js runs in the JS client; the tensorflowjs converter is released with it.
RUNTIME_PACKAGES = {"torch": "torch", "tensorflow": "tensorflow", "tfjs": "tensorflowjs", "onnxruntime": "onnxruntime"}
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,2}$")


def runtime_version(family: str) -> str:
    """This environment's version of a runtime family, as MAJOR.MINOR.PATCH ("2.13.0+cu130" -> "2.13.0")."""
    return numeric_prefix(package_version(RUNTIME_PACKAGES[family]))


def numeric_prefix(version: str) -> str:
    """The version up to its first character that is neither a digit nor a dot."""
    match = re.match(r"[0-9.]*", version)
    return match.group(0).strip(".") if match else ""


def parse_version(text: str) -> tuple[int, int, int]:
    """A contract version ("2", "2.19", "2.19.0") as a comparable triple; ValueError if malformed."""
    if not _VERSION.fullmatch(text):
        raise ValueError(f"{text!r} is not a version (MAJOR[.MINOR[.PATCH]], digits only)")
    parts = [int(p) for p in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def skew_error(artifact: dict, family: str, have: str) -> str | None:
    """Why this runtime (family at version `have`) must not load `artifact`, or None when it may."""
    need = (artifact.get("min_runtime") or {}).get(family)
    if need is None or parse_version(numeric_prefix(have) or "0") >= parse_version(need):
        return None
    return f"built for {family} >= {need}, this client runs {family} {numeric_prefix(have)}"
