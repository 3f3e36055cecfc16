"""Runs the parity matrix: every selected runtime over every artifact it loads, per input set."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from builder import hashing
from builder import manifest as manifest_io
from builder.compare import Result, compare_outputs
from builder.verify.inputs import InputSet, input_sets
from builder.verify.runners import RUNNERS, CliRunner, Runner, unsupported, unsupported_set

# Decade bins of |a - b| for the report's histograms: exactly 0, below 1e-12, one bin per decade
# from 1e-12 to 1, and at least 1.
DECADES = list(range(-12, 1))  # log10 of the bin edges
HISTOGRAM_LABELS = ["0", "<1e-12"] + [f"[1e{a},1e{a + 1})" for a in DECADES[:-1]] + [">=1"]

Progress = Callable[[str], None]


def histogram(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> dict:
    """Counts of |got - expected| over the finite pairs of every output, in decade bins (labels in
    HISTOGRAM_LABELS)."""
    pairs = [(e.astype(np.float64).reshape(-1), got[n].astype(np.float64).reshape(-1)) for n, e in expected.items()]
    a = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0)
    b = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0)
    finite = np.isfinite(a) & np.isfinite(b)
    diff = np.abs(b[finite] - a[finite])
    zero = int(np.count_nonzero(diff == 0))
    edges = np.array([0.0] + [10.0**a for a in DECADES] + [np.inf])  # 0 | <1e-12 | ... | >=1
    counts, _ = np.histogram(diff[diff > 0], bins=edges)
    return {"labels": HISTOGRAM_LABELS, "counts": [zero] + [int(c) for c in counts]}


def _stats(result: Result) -> dict:
    stats = result.as_dict()
    for key in ("max_abs", "max_rel", "min_passing_atol"):
        stats[key] = stats[key] if math.isfinite(stats[key]) else None  # JSON has no inf
    del stats["passed"]
    return stats


def _worst_stats(results: dict[str, Result]) -> dict:
    """The cell's summary over its outputs: sums of counts, maxima of differences (the worst
    output's index and name)."""
    worst_name = max(results, key=lambda n: (not results[n].passed, results[n].max_abs))
    stats = _stats(results[worst_name])
    for key in ("count", "mismatches", "nonfinite_mismatches"):
        stats[key] = sum(getattr(r, key) for r in results.values())
    for key in ("max_abs", "max_rel", "max_ulp", "min_passing_atol"):
        values = [getattr(r, key) for r in results.values()]
        stats[key] = max(values) if all(math.isfinite(v) for v in values) else None
    stats["nan_match"] = all(r.nan_match for r in results.values())
    stats["inf_match"] = all(r.inf_match for r in results.values())
    stats["worst_output"] = worst_name
    return stats


def _cell(model: dict, artifact: dict, runner: Runner, input_set: str, status: str, reason: str | None = None) -> dict:
    return {
        "model": model["id"],
        "format": artifact["format"],
        "artifact": f"{model['id']}/{artifact['format']}",
        "runtime": runner.name,
        "input_set": input_set,
        "status": status,
        "reason": reason,
        "tolerance": artifact["tolerance"],
        "stats": None,
        "histogram": None,
        "outputs": None,
    }


def run(
    manifest_path: Path,
    models: list[str] | None = None,
    runtimes: list[str] | None = None,
    keep_outputs: Path | None = None,
    progress: Progress | None = None,
) -> dict:
    """Builds the whole report (see report.py for the files written from it)."""
    progress = progress or (lambda message: None)
    start = time.perf_counter()
    doc = manifest_io.read(manifest_path)
    selected_runners = [RUNNERS[name] for name in (runtimes or RUNNERS)]
    reasons = {r.name: r.unavailable() for r in selected_runners}
    for r in selected_runners:  # a runtime that starts a server serves only the chosen models
        if hasattr(r, "prepare") and not reasons[r.name]:
            r.prepare(manifest_path, models)
    try:
        return _run(manifest_path, doc, models, selected_runners, reasons, keep_outputs, progress, start)
    finally:
        for r in selected_runners:
            if hasattr(r, "close"):
                r.close()


