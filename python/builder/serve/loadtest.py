"""`python -m builder loadtest`: a bounded load through the Open Inference Protocol.

Requests carry one golden row each (cycling through the model's golden rows), `concurrency`
requests are in flight at once, and the run stops after `requests` requests or `duration_s`
seconds, whichever comes first. A request that gets 503 or loses its connection is retried up to
`retries` times (counted); every `check_every`-th answer is compared with the reference outputs
at the artifact's tolerance once the load is over (outside the timed part), so a server that
answers fast but wrong fails the run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from builder import compare
from builder.serve import protocol

HOST_PREFIXES = ("http://127.0.0.1", "http://localhost", "http://[::1]")


@dataclasses.dataclass
class Row:
    body: bytes  # the request body
    expected: dict[str, np.ndarray]  # the reference outputs of this row


@dataclasses.dataclass
class Report:
    requests: int = 0  # sent (not counting retries)
    ok: int = 0
    errors: Counter = dataclasses.field(default_factory=Counter)  # "503", "timeout", "connection", ...
    retried: int = 0  # requests that needed at least one retry
    retries: int = 0  # retry attempts in all
    checked: int = 0
    mismatched: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = dataclasses.field(default_factory=list, repr=False)
    first_errors: list[str] = dataclasses.field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": dict(self.errors),
            "retried": self.retried,
            "retries": self.retries,
            "checked": self.checked,
            "mismatched": self.mismatched,
            "seconds": round(self.seconds, 3),
            "throughput_rps": round(self.throughput, 1),
            "latency_ms": {f"p{q}": _round(self.percentile(q)) for q in (50, 90, 99)},
            "first_errors": self.first_errors,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def golden_rows(manifest: Path, model_id: str) -> tuple[dict, list[Row]]:
    """(the model's manifest entry, one Row per golden row) for `model_id`."""
    from builder import manifest as manifest_io
    from builder.verify.inputs import input_sets

    doc = manifest_io.read(manifest)
    model = next((m for m in doc["models"] if m["id"] == model_id), None)
    if model is None:
        raise ValueError(f"no model {model_id!r} in {manifest} (it has {', '.join(m['id'] for m in doc['models'])})")
    golden = next(s for s in input_sets(Path(manifest).parent, model) if s.name == "golden")
    rows = []
    for i in range(golden.rows):
        inputs = {n: a[i : i + 1] for n, a in golden.inputs.items()}
        rows.append(Row(protocol.request_body(model, inputs), {n: a[i : i + 1] for n, a in golden.expected.items()}))
    return model, rows


def tolerance_of(model: dict, fmt: str | None) -> dict:
    """The artifact's tolerance (the served format's, else the loosest of the model's artifacts)."""
    artifacts = [a for a in model["artifacts"] if a.get("tolerance")]
    chosen = [a for a in artifacts if a["format"] == fmt] or artifacts
    return max((a["tolerance"] for a in chosen), key=lambda t: (t["atol"], t["rtol"]))


async def _run(
    url: str,
    name: str,
    model: dict,
    rows: list[Row],
    tolerance: dict,
    concurrency: int,
    requests: int | None,
    duration_s: float | None,
    timeout_s: float,
    retries: int,
    check_every: int,
) -> Report:
    import aiohttp

    report = Report()
    sampled: list[tuple[bytes, Row]] = []  # answers to check once the load is over (not timed)
    endpoint = f"{url.rstrip('/')}/v2/models/{name}/infer"
    deadline = time.perf_counter() + duration_s if duration_s else None
    counter = iter(range(requests if requests is not None else 1 << 62))
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)

    def note(kind: str, message: str) -> None:
        report.errors[kind] += 1
        if len(report.first_errors) < 5:
            report.first_errors.append(f"{kind}: {message[:200]}")

    async def one(session, i: int) -> None:
        row = rows[i % len(rows)]
        for attempt in range(retries + 1):
            if attempt:
                report.retries += 1
                report.retried += attempt == 1
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            t0 = time.perf_counter()
            try:
                async with session.post(endpoint, data=row.body, headers={"content-type": "application/json"}) as r:
                    body = await r.read()
                    status = r.status
            except TimeoutError:
                kind, message = "timeout", f"no answer within {timeout_s:g} s"
            except aiohttp.ClientError as e:
                kind, message = "connection", f"{type(e).__name__}: {e}"
            else:
                if status == 200:
                    report.ok += 1
                    report.latencies_ms.append((time.perf_counter() - t0) * 1e3)
                    if i % check_every == 0:
                        sampled.append((body, row))
                    return
                kind, message = str(status), body.decode(errors="replace")
            if kind not in ("503", "connection", "timeout") or attempt == retries:
                note(kind, message)
                return

    async def worker(session) -> None:
        while deadline is None or time.perf_counter() < deadline:
            i = next(counter, None)
            if i is None:
                return
            report.requests += 1
            await one(session, i)

    start = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    report.seconds = time.perf_counter() - start
    for body, row in sampled:
        _check(report, model, body, row, tolerance)
    return report


