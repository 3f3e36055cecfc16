"""`serve --engine triton`: a real Triton Inference Server (2.51, as nvidia-pytriton 0.7 ships it) behind the front.

PyTriton pins numpy<2, so Triton runs in its own environment (.venv-triton, `make setup`) under a
child process (builder.serve.triton_child) that writes a model repository, one Python-backend model
per servable, and starts Triton on 127.0.0.1. Each model instance (replica) is a Triton Python stub
that loads its artifact with the runtime `verify` uses (builder.serve.triton_model). This process
runs the front (builder.serve.app) under uvicorn: every request is validated there, the same way for
every engine (Triton's own HTTP front answers 500 to some bad requests), then its body is forwarded
unchanged to Triton's HTTP port and Triton's answer is passed back as it is.

The child leads its own process group (Triton's server and its Python stubs are in it), so close()
ends every process `start` started.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import builder
from builder.serve import app, protocol
from builder.serve.engine import HOST, EngineError, Options, Progress, Row, free_ports
from builder.serve.servables import Servable
from builder.serve.triton_model import BAD_REQUEST  # a predict error that is the client's fault

ENV_PYTHON = "DEPLOYKIT_TRITON_PYTHON"
STOP_TIMEOUT_S = 15.0  # SIGTERM, then SIGKILL to the whole group
START_TIMEOUT_S = 120.0  # plus LOAD_TIMEOUT_S per served artifact
LOAD_TIMEOUT_S = 30.0
# Log lines of Triton on a machine without a GPU, never the reason it failed.
NOISE = ("CudaDriverHelper", "CUDA driver", "pinned memory", "config modification time", "CUDA memory pool")


def checkout() -> Path:
    """The source checkout the builder runs from (where `make setup` puts .venv-triton)."""
    return Path(builder.__file__).resolve().parents[2]


def triton_python() -> Path:
    """The Python of the Triton environment: $DEPLOYKIT_TRITON_PYTHON, else the checkout's .venv-triton."""
    if os.environ.get(ENV_PYTHON):
        return Path(os.environ[ENV_PYTHON])
    candidate = checkout() / ".venv-triton" / "bin" / "python"
    if candidate.is_file():
        return candidate
    raise EngineError(
        "Triton needs its own environment: run `make setup` (creates .venv-triton) "
        f"or set {ENV_PYTHON} to a Python with nvidia-pytriton 0.7"
    )


