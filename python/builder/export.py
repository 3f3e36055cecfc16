"""`python -m builder export`: train each model, export its artifacts, check them, write the manifest.

Everything is written into a staging folder that replaces the output folder only at the end
(builder.atomic), so a failed or killed export leaves the previous export intact.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from builder import atomic, data, formats, manifest, models, plots
from builder.compare import compare
from builder.config import ExportConfig
from builder.models.common import Trained
from builder.runtimes.python_loaders import LOADERS
from builder.versions import producer

CHECK_RUNTIME = "python"
REPORT_DIR = "report"


class ExportError(RuntimeError):
    """An artifact could not be written, or does not reproduce the reference."""


@dataclasses.dataclass(frozen=True)
class ArtifactRow:
    model: str
    format: str
    bytes: int
    max_abs: float
    seconds: float


class Reporter(Protocol):
    def planned(self, artifacts: int) -> None: ...
    def training(self, model_id: str, epochs: int) -> None: ...
    def epoch(self, model_id: str, epoch: int, metrics: dict) -> None: ...
    def trained(self, trained: Trained) -> None: ...
    def artifact(self, row: ArtifactRow) -> None: ...


class SilentReporter:
    def planned(self, artifacts: int) -> None: ...
    def training(self, model_id: str, epochs: int) -> None: ...
    def epoch(self, model_id: str, epoch: int, metrics: dict) -> None: ...
    def trained(self, trained: Trained) -> None: ...
    def artifact(self, row: ArtifactRow) -> None: ...


def run(cfg: ExportConfig, reporter: Reporter | None = None) -> tuple[Path, list[ArtifactRow]]:
    """Runs the whole export; returns the manifest path and one row per artifact."""
    reporter = reporter or SilentReporter()
    rows: list[ArtifactRow] = []
    reporter.planned(sum(len(formats.plan(models.MODEL_SOURCES[m], cfg.formats)) for m in cfg.models))
    with atomic.staged_folder(cfg.out) as staging:
        model_entries = [_export_model(model_id, cfg, staging, reporter, rows) for model_id in cfg.models]
        doc = manifest.build(
            model_entries,
            producer(),
            {"seed": cfg.seed, "epochs": cfg.epochs, "formats": list(cfg.formats)},
        )
        if cfg.serving:
            from builder import serving

            doc["serving"] = serving.write(staging, model_entries)
        doc["safety"] = manifest.write_unsafe_ops(staging)
        manifest.write(doc, staging)
    return cfg.out / manifest.MANIFEST_NAME, rows


def _export_model(model_id: str, cfg: ExportConfig, root: Path, reporter: Reporter, rows: list[ArtifactRow]) -> dict:
    spec = models.get(model_id)
    reporter.training(model_id, cfg.epochs or spec.DEFAULT_EPOCHS)
    trained = spec.train(cfg.train_config(model_id), on_epoch=lambda e, metrics: reporter.epoch(model_id, e, metrics))
    reporter.trained(trained)
    plots.loss_curve(model_id, trained.history, trained.training, root / REPORT_DIR / f"{model_id}_loss.png")

    model_dir = root / model_id
    golden_dir = model_dir / "golden"
    golden_dir.mkdir(parents=True)
    golden_x = data.golden_inputs(cfg.seed, cfg.golden_rows, trained.n_inputs)  # (rows, n_inputs)
    expected = np.ascontiguousarray(trained.predict(golden_x), dtype=np.float32)  # (rows, n_outputs)
    np.save(golden_dir / "input.npy", golden_x)
    np.save(golden_dir / "expected.npy", expected)
    special_x = data.special_inputs(trained.n_inputs)  # (10, n_inputs) with NaN/Inf/denormals
    with np.errstate(all="ignore"):  # the reference may overflow on purpose here
        special_expected = np.ascontiguousarray(trained.predict(special_x), dtype=np.float32)
    np.save(golden_dir / "special_input.npy", special_x)
    np.save(golden_dir / "special_expected.npy", special_expected)

    export_fn = formats.exporter(spec.SOURCE)
    done: dict[str, formats.Exported] = {}
    artifacts = []
    for fmt in formats.plan(spec.SOURCE, cfg.formats):
        start = time.perf_counter()
        try:
            exported = export_fn(fmt, trained, model_dir, done)
        except Exception as e:  # noqa: BLE001 - converters raise anything; name the artifact
            raise ExportError(f"{model_id}/{fmt}: export failed: {type(e).__name__}: {e}") from e
        done[fmt] = exported
        tolerance = dict(getattr(spec, "TOLERANCE", formats.DEFAULT_TOLERANCE))
        check = check_artifact(model_id, exported, golden_x, expected, tolerance)
        entry = manifest.artifact_entry(root, exported, tolerance, check)
        artifacts.append(entry)
        row = ArtifactRow(model_id, fmt, entry["bytes"], check["max_abs"], time.perf_counter() - start)
        rows.append(row)
        reporter.artifact(row)

    golden = {
        "input": (golden_dir / "input.npy").relative_to(root).as_posix(),
        "expected": (golden_dir / "expected.npy").relative_to(root).as_posix(),
        "rows": int(golden_x.shape[0]),
        "special_input": (golden_dir / "special_input.npy").relative_to(root).as_posix(),
        "special_expected": (golden_dir / "special_expected.npy").relative_to(root).as_posix(),
    }
    return manifest.model_entry(trained, golden, artifacts)


def check_artifact(model_id: str, exported: formats.Exported, x: np.ndarray, expected: np.ndarray, tolerance: dict) -> dict:
    """Reloads the artifact in Python and compares it with the reference at batch 1 and the full batch."""
    name = f"{model_id}/{exported.format}"
    try:
        predict = LOADERS[exported.format](exported.path, exported.fields)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"{name}: the written artifact does not reload: {type(e).__name__}: {e}") from e
    batch_sizes = [1, len(x)]
    max_abs = 0.0
    for batch in batch_sizes:
        try:
            got = predict(x[:batch])
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"{name}: running batch {batch} failed: {type(e).__name__}: {e}") from e
        result = compare(expected[:batch], got, tolerance["atol"], tolerance["rtol"])
        if not result.passed:
            row, col = divmod(result.worst_index, expected.shape[1])
            raise ExportError(
                f"{name}: output differs from the reference at batch {batch}: {result.mismatches} of "
                f"{result.count} values outside atol={tolerance['atol']:g} rtol={tolerance['rtol']:g}, "
                f"max abs diff {result.max_abs:.3g} (worst at row {row}, column {col})"
            )
        max_abs = max(max_abs, result.max_abs)
    return {"runtime": CHECK_RUNTIME, "batch_sizes": batch_sizes, "max_abs": max_abs, "passed": True}
