"""`serve --engine ray` on a cluster (the embedded local mode, autoscaling and its clean close are
covered by tests/test_serve_protocol.py): a two-node Ray cluster on 127.0.0.1 (head and worker started with `ray start`, tests/ray_cluster.py),
two replicas of mlp_torch (onnx) spread over both nodes, a bounded load through the protocol with one
replica killed in the middle, and no Ray process left behind.

The cluster starts once for the module; the whole module takes about 2.5-3.5 minutes on 2 busy cores.
The engine silences Ray's own warnings narrowly (ray_engine._ray_noise); JAX's fork warning: see pytestmark.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from builder.serve import engine, loadtest, servables
from builder.serve.engine import Options

sys.path.insert(0, str(Path(__file__).parent))
from ray_cluster import Cluster

# JAX, once another test module imported it, warns at every fork of this process; Ray forks only
# to exec its own processes at once (and the engine filters it around ray.init), but Ray's
# background threads fork too, so the filter covers the whole module. Nothing else is filtered.
pytestmark = pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")

MODEL = "mlp_torch"
TIMEOUT_S = 10.0
REQUESTS, CONCURRENCY = 2000, 16


def _load(server, manifest: Path, s, requests: int, concurrency: int = CONCURRENCY) -> loadtest.Report:
    """A bounded load of golden rows; every answer is checked, and no client retries (a 503 counts)."""
    model, rows = loadtest.golden_rows(manifest, MODEL)
    return loadtest.run(
        server.url,
        s.name,
        model,
        rows,
        s.artifact["tolerance"],
        concurrency,
        requests,
        timeout_s=TIMEOUT_S + 3,
        retries=0,
        check_every=1,
    )


def _line(r: loadtest.Report) -> str:
    d = r.as_dict()
    return f"{d['throughput_rps']} rps, p50/p90/p99 {list(d['latency_ms'].values())} ms, errors {d['errors']}"


def _replicas(name: str) -> dict[int, str]:
    """pid -> node id of the live replicas of deployment `name` (GCS actor table; the cluster has no
    dashboard, so ray.util.state is not there)."""
    import ray._private.state

    return {
        a["Pid"]: a["Address"]["NodeID"]
        for a in ray._private.state.actors().values()
        if a["ActorClassName"] == f"ServeReplica:deploykit:{name}" and a["State"] == "ALIVE"
    }


def _wait_running(name: str, replicas: int, timeout_s: float = 180) -> float:
    from ray import serve

    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        d = serve.status().applications["deploykit"].deployments[name]
        if (
            d.status == "HEALTHY"
            and d.replica_states.get("RUNNING", 0) == replicas
            and len(_replicas(name)) == replicas
        ):
            return time.monotonic() - began
        time.sleep(0.5)
    raise AssertionError(f"{name} did not get back to {replicas} running replicas in {timeout_s} s")


def test_batches_group_matching_rows_and_isolate_a_bad_request():
    """Dynamic batching joins requests whose non-batch dims match into one call, splits the rows back,
    and runs a batch that fails one request at a time, so one bad request fails alone (400)."""
    import numpy as np

    from builder.serve.ray_engine import _run_batch

    calls = []

    def predict(arrays):
        calls.append(arrays["x"].shape)
        if np.isnan(arrays["x"]).any():
            raise ValueError("input 'x': a value does not fit")
        return {"y": arrays["x"].sum(axis=1, keepdims=True)}

    wide, narrow, bad = (np.ones((n, d), np.float32) for n, d in ((2, 3), (1, 4), (1, 3)))
    bad[0, 0] = np.nan
    results = _run_batch(predict, [{"x": wide}, {"x": narrow}, {"x": wide * 2}])
    assert sorted(calls) == [(1, 4), (4, 3)]
    assert [r[0] for r in results] == ["ok"] * 3
    np.testing.assert_array_equal(results[2][1]["y"], [[6.0], [6.0]])
    np.testing.assert_array_equal(results[1][1]["y"], [[4.0]])
    calls.clear()
    results = _run_batch(predict, [{"x": wide}, {"x": bad}])
    assert calls == [(3, 3), (2, 3), (1, 3)]
    assert results[0][0] == "ok" and results[1] == ("bad", "input 'x': a value does not fit")


@pytest.fixture(scope="module")
def manifest(manifest_path) -> Path:
    return manifest_path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(Path(sys.executable).parent, tmp_path_factory.mktemp("ray"), cpus_per_node=1)
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def served(cluster, manifest):
    chosen = servables.choose(manifest, [MODEL])
    lines = []
    began = time.monotonic()
    server = engine.start(
        "ray",
        manifest,
        chosen,
        # Requests wait up to 100 ms in a replica for their batch to fill, so the kill below finds
        # some in flight (at this machine's ~60 requests/s the replicas are otherwise mostly idle).
        Options(replicas=2, max_batch=8, batch_wait_ms=100, address=cluster.address, port=0, timeout_s=TIMEOUT_S),
        lines.append,
    )
    print(
        f"\ncluster: head {cluster.timings['head']:.1f} s, worker {cluster.timings['worker']:.1f} s, "
        f"engine {time.monotonic() - began:.1f} s: " + " | ".join(lines)
    )
    try:
        yield server, chosen[0]
    finally:
        server.close()


def test_replicas_spread_over_both_nodes(cluster, served):
    import psutil
    import ray

    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    placed = _replicas(MODEL)
    assert len(placed) == 2 and set(placed.values()) == nodes, (placed, nodes)
    cluster.processes()
    where = {pid: node[:8] for pid, node in placed.items()}
    rss = {pid: psutil.Process(pid).memory_info().rss >> 20 for pid in placed}
    print(f"\nreplicas: pid -> node {where}, RSS MB {rss}")


def test_load_with_a_replica_killed_midway(cluster, served, manifest):
    """2,000 requests at concurrency 16; one replica SIGKILLed a third of the way in. Nothing hangs,
    nothing wrong comes back, failures are 503 only; once Serve has restarted it, all succeed."""
    from ray import serve

    server, s = served
    warm = _load(server, manifest, s, 200)
    assert warm.ok == warm.checked == 200 and warm.mismatched == 0, warm.as_dict()

    victim = sorted(_replicas(MODEL).items())[-1]
    kill_after = 0.33 * REQUESTS / max(warm.throughput, 1.0)
    killer = threading.Timer(kill_after, os.kill, (victim[0], signal.SIGKILL))
    killer.start()
    report = _load(server, manifest, s, REQUESTS)
    killer.join()
    cluster.processes()
    stats = serve.get_deployment_handle("ingress", "deploykit").stats.remote().result(timeout_s=30)
    print(f"\nload c={CONCURRENCY}, replica {victim[0]} killed at {kill_after:.1f} s: {_line(report)}; ingress {stats}")
    assert report.requests == REQUESTS and report.checked == report.ok
    assert report.mismatched == 0, report.first_errors
    assert set(report.errors) <= {"503"}, report.as_dict()  # no timeout: nothing hung

    recovered = _wait_running(MODEL, 2)
    assert victim[0] not in _replicas(MODEL)
    after = _load(server, manifest, s, 400)
    print(f"back to 2 replicas {recovered:.1f} s after the load; then {_line(after)}")
    assert after.ok == after.checked == 400 and after.mismatched == 0, after.as_dict()


def test_close_leaves_the_cluster_then_stop_leaves_nothing(cluster, served):
    """close() deletes only its application (the cluster stays up); stopping the cluster's processes
    leaves none of them running."""
    import ray

    server, _ = served
    cluster.processes()
    server.close()
    server.close()
    assert not ray.is_initialized()
    up = cluster.processes()
    assert any(name == "gcs_server" for name in up.values()) and sum(n == "raylet" for n in up.values()) == 2
    seen = dict(cluster.seen)
    cluster.stop()
    assert not cluster.left(), cluster.left()
    print(f"\nstopped {len(seen)} processes: {sorted(collections.Counter(n for n, _ in seen.values()).items())}")
