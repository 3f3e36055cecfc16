"""--engine ray: each servable as a Ray Serve deployment behind one ingress that answers the protocol.

Without `--address` the engine starts a private Ray instance on 127.0.0.1 (no dashboard, usage stats
off) and stops every process of it on close(). With `--address host:port` it joins a running cluster
(`ray start`), where replicas spread over the nodes; close() then deletes only its own application
and leaves the cluster up. Serve's HTTP proxy runs on the head node at 127.0.0.1:port.

Ray 2.52 turns the address 127.0.0.1 (in `--address`, `--node-ip-address` and `ray.init`) into the
machine's LAN address unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, and its servers bind every interface
unless the node's address is exactly 127.0.0.1; so a loopback cluster is joined with that switch held
off during ray.init and `_node_ip_address="127.0.0.1"` (docs/serving.md, "Ray on loopback").
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import subprocess
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from builder.serve import protocol
from builder.serve import servables as servables_mod
from builder.serve.app import EngineUnavailable, Front, response_headers
from builder.serve.engine import HOST, EngineError, Options, Progress, Row, free_ports
from builder.serve.protocol import ProtocolError, error_body
from builder.serve.servables import Servable

APP = "deploykit"  # the Serve application name: close() deletes only this one
RETRIES = 2  # a request whose replica died is sent again this many times, then answered 503
START_TIMEOUT_S = 600.0  # deployments not running by then: EngineError
LOG = {"log_level": "WARNING", "enable_access_log": False}  # replicas' and Serve's own logs


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _replicas(options: Options) -> str:
    return f"{options.autoscale[0]}..{options.autoscale[1]}" if options.autoscale else str(options.replicas)


def _outcome(predict, arrays: dict) -> tuple:
    """("ok", outputs) or ("bad", message) for a value the runtime refuses (400); other errors raise."""
    try:
        return "ok", predict(arrays)
    except ValueError as e:
        if "does not fit" in str(e):
            return "bad", str(e).splitlines()[0]
        raise


def _run_batch(predict, requests: list[dict]) -> list[tuple]:
    """Runs requests whose non-batch dims match as one concatenated call; splits the rows back."""
    groups: dict[tuple, list[int]] = {}
    for i, arrays in enumerate(requests):
        key = tuple((n, a.dtype.str, a.shape[1:]) for n, a in sorted(arrays.items()))
        groups.setdefault(key, []).append(i)
    results: list[tuple] = [()] * len(requests)
    for members in groups.values():
        if len(members) == 1:
            results[members[0]] = _outcome(predict, requests[members[0]])
            continue
        rows = [len(next(iter(requests[i].values()))) for i in members]
        joined = {n: np.concatenate([requests[i][n] for i in members]) for n in requests[members[0]]}
        try:
            outputs = predict(joined)
        except Exception:  # noqa: BLE001 - one bad request must not fail the others: run them one by one
            for i in members:
                results[i] = _outcome(predict, requests[i])
            continue
        cuts = np.cumsum(rows)[:-1]
        pieces = {n: np.split(a, cuts) for n, a in outputs.items()}
        for k, i in enumerate(members):
            results[i] = ("ok", {n: p[k] for n, p in pieces.items()})
    return results


def _model_deployment(serve, s: Servable, options: Options):
    batched = options.max_batch > 0 and s.batched
    if options.autoscale:
        lo, hi = options.autoscale
        scaling = {"autoscaling_config": {"min_replicas": lo, "max_replicas": hi, "initial_replicas": lo}}
    else:
        scaling = {"num_replicas": options.replicas}

    class Model:
        def __init__(self, servable: Servable):
            self.predict = servables_mod.load(servable)

        async def __call__(self, arrays: dict) -> tuple:
            if batched:
                return await self.batch(arrays)
            return _outcome(self.predict, arrays)

        @serve.batch(max_batch_size=max(options.max_batch, 1), batch_wait_timeout_s=options.batch_wait_ms / 1000)
        async def batch(self, requests: list[dict]) -> list[tuple]:
            return _run_batch(self.predict, requests)

    return serve.deployment(
        Model,
        name=s.name,
        max_ongoing_requests=max(16, 2 * options.max_batch),
        logging_config=LOG,
        **scaling,
    ).bind(s)


def _ingress_deployment(serve, servables: list[Servable], models: dict, options: Options):
    from ray.exceptions import ObjectLostError, RayActorError
    from ray.serve.exceptions import DeploymentUnavailableError
    from starlette.responses import Response

    retryable = (RayActorError, DeploymentUnavailableError, ObjectLostError)

    class Ingress:
        def __init__(self, servables: list[Servable], handles: dict, options: Options):
            import ray

            self.handles = handles
            self.retried = self.unavailable = 0
            self.limit = options.max_body_bytes
            self.front = Front(
                servables, self.infer, None, options.max_body_bytes, options.timeout_s, f"ray {ray.__version__}"
            )

        async def __call__(self, request) -> Response:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.limit:
                status = 413
                answer = protocol.Encoded(error_body(f"body of {declared} bytes is over the limit of {self.limit}"))
            else:
                binary = request.headers.get(protocol.HEADER_LENGTH)
                status, answer = await self.front.answer(
                    request.method,
                    request.url.path,
                    await request.body(),
                    {protocol.HEADER_LENGTH: binary} if binary is not None else {},
                )
            headers = {k.decode(): v.decode() for k, v in response_headers(answer) if k != b"content-length"}
            return Response(answer.body, status_code=status, headers=headers)

        def stats(self) -> dict:
            """How many requests this ingress sent again after losing a replica, and answered 503."""
            return {"retried": self.retried, "unavailable": self.unavailable}

        async def infer(self, s: Servable, request, body: bytes):
            last = None
            for attempt in range(RETRIES + 1):
                try:
                    kind, value = await self.handles[s.name].remote(request.arrays)
                except retryable as e:  # the replica died mid-request: another one answers
                    last = e
                    self.retried += attempt < RETRIES
                    await asyncio.sleep(0.05 * (attempt + 1))
                    continue
                if kind == "bad":
                    raise ProtocolError(400, value)
                return value
            self.unavailable += 1
            raise EngineUnavailable(f"{s.name}: no replica answered after {RETRIES + 1} tries ({type(last).__name__})")

    return serve.deployment(
        Ingress, name="ingress", max_ongoing_requests=1024, ray_actor_options={"num_cpus": 0}, logging_config=LOG
    ).bind(servables, models, options)


class RayServer:
    def __init__(self, url: str, rows: list[Row], own_ray: bool, ray_pids: list):
        self.url, self.rows = url, rows
        self._own_ray, self._ray_pids, self._closed = own_ray, ray_pids, False

    def replica_pids(self) -> list[int]:
        """The live model replicas' process ids on this machine (bench-serve measures their memory)."""
        import ray._private.state

        names = {f"ServeReplica:{APP}:{r.model}" for r in self.rows}
        actors = ray._private.state.actors().values()
        return [a["Pid"] for a in actors if a["ActorClassName"] in names and a["State"] == "ALIVE"]

    def wait(self) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        import ray
        from ray import serve

        processes = self._ray_pids + (_ray_children() if self._own_ray else [])
        node = getattr(ray._private.worker, "_global_node", None) if self._own_ray else None
        infos = [i for infos in node.all_processes.values() for i in infos] if node else []
        with contextlib.suppress(Exception):
            if self._own_ray:
                serve.shutdown()
            else:
                serve.delete(APP)
                serve.context._set_global_client(None)  # else a later start in this process uses a stale controller
        ray.shutdown()
        if self._own_ray:
            _reap(processes, infos)
        with _ray_noise():
            del node, infos
            gc.collect()


