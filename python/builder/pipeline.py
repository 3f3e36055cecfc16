"""`python -m builder export`: train each model, export its artifacts, check them, write the manifest.

Everything is written into a staging folder that replaces the output folder only at the end
(builder.atomic), so a failed or killed export leaves the previous export intact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from builder import atomic, formats, manifest, models, plots, tensors
from builder.compare import compare_outputs
from builder.config import ExportConfig
from builder.formats import background
from builder.models.common import Trained
from builder.runtimes import python_loaders
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
    cached: bool = False  # copied from the artifact cache (and checked like any other)


class Reporter(Protocol):
    def planned(self, artifacts: int) -> None: ...
    def training(self, model_id: str, epochs: int) -> None: ...
    def epoch(self, model_id: str, epoch: int, metrics: dict) -> None: ...
    def trained(self, trained: Trained) -> None: ...
    def prepared(self, trained: Trained) -> None: ...
    def artifact(self, row: ArtifactRow) -> None: ...
    def background(self, model_id: str, fmt: str) -> None: ...
    def skipped(self, model_id: str, fmt: str, reason: str) -> None: ...


class SilentReporter:
    def planned(self, artifacts: int) -> None: ...
    def training(self, model_id: str, epochs: int) -> None: ...
    def epoch(self, model_id: str, epoch: int, metrics: dict) -> None: ...
    def trained(self, trained: Trained) -> None: ...
    def prepared(self, trained: Trained) -> None: ...
    def artifact(self, row: ArtifactRow) -> None: ...
    def background(self, model_id: str, fmt: str) -> None: ...
    def skipped(self, model_id: str, fmt: str, reason: str) -> None: ...


@dataclasses.dataclass
class _Pending:
    """An artifact a worker still writes, and what its check needs once it is there."""

    model_id: str
    exported: formats.Exported
    finish: Callable[[float], None]  # called with the worker's seconds


def run(cfg: ExportConfig, reporter: Reporter | None = None) -> tuple[Path, list[ArtifactRow]]:
    """Runs the whole export; returns the manifest path and one row per artifact."""
    reporter = reporter or SilentReporter()
    rows: list[ArtifactRow] = []
    reporter.planned(sum(len(formats.plan(cfg.source(m), cfg.formats)) for m in cfg.all_models))
    pending: list[_Pending] = []
    with atomic.staged_folder(cfg.out) as staging, background.workers():
        entries: dict[str, dict] = {}
        in_lane = lane_models(cfg)
        lane = {m: background.submit(_export_in_lane, m, cfg, staging, pool="lane") for m in in_lane}
        for model_id in cfg.all_models:
            if model_id not in in_lane:
                entries[model_id] = _export_model(model_id, cfg, staging, reporter, rows, pending)
            _finish_pending(pending, wait=False)
            _finish_lane(lane, entries, reporter, rows, wait=False)
        _finish_pending(pending, wait=True)
        _finish_lane(lane, entries, reporter, rows, wait=True)
        model_entries = [entries[m] for m in cfg.all_models]
        order = {
            (m, f): i for i, (m, f) in enumerate((e["id"], a["format"]) for e in model_entries for a in e["artifacts"])
        }
        rows.sort(key=lambda r: order[(r.model, r.format)])
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


# --- Two lanes -------------------------------------------------------------------------------
# Training these models is mostly single-threaded Python (small kernels, framework dispatch), so
# one process keeps about one core busy. With `parallel`, the torch models train and export in a
# worker process (the "lane") while this process does the TensorFlow and JAX ones, and each
# process imports one framework family. The artifacts, golden sets and manifest are the same as
# a sequential export's (tests/test_export_lanes.py); only the order of the progress lines differs.

# Torch models train and compute their reference outputs on this many threads, in either process
# and on any machine. Kernel results depend on the thread count (a reduction split in two sums in
# another order: cnn_torch and chargpt_torch trained on 1 and on 2 threads differ in the last
# bits), so a fixed count makes an export reproducible across machines and lanes, which is also
# what lets the AOTInductor cache hit. One thread leaves the other core to the other lane.
TORCH_THREADS = 1


@contextlib.contextmanager
def _fixed_threads(source: str) -> Iterator[None]:
    if source != "torch":
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def lane_models(cfg: ExportConfig) -> list[str]:
    """The models the lane exports: the torch ones, when the export also has others to do here
    (a DistributedDataParallel run starts its own processes, so it stays here)."""
    if not cfg.parallel:
        return []
    torch_models = [m for m in cfg.models if models.source(m) == "torch" and cfg.train_config(m).nproc == 1]
    return torch_models if len(torch_models) < len(cfg.all_models) else []


@dataclasses.dataclass(frozen=True)
class _TrainedSummary:
    """What a reporter reads of a `Trained` (which holds a live model and cannot cross processes)."""

    model_id: str
    training: dict


class _Recorder(SilentReporter):
    """A reporter in the lane: keeps the events for the main process to replay, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple]] = []

    def training(self, model_id: str, epochs: int) -> None:
        self.events.append(("training", (model_id, epochs)))

    def trained(self, trained: Trained) -> None:
        self.events.append(("trained", (_TrainedSummary(trained.model_id, trained.training),)))

    def artifact(self, row: ArtifactRow) -> None:
        self.events.append(("artifact", (row,)))

    def skipped(self, model_id: str, fmt: str, reason: str) -> None:
        self.events.append(("skipped", (model_id, fmt, reason)))