def _run(manifest_path, doc, models, selected_runners, reasons, keep_outputs, progress, start) -> dict:
    cells: list[dict] = []
    all_sets: dict[str, InputSet] = {}
    pending = []
    for model in doc["models"]:
        if models and model["id"] not in models:
            continue
        sets = input_sets(manifest_path.parent, model)
        all_sets.update({s.name: s for s in sets})
        for artifact in model["artifacts"]:
            integrity = _integrity(manifest_path.parent, artifact)
            pending += [
                (model, artifact, runner, sets, integrity)
                for runner in selected_runners
                if artifact["format"] in runner.formats
            ]
        # A format the export could not convert this model to (its `skipped` list) is an "n/s" cell
        # of every runtime that loads that format, with the export's reason.
        for skip in model.get("skipped", []):
            stub = {"format": skip["format"], "tolerance": None}
            cells += [
                _cell(model, stub, runner, s.name, "unsupported", f"not exported: {skip['reason']}")
                for runner in selected_runners
                if skip["format"] in runner.formats
                for s in sets
            ]
    # Client CLIs run their whole share of the matrix in one process (--jobs).
    prefetched: dict[str, dict] = {}
    for runner in selected_runners:
        if not isinstance(runner, CliRunner) or reasons[runner.name]:
            continue
        work = [
            (m, a, sets)
            for m, a, r, sets, integrity in pending
            if r is runner and not integrity and not unsupported(r, a)
        ]
        if work:
            progress(f"{runner.name}: {sum(len(w[2]) for w in work)} jobs in one process")
            prefetched[runner.name] = runner.run_jobs(manifest_path, work)
    for model, artifact, runner, sets, integrity in pending:
        progress(f"{model['id']}/{artifact['format']} on {runner.name}")
        cells += _run_cell(
            manifest_path,
            model,
            artifact,
            runner,
            sets,
            reasons[runner.name] or None,
            integrity,
            keep_outputs,
            prefetched.get(runner.name),
        )
    summary = {
        status: sum(c["status"] == status for c in cells)
        for status in ("pass", "fail", "error", "unavailable", "unsupported")
    }
    return {
        "schema_version": 2,
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "manifest": str(manifest_path),
        "runtimes": {
            r.name: {
                "available": reasons[r.name] is None,
                "reason": reasons[r.name],
                "version": r.version() if reasons[r.name] is None else None,
                "formats": list(r.formats),
            }
            for r in selected_runners
        },
        "input_sets": {name: {"rows": s.rows, "description": s.description} for name, s in all_sets.items()},
        "cells": cells,
        "summary": summary,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _integrity(root: Path, artifact: dict) -> str | None:
    """None when the artifact's sha256 matches the manifest, else why not."""
    path = root / artifact["path"]
    if not path.exists():
        return f"{artifact['path']} is missing"
    actual = hashing.artifact_sha256(path)
    return (
        None
        if actual == artifact["sha256"]
        else f"sha256 mismatch: manifest {artifact['sha256'][:12]}, file {actual[:12]}"
    )


def _run_cell(
    manifest_path, model, artifact, runner, sets, unavailable, integrity, keep_outputs, prefetched=None
) -> list[dict]:
    if unavailable:
        return [_cell(model, artifact, runner, s.name, "unavailable", unavailable) for s in sets]
    if why := unsupported(runner, artifact):
        return [_cell(model, artifact, runner, s.name, "unsupported", why) for s in sets]
    if integrity:
        return [_cell(model, artifact, runner, s.name, "fail", integrity) for s in sets]
    if prefetched is not None:  # a client's --jobs run already produced every set's outputs (or its error)

        def outputs_of(s: InputSet) -> dict:
            result = prefetched[(model["id"], artifact["format"], s.name)]
            if isinstance(result, Exception):
                raise result
            return result
    else:
        try:
            predict = runner.load(manifest_path, model, artifact)
        except Exception as e:  # noqa: BLE001 - any runtime's load error becomes an error cell
            return [_cell(model, artifact, runner, s.name, "error", f"load failed: {_one_line(e)}") for s in sets]

        def outputs_of(s: InputSet) -> dict:
            return predict(s.inputs)

    cells = []
    for s in sets:
        if why := unsupported_set(runner, s.name):
            cells.append(_cell(model, artifact, runner, s.name, "unsupported", why))
            continue
        cell = _cell(model, artifact, runner, s.name, "error")
        try:
            with np.errstate(all="ignore"):
                got = outputs_of(s)
            results = compare_outputs(s.expected, got, artifact["tolerance"])
        except Exception as e:  # noqa: BLE001
            cell["reason"] = _one_line(e)
            cells.append(cell)
            continue
        passed = all(r.passed for r in results.values())
        cell.update(
            status="pass" if passed else "fail",
            stats=_worst_stats(results),
            histogram=histogram(s.expected, got),
            outputs={name: _stats(r) | {"passed": r.passed} for name, r in results.items()},
        )
        if not passed:
            cell["reason"] = "; ".join(
                f"{name}: {r.mismatches} of {r.count} values outside tolerance"
                + ("" if r.nan_match and r.inf_match else " (NaN/Inf pattern differs)")
                for name, r in results.items()
                if not r.passed
            )
        if keep_outputs:
            for name, array in got.items():
                out = keep_outputs / model["id"] / artifact["format"] / runner.name / s.name / f"{name}.npy"
                out.parent.mkdir(parents=True, exist_ok=True)
                np.save(out, array)
        cells.append(cell)
    return cells


def _one_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
