"""Shared fixtures: one small real export (few epochs, every model and format) per test session."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from builder import tf_env

tf_env.set_before_import()  # as the CLI does: a test may import TensorFlow before it exports
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")
# Every export in the tests compiles its AOTInductor packages (a cache hit would skip the compile
# that, e.g., the killed-export test interrupts); the cache's own tests name their folder.
os.environ["DEPLOYKIT_CACHE_DIR"] = "off"

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
    from builder import pipeline
    from builder.config import ExportConfig

    out = tmp_path_factory.mktemp("export") / "models"
    prebuilt = os.environ.get("DEPLOYKIT_TEST_MANIFEST")
    if prebuilt and Path(prebuilt).is_file():
        shutil.copytree(Path(prebuilt).parent, out, symlinks=True)
    else:
        pipeline.run(ExportConfig(out=out, epochs=SMOKE_EPOCHS, seed=SMOKE_SEED))
    return out


@pytest.fixture(scope="session")
def manifest_path() -> Path:
    """The Makefile's test export (DEPLOYKIT_TEST_MANIFEST), which the C++ tests run against."""
    default = Path(__file__).resolve().parents[1] / "build" / "test-models" / "manifest.json"
    path = Path(os.environ.get("DEPLOYKIT_TEST_MANIFEST", default))
    assert path.is_file(), f"{path} is missing: run `make test-fixtures`"
    return path


@pytest.fixture(scope="session")
def smoke_manifest(smoke_export) -> dict:
    from builder import manifest

    return manifest.read(smoke_export / "manifest.json")


def within_tolerance(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> bool:
    """docs/contract.md semantics in plain NumPy: an element fails where |a-b| > atol and |a-b| > rtol*|b|."""
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    return bool(np.all(diff <= np.maximum(atol, rtol * np.abs(expected.astype(np.float64)))))


def mutated_copy(src: Path, dst: Path, artifact_path: str, mutate) -> None:
    """Copies an export and mutates one artifact in place, then rewrites its manifest hashes: a
    consistent but wrong export, which only a parity check (not an integrity check) can catch."""
    from builder import hashing

    shutil.copytree(src, dst)
    mutate(dst / artifact_path)
    doc = json.loads((dst / "manifest.json").read_text())
    for model in doc["models"]:
        for artifact in model["artifacts"]:
            if artifact["path"] != artifact_path:
                continue
            path = dst / artifact_path
            artifact["sha256"] = hashing.artifact_sha256(path)
            artifact["bytes"] = hashing.artifact_bytes(path)
            for entry in artifact.get("files", []):
                entry["sha256"] = hashing.file_sha256(path / entry["path"])
                entry["bytes"] = (path / entry["path"]).stat().st_size
    (dst / "manifest.json").write_text(json.dumps(doc))
