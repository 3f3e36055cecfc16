"""`python -m builder serve` and `python -m builder loadtest` (registered by builder.cli).

Exit codes as every command's (docs/contract.md): 0 ok, 1 the work failed (a load test with
errors or wrong answers), 2 usage, 3 the engine could not start here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENGINE = 0, 1, 2, 3


def _replicas(text: str) -> int:
    n = int(text) if text.isdigit() else 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"replicas must be a whole number of at least 1, got {text!r}")
    return n


def _autoscale(text: str) -> tuple[int, int]:
    low, _, high = text.partition(":")
    if not (low.isdigit() and high.isdigit()) or int(low) < 0 or int(high) < max(1, int(low)):
        raise argparse.ArgumentTypeError(f"give MIN:MAX with 0 <= MIN <= MAX and MAX >= 1, got {text!r}")
    return int(low), int(high)


def _nonneg(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
        return value

    return parse


def add_parsers(sub) -> None:
    from builder.serve.engine import DEFAULT_PORT, ENGINES
    from builder.serve.servables import SERVE_FORMATS

    serve = sub.add_parser(
        "serve",
        help="serve exported artifacts over the Open Inference Protocol (Triton or Ray Serve)",
        description=(
            "Serve each chosen artifact with the runtime verify uses (onnxruntime, LibTorch, TensorFlow) behind "
            "the Open Inference Protocol (KServe v2) on 127.0.0.1: GET /v2/health/ready, GET /v2/models/NAME, "
            "POST /v2/models/NAME/infer. The model's tensor specs are enforced: a bad request gets 400/404/413 "
            'with a JSON {"error": ...}. NAME is the model id, or ID-FORMAT when several formats are served. '
            "--engine triton (default) runs a real Triton Inference Server (PyTriton, .venv-triton); --engine ray "
            "runs Ray Serve, locally or on a cluster (--address). Ctrl-C stops it. See docs/serving.md."
        ),
    )
    serve.add_argument("--engine", choices=sorted(ENGINES), default="triton", help="default: triton")
    serve.add_argument(
        "--manifest", type=Path, default=Path("models/manifest.json"), help="default: models/manifest.json"
    )
    serve.add_argument("--models", nargs="+", metavar="ID", help="models of the manifest (default: all)")
    serve.add_argument(
        "--format",
        nargs="+",
        metavar="F",
        help=f"formats to serve, or 'all' (default: each model's first of {', '.join(SERVE_FORMATS)})",
    )
    scale = serve.add_mutually_exclusive_group()
    scale.add_argument("--replicas", type=_replicas, default=1, metavar="N", help="copies of each model (default: 1)")
    scale.add_argument("--autoscale", type=_autoscale, metavar="MIN:MAX", help="Ray only: scale replicas with load")
    serve.add_argument(
        "--max-batch",
        type=_nonneg(int),
        default=0,
        metavar="B",
        help="dynamic batching: merge concurrent requests into calls of up to B rows (default: 0, off)",
    )
    serve.add_argument(
        "--batch-wait-ms",
        type=_nonneg(float),
        default=2.0,
        metavar="W",
        help="how long a batch waits to fill (default: 2)",
    )
    serve.add_argument("--address", metavar="ADDR", help="Ray only: join this Ray cluster (e.g. 127.0.0.1:6379)")
    serve.add_argument(
        "--port", type=_nonneg(int), default=DEFAULT_PORT, help=f"HTTP port on 127.0.0.1 (default: {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--timeout-s",
        type=float,
        default=30.0,
        metavar="S",
        help="answer 503 after S seconds without a result (default: 30)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=float,
        default=64.0,
        metavar="MB",
        help="refuse larger request bodies with 413 (default: 64)",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="show the engine's own logs")

    load = sub.add_parser(
        "loadtest",
        help="a bounded load through the Open Inference Protocol, checked against the reference",
        description=(
            "Send one golden row per request to URL/v2/models/NAME/infer with C requests in flight, for N requests "
            "or S seconds, whichever ends first; report throughput, p50/p90/p99 latency and errors, and compare "
            "every 10th answer with the reference outputs at the artifact's tolerance. Loopback URLs only. "
            "Exit 1 if any request failed or any checked answer was wrong."
        ),
    )
    load.add_argument("--url", required=True, help="the server, e.g. http://127.0.0.1:8000")
    load.add_argument("--model", required=True, metavar="ID", help="the model id in the manifest")
    load.add_argument("--name", metavar="NAME", help="the served model name, if not the id (e.g. ID-onnx)")
    load.add_argument(
        "--manifest", type=Path, default=Path("models/manifest.json"), help="default: models/manifest.json"
    )
    load.add_argument("--concurrency", type=_replicas, default=16, metavar="C", help="requests in flight (default: 16)")
    bound = load.add_argument_group("bounds (default: --requests 2000)")
    bound.add_argument("--requests", type=_replicas, metavar="N", help="stop after N requests")
    bound.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    load.add_argument("--timeout-s", type=float, default=10.0, metavar="S", help="per request (default: 10)")
    load.add_argument(
        "--retries",
        type=_nonneg(int),
        default=2,
        metavar="R",
        help="retries after a 503 or a lost connection (default: 2)",
    )
    load.add_argument("--json", type=Path, metavar="FILE", help="also write the report as JSON")


def cmd_serve(args: argparse.Namespace) -> int:
    from builder.serve import engine, servables

    if args.engine != "ray" and (args.autoscale or args.address):
        print("error: serve: --autoscale and --address need --engine ray", file=sys.stderr)
        return EXIT_USAGE
    try:
        chosen = servables.choose(args.manifest, args.models, args.format)
    except (servables.ServeError, ValueError, OSError) as e:
        print(f"error: serve: {e}", file=sys.stderr)
        return EXIT_USAGE
    options = engine.Options(
        replicas=args.replicas,
        autoscale=args.autoscale,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        address=args.address,
        port=args.port,
        timeout_s=args.timeout_s,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
    )
    if args.verbose:
        from builder import quiet

        os.environ[quiet.ENV_VERBOSE] = "1"
    progress = lambda message: print(f"serve: {message}", file=sys.stderr, flush=True)  # noqa: E731
    progress(f"starting {args.engine} with {len(chosen)} model(s)")
    start = time.perf_counter()
    try:
        server = engine.start(args.engine, args.manifest, chosen, options, progress)
    except engine.EngineError as e:
        print(f"error: serve: {e}", file=sys.stderr)
        return EXIT_ENGINE
    except KeyboardInterrupt:
        print("error: serve: interrupted while starting", file=sys.stderr)
        return 130
    try:
        progress(f"ready in {time.perf_counter() - start:.1f} s; Ctrl-C stops it")
        print(_table(server.rows), flush=True)
        with _sigterm_as_interrupt():
            server.wait()
        print(f"error: serve: the {args.engine} engine stopped on its own (run with -v for its logs)", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        progress("stopping")
    finally:
        server.close()
    progress("stopped")
    return EXIT_OK


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """`kill PID` stops the server as cleanly as Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _table(rows) -> str:
    header = ("engine", "model", "format", "replicas", "URL")
    cells = [header] + [(r.engine, r.model, r.format, r.replicas, r.url) for r in rows]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(header))]
    return "\n".join("  ".join(str(c[i]).ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells)


def cmd_loadtest(args: argparse.Namespace) -> int:
    import json

    from builder.serve import loadtest

    try:
        name = args.name or args.model
        requests = args.requests if (args.requests or args.duration) else 2000
        report = loadtest.run_model(
            args.url,
            args.manifest,
            args.model,
            name,
            concurrency=args.concurrency,
            requests=requests,
            duration_s=args.duration,
            timeout_s=args.timeout_s,
            retries=args.retries,
        )
    except (ValueError, OSError) as e:
        print(f"error: loadtest: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(loadtest.markdown(name, args.url, args.concurrency, report), end="")
    if args.json:
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    failed = sum(report.errors.values()) > 0 or report.mismatched > 0 or report.ok == 0
    return EXIT_FAILED if failed else EXIT_OK
