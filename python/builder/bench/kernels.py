"""Where TF.js wasm's batch time goes (issue 17: a speed target out of reach with TF.js's kernels
is shown with a profile, which kernel and what fraction, in the bench report).

For every model bench ran at the throughput batch on a wasm runtime (`node-wasm`, `chromium`),
`node js/bench/profile.js` profiles calls on the same batch with `tf.profile`, in Node and in the
runner page (js/web/profile.js). The row gets `kernel_profile`: the profiled call's wall time,
its kernels (mean ms per call, launches, share of the call), and the GEMM kernels (MatMul and
Conv: what the bench counts FLOPs of, bench/flops.py) by themselves, in GFLOP/s. A call cannot
run faster than its GEMM kernels, so where those alone sit below the target share of the
machine's GEMM peak, the target is out of reach with these kernels on these threads.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from builder.bench.peers import ROOT
from builder.verify.runners import save_arrays

WASM_RUNTIMES = {"node-wasm": "node", "chromium": "chromium"}  # bench runtime -> profile.js --where
TARGET_PEAK_SHARE = 0.25  # issue 17: wasm at batch 1024 >= 25% of the GEMM peak measured in the same run
TARGET_MODELS = ("wide_torch", "wide_keras", "wide_flax")  # ... on the wide model; the others are profiled only
GEMM_KERNEL = re.compile(r"MatMul|Conv")  # TF.js kernels doing the counted FLOPs (MatMul/Gemm/Conv)
RUNS, WARMUP = 3, 1
TOP = 4  # kernels listed per row in the report
TIMEOUT_S = 180  # start-up, plus PER_MODEL_S per model and place
PER_MODEL_S = 300


def _unavailable(root: Path | None) -> str | None:
    if root is None:
        return "the kernel profile runs from a source checkout only"
    if shutil.which("node") is None or not (root / "js" / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        return "TF.js is not installed (make setup-js)"
    return None


def summarize(profile: dict, flops: int) -> dict:
    """A row's `kernel_profile` from one profile.js entry: the mean profiled call (as the kernels'
    times are means), its kernels with their share of the call, and the GEMM kernels' own GFLOP/s
    on `flops` per call."""
    wall = statistics.fmean(profile["wall_ms"])
    kernels = [k | {"share": k["ms"] / wall} for k in profile["kernels"]]
    gemm_ms = sum(k["ms"] for k in kernels if GEMM_KERNEL.search(k["name"]))
    return {
        "status": "ok",
        "wasm_binary": profile.get("wasm_binary"),
        "threads": profile.get("threads"),
        "runs": profile["runs"],
        "wall_ms": wall,
        "kernel_ms": sum(k["ms"] for k in kernels),
        "gemm_ms": gemm_ms,
        "gemm_share": gemm_ms / wall,
        "gemm_gflops": flops / (gemm_ms * 1e6) if gemm_ms > 0 else None,
        "kernels": kernels,
    }


def attach(
    manifest: Path,
    rows: list[dict],
    batches: dict[str, dict[str, np.ndarray]],
    progress: Callable[[str], None] = lambda message: None,
    root: Path | None = ROOT,
) -> None:
    """Profiles each wasm row's model on its throughput batch (`batches`: model id -> inputs) and
    sets the row's `kernel_profile` (or its status and reason when the profile could not run)."""
    targets = [r for r in rows if r["runtime"] in WASM_RUNTIMES and r["status"] == "ok" and r["model"] in batches]
    if not targets:
        return
    if why := _unavailable(root):
        for row in targets:
            row["kernel_profile"] = {"status": "unavailable", "reason": why}
        return
    models = sorted({r["model"] for r in targets})
    where = sorted({WASM_RUNTIMES[r["runtime"]] for r in targets})
    progress(f"kernel profile: {len(models)} model(s) on {', '.join(where)} wasm")
    try:
        found = _run(root, manifest.resolve(), {m: batches[m] for m in models}, where)
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        for row in targets:
            row["kernel_profile"] = {"status": "error", "reason": f"{e}"[:300]}
        return
    for row in targets:
        entry = found.get((row["model"], row["runtime"]))
        if entry is None or not entry.get("ok"):
            reason = entry.get("message") if entry else "profile.js reported nothing for it"
            row["kernel_profile"] = {"status": "error", "reason": str(reason)[:300]}
            continue
        flops = row["flops_per_row"] * next(iter(batches[row["model"]].values())).shape[0]
        row["kernel_profile"] = summarize(entry, flops)


