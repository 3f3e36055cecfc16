"""The Triton side of `serve --engine triton`: runs in .venv-triton (numpy<2, nvidia-pytriton), never
imported by the main environment.

    <triton python> -m builder.serve.triton_child < spec.json

The spec (written by builder.serve.triton) names the servables, the HTTP port and the batching
options. This process writes a Triton model repository, one Python-backend model per servable
(builder.serve.triton_model runs the artifact inside Triton's own Python stub, one stub per
replica), and runs the Triton Inference Server that nvidia-pytriton ships on 127.0.0.1. PyTriton's
own binding is not used: it adds a proxy process and a ZeroMQ hop to every request.

Progress goes to the pipe named by $DEPLOYKIT_TRITON_EVENTS_FD as JSON lines ({"event": "loaded" |
"ready" | "error", ...}); Triton's log goes to stderr. SIGINT or SIGTERM, or the parent's death,
stops Triton and exits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from builder.serve import servables as servables_mod
from builder.serve.triton_model import SERVABLE_FILE

# Without dynamic batching, the most rows of queued requests Triton hands over in one call (and so
# the most rows one request may have): no limit in practice.
QUEUED_ROWS = 1 << 30
EVENTS_FD = "DEPLOYKIT_TRITON_EVENTS_FD"  # the pipe the parent reads progress from (not stdout)
TYPES = {
    "float32": "TYPE_FP32",
    "float16": "TYPE_FP16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "uint8": "TYPE_UINT8",
    "bool": "TYPE_BOOL",
}
# The stub's Python ignores PYTHONPATH, so the shim puts builder's folder on sys.path itself.
SHIM = """import sys

sys.path.insert(0, {root!r})
from builder.serve.triton_model import TritonPythonModel  # noqa: E402, F401
"""
FAILED_LOAD = re.compile(r"failed to load '([^']+)' version \d+: (.*)")


def emit(event: str, **fields) -> None:
    """One JSON line on the parent's own pipe, in one write: nothing else (a library printing to
    stdout, a grandchild) can garble it."""
    line = (json.dumps({"event": event, **fields}) + "\n").encode()
    fd = int(os.environ.get(EVENTS_FD, "1"))
    while line:
        line = line[os.write(fd, line) :]


def config_text(name: str, model: dict, batched: bool, replicas: int, max_batch: int, batch_wait_ms: float) -> str:
    """config.pbtxt of one servable. A model whose tensors all lead with the batch dim is batched:
    with --max-batch, Triton's dynamic batcher sends a batch as soon as max_batch rows are queued
    (its preferred size), else after batch_wait_ms, and the stub stacks them into calls of up to
    max_batch rows (triton_model.Batcher); a request of more rows is still served, in one call of
    its own (Triton refuses a request over max_batch_size, so that is not the cap). Without
    --max-batch Triton still hands over the requests that queued while the instance was busy in one
    `execute` (no added wait, each request predicted on its own: the same numbers as one at a time).
    Other models take one request per call. `batched`: Servable.batched."""
    max_batch_size = QUEUED_ROWS if batched else 0

    def tensor(t: dict) -> str:
        dims = [d if isinstance(d, int) else -1 for d in (t["shape"][1:] if batched else t["shape"])]
        shape = f"dims: [ {', '.join(map(str, dims))} ]" if dims else "dims: [ 1 ] reshape: { shape: [ ] }"
        return f'  {{ name: "{t["name"]}" data_type: {TYPES[t["dtype"]]} {shape} }}'

    lines = [
        f'name: "{name}"',
        'backend: "python"',
        f"max_batch_size: {max_batch_size}",
        "input [\n" + ",\n".join(tensor(t) for t in model["inputs"]) + "\n]",
        "output [\n" + ",\n".join(tensor(t) for t in model["outputs"]) + "\n]",
        f"instance_group [ {{ kind: KIND_CPU count: {replicas} }} ]",
    ]
    if batched and max_batch > 0:
        wait_us = int(batch_wait_ms * 1000)
        lines.append(
            f"dynamic_batching {{ preferred_batch_size: [ {max_batch} ] max_queue_delay_microseconds: {wait_us} }}"
        )
    elif batched:
        lines.append("dynamic_batching { max_queue_delay_microseconds: 0 }")
    return "\n".join(lines) + "\n"


def write_repository(root: Path, spec: dict) -> Path:
    """Triton's model repository: per servable, config.pbtxt, servable.json and 1/model.py (the shim)."""
    repo = root / "models"
    for item in spec["servables"]:
        folder = repo / item["name"]
        (folder / "1").mkdir(parents=True)
        batched = servables_mod.Servable(item["name"], item["model"], item["artifact"], Path(item["path"])).batched
        batching = batched and spec["max_batch"] > 0
        (folder / SERVABLE_FILE).write_text(
            json.dumps({**item, "batching": batching, "max_rows": spec["max_batch"] if batching else 0})
        )
        (folder / "config.pbtxt").write_text(
            config_text(
                item["name"], item["model"], batched, spec["replicas"], spec["max_batch"], spec["batch_wait_ms"]
            )
        )
        (folder / "1" / "model.py").write_text(SHIM.format(root=str(Path(servables_mod.__file__).parents[2])))
    return repo


