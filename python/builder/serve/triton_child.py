"""The Triton side of `serve --engine triton`: runs in .venv-triton (numpy<2, nvidia-pytriton), never
imported by the main environment.

    <triton python> -m builder.serve.triton_child < spec.json

The spec (written by builder.serve.triton) names the servables, the ports and the batching
options. Each servable is loaded with builder.serve.servables.load (the runtime `verify` uses) once
per replica and bound to PyTriton's Triton Inference Server on 127.0.0.1. Progress goes to the pipe
named by $DEPLOYKIT_TRITON_EVENTS_FD as JSON lines ({"event": "loaded" | "ready" | "error", ...}); logs go to stderr. SIGINT or SIGTERM,
or the parent's death, stops Triton and exits.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import sysconfig
import threading
import time
from pathlib import Path

import numpy as np

from builder.serve import servables as servables_mod

# A predict ValueError with this in its message is the client's fault (python_loaders' boundary
# casts); the parent's front maps Triton's error carrying BAD_REQUEST back to HTTP 400.
BAD_REQUEST = "deploykit-bad-request: "
# Without dynamic batching, the most rows of queued requests Triton hands over in one call (and so the
# most rows one request may have): no limit in practice.
QUEUED_ROWS = 1 << 30


EVENTS_FD = "DEPLOYKIT_TRITON_EVENTS_FD"  # the pipe the parent reads progress from (not stdout)


def emit(event: str, **fields) -> None:
    """One JSON line on the parent's own pipe, in one write: nothing else (a library printing to
    stdout, a grandchild) can garble it."""
    line = (json.dumps({"event": event, **fields}) + "\n").encode()
    fd = int(os.environ.get(EVENTS_FD, "1"))
    while line:
        line = line[os.write(fd, line) :]


def infer_function(predict, names_in: list[str], names_out: list[str], batching: bool):
    """A PyTriton inference callable over `predict`: one call per request, or (batching) one call
    over the requests of a dynamic batch stacked along the batch dim, split back per request."""
    from pytriton.exceptions import PyTritonBadParameterError

    def run(arrays: dict) -> dict:
        try:
            return predict(arrays)
        except ValueError as e:
            if "does not fit" in str(e):
                raise PyTritonBadParameterError(BAD_REQUEST + str(e).splitlines()[0]) from None
            raise

    def infer(requests):
        datas = [{n: r[n] for n in names_in} for r in requests]
        same = len(datas) > 1 and all(
            d[n].shape[1:] == datas[0][n].shape[1:] and d[n].dtype == datas[0][n].dtype for d in datas for n in names_in
        )
        if not (batching and same):
            return [_outputs(run(d), names_out) for d in datas]
        rows = [datas[i][names_in[0]].shape[0] for i in range(len(datas))]
        out = run({n: np.concatenate([d[n] for d in datas]) for n in names_in})
        bounds = np.cumsum(rows)[:-1]
        parts = {n: np.split(out[n], bounds) for n in names_out}
        return [{n: parts[n][i] for n in names_out} for i in range(len(datas))]

    return infer


def _outputs(result: dict, names_out: list[str]) -> dict:
    return {n: np.ascontiguousarray(result[n]) for n in names_out}


def model_config(spec: dict, batching: bool, queued: bool):
    """Dynamic batching: calls of up to max_batch rows, waiting batch_wait_ms to fill. Without it, a
    model with a batch dim still takes the requests that queued while its instance was busy in one
    call (no added wait, each request predicted on its own: the same numbers as one at a time), which
    saves a round trip through PyTriton's proxy per request; other models take one request per call."""
    from pytriton.model_config import DynamicBatcher, ModelConfig

    if batching:
        delay = int(spec["batch_wait_ms"] * 1000)
        return ModelConfig(max_batch_size=spec["max_batch"], batcher=DynamicBatcher(max_queue_delay_microseconds=delay))
    if queued:
        return ModelConfig(max_batch_size=QUEUED_ROWS, batcher=DynamicBatcher(max_queue_delay_microseconds=0))
    return ModelConfig(max_batch_size=0, batching=False)


def tensors(specs: list[dict], batched: bool):
    from pytriton.model_config import Tensor

    return [
        Tensor(
            name=t["name"],
            dtype=np.dtype(t["dtype"]).type,
            shape=tuple(d if isinstance(d, int) else -1 for d in (t["shape"][1:] if batched else t["shape"])),
        )
        for t in specs
    ]


def main() -> int:
    # PyTriton's INFO lines (and Triton's own log, which it relays) go to the parent's log file: the
    # last of them says where a start that fails or stalls got to.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")
    spec = json.load(sys.stdin)
    if os.environ.get(EVENTS_FD):
        os.set_inheritable(int(os.environ[EVENTS_FD]), False)  # Triton and the stubs do not hold it open
    import pytriton
    from pytriton.triton import Triton, TritonConfig

    # Triton's Python stub must find this Python's own libpython (not an older system one: it fails
    # with "'_thread.RLock' object has no attribute '_recursion_count'") and PyTriton's bundled libs.
    libs = [sysconfig.get_config_var("LIBDIR"), str(Path(pytriton.__file__).parent.parent / "nvidia_pytriton.libs")]
    os.environ["LD_LIBRARY_PATH"] = ":".join([*libs, *filter(None, [os.environ.get("LD_LIBRARY_PATH")])])

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    config = TritonConfig(
        http_address="127.0.0.1",
        http_port=spec["http_port"],
        grpc_address="127.0.0.1",
        grpc_port=spec["grpc_port"],
        metrics_port=spec["metrics_port"],
        allow_metrics=False,
        exit_on_error=True,
    )
    # PyTriton loads the models one by one through Triton's repository API (about 2-3 s each: a
    # Python stub process apiece). Its local model store would have Triton load them in parallel at
    # startup (2.3x faster for 11 models) but hung in 3 of 7 starts with 2 replicas and batching.
    triton = Triton(config=config)
    try:
        for item in spec["servables"]:
            servable = servables_mod.Servable(item["name"], item["model"], item["artifact"], Path(item["path"]))
            began = time.perf_counter()
            try:
                predicts = [servables_mod.load(servable) for _ in range(spec["replicas"])]
            except Exception as e:  # noqa: BLE001 - reported to the parent as one line
                emit("error", message=f"{servable.name}: load failed: {type(e).__name__}: {_first_line(e)}")
                return 1
            batching = spec["max_batch"] > 0 and servable.batched
            queued = servable.batched  # the batch dim is Triton's: it may hand over several requests
            names_in = [t["name"] for t in servable.model["inputs"]]
            names_out = [t["name"] for t in servable.model["outputs"]]
            triton.bind(
                model_name=servable.name,
                infer_func=[infer_function(p, names_in, names_out, batching) for p in predicts],
                inputs=tensors(servable.model["inputs"], queued),
                outputs=tensors(servable.model["outputs"], queued),
                config=model_config(spec, batching, queued),
            )
            emit("loaded", name=servable.name, seconds=round(time.perf_counter() - began, 2))
        triton.run()
        emit("ready")
        parent = os.getppid()
        while not stop.is_set() and triton.is_alive() and os.getppid() == parent:
            stop.wait(0.5)  # a parent that died without closing (SIGKILL) stops us too
        if not stop.is_set() and os.getppid() == parent:
            emit("error", message="Triton Inference Server stopped")
            return 1
        return 0
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        emit("error", message=f"{type(e).__name__}: {_first_line(e)}")
        return 1
    finally:
        triton.stop()


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""


if __name__ == "__main__":
    sys.exit(main())
