"""Shared fixtures: one small real export (few epochs, every model and format) per test session."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

SMOKE_EPOCHS = 2


@pytest.fixture(scope="session")
def smoke_export(tmp_path_factory) -> Path:
    """Exports every model and format with 2 epochs into a temp folder; returns the folder."""
    from builder import export
    from builder.config import ExportConfig

    out = tmp_path_factory.mktemp("export") / "models"
    export.run(ExportConfig(out=out, epochs=SMOKE_EPOCHS, seed=7))
    return out


@pytest.fixture(scope="session")
def smoke_manifest(smoke_export) -> dict:
    from builder import manifest

    return manifest.read(smoke_export / "manifest.json")


def within_tolerance(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> bool:
    """DESIGN.md semantics in plain NumPy: an element fails where |a-b| > atol and |a-b| > rtol*|b|."""
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    return bool(np.all(diff <= np.maximum(atol, rtol * np.abs(expected.astype(np.float64)))))