def _check(report: Report, model: dict, body: bytes, row: Row, tolerance: dict) -> None:
    report.checked += 1
    try:
        got = protocol.response_arrays(model, json.loads(body))
        results = compare.compare_outputs(row.expected, got, tolerance)
    except (ValueError, KeyError, TypeError) as e:
        report.mismatched += 1
        if len(report.first_errors) < 5:
            report.first_errors.append(f"bad answer: {e}")
        return
    bad = [n for n, r in results.items() if not r.passed]
    if bad:
        report.mismatched += 1
        if len(report.first_errors) < 5:
            r = results[bad[0]]
            report.first_errors.append(f"wrong answer: output {bad[0]} max abs diff {r.max_abs:.3g}")


def run(
    url: str,
    name: str,
    model: dict,
    rows: list[Row],
    tolerance: dict,
    concurrency: int = 16,
    requests: int | None = 2000,
    duration_s: float | None = None,
    timeout_s: float = 10.0,
    retries: int = 0,
    check_every: int = 10,
) -> Report:
    """Sends the load and returns what happened. `url` must be a loopback address."""
    if not url.startswith(HOST_PREFIXES):
        raise ValueError(f"loadtest only targets this machine (http://127.0.0.1:PORT), not {url}")
    if requests is None and duration_s is None:
        raise ValueError("give a request count or a duration (or both): a load test is bounded")
    if concurrency < 1 or (requests is not None and requests < 1) or (duration_s is not None and duration_s <= 0):
        raise ValueError("concurrency and requests must be at least 1, duration above 0")
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(
            _run(url, name, model, rows, tolerance, concurrency, requests, duration_s, timeout_s, retries, check_every)
        )


def _loop_factory():
    """uvloop's event loop where it is installed: the load generator shares the machine with the
    server it measures, and uvloop costs it less CPU per request than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_model(url: str, manifest: Path, model_id: str, name: str | None = None, **options) -> Report:
    """`run` with the model's golden rows and its tolerance read from the manifest. `name` is the
    served name (default: the id); an `{id}-{format}` name checks at that format's tolerance."""
    model, rows = golden_rows(manifest, model_id)
    name = name or model_id
    fmt = name.removeprefix(f"{model_id}-") if name.startswith(f"{model_id}-") else None
    return run(url, name, model, rows, tolerance_of(model, fmt), **options)


def markdown(name: str, url: str, concurrency: int, report: Report) -> str:
    d = report.as_dict()
    lat = d["latency_ms"]
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(d["errors"].items())) or "none"
    lines = [
        f"loadtest {name} at {url}, concurrency {concurrency}",
        f"  requests {d['requests']} in {d['seconds']} s: {d['ok']} ok, {d['throughput_rps']} requests/s",
        f"  latency p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms",
        f"  errors: {errors}; retried {d['retried']} requests ({d['retries']} retries)",
        f"  checked {d['checked']} answers against the reference: {d['mismatched']} wrong",
    ]
    lines += [f"  {e}" for e in d["first_errors"]]
    return "\n".join(lines) + "\n"
