"""Versions of the Python runtimes and converters, for the manifest's `producer` block."""

from __future__ import annotations

import importlib.metadata
import platform

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
