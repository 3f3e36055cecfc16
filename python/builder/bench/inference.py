"""Inference speed per (model, artifact, runtime): load, first call, batch-1 latency, batch-1024
throughput in the model's own unit (rows/s, images/s, tokens/s) and GFLOP/s from its layers.
In-process runtimes are timed here; client CLIs time themselves through docs/contract.md's timed
`--jobs` (their own clock, excluding process start; one process per client), so the comparison
is fair.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from builder import manifest as manifest_io
from builder.bench import kernels, peers, stats
from builder.bench.flops import onnx_flops_per_row
from builder.verify.inputs import input_sets
from builder.verify.runners import RUNNERS, CliRunner, Job, unsupported
from builder.verify.serve_runner import ServeRunner

THROUGHPUT_BATCH = 1024


def batch_repeats(repeat: int) -> int:
    """Timed calls at the throughput batch: each is ~1,000x a batch-1 call, so 3 to 10 of them
    (the batch-1 calls are many for the overhead intervals; throughput needs few)."""
    return max(3, min(repeat // 20, 10))


def flops_per_row(manifest: Path, model: dict, golden: dict[str, np.ndarray]) -> tuple[int, str]:
    """(FLOPs per batch row, how they were counted): from the layers of the model's ONNX graph
    (bench/flops.py), or 2 x parameters when the model has no ONNX artifact."""
    onnx = next((a for a in model["artifacts"] if a["format"] == "onnx"), None)
    if onnx is None:
        return 2 * model["parameters"], "2 x parameters"
    counted = onnx_flops_per_row(manifest.parent / onnx["path"], golden, onnx["input_keys"])
    return counted["flops"], "MatMul/Gemm/Conv of the ONNX graph: " + ", ".join(
        f"{op} {n:,}" for op, n in counted["by_op"].items()
    )


def unit(model: dict, golden: dict[str, np.ndarray]) -> tuple[str, int]:
    """(the model's throughput unit, items per batch row): tokens for a sequence model, images for
    an image model (a rank-4 input), rows otherwise."""
    for spec in model["inputs"]:
        if "seq" in spec["shape"]:
            return "tokens/s", int(golden[spec["name"]].shape[spec["shape"].index("seq")])
    if any(len(spec["shape"]) == 4 for spec in model["inputs"]):
        return "images/s", 1
    return "rows/s", 1


def batch_of_rows(arrays: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    """`rows` rows cycled from the golden rows (real inputs, any signature)."""
    return {n: np.ascontiguousarray(np.take(a, np.arange(rows) % len(a), axis=0)) for n, a in arrays.items()}


def _percentiles(seconds: list[float]) -> dict:
    us = np.array(seconds) * 1e6
    return {
        "p50": float(np.percentile(us, 50)),
        "p90": float(np.percentile(us, 90)),
        "p99": float(np.percentile(us, 99)),
        "mean": float(us.mean()),
    }


def _time_python(predict: Callable, x: np.ndarray, repeat: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        predict(x)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return times


def _bench_python(runner, manifest: Path, model: dict, artifact: dict, x1, xb, repeat: int, warmup: int) -> dict:
    start = time.perf_counter()
    predict = runner.load(manifest, model, artifact)
    load_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    predict(x1)
    first_ms = (time.perf_counter() - start) * 1e3
    latency = _percentiles(_time_python(predict, x1, repeat, warmup))
    batch = _percentiles(_time_python(predict, xb, batch_repeats(repeat), max(1, warmup // 10)))
    return {"load_ms": load_ms, "first_ms": first_ms, "latency_us": latency, "batch_latency_us": batch}


def _cli_jobs(model: dict, artifact: dict, x1, xb, repeat: int, warmup: int, jit_warmup: int = 0) -> list[Job]:
    """The two timed jobs of a cell: batch 1 (latency, and the bare runtime call beside it; warmed
    up at least `jit_warmup` calls, CliRunner.jit_warmup) and the throughput batch (fewer calls:
    each is ~1,000x the work)."""
    key = (model["id"], artifact["format"])
    b1_warmup = max(warmup, jit_warmup)
    return [
        Job((*key, "b1"), model, artifact["format"], x1, outputs=False, repeat=repeat, warmup=b1_warmup),
        Job(
            (*key, f"b{THROUGHPUT_BATCH}"),
            model,
            artifact["format"],
            xb,
            outputs=False,
            repeat=batch_repeats(repeat),
            warmup=max(1, warmup // 10),
        ),
    ]


def _cli_row(one: dict, big: dict) -> dict:
    """A cell's figures from its two timed jobs' `timing` objects (docs/contract.md)."""
    row = {
        "load_ms": one["load_ms"],
        "first_ms": one["first_ms"],
        "latency_us": one["latency_us"],
        "batch_latency_us": big["latency_us"],
    }
    if "direct_latency_us" in one:  # the same batch through the bare runtime call, in the same process
        row |= {"direct_latency_us": one["direct_latency_us"], "direct": one.get("direct", "")}
        samples = one.get("samples_us")
        if samples:  # the calls themselves: the ratio's confidence interval (bench/stats.py)
            row["overhead_interval"] = stats.ratio_interval(samples["latency"], samples["direct"], samples["blocks"])
    return row


def _error(e: Exception) -> dict:
    """A runtime failure as a row's status, in one line."""
    return {"status": "error", "reason": f"{type(e).__name__}: {e}"[:300]}


def _add_throughput(row: dict, flops: int, counted: str, throughput_unit: str, items: int) -> None:
    seconds_per_batch = row["batch_latency_us"]["p50"] / 1e6
    row["rows_per_s"] = THROUGHPUT_BATCH / seconds_per_batch
    row["throughput"] = {"unit": throughput_unit, "value": row["rows_per_s"] * items}
    row["flops_per_row"], row["flops_counted"] = flops, counted
    row["gflops"] = row["rows_per_s"] * flops / 1e9


def run(manifest: Path, models=None, runtimes=None, repeat: int = 200, warmup: int = 20, progress=None) -> list[dict]:
    """One row per (model, artifact, runtime); unavailable runtimes give a row with its reason.
    In-process runtimes are timed cell by cell; each client CLI times all of its cells in one
    process (timed `--jobs`), after the in-process ones. Then the peers (bench/peers.py): the
    runtime a user would otherwise pick, timed against a client in its own process, added to that
    client's rows as `peers`."""
    progress = progress or (lambda message: None)
    doc = manifest_io.read(manifest)
    # Served runtimes are measured under load by bench-serve (builder.bench.serving), not here.
    runners = [
        RUNNERS[name] for name in (runtimes or [n for n, r in RUNNERS.items() if not isinstance(r, ServeRunner)])
    ]
    reasons = {r.name: r.unavailable() for r in runners}
    rows: list[dict] = []
    cli_cells: dict[str, list[tuple[dict, list[Job], tuple]]] = {}  # runner -> (row, its jobs, throughput args)
    selected: dict[str, dict] = {}
    batches: dict[str, dict[str, np.ndarray]] = {}  # model -> its throughput batch, for the kernel profile
    for model in doc["models"]:
        if models and model["id"] not in models:
            continue
        selected[model["id"]] = model
        golden = next(s for s in input_sets(manifest.parent, model) if s.name == "golden").inputs
        x1, xb = batch_of_rows(golden, 1), batch_of_rows(golden, THROUGHPUT_BATCH)
        batches[model["id"]] = xb
        per_model = (*flops_per_row(manifest, model, golden), *unit(model, golden))
        for artifact in model["artifacts"]:
            for runner in runners:
                if artifact["format"] not in runner.formats:
                    continue
                row = {
                    "model": model["id"],
                    "format": artifact["format"],
                    "runtime": runner.name,
                    "status": "ok",
                    "reason": reasons[runner.name],
                }
                rows.append(row)
                if row["reason"]:
                    row["status"] = "unavailable"
                elif why := unsupported(runner, artifact):
                    row |= {"status": "unsupported", "reason": why}
                elif isinstance(runner, CliRunner):
                    cli_cells.setdefault(runner.name, []).append(
                        (row, _cli_jobs(model, artifact, x1, xb, repeat, warmup, runner.jit_warmup), per_model)
                    )
                else:
                    progress(f"{model['id']}/{artifact['format']} on {runner.name}")
                    try:
                        row |= _bench_python(runner, manifest, model, artifact, x1, xb, repeat, warmup)
                    except Exception as e:  # noqa: BLE001 - a runtime failure is a row, not a crash
                        row |= _error(e)
                        continue
                    _add_throughput(row, *per_model)
    for name, cells in cli_cells.items():
        progress(f"{name}: {len(cells)} cells timed in one process")
        results = RUNNERS[name].run(manifest, [job for _, jobs, _ in cells for job in jobs])
        for index, (row, _, per_model) in enumerate(cells):
            one, big = results[2 * index], results[2 * index + 1]
            if failed := next((r for r in (one, big) if isinstance(r, Exception)), None):
                row |= _error(failed)
                continue
            row |= _cli_row(one["timing"], big["timing"])
            _add_throughput(row, *per_model)
    peers.attach(manifest, rows, selected, repeat, warmup, batch_repeats(repeat), progress)
    kernels.attach(manifest, rows, batches, progress)
    return rows