def _export_in_lane(model_id: str, cfg: ExportConfig, root: Path) -> tuple[dict, list[ArtifactRow], list]:
    """Lane side: one model's whole export (an AOTInductor compile runs inline here)."""
    recorder = _Recorder()
    rows: list[ArtifactRow] = []
    pending: list[_Pending] = []
    entry = _export_model(model_id, cfg, root, recorder, rows, pending)
    _finish_pending(pending, wait=True)
    return entry, rows, recorder.events


def _finish_lane(lane: dict, entries: dict, reporter: Reporter, rows: list[ArtifactRow], wait: bool) -> None:
    """Records the lane's finished models (all of them with `wait`), replaying their progress."""
    for model_id, future in list(lane.items()):
        if not (wait or future.done()):
            continue
        del lane[model_id]
        entry, lane_rows, events = future.result()  # an ExportError from the lane propagates as is
        for name, args in events:
            getattr(reporter, name)(*args)
        entries[model_id] = entry
        rows.extend(lane_rows)


def _finish_pending(pending: list[_Pending], wait: bool) -> None:
    """Checks and records the background artifacts that are done (all of them with `wait`)."""
    for item in list(pending):
        if wait or item.exported.pending.done():
            try:
                seconds = item.exported.pending.result()
            except Exception as e:
                raise ExportError(
                    f"{item.model_id}/{item.exported.format}: export failed: {type(e).__name__}: {e}"
                ) from e
            pending.remove(item)
            item.finish(seconds)


def _export_model(
    model_id: str, cfg: ExportConfig, root: Path, reporter: Reporter, rows: list[ArtifactRow], pending: list[_Pending]
) -> dict:
    with _fixed_threads(cfg.source(model_id)):
        return _export_one(model_id, cfg, root, reporter, rows, pending)


