"""Shared fixtures: one small real export (few epochs, every model and format) per test session."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")

SMOKE_EPOCHS = 2
SMOKE_SEED = 7  # keep in step with the Makefile's $(TEST_MODELS) export


@pytest.fixture(scope="session")
def smoke_export(tmp_path_factory) -> Path:
    """A private copy of an export of every model and format (2 epochs, seed 7); returns its folder.

    Under `make test` the Makefile has already run exactly this export into build/test-models
    (rebuilt whenever the builder's sources change) for the language suites, and names it in
    DEPLOYKIT_TEST_MANIFEST: the session copies it instead of training everything again.
    Run alone, pytest exports itself.
    """
    from builder import export
    from builder.config import ExportConfig

    out = tmp_path_factory.mktemp("export") / "models"
    prebuilt = os.environ.get("DEPLOYKIT_TEST_MANIFEST")
    if prebuilt and Path(prebuilt).is_file():
        shutil.copytree(Path(prebuilt).parent, out, symlinks=True)
    else:
        export.run(ExportConfig(out=out, epochs=SMOKE_EPOCHS, seed=SMOKE_SEED))
    return out


@pytest.fixture(scope="session")
def smoke_manifest(smoke_export) -> dict:
    from builder import manifest

    return manifest.read(smoke_export / "manifest.json")


def within_tolerance(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> bool:
    """DESIGN.md semantics in plain NumPy: an element fails where |a-b| > atol and |a-b| > rtol*|b|."""
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    return bool(np.all(diff <= np.maximum(atol, rtol * np.abs(expected.astype(np.float64)))))
