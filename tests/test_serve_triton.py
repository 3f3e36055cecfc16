"""`serve --engine triton`: behaviour of the Triton engine itself (the protocol suite,
tests/test_serve_protocol.py, runs the same requests against every engine).

One real server per module (mlp_torch and chargpt_torch, two replicas, dynamic batching on) keeps
the module quick; the tests that need no running server start nothing heavy.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import os
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from builder import compare
from builder.serve import engine, protocol, servables, triton, triton_child, triton_model
from builder.verify.inputs import input_sets

MODELS = ["mlp_torch", "chargpt_torch"]  # float32; int64 tokens with a bounded dynamic seq dim


def _needs_triton():
    try:
        triton.triton_python()
    except engine.EngineError as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def served(manifest_path):
    _needs_triton()
    chosen = servables.choose(manifest_path, MODELS)
    lines: list[str] = []
    server = engine.start(
        "triton", manifest_path, chosen, engine.Options(port=0, replicas=2, max_batch=64), lines.append
    )
    yield server, chosen, lines
    server.close()


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _check(servable, s, status, doc) -> None:
    assert status == 200, doc
    got = protocol.response_arrays(servable.model, doc)
    results = compare.compare_outputs(s.expected, got, servable.artifact["tolerance"])
    assert all(r.passed for r in results.values()), (servable.name, s.name, results)


def test_golden_sets_within_tolerance(served, manifest_path):
    server, chosen, lines = served
    assert any("ready in" in line for line in lines)
    assert [row.model for row in server.rows] == MODELS
    assert all(row.engine == "triton" and row.replicas == "2" for row in server.rows)
    assert server.url.startswith("http://127.0.0.1:") and server.triton_url.startswith("http://127.0.0.1:")
    for servable in chosen:
        for s in input_sets(manifest_path.parent, servable.model):
            status, doc = _post(
                f"{server.url}/v2/models/{servable.name}/infer", protocol.request_body(servable.model, s.inputs)
            )
            _check(servable, s, status, doc)


def test_replicas_and_batching_in_triton(served):
    server, chosen, _ = served
    for servable in chosen:
        with urllib.request.urlopen(f"{server.triton_url}/v2/models/{servable.name}/config", timeout=10) as r:
            config = json.loads(r.read())
        assert sum(g["count"] for g in config["instance_group"]) == 2
        # --max-batch 64 is the batcher's preferred size, not Triton's cap: a larger request is served.
        assert config["max_batch_size"] == triton_child.QUEUED_ROWS
        assert [int(x) for x in config["dynamic_batching"]["preferred_batch_size"]] == [64]


def test_a_request_over_max_batch_rows_is_served_in_one_call(served, manifest_path):
    server, chosen, _ = served
    for servable in chosen:
        golden = next(s for s in input_sets(manifest_path.parent, servable.model) if s.name == "golden")
        # 100 rows: the golden rows and their reference outputs again (every row is independent)
        big = dataclasses.replace(
            golden,
            inputs={k: np.concatenate([v, v])[:100] for k, v in golden.inputs.items()},
            expected={k: np.concatenate([v, v])[:100] for k, v in golden.expected.items()},
        )
        status, doc = _post(
            f"{server.url}/v2/models/{servable.name}/infer", protocol.request_body(servable.model, big.inputs)
        )
        _check(servable, big, status, doc)


def test_the_batcher_stacks_up_to_max_rows_and_keeps_a_larger_request_whole():
    calls = []

    def predict(arrays):
        calls.append(arrays["x"].shape[0])
        return {"y": arrays["x"] * 2}

    batcher = triton_model.Batcher(predict, ["x"], ["y"], batching=True, max_rows=4)
    requests = [{"x": np.full((n, 3), float(i), np.float32)} for i, n in enumerate([1, 2, 1, 6, 1, 1])]
    answers = batcher.run(requests)
    assert calls == [4, 6, 2]  # 1+2+1, the 6-row request alone, 1+1
    for request, answer in zip(requests, answers, strict=True):
        np.testing.assert_array_equal(answer["y"], request["x"] * 2)
    other = {"x": np.zeros((1, 5), np.float32)}  # other non-batch dims: never stacked with the rest
    assert [len(g) for g in batcher.groups([requests[0], other, requests[2]])] == [1, 1, 1]


def test_concurrent_rows_are_batched_to_the_same_numbers(served, manifest_path):
    """Single rows sent concurrently are merged into batches by Triton, and come back unchanged."""
    server, chosen, _ = served
    jobs = []
    for servable in chosen:
        golden = next(s for s in input_sets(manifest_path.parent, servable.model) if s.name == "golden")
        for i in range(24):
            row = dataclasses.replace(
                golden,
                inputs={k: v[i : i + 1] for k, v in golden.inputs.items()},
                expected={k: v[i : i + 1] for k, v in golden.expected.items()},
            )
            jobs.append((servable, row))
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(
            pool.map(
                lambda job: _post(
                    f"{server.url}/v2/models/{job[0].name}/infer", protocol.request_body(job[0].model, job[1].inputs)
                ),
                jobs,
            )
        )
    for (servable, row), (status, doc) in zip(jobs, answers, strict=True):
        _check(servable, row, status, doc)


def test_close_leaves_no_process(served):
    server, _, _ = served
    pid = server.child.pid
    group = [p for p in _pids() if _pgid(p) == pid]
    assert pid in group and len(group) > 2  # the child, Triton, its Python stubs
    server.close()
    server.close()  # idempotent
    assert server.child.poll() is not None
    # An exited grandchild can linger as a zombie until init reaps it: only running ones count.
    assert [p for p in group if _alive(p) and _pgid(p) == pid] == []
    assert [p for p in _pids() if _pgid(p) == pid and _alive(p)] == []


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_missing_environment_is_one_line(monkeypatch, tmp_path, manifest_path):
    monkeypatch.delenv(triton.ENV_PYTHON, raising=False)
    monkeypatch.setattr(triton, "checkout", lambda: tmp_path)
    with pytest.raises(engine.EngineError, match=r"^Triton needs its own environment: run `make setup`"):
        engine.start(
            "triton", manifest_path, servables.choose(manifest_path, ["mlp_torch"]), engine.Options(port=0), print
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (engine.Options(autoscale=(1, 2)), "--autoscale needs --engine ray"),
        (engine.Options(address="x:1"), "--address"),
    ],
)
def test_ray_only_options_are_refused(manifest_path, options, message):
    with pytest.raises(engine.EngineError, match=message):
        engine.start("triton", manifest_path, servables.choose(manifest_path, ["mlp_torch"]), options, print)


def test_a_model_that_fails_to_load_stops_the_start(manifest_path, tmp_path):
    _needs_triton()
    good = servables.choose(manifest_path, ["mlp_torch"])[0]
    broken = dataclasses.replace(good, path=tmp_path / "missing.onnx")
    with pytest.raises(engine.EngineError, match=r"mlp_torch: load failed: .*missing\.onnx"):
        engine.start("triton", manifest_path, [broken], engine.Options(port=0), lambda message: None)


def test_last_error_skips_gpu_noise(tmp_path):
    log = tmp_path / "triton.log"
    log.write_text(
        'E1201 13:52:49.128538 1 server.cc:241] "CudaDriverHelper has not been initialized."\n'
        "Traceback (most recent call last):\n"
        "OSError: cannot load the thing\n"
        "I1201 13:52:49.132171 1 http_server.cc:4713] shutting down\n"
    )
    assert triton.last_error(log) == "OSError: cannot load the thing"


def test_verify_serve_runtime(manifest_path, monkeypatch):
    """verify's `serve-triton` runtime: golden sets over HTTP, compared like any other cell."""
    _needs_triton()
    from builder.verify import matrix, serve_runner
    from builder.verify.runners import RUNNERS

    # two formats (one server, two models in it) keep the test short; `verify` serves every servable one
    runner = dataclasses.replace(RUNNERS["serve-triton"], formats=("onnx", "torchscript-script"))
    runner.prepare(manifest_path, ["mlp_torch"])
    monkeypatch.setitem(RUNNERS, "serve-triton", runner)
    try:
        report = matrix.run(manifest_path, models=["mlp_torch"], runtimes=["serve-triton"])
    finally:
        serve_runner.close()
    cells = report["cells"]
    assert {c["format"] for c in cells} == {"onnx", "torchscript-script"}
    assert cells and all(c["status"] == "pass" for c in cells), [c for c in cells if c["status"] != "pass"]
    assert report["runtimes"]["serve-triton"]["available"]
