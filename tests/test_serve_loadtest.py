"""`loadtest` and the front's HTTP layer (uvicorn), against the front alone in this process: a load
is bounded and checked, a wrong answer is caught, oversized bodies are refused before they are read."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from builder.serve import app, engine, loadtest, servables


class _Uvicorn:
    """The front under uvicorn in a thread, on a free loopback port."""

    def __init__(self, front: app.Front):
        import uvicorn

        self.port = engine.free_ports(1)[0]
        config = uvicorn.Config(
            app.asgi_app(front), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def mlp(manifest_path):
    (s,) = servables.choose(manifest_path, ["mlp_torch"], ["onnx"])
    return s


@pytest.fixture(scope="module")
def served(mlp):
    predict = servables.load(mlp)
    state = {"wrong": False}

    async def infer(s, request, body):
        await asyncio.sleep(0)
        out = predict(request.arrays)
        return {n: a + 1.0 for n, a in out.items()} if state["wrong"] else out

    server = _Uvicorn(app.Front([mlp], infer, max_body_bytes=64 * 1024))
    yield server, state
    server.close()


def test_bounded_load_checks_answers(served, manifest_path):
    server, _ = served
    report = loadtest.run_model(
        server.url,
        manifest_path,
        "mlp_torch",
        "mlp_torch",
        concurrency=4,
        requests=120,
        check_every=4,
    )
    d = report.as_dict()
    assert d["requests"] == 120 and d["ok"] == 120 and d["errors"] == {} and d["checked"] == 30 and d["mismatched"] == 0
    assert d["latency_ms"]["p50"] <= d["latency_ms"]["p99"]


def test_wrong_answers_are_counted(served, manifest_path):
    server, state = served
    state["wrong"] = True
    try:
        report = loadtest.run_model(
            server.url,
            manifest_path,
            "mlp_torch",
            "mlp_torch",
            concurrency=2,
            requests=20,
            check_every=1,
        )
    finally:
        state["wrong"] = False
    assert report.checked == 20 and report.mismatched == 20
    assert report.first_errors[0].startswith("wrong answer: output output max abs diff 1")


def test_duration_bound_and_404_counted(served, manifest_path):
    server, _ = served
    report = loadtest.run_model(
        server.url,
        manifest_path,
        "mlp_torch",
        "nope",
        concurrency=2,
        requests=None,
        duration_s=0.5,
    )
    assert report.ok == 0 and report.errors["404"] == report.requests > 0


def test_oversized_body_refused_from_content_length(served):
    server, _ = served
    request = urllib.request.Request(
        f"{server.url}/v2/models/mlp_torch/infer", data=b" " * (64 * 1024 + 1), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 413 and "limit" in json.loads(e.value.read())["error"]


def test_cli_reports_and_exit_codes(served, manifest_path, tmp_path, capsys):
    from builder.cli import main

    server, _ = served
    base = ["loadtest", "--manifest", str(manifest_path), "--model", "mlp_torch"]
    report = tmp_path / "r.json"
    assert main([*base, "--url", server.url, "--requests", "50", "--concurrency", "4", "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "50 ok" in out and "0 wrong" in out
    assert json.loads(report.read_text())["ok"] == 50
    assert main([*base, "--url", "http://example.com:8000"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: loadtest: loadtest only targets this machine")
    assert main([*base, "--url", server.url, "--name", "nope", "--requests", "5"]) == 1
    assert "404: 5" in capsys.readouterr().out