def _export_one(
    model_id: str, cfg: ExportConfig, root: Path, reporter: Reporter, rows: list[ArtifactRow], pending: list[_Pending]
) -> dict:
    user = cfg.user_model(model_id)
    if user is not None:
        trained = _prepare_user_model(user, cfg, reporter)
        model_tolerance = dict(user.tolerance) if user.tolerance is not None else None
    else:
        spec = models.get(model_id)
        reporter.training(model_id, cfg.epochs or spec.DEFAULT_EPOCHS)
        trained = spec.train(
            cfg.train_config(model_id), on_epoch=lambda e, metrics: reporter.epoch(model_id, e, metrics)
        )
        reporter.trained(trained)
        plots.loss_curve(model_id, trained.history, trained.training, root / REPORT_DIR / f"{model_id}_loss.png")
        model_tolerance = getattr(spec, "TOLERANCE", None)

    model_dir = root / model_id
    sets = golden_sets(trained, cfg)
    golden = write_golden(root, model_dir / "golden", sets)
    specs = manifest.model_specs(trained)

    done: dict[str, formats.Exported] = {}
    skipped: dict[str, dict] = {}
    plan = formats.plan(trained.source, cfg.formats)
    artifacts: list[dict] = []  # in plan order; a background artifact's entry is filled in later
    scratch: dict = {}
    for fmt, via in plan:
        start = time.perf_counter()
        if via[-2] in skipped:
            skipped[fmt] = {"format": fmt, "via": list(via), "reason": f"made from {via[-2]}, which was skipped"}
            continue
        ctx = formats.ExportContext(trained, model_dir, done, cfg.cache_dir, scratch)
        try:
            exported = formats.exporter(via[-2], fmt)(ctx)
        except formats.Unsupported as e:
            if cfg.strict:
                raise ExportError(f"{model_id}/{fmt}: export failed (--strict): {e}") from e
            skipped[fmt] = {"format": fmt, "via": list(via), "reason": str(e)}
            reporter.skipped(model_id, fmt, str(e))
            continue
        except Exception as e:
            if not trained.user or cfg.strict:
                raise ExportError(f"{model_id}/{fmt}: export failed: {type(e).__name__}: {e}") from e
            # A user's model meets converters' limits we cannot list in advance (an op without a
            # kernel, Python that does not trace): that format and those made from it are skipped.
            reason = f"{'/'.join(via[1:]) or fmt} failed: {formats.error_line(e)}"
            skipped[fmt] = {"format": fmt, "via": list(via), "reason": reason}
            reporter.skipped(model_id, fmt, reason)
            continue
        done[fmt] = exported
        artifacts.append({})
        index = len(artifacts) - 1
        tolerance = dict(model_tolerance or formats.FORMATS_BY_ID[fmt].tolerance)

        export_seconds = time.perf_counter() - start

        def finish(
            worker_seconds: float,
            exported=exported,
            via=via,
            tolerance=tolerance,
            index=index,
            export_seconds=export_seconds,
        ) -> None:
            check_start = time.perf_counter()
            check = check_artifact(model_id, exported, specs, sets[0], tolerance)
            artifacts[index].update(manifest.artifact_entry(root, exported, via, tolerance, check))
            if exported.cache is not None and exported.key is not None:
                exported.cache.store(exported.key, exported.path)
            seconds = export_seconds + worker_seconds + time.perf_counter() - check_start
            row = ArtifactRow(
                model_id, exported.format, artifacts[index]["bytes"], check["max_abs"], seconds, exported.from_cache
            )
            rows.append(row)
            reporter.artifact(row)

        if exported.pending is None:
            finish(0.0)
        else:
            reporter.background(model_id, fmt)
            pending.append(_Pending(model_id, exported, finish))
    formats.drop_scratch(scratch)
    skipped_list = list(skipped.values())
    return manifest.model_entry(trained, golden, artifacts, skipped_list)


def _prepare_user_model(user, cfg: ExportConfig, reporter: Reporter) -> Trained:
    """A user's model as a `Trained` record; a model that cannot run as given fails with its reason."""
    from builder.user_model import UserModelError

    try:
        trained = user.prepare(cfg.seed)
    except UserModelError as e:
        raise ExportError(str(e)) from e
    reporter.prepared(trained)
    return trained


@dataclasses.dataclass(frozen=True)
class GoldenSet:
    name: str
    inputs: tensors.Arrays
    expected: tensors.Arrays
    description: str
    extra: dict = dataclasses.field(default_factory=dict)  # more manifest fields of the set