def _listen(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as e:
        sock.close()
        raise EngineError(f"cannot listen on {HOST}:{port}: {e.strerror} (choose another --port)") from None
    sock.listen(2048)
    return sock


def last_error(log: Path) -> str:
    """The log's last line that says what went wrong (a Python exception, Triton's E-lines), else its last line."""
    try:
        lines = [x.strip() for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        return "(no log)"
    lines = [x for x in lines if not any(n in x for n in NOISE)]
    for x in reversed(lines):
        head = x.split(":", 1)[0]
        if head.endswith(("Error", "Exception")) or (x[:1] == "E" and x[1:5].isdigit()):
            return x[:400]
    return lines[-1][:400] if lines else "(no output)"


class TritonServer:
    """The running engine: the child (Triton and its stubs), and the front under uvicorn in a thread."""

    def __init__(self, servables: list[Servable], options: Options, progress: Progress):
        self.servables = servables
        self.options = options
        self.progress = progress
        self.url = ""
        self.rows: list[Row] = []
        self.child: subprocess.Popen | None = None
        self.triton_url = ""
        self._closed = False
        self._lock = threading.Lock()
        self._workdir = tempfile.TemporaryDirectory(prefix="deploykit-triton-")
        self.log = Path(self._workdir.name) / "triton.log"
        self._events: queue.Queue = queue.Queue()
        self._uvicorn = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: Http | None = None
        atexit.register(self.close)

    # --- starting -----------------------------------------------------------------------------
    def start_child(self, python: Path) -> None:
        (http,) = free_ports(1)
        self.triton_url = f"http://{HOST}:{http}"
        self._http = Http(HOST, http)
        spec = {
            "servables": [
                {"name": s.name, "model": s.model, "artifact": s.artifact, "path": str(s.path)} for s in self.servables
            ],
            "replicas": self.options.replicas,
            "max_batch": self.options.max_batch,
            "batch_wait_ms": self.options.batch_wait_ms,
            "http_port": http,
        }
        env = dict(os.environ, PYTHONPATH=str(Path(builder.__file__).resolve().parent.parent), PYTHONUNBUFFERED="1")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        verbose = bool(os.environ.get("DEPLOYKIT_VERBOSE"))
        read, write = os.pipe()  # the child's progress events (its stdout is anyone's)
        env["DEPLOYKIT_TRITON_EVENTS_FD"] = str(write)
        with open(self.log, "wb") as log:
            try:
                self.child = subprocess.Popen(
                    [str(python), "-m", "builder.serve.triton_child"],
                    stdin=subprocess.PIPE,
                    stdout=None if verbose else log,
                    stderr=None if verbose else log,
                    env=env,
                    pass_fds=(write,),
                    start_new_session=True,  # its own process group: Triton and the stubs die with it
                )
            except OSError as e:
                os.close(read)
                raise EngineError(f"cannot run the Triton environment's Python {python}: {e.strerror}") from None
            finally:
                os.close(write)
        self._events_pipe = os.fdopen(read, "rb")
        self.child.stdin.write(json.dumps(spec).encode())
        self.child.stdin.close()
        threading.Thread(target=self._read_events, daemon=True).start()
        self.progress(
            f"triton: started Triton Inference Server (pid {self.child.pid}), loading {len(spec['servables'])} model(s)"
        )

    def _read_events(self) -> None:
        for line in self._events_pipe:
            try:
                self._events.put(json.loads(line))
            except ValueError:
                continue
        self._events.put({"event": "exit"})

    def wait_ready(self, began: float) -> None:
        deadline = began + START_TIMEOUT_S + LOAD_TIMEOUT_S * len(self.servables)
        while True:
            try:
                event = self._events.get(timeout=max(0.1, deadline - time.perf_counter()))
            except queue.Empty:
                raise EngineError(
                    f"Triton was not ready after {deadline - began:.0f} s: {last_error(self.log)}"
                ) from None
            kind = event.get("event")
            if kind == "loaded":
                self.progress(f"triton: loaded {event['name']} ({event['seconds']:.2f} s)")
            elif kind == "error":
                raise EngineError(f"Triton failed: {event.get('message')}")
            elif kind == "exit":
                code = self.child.wait()
                raise EngineError(f"Triton's process exited ({code}) while starting: {last_error(self.log)}")
            elif kind == "ready":
                break
        for s in self.servables:  # Triton's own word for each model
            if not self._get(f"/v2/models/{s.name}/ready"):
                raise EngineError(f"Triton does not report model {s.name} ready: {last_error(self.log)}")

    def _get(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.triton_url + path, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def start_front(self, sock: socket.socket) -> None:
        import uvicorn

        port = sock.getsockname()[1]
        self.url = f"http://{HOST}:{port}"
        front = app.Front(
            self.servables,
            self._infer,
            ready=self._ready,
            max_body_bytes=self.options.max_body_bytes,
            timeout_s=self.options.timeout_s,
            server_version="triton 2.51",
        )
        config = uvicorn.Config(
            app.asgi_app(front),
            loop=_best("uvloop", "asyncio"),
            http=_best("httptools", "h11"),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
            backlog=2048,
        )
        self._uvicorn = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            async def serve() -> None:
                self._loop = asyncio.get_running_loop()
                started.set()
                await self._uvicorn.serve(sockets=[sock])
                self._http.close()

            try:
                with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
                    runner.run(serve())
            finally:
                started.set()
                sock.close()

        self._thread = threading.Thread(target=run, name="deploykit-front", daemon=True)
        self._thread.start()
        started.wait(30)
        while not self._uvicorn.started and self._thread.is_alive():
            time.sleep(0.01)
        if not self._uvicorn.started:
            raise EngineError(f"the HTTP front did not start on {self.url}")
        self.rows = [
            Row(
                "triton",
                s.name,
                s.artifact["format"],
                str(self.options.replicas),
                f"{self.url}/v2/models/{s.name}/infer",
            )
            for s in self.servables
        ]

    # --- serving ------------------------------------------------------------------------------
    async def _infer(self, s: Servable, request: protocol.InferRequest, body: bytes) -> protocol.Encoded:
        # Triton speaks the binary extension itself: the body goes as it came, with its header, and
        # Triton's answer comes back as it is, with its own.
        status, answer, answer_json = await self._http.request(
            b"POST", f"/v2/models/{s.name}/infer".encode(), body, request.json_length
        )
        if status == 200:
            return protocol.Encoded(answer, answer_json)
        message = _error_message(answer)
        if BAD_REQUEST in message:
            raise protocol.ProtocolError(400, message.split(BAD_REQUEST, 1)[1].splitlines()[0])
        if 400 <= status < 500:
            raise protocol.ProtocolError(413 if status == 413 else 400, message)
        if status == 503:
            raise app.EngineUnavailable(message)
        raise RuntimeError(f"Triton answered {status}: {_last_line(message)}")

    async def _ready(self) -> bool:
        try:
            status, _, _ = await self._http.request(b"GET", b"/v2/health/ready")
        except app.EngineUnavailable:
            return False
        return status == 200

    def replica_pids(self) -> list[int]:
        """One process per model instance: Triton's Python backend stubs, each holding its own loaded
        artifact (bench-serve measures their memory)."""
        import psutil

        if self.child is None:
            return []
        try:
            family = psutil.Process(self.child.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [p.pid for p in family if p.name().startswith("triton_python_b")]

    def wait(self) -> None:
        while self.child is not None and self.child.poll() is None:
            if self._thread is not None and not self._thread.is_alive():
                return
            time.sleep(0.5)

    # --- stopping -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        if self.child is not None:
            stop_group(self.child)
            with contextlib.suppress(OSError):
                self._events_pipe.close()
        self._workdir.cleanup()


class Http:
    """A minimal HTTP/1.1 keep-alive client for Triton's own port, which answers with Content-Length
    bodies: a pool of idle connections, no parsing beyond the status and the length. (aiohttp's
    client costs this process more per request than the whole front.)"""

    MAX_IDLE = 64

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def request(
        self, method: bytes, path: bytes, body: bytes = b"", json_length: int | None = None
    ) -> tuple[int, bytes, int | None]:
        """(status, body, the answer's Inference-Header-Content-Length); `json_length`: the request's
        (binary tensor data follows its JSON). Raises app.EngineUnavailable when Triton cannot be reached."""
        binary = b"" if json_length is None else b"Inference-Header-Content-Length: %d\r\n" % json_length
        head = b"%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            method,
            path,
            self.host.encode(),
            self.port,
            b"application/json" if json_length is None else b"application/octet-stream",
            len(body),
            binary,
        )
        for attempt in (0, 1):
            reused = bool(self.idle)
            try:
                reader, writer = self.idle.pop() if reused else await asyncio.open_connection(self.host, self.port)
            except OSError as e:
                raise app.EngineUnavailable(f"Triton does not answer on port {self.port}: {e.strerror or e}") from None
            done = False
            try:
                writer.write(head + body if len(body) < 65536 else head)
                if len(body) >= 65536:
                    writer.write(body)
                    await writer.drain()
                status, length, keep, answer_json = _parse_head(await reader.readuntil(b"\r\n\r\n"))
                answer = await reader.readexactly(length)
                done = True
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
                if reused and attempt == 0:  # Triton closed an idle connection: once more on a new one
                    continue
                raise app.EngineUnavailable(f"Triton closed the connection ({type(e).__name__})") from None
            finally:
                if not done or not keep or len(self.idle) >= self.MAX_IDLE:
                    writer.close()
                else:
                    self.idle.append((reader, writer))
            return status, answer, answer_json
        raise AssertionError("unreachable")

    def close(self) -> None:
        while self.idle:
            self.idle.pop()[1].close()


def _parse_head(head: bytes) -> tuple[int, int, bool, int | None]:
    """(status, Content-Length, keep-alive, Inference-Header-Content-Length) of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep, json_length = 0, True, None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == protocol.HEADER_LENGTH.encode():
            json_length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
        elif name == b"transfer-encoding":
            raise ValueError("chunked answers are not expected from Triton")
    return status, length, keep, json_length


def stop_group(child: subprocess.Popen) -> None:
    """SIGTERM to the child (it stops Triton), then SIGKILL to its whole process group."""
    pgid = child.pid  # start_new_session: the child leads its group
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)  # whatever is left: Triton, its stubs, their helpers
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(5)
    # SIGKILL is delivered asynchronously: return only once no member of the group still runs.
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (an exited one awaiting its reaper does not)."""
    import psutil

    for p in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(p.pid) == pgid and p.info["status"] not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                return True
    return False


def _best(preferred: str, fallback: str) -> str:
    try:
        __import__(preferred)
    except ImportError:
        return fallback
    return preferred


def _error_message(body: bytes) -> str:
    try:
        doc = json.loads(body)
        return str(doc.get("error", doc)) if isinstance(doc, dict) else str(doc)
    except ValueError:
        return body.decode(errors="replace")


def _last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:300] if lines else ""


def start(manifest: Path, servables: list[Servable], options: Options, progress: Progress) -> TritonServer:
    if options.autoscale:
        raise EngineError("--autoscale needs --engine ray")
    if options.address:
        raise EngineError("--address needs --engine ray")
    python = triton_python()
    began = time.perf_counter()
    server = TritonServer(servables, options, progress)
    sock = None
    try:
        sock = _listen(options.port)  # before Triton starts: a port in use fails at once
        server.start_child(python)
        server.wait_ready(began)
        server.start_front(sock)
    except BaseException:
        if sock is not None and server._thread is None:
            sock.close()
        server.close()
        raise
    progress(f"triton: ready in {time.perf_counter() - began:.1f} s at {server.url}")
    return server