def _ray_children() -> list:
    """This process's descendants that Ray started (GCS, raylet, agents, workers)."""
    import psutil

    out = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmd = " ".join(p.cmdline())
            if p.name() in ("raylet", "gcs_server") or "/ray/" in cmd or cmd.startswith("ray::"):
                out.append(p)
    return out


def _reap(processes: list, infos: list, grace_s: float = 10.0) -> None:
    """Waits for the Ray processes this server started to exit after ray.shutdown(); kills what is
    left. `infos` are Ray's own records of them (Popen, log files): waited on and closed here, or
    Ray's node object warns about a running process and unclosed files when it is collected."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)
    for info in infos:
        try:
            info.process.wait(1)
        except subprocess.TimeoutExpired:
            info.process.kill()
            info.process.wait(5)
        for f in (info.stdout_file, info.stderr_file):
            if hasattr(f, "close"):
                f.close()


@contextlib.contextmanager
def _ray_noise():
    """Ray 2.52's own warnings: a FutureWarning about accelerator env vars from ray.init, the
    /dev/null files it opens for its processes' output and never closes (collected here), and
    JAX's warning about the forks Ray makes to start its processes."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Tip: In future versions of Ray", FutureWarning)
        warnings.filterwarnings("ignore", "unclosed file <_io.TextIOWrapper name='/dev/null'", ResourceWarning)
        # JAX (when the process has imported it) warns at every fork; Ray forks only to exec its
        # own processes at once, which is safe.
        warnings.filterwarnings("ignore", r"os\.fork\(\) was called", RuntimeWarning)
        yield


