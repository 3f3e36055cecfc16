"""TensorFlow settings that must be in the environment before TensorFlow is imported."""

from __future__ import annotations

import os
import sys

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def set_before_import() -> None:
    """TensorFlow's oneDNN graph rewrites off, unless the user chose otherwise.

    TensorFlow turns them on by itself on CPUs with AVX-512 VNNI or AMX (Cascade Lake and newer,
    Sapphire Rapids here). Grappler's remapper then fuses a LayerNorm into `_MklLayerNorm`, an op
    TF.js does not have, so the TF.js converter refuses the transformer (chargpt_torch); the
    Keras models also train on other kernels, so the same seed gave other weights on another
    machine. Off, every machine exports the same artifacts. A no-op once TensorFlow is imported
    (it reads the variable once): the CLI and `builder.export()` call it first."""
    if "tensorflow" not in sys.modules:
        os.environ.setdefault(ONEDNN, "0")


def onednn_hint(message: str) -> str:
    """A converter error caused by oneDNN's fused ops, with what to do about it; else ''."""
    if "_Mkl" not in message:
        return ""
    return (
        f" (TensorFlow's oneDNN rewrites made these ops: set {ONEDNN}=0 before TensorFlow is imported; "
        f"it is {os.environ.get(ONEDNN, 'unset, on by default on this CPU')} here)"
    )
