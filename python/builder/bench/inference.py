"""Inference speed per (model, artifact, runtime): load, first call, batch-1 latency, batch-1024
throughput. In-process runtimes are timed here; client CLIs time themselves through DESIGN.md's
`--repeat/--warmup/--timing` (their own clock, excluding process start), so the comparison is fair.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from builder import manifest as manifest_io
from builder.verify.runners import RUNNERS, CliRunner, unsupported

THROUGHPUT_BATCH = 1024


def flops_per_row(model: dict) -> int:
    """About 2 flops (multiply, add) per weight: the dense layers dominate these MLPs."""
    return 2 * model["parameters"]


def _percentiles(seconds: list[float]) -> dict:
    us = np.array(seconds) * 1e6
    return {"p50": float(np.percentile(us, 50)), "p90": float(np.percentile(us, 90)),
            "p99": float(np.percentile(us, 99)), "mean": float(us.mean())}


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
    batch = _percentiles(_time_python(predict, xb, max(3, repeat // 20), max(1, warmup // 10)))
    return {"load_ms": load_ms, "first_ms": first_ms, "latency_us": latency, "batch_latency_us": batch}


def _bench_cli(runner: CliRunner, manifest: Path, model: dict, artifact: dict, x1, xb, repeat: int, warmup: int) -> dict:
    def timing(x: np.ndarray, n: int, k: int) -> dict:
        with tempfile.TemporaryDirectory(prefix="deploykit-bench-") as tmp:
            inp, out, t = Path(tmp) / "in.npy", Path(tmp) / "out.npy", Path(tmp) / "timing.json"
            np.save(inp, x)
            cmd = [str(runner.path()), "--manifest", str(manifest), "--model", model["id"], "--format", artifact["format"],
                   "--input", str(inp), "--output", str(out), "--repeat", str(n), "--warmup", str(k), "--timing", str(t),
                   *runner.extra_args]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                raise RuntimeError((result.stderr.strip().splitlines() or ["(no message)"])[-1])
            return json.loads(t.read_text())

    one = timing(x1, repeat, warmup)
    big = timing(xb, max(3, repeat // 20), max(1, warmup // 10))
    row = {"load_ms": one["load_ms"], "first_ms": one["first_ms"], "latency_us": one["latency_us"], "batch_latency_us": big["latency_us"]}
    if "direct_latency_us" in one:  # the same batch through the bare runtime call, in the same process
        row |= {"direct_latency_us": one["direct_latency_us"], "direct": one.get("direct", "")}
    return row


def run(manifest: Path, models=None, runtimes=None, repeat: int = 200, warmup: int = 20, progress=None) -> list[dict]:
    """One row per (model, artifact, runtime); unavailable runtimes give a row with its reason."""
    progress = progress or (lambda message: None)
    doc = manifest_io.read(manifest)
    runners = [RUNNERS[name] for name in (runtimes or RUNNERS)]
    reasons = {r.name: r.unavailable() for r in runners}
    rows = []
    rng = np.random.default_rng(0)
    for model in doc["models"]:
        if models and model["id"] not in models:
            continue
        n_in = model["inputs"][0]["shape"][1]
        x1 = rng.standard_normal((1, n_in), dtype=np.float32)
        xb = rng.standard_normal((THROUGHPUT_BATCH, n_in), dtype=np.float32)
        for artifact in model["artifacts"]:
            for runner in runners:
                if artifact["format"] not in runner.formats:
                    continue
                row = {"model": model["id"], "format": artifact["format"], "runtime": runner.name, "status": "ok", "reason": reasons[runner.name]}
                if row["reason"]:
                    rows.append(row | {"status": "unavailable"})
                    continue
                if why := unsupported(runner, artifact):
                    rows.append(row | {"status": "unsupported", "reason": why})
                    continue
                progress(f"{model['id']}/{artifact['format']} on {runner.name}")
                bench = _bench_cli if isinstance(runner, CliRunner) else _bench_python
                try:
                    row |= bench(runner, manifest, model, artifact, x1, xb, repeat, warmup)
                except Exception as e:  # noqa: BLE001 - a runtime failure is a row, not a crash
                    rows.append(row | {"status": "error", "reason": f"{type(e).__name__}: {e}"[:300]})
                    continue
                seconds_per_batch = row["batch_latency_us"]["p50"] / 1e6
                row["rows_per_s"] = THROUGHPUT_BATCH / seconds_per_batch
                row["gflops"] = row["rows_per_s"] * flops_per_row(model) / 1e9
                rows.append(row)
    return rows