def _init_ray(ray, options: Options, cpus: int) -> None:
    from ray._private import ray_constants  # 2.52: only the switch keeps 127.0.0.1 from becoming the LAN address

    loopback = options.address is None or _is_loopback(options.address)
    saved = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    if loopback and saved is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    kwargs = {"_node_ip_address": "127.0.0.1"} if loopback else {}
    if options.address is None:
        kwargs |= {"num_cpus": cpus, "include_dashboard": False}
    try:
        with _ray_noise():
            ray.init(
                address=options.address,
                logging_level=logging.WARNING,
                log_to_driver=False,
                configure_logging=True,
                **kwargs,
            )
            gc.collect()
    finally:
        if loopback and saved is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved


def start(manifest: Path, servables: list[Servable], options: Options, progress: Progress) -> RayServer:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
        from ray import serve
    except ImportError as e:
        raise EngineError(f"Ray Serve is not installed here ({e}): pip install 'ray[serve]'") from None
    if ray.is_initialized():
        raise EngineError("Ray is already initialized in this process; serve needs its own connection")
    own = options.address is None
    replicas = sum((options.autoscale[1] if options.autoscale else options.replicas) for _ in servables)
    before = time.monotonic()
    try:
        _init_ray(ray, options, cpus=max(os.cpu_count() or 1, replicas))
    except Exception as e:  # noqa: BLE001 - Ray's many ways to fail: one line
        RayServer("", [], own, _ray_children() if own else []).close()  # what a half-started Ray left
        where = "a local Ray on 127.0.0.1" if own else f"the Ray cluster at {options.address}"
        raise EngineError(f"could not start {where}: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    ray_pids = _ray_children() if own else []
    logging.getLogger("ray.serve").setLevel(logging.ERROR)  # e.g. "the new HTTP config is ignored" on serve.run
    nodes = [n for n in ray.nodes() if n["Alive"]]
    where = "local Ray on 127.0.0.1" if own else f"joined {options.address}"
    progress(f"ray up in {time.monotonic() - before:.1f} s ({where}, {len(nodes)} node(s), ray {ray.__version__})")
    server = RayServer("", [], own, ray_pids)
    try:
        port = options.port or free_ports(1)[0]
        serve.start(
            proxy_location="HeadOnly",
            http_options={"host": HOST, "port": port, "request_timeout_s": options.timeout_s + 5},
            logging_config=LOG,
        )
        with contextlib.suppress(Exception):  # a cluster whose Serve already runs keeps its own port
            port = serve.context._get_global_client().http_config.port
        models = {s.name: _model_deployment(serve, s, options) for s in servables}
        _deploy(serve, _ingress_deployment(serve, servables, models, options), servables, progress)
    except BaseException as e:
        server.close()
        if isinstance(e, EngineError | KeyboardInterrupt):
            raise
        raise EngineError(f"ray serve could not deploy: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    server.url = f"http://{HOST}:{port}"
    server.rows = [
        Row("ray", s.name, s.artifact["format"], _replicas(options), f"{server.url}/v2/models/{s.name}/infer")
        for s in servables
    ]
    return server


def _deploy(serve, app, servables: list[Servable], progress: Progress) -> None:
    """serve.run in a thread, reporting each deployment as it turns healthy; bounded by START_TIMEOUT_S."""
    failure: list[BaseException] = []

    def run():
        try:
            serve.run(app, name=APP, route_prefix="/", logging_config=LOG)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(e)

    started = time.monotonic()
    thread = threading.Thread(target=run, name="serve-run", daemon=True)
    thread.start()
    reported: set[str] = set()
    while True:
        thread.join(0.5)
        with contextlib.suppress(Exception):
            deployments = serve.status().applications[APP].deployments
            for s in servables:
                d = deployments.get(s.name)
                if d is not None and d.status == "HEALTHY" and s.name not in reported:
                    reported.add(s.name)
                    running = d.replica_states.get("RUNNING", 0)
                    progress(f"{s.name} ready in {time.monotonic() - started:.1f} s ({running} replica(s))")
        if failure:
            raise EngineError(f"ray serve could not deploy: {str(failure[0]).splitlines()[0]}")
        if not thread.is_alive():
            return
        if time.monotonic() - started > START_TIMEOUT_S:
            raise EngineError(f"ray serve deployments not running after {START_TIMEOUT_S:g} s (not enough CPUs?)")
