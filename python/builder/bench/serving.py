"""`make bench-serve`: the serving engines under load, against the same artifact called in-process.

For each engine and each setting (1 or 2 replicas, dynamic batching off or on) it starts the server
(timed), records the resident memory of each replica process, and sends a bounded load through the
protocol at each concurrency (`python -m builder loadtest` in its own process: one golden row per
request, every 10th answer checked). The
in-process row calls the same artifact's runtime directly, one row per call, from one thread: what
the served numbers cost over it.

    python -m builder.bench.serving --manifest models/manifest.json [--engines triton ray]
        [--model mlp_torch] [--format onnx] [--requests 2000] [--out models/report]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from builder.bench import machine
from builder.serve import engine, loadtest, servables

SETTINGS = [(1, 0), (2, 0), (1, 32), (2, 32)]  # (replicas, max batch; 0 = no batching)
CONCURRENCY = (1, 8, 16, 32)
# Issue 16's target: requests/s through the front at concurrency 16, one replica, no batching, seed MLP.
TARGETS = {"triton": 1500.0}
TARGET_CONCURRENCY = 16


def rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="utf-8") as f:
                kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            out.append(round(kb / 1024, 1))
        except (OSError, StopIteration):
            pass
    return out


def in_process(servable: servables.Servable, rows: list[dict], calls: int) -> dict:
    predict = servables.load(servable)
    for row in rows[:20]:
        predict(row)
    times = []
    start = time.perf_counter()
    for i in range(calls):
        t0 = time.perf_counter()
        predict(rows[i % len(rows)])
        times.append((time.perf_counter() - t0) * 1e3)
    seconds = time.perf_counter() - start
    return {
        "throughput_rps": round(calls / seconds, 1),
        "latency_ms": {f"p{q}": round(float(np.percentile(times, q)), 4) for q in (50, 90, 99)},
    }


def client_load(manifest: Path, url: str, model_id: str, name: str, concurrency: int, requests: int) -> dict:
    """`python -m builder loadtest` in its own process, as a user runs it: in this process its event
    loop would share the GIL with the Triton engine's front (a thread here) and halve both."""
    with tempfile.TemporaryDirectory(prefix="deploykit-bench-serve-") as tmp:
        out = Path(tmp) / "load.json"
        command = [sys.executable, "-m", "builder", "loadtest", "--url", url, "--manifest", str(manifest)]
        command += ["--model", model_id, "--name", name, "--concurrency", str(concurrency)]
        command += ["--requests", str(requests), "--json", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        if not out.is_file():
            raise RuntimeError(f"loadtest failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        return json.loads(out.read_text())


def run(manifest: Path, engines: list[str], model_id: str, fmt: str, requests: int, progress) -> dict:
    (servable,) = servables.choose(manifest, [model_id], [fmt])
    model, rows = loadtest.golden_rows(manifest, model_id)
    golden = [
        {n: np.load(manifest.parent / p)[i : i + 1] for n, p in model["golden"][0]["inputs"].items()}
        for i in range(len(rows))
    ]
    progress(f"in-process {model_id}/{fmt}")
    result: dict = {
        "machine": machine.info(),
        "model": model_id,
        "format": fmt,
        "requests": requests,
        "in_process": in_process(servable, golden, requests),
        "runs": [],
    }
    for name in engines:
        for replicas, batch in SETTINGS:
            label = f"{name} replicas={replicas} batching={'on (max ' + str(batch) + ')' if batch else 'off'}"
            progress(f"{label}: starting")
            options = engine.Options(replicas=replicas, max_batch=batch, batch_wait_ms=1.0, port=0)
            t0 = time.perf_counter()
            try:
                server = engine.start(name, manifest, [servable], options, lambda m: None)
            except engine.EngineError as e:
                result["runs"].append({"engine": name, "replicas": replicas, "max_batch": batch, "error": str(e)})
                progress(f"{label}: {e}")
                continue
            run_entry = {
                "engine": name,
                "replicas": replicas,
                "max_batch": batch,
                "start_s": round(time.perf_counter() - t0, 2),
                "replica_rss_mb": rss_mb(getattr(server, "replica_pids", lambda: [])()),
                "loads": [],
            }
            try:
                for c in CONCURRENCY:
                    progress(f"{label}: concurrency {c}")
                    load = client_load(manifest, server.url, model_id, servable.name, c, requests)
                    run_entry["loads"].append({"concurrency": c} | load)
            finally:
                server.close()
            result["runs"].append(run_entry)
    result["targets"] = targets(result["runs"])
    return result


def targets(runs: list[dict]) -> list[dict]:
    """Each engine's target against its 1-replica, no-batching run at TARGET_CONCURRENCY."""
    out = []
    for name, want in TARGETS.items():
        got = [
            load["throughput_rps"]
            for r in runs
            if r["engine"] == name and r.get("replicas") == 1 and not r.get("max_batch")
            for load in r.get("loads", [])
            if load["concurrency"] == TARGET_CONCURRENCY
        ]
        out.append(
            {
                "engine": name,
                "target_rps": want,
                "measured_rps": got[0] if got else None,
                "met": bool(got) and got[0] >= want,
            }
        )
    return out


def markdown(result: dict) -> str:
    m = result["machine"]
    base = result["in_process"]
    lines = [
        f"# Serving: {result['model']} ({result['format']}), one golden row per request, {result['requests']} requests per cell",
        "",
        f"Machine: {m.get('cpu')} x{m.get('cores')}, load average {m.get('load_average')}.",
        "",
        (
            f"In-process (same runtime, one thread, no HTTP): {base['throughput_rps']} calls/s, "
            f"p99 {base['latency_ms']['p99']} ms."
        ),
        "",
        "| engine | replicas | batching | start s | RSS per replica MB | concurrency | requests/s | p50 ms | p99 ms | errors | wrong |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        batching = f"max {r['max_batch']}" if r["max_batch"] else "off"
        if "error" in r:
            lines.append(f"| {r['engine']} | {r['replicas']} | {batching} | did not start: {r['error']} |||||||")
            continue
        for load in r["loads"]:
            lat = load["latency_ms"]
            errors = sum(load["errors"].values())
            lines.append(
                f"| {r['engine']} | {r['replicas']} | {batching} | {r['start_s']} | {r['replica_rss_mb'] or 'n/a'} | "
                f"{load['concurrency']} | {load['throughput_rps']} | {lat['p50']} | {lat['p99']} | {errors} | {load['mismatched']} |"
            )
    for t in result.get("targets", []):
        verdict = "not measured" if t["measured_rps"] is None else ("met" if t["met"] else "missed")
        lines.append(
            f"\nTarget: {t['engine']}, 1 replica, no batching, concurrency {TARGET_CONCURRENCY}: "
            f"{t['measured_rps']} requests/s against >= {t['target_rps']:g}: {verdict}."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m builder.bench.serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=Path("models/manifest.json"))
    parser.add_argument("--engines", nargs="+", choices=sorted(engine.ENGINES), default=["triton", "ray"])
    parser.add_argument("--model", default="mlp_torch")
    parser.add_argument("--format", default="onnx")
    parser.add_argument("--requests", type=int, default=2000, help="per (setting, concurrency) cell")
    parser.add_argument(
        "--out", type=Path, help="folder for serving.json and serving.md (default: the manifest's report/)"
    )
    args = parser.parse_args(argv)
    try:
        result = run(
            args.manifest,
            args.engines,
            args.model,
            args.format,
            args.requests,
            lambda m: print(f"bench-serve: {m}", file=sys.stderr, flush=True),
        )
    except (servables.ServeError, ValueError, OSError) as e:
        print(f"error: bench-serve: {e}", file=sys.stderr)
        return 2
    out = args.out or args.manifest.parent / "report"
    out.mkdir(parents=True, exist_ok=True)
    (out / "serving.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (out / "serving.md").write_text(text)
    print(text, end="")
    print(f"wrote {out / 'serving.json'}, {out / 'serving.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