def install_backend(root: Path) -> tuple[Path, Path]:
    """Triton's binary and a backend folder with the Python backend and the stub for this Python
    (PyTriton ships stubs for 3.8-3.13 next to the backend; Triton looks for one in the backend's
    folder)."""
    import pytriton

    dist = Path(pytriton.__file__).parent / "tritonserver"
    backend = root / "backends" / "python"
    backend.mkdir(parents=True)
    for f in (dist / "backends" / "python").iterdir():
        shutil.copy2(f, backend / f.name)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    shutil.copy2(dist / "python_backend_stubs" / version / "triton_python_backend_stub", backend)
    return dist / "bin" / "tritonserver", root / "backends"


def triton_env() -> dict:
    """The stub must find this Python's own libpython (not an older system one: it fails with
    "'_thread.RLock' object has no attribute '_recursion_count'") and PyTriton's bundled libs; it
    finds this environment's site-packages through the `python` first on PATH."""
    import pytriton

    env = dict(os.environ)
    libs = [sysconfig.get_config_var("LIBDIR"), str(Path(pytriton.__file__).parent.parent / "nvidia_pytriton.libs")]
    env["LD_LIBRARY_PATH"] = ":".join([*libs, *filter(None, [os.environ.get("LD_LIBRARY_PATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop(EVENTS_FD, None)
    return env


class Log:
    """Relays Triton's output to stderr and keeps the reason of each model that failed to load."""

    def __init__(self, stream):
        self.failures: dict[str, str] = {}
        self.last_error = ""
        self._thread = threading.Thread(target=self._relay, args=(stream,), daemon=True)
        self._thread.start()

    def _relay(self, stream) -> None:
        for raw in stream:
            line = raw.decode(errors="replace")
            sys.stderr.write(line)
            found = FAILED_LOAD.search(line)
            if found:
                reason = found.group(2).replace("\\n", "\n").strip().strip('"')
                reason = reason.split("\n")[0].removeprefix("Internal: ")
                self.failures.setdefault(found.group(1), reason)
            elif line[:1] == "E" and line[1:5].isdigit() and "Cuda" not in line and "CUDA" not in line:
                self.last_error = line.split("] ", 1)[-1].strip().strip('"')
        sys.stderr.flush()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def ready(port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def main() -> int:
    spec = json.load(sys.stdin)
    if os.environ.get(EVENTS_FD):
        os.set_inheritable(int(os.environ[EVENTS_FD]), False)  # Triton and the stubs do not hold it open
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    root = Path(tempfile.mkdtemp(prefix="deploykit-triton-repo-"))
    server = None
    try:
        binary, backends = install_backend(root)
        repo = write_repository(root, spec)
        port = spec["http_port"]
        command = [
            str(binary),
            f"--model-repository={repo}",
            f"--backend-directory={backends}",
            "--http-address=127.0.0.1",
            f"--http-port={port}",
            "--allow-grpc=false",
            "--allow-metrics=false",
            "--exit-on-error=true",
            "--exit-timeout-secs=5",
            # The stubs' shared memory, named per server: two servers on one machine must not share it.
            f"--backend-config=python,shm-region-prefix-name=deploykit{os.getpid()}_{os.urandom(4).hex()}_",
        ]
        began = time.perf_counter()
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=triton_env())
        log = Log(server.stdout)
        waiting = [item["name"] for item in spec["servables"]]
        while waiting:  # Triton loads the models in parallel; report each as it becomes ready
            if stop.is_set():
                return 0
            if server.poll() is not None:
                log.join(5)
                emit("error", message=_start_failure(log, server.returncode))
                return 1
            for name in [n for n in waiting if ready(port, f"/v2/models/{n}/ready")]:
                waiting.remove(name)
                emit("loaded", name=name, seconds=round(time.perf_counter() - began, 2))
            time.sleep(0.1)
        while not ready(port, "/v2/health/ready"):
            if server.poll() is not None or stop.wait(0.1):
                break
        emit("ready")
        parent = os.getppid()
        while not stop.is_set() and server.poll() is None and os.getppid() == parent:
            stop.wait(0.5)  # a parent that died without closing (SIGKILL) stops us too
        if not stop.is_set() and os.getppid() == parent:
            log.join(5)
            emit("error", message=f"Triton Inference Server stopped ({server.returncode}): {log.last_error}")
            return 1
        return 0
    except Exception as e:  # noqa: BLE001 - reported to the parent as one line
        emit("error", message=f"{type(e).__name__}: {_first_line(e)}")
        return 1
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(root, ignore_errors=True)


def _start_failure(log: Log, code: int) -> str:
    if log.failures:
        return "; ".join(f"{name}: load failed: {reason}" for name, reason in log.failures.items())
    return f"Triton Inference Server exited ({code}) while starting: {log.last_error or 'see its log'}"


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""


if __name__ == "__main__":
    sys.exit(main())
