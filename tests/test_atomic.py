"""Atomic export: a failed or killed export leaves the previous output folder intact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from builder import atomic, pipeline
from builder.config import ExportConfig
from builder.runtimes import python_loaders


def _previous_export(out: Path) -> dict[str, bytes]:
    out.mkdir(parents=True)
    (out / "README.md").write_text("models folder readme\n")
    (out / "manifest.json").write_text('{"previous": true}\n')
    (out / "mlp_old").mkdir()
    (out / "mlp_old" / "weights.bin").write_bytes(b"\x00\x01\x02")
    return _snapshot(out)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _staging_dirs(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.tmp-*"))


def test_staged_folder_replaces_and_carries_the_readme(tmp_path):
    out = tmp_path / "models"
    _previous_export(out)
    with atomic.staged_folder(out) as staging:
        (staging / "manifest.json").write_text("new\n")
    assert _snapshot(out) == {"README.md": b"models folder readme\n", "manifest.json": b"new\n"}
    assert _staging_dirs(out) == []


def test_staged_folder_creates_a_missing_destination(tmp_path):
    out = tmp_path / "fresh"
    with atomic.staged_folder(out) as staging:
        (staging / "a.txt").write_text("a")
    assert _snapshot(out) == {"a.txt": b"a"}


def test_failed_artifact_check_leaves_the_previous_export(tmp_path, monkeypatch):
    out = tmp_path / "models"
    before = _previous_export(out)
    real = python_loaders.LOADERS["torchscript-trace"]

    def drifting_loader(path, artifact, model):
        predict = real(path, artifact, model)
        # a silent numeric drift in one artifact
        return lambda arrays: {name: y + np.float32(1e-3) for name, y in predict(arrays).items()}

    monkeypatch.setitem(python_loaders.LOADERS, "torchscript-trace", drifting_loader)
    cfg = ExportConfig(out=out, models=("mlp_torch",), formats=("torchscript-script", "torchscript-trace"), epochs=1)
    with pytest.raises(pipeline.ExportError, match=r"mlp_torch/torchscript-trace: output differs from the reference"):
        pipeline.run(cfg)
    assert _snapshot(out) == before
    assert _staging_dirs(out) == []


def test_killed_export_leaves_the_previous_export(tmp_path):
    out = tmp_path / "models"
    before = _previous_export(out)
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "builder",
            "export",
            "--out",
            str(out),
            "--models",
            "mlp_torch",
            "--formats",
            "aoti",
            "--epochs",
            "1",
            "--no-cache",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    ) as proc:
        # Kill it once training is over and the (slow) AOTInductor compile is writing into staging.
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            if line.startswith("trained mlp_torch") or time.monotonic() > deadline:
                break
        time.sleep(1.0)
        assert proc.poll() is None, "the export finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert _snapshot(out) == before
    stale = _staging_dirs(out)
    assert [p.name for p in stale] == [f".models.tmp-{proc.pid}"]
    assert (stale[0] / "mlp_torch" / "golden" / "golden" / "input.npy").exists(), "it was killed half-way"

    atomic.remove_stale_staging(out)  # what the next export does first
    assert _staging_dirs(out) == [] and _snapshot(out) == before


def test_staging_of_a_live_process_is_not_removed(tmp_path):
    out = tmp_path / "models"
    live = tmp_path / f".models.tmp-{os.getpid()}"
    live.mkdir()
    atomic.remove_stale_staging(out)
    assert live.exists()