def _run(root: Path, manifest: Path, batches: dict[str, dict[str, np.ndarray]], where: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="deploykit-kernels-") as tmp:
        jobs = []
        for model, inputs in batches.items():
            (Path(tmp) / model).mkdir()
            jobs.append({"model": model, "inputs": save_arrays(Path(tmp) / model, inputs)})
        (Path(tmp) / "jobs.json").write_text(json.dumps(jobs))
        out = Path(tmp) / "profiles.json"
        cmd = ["node", str(root / "js" / "bench" / "profile.js"), "--jobs", str(Path(tmp) / "jobs.json")]
        cmd += ["--json", str(out), "--runs", str(RUNS), "--warmup", str(WARMUP), str(manifest)]
        cmd += [arg for w in where for arg in ("--where", w)]
        timeout = TIMEOUT_S + PER_MODEL_S * len(batches) * len(where)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=root)
        if proc.returncode != 0 or not out.is_file():
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise RuntimeError(f"js/bench/profile.js: exit {proc.returncode}: {last}"[:300])
        return {(p["model"], p["runtime"]): p for p in json.loads(out.read_text())["profiles"]}


def markdown(rows: list[dict], peak_gflops: float) -> list[str]:
    """The report's section: per profiled row, the kernels and the verdict on the wasm target."""
    profiled = [r for r in rows if r.get("kernel_profile")]
    if not profiled:
        return []
    lines = [
        "",
        (
            f"## Where TF.js wasm's batch time goes (tf.profile, the mean of {RUNS} profiled calls; target: "
            f">= {TARGET_PEAK_SHARE:.0%} of the GEMM peak at batch 1024 for the wide models)"
        ),
        "",
        (
            "A call runs no faster than its GEMM kernels (MatMul/Conv): where they alone are below the target, "
            "the target is out of reach with TF.js's kernels on these threads."
        ),
        "",
        (
            "| model | runtime | wasm build, threads | call ms | kernels (share of the call) | GEMM kernels alone | "
            "timed call, % peak | target |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in profiled:
        p = r["kernel_profile"]
        if p["status"] != "ok":
            lines.append(f"| {r['model']} | {r['runtime']} | {p['status']}: {p['reason']} | | | | | |")
            continue
        top = ", ".join(f"{k['name']} {k['share']:.0%}" for k in p["kernels"][:TOP])
        rest = 1 - p["kernel_ms"] / p["wall_ms"]
        gemm = (
            f"{p['gemm_gflops']:.1f} GFLOP/s, {100 * p['gemm_gflops'] / peak_gflops:.1f}% peak"
            if p["gemm_gflops"]
            else "no GEMM kernel"
        )
        share = r["gflops"] / peak_gflops
        verdict = "met" if share >= TARGET_PEAK_SHARE else "missed"
        if r["model"] not in TARGET_MODELS:
            verdict = "(no target)"
        elif verdict == "missed" and p["gemm_gflops"] and p["gemm_gflops"] / peak_gflops < TARGET_PEAK_SHARE:
            verdict += ": out of reach, the GEMM kernels alone are below it"
        lines.append(
            f"| {r['model']} | {r['runtime']} | {p['wasm_binary']}, {p['threads']} | {p['wall_ms']:.1f} | "
            f"{top}; outside kernels {rest:.0%} | {gemm} | {100 * share:.1f}% | {verdict} |"
        )
    return lines