def golden_sets(trained: Trained, cfg: ExportConfig) -> list[GoldenSet]:
    """The model's input sets, generated from its specs (seeded independently of the training data)
    with the eager reference's outputs: `golden`, and `special` when an input is a float."""
    sizes = {
        d.name: trained.golden_sizes.get(d.name, d.max if d.max is not None else max(d.min, 4)) for d in trained.dims
    }
    wanted = [("golden", {**sizes, "batch": cfg.golden_rows}, "golden", f"{cfg.golden_rows} seeded rows")]
    if any(t.dtype in tensors.FLOAT_DTYPES for t in trained.inputs):
        if trained.special == "finite":
            wanted.append(
                (
                    "special",
                    {**sizes, "batch": tensors.SPECIAL_ROWS},
                    "finite-special",
                    f"+-0, +-1e-30, +-1e30 and denormal rows, no NaN or Inf: {trained.special_note}",
                )
            )
        else:
            wanted.append(
                (
                    "special",
                    {**sizes, "batch": tensors.SPECIAL_ROWS},
                    "special",
                    "NaN, +-Inf, +-0, +-1e30 and denormal rows",
                )
            )
    if trained.golden_inputs is not None:  # the user's own rows
        rows = tensors.batch_of(trained.golden_inputs)
        wanted[0] = ("golden", sizes, "given", f"{rows} rows given with the model")
    sets = []
    for index, (name, set_sizes, values, description) in enumerate(wanted):
        if values == "given":
            inputs = dict(trained.golden_inputs)
        else:
            rng = np.random.default_rng([cfg.seed, 0x60_1D, index])
            inputs = tensors.generate(trained.inputs, set_sizes, rng, values)
        with np.errstate(all="ignore"):  # the reference may overflow on purpose on special values
            expected = {k: np.ascontiguousarray(v) for k, v in trained.predict(inputs).items()}
        tensors.check_arrays(trained.outputs, expected, "reference output")
        sets.append(
            GoldenSet(name, inputs, expected, description, {"values": "finite"} if values == "finite-special" else {})
        )
    return sets


def write_golden(root: Path, folder: Path, sets: list[GoldenSet]) -> list[dict]:
    """Writes `<set>/<input>.npy` and `<set>/expected/<output>.npy`; returns the manifest's golden list."""
    entries = []
    for s in sets:
        (folder / s.name / "expected").mkdir(parents=True)
        paths = {}
        for kind, arrays, sub in (
            ("inputs", s.inputs, folder / s.name),
            ("expected", s.expected, folder / s.name / "expected"),
        ):
            paths[kind] = {}
            for name, array in arrays.items():
                np.save(sub / f"{name}.npy", array)
                paths[kind][name] = (sub / f"{name}.npy").relative_to(root).as_posix()
        entries.append(
            {"name": s.name, "rows": tensors.batch_of(s.inputs), "description": s.description, **s.extra, **paths}
        )
    return entries


def check_artifact(model_id: str, exported: formats.Exported, specs: dict, golden: GoldenSet, tolerance: dict) -> dict:
    """Reloads the artifact in Python and compares it with the reference at batch 1 and the full batch."""
    name = f"{model_id}/{exported.format}"
    artifact = {"format": exported.format, **exported.fields}
    try:
        predict = python_loaders.load(exported.path, artifact, specs)
    except Exception as e:
        raise ExportError(f"{name}: the written artifact does not reload: {type(e).__name__}: {e}") from e
    batch_sizes = [1, tensors.batch_of(golden.inputs)]
    max_abs = 0.0
    for batch in batch_sizes:
        try:
            got = predict(tensors.take(golden.inputs, batch))
            results = compare_outputs(tensors.take(golden.expected, batch), got, tolerance)
        except Exception as e:
            raise ExportError(f"{name}: running batch {batch} failed: {type(e).__name__}: {e}") from e
        for output, result in results.items():
            if not result.passed:
                raise ExportError(
                    f"{name}: output differs from the reference at batch {batch} ({output}): {result.mismatches} of "
                    f"{result.count} values outside atol={tolerance['atol']:g} rtol={tolerance['rtol']:g}, "
                    f"max abs diff {result.max_abs:.3g} (worst at flat index {result.worst_index})"
                )
            max_abs = max(max_abs, result.max_abs)
    return {"runtime": CHECK_RUNTIME, "batch_sizes": batch_sizes, "max_abs": max_abs, "passed": True}
