"""Peers in the bench report (builder.bench.peers, builder.bench.report): the runtime a user would
otherwise pick, attached to its client's row and shown with the ratio and its 95% interval. Built
from small fake timing results; no speeds are asserted."""

from __future__ import annotations

import numpy as np

from builder.bench import peers, report


def _batch(batch: int, ratio: float, calls: int = 40, blocks: int = 10) -> dict:
    rng = np.random.default_rng(batch)
    peer = 100 * batch * np.exp(rng.normal(0, 0.02, calls))
    client = ratio * peer
    p50 = lambda v: {"p50": float(np.median(v)), "p90": 0.0, "p99": 0.0, "mean": 0.0}  # noqa: E731
    return {
        "batch": batch,
        "peer_first_ms": 1.0,
        "client_latency_us": p50(client),
        "peer_latency_us": p50(peer),
        "samples_us": {"latency": client.tolist(), "direct": peer.tolist(), "blocks": blocks},
    }


JAVA_DOC = {
    "client_runtime": "TF Java 1.1.0 (TensorFlow 2.18.0)",
    "peer_runtime": "ONNX Runtime Java 1.29.0",
    "peers": [
        {
            "model": "wide_keras",
            "client": "java",
            "client_format": "saved-model",
            "peer": "onnxruntime-java",
            "peer_format": "onnx",
            "peer_inputs": "OnnxTensor built once",
            "load_ms": 3.0,
            "batches": [_batch(1, 1.5), _batch(1024, 1.1, calls=5, blocks=5)],
        }
    ],
}
WEB_DOC = {
    "tfjs_version": "4.22.0",
    "peers": [
        {
            "model": "wide_keras",
            "client": "chromium",
            "client_format": "tfjs-graph",
            "peer": "onnxruntime-web",
            "peer_format": "onnx",
            "tfjs_version": "4.22.0",
            "tfjs_backend": "wasm",
            "tfjs_wasm_variant": "threaded-simd",
            "tfjs_threads": 1,
            "cross_origin_isolated": True,
            "peer_version": "1.30.0",
            "peer_threads": 1,
            "peer_wasm_binary": "ort-wasm-simd-threaded.wasm",
            "batches": [_batch(1, 2.0), _batch(1024, 0.9, calls=5, blocks=5)],
        },
        {"model": "textcls_keras", "peer": "onnxruntime-web", "skipped": "one float32 input only", "batches": []},
    ],
}


def _row(model: str, runtime: str, fmt: str) -> dict:
    return {"model": model, "format": fmt, "runtime": runtime, "status": "ok", "latency_us": {"p50": 1.0}}


def _result(rows: list[dict]) -> dict:
    return {
        "machine": {"cpu": "x", "cores": 2, "load_average": [0.1, 0.1, 0.1]},
        "gemm": {"n": 8, "gflops": {"numpy": 1.0}, "peak_gflops": 1.0},
        "inference": [
            r | {"load_ms": 1.0, "first_ms": 1.0, "rows_per_s": 1.0, "gflops": 1.0, "latency_us": _lat()} for r in rows
        ],
        "training": [],
        "command": "test",
        "seconds": 1.0,
    }


def _lat() -> dict:
    return {"p50": 1.0, "p90": 1.0, "p99": 1.0, "mean": 1.0}


def test_peer_rows_appear_with_their_ratio_and_interval(monkeypatch, tmp_path):
    models = {
        "wide_keras": {"artifacts": [{"format": f} for f in ("onnx", "saved-model", "tfjs-graph")]},
        "textcls_keras": {"artifacts": [{"format": f} for f in ("onnx", "tfjs-graph")]},
        "mlp_torch": {"artifacts": [{"format": "saved-model"}]},  # no onnx: no peer
    }
    rows = [
        _row("wide_keras", "java", "saved-model"),
        _row("wide_keras", "chromium", "tfjs-graph"),
        _row("textcls_keras", "chromium", "tfjs-graph"),
        _row("mlp_torch", "java", "saved-model"),
        _row("wide_keras", "onnxruntime", "onnx"),
    ]
    docs = {"onnxruntime-java": JAVA_DOC, "onnxruntime-web": WEB_DOC}
    ran = []

    def fake_tool(peer, root, manifest, names, counts, first=()):
        ran.append((peer.name, names, counts["repeat"]))
        assert first == []  # no target model of the page among these
        return docs[peer.name]

    monkeypatch.setattr(peers, "_run_tool", fake_tool)
    monkeypatch.setattr(peers.Peer, "unavailable", lambda self, root: None)
    peers.attach(tmp_path / "manifest.json", rows, models, repeat=40, warmup=4, batch_repeat=5, root=tmp_path)
    assert ran == [("onnxruntime-java", ["wide_keras"], 40), ("onnxruntime-web", ["wide_keras", "textcls_keras"], 40)]
    assert "peers" not in rows[3] and "peers" not in rows[4]
    [java] = rows[0]["peers"]
    assert java["status"] == "ok" and [b["batch"] for b in java["batches"]] == [1, 1024]
    interval = java["batches"][0]["interval"]
    assert interval["low"] <= java["batches"][0]["ratio"] <= interval["high"] and interval["blocks"] == 10
    assert rows[2]["peers"][0]["status"] == "unsupported"

    result = _result(rows)
    items = report.peer_rows(result["inference"])
    assert [(p["model"], p["client"], p["peer"], p.get("batch")) for p in items] == [
        ("wide_keras", "java", "onnxruntime-java", 1),
        ("wide_keras", "java", "onnxruntime-java", 1024),
        ("wide_keras", "chromium", "onnxruntime-web", 1),
        ("wide_keras", "chromium", "onnxruntime-web", 1024),
        ("textcls_keras", "chromium", "onnxruntime-web", None),
    ]
    md = report.markdown(result)
    assert "## Peers" in md
    for line in (
        "| wide_keras | 1 | java (saved-model) |",
        "| wide_keras | 1024 | java (saved-model) |",
        "| wide_keras | 1 | chromium (tfjs-graph) |",
        "| textcls_keras | | chromium (tfjs-graph) | | onnxruntime-web (onnx) | | unsupported: one float32 input only |",
    ):
        assert line in md, md
    peer_lines = [line for line in md.splitlines() if "| onnxruntime-" in line and "unsupported" not in line]
    assert len(peer_lines) == 4 and all("x [" in line for line in peer_lines)  # each ratio with its interval
    assert "ONNX Runtime Java 1.29.0" in md
    assert "TF.js 4.22.0 wasm (threaded-simd, 1 thread(s)); onnxruntime-web 1.30.0 wasm" in md
    page = report.html_page(result)
    assert "## Peers" in page and "onnxruntime-web (onnx)" in page
    report.write(result, tmp_path / "report")  # JSON without NaN


def test_first_prediction_is_asked_for_the_target_models_and_judged(monkeypatch, tmp_path):
    models = {m: {"artifacts": [{"format": f} for f in ("onnx", "tfjs-graph")]} for m in ("mlp_torch", "cnn_torch")}
    models["wide_torch"] = models["mlp_torch"]
    rows = [_row(m, "chromium", "tfjs-graph") for m in ("mlp_torch", "cnn_torch", "wide_torch")]
    asked = []
    doc = {
        "peers": [],
        "first_prediction": [
            {"model": "mlp_torch", "until": "first prediction", "trials_ms": [640.0, 610.0, 700.0], "median_ms": 640.0},
            {"model": "cnn_torch", "until": "model ready", "trials_ms": [1210.0, 1190.0, 1300.0], "median_ms": 1210.0},
        ],
    }

    def fake_tool(peer, root, manifest, names, counts, first=()):
        asked.append(list(first))
        return doc

    monkeypatch.setattr(peers, "_run_tool", fake_tool)
    monkeypatch.setattr(peers.Peer, "unavailable", lambda self, root: None)
    peers.attach(tmp_path / "manifest.json", rows, models, repeat=40, warmup=4, batch_repeat=5, root=tmp_path)
    assert asked == [["mlp_torch", "cnn_torch"]]  # the page's target models only, in their order
    assert rows[0]["first_prediction"]["target_ms"] == peers.FIRST_PREDICTION_TARGET_MS
    assert "first_prediction" not in rows[2]
    md = report.markdown(_result(rows))
    assert "| mlp_torch | first prediction | 640 | 640, 610, 700 | <= 1000 | met |" in md, md
    assert "| cnn_torch | model ready | 1210 | 1210, 1190, 1300 | <= 1000 | missed |" in md, md


def test_a_peer_that_cannot_run_says_why(tmp_path):
    models = {"wide_keras": {"artifacts": [{"format": "onnx"}, {"format": "saved-model"}]}}
    rows = [_row("wide_keras", "java", "saved-model")]
    peers.attach(tmp_path / "manifest.json", rows, models, repeat=5, warmup=1, batch_repeat=3, root=None)
    [item] = rows[0]["peers"]
    assert item["status"] == "unavailable" and "checkout" in item["reason"]
    md = report.markdown(_result(rows))
    assert "| wide_keras | | java (saved-model) | | onnxruntime-java (onnx) | | unavailable: " in md


def test_a_failed_peer_entry_is_an_error_item():
    item = peers.from_entry(peers.PEERS["java"], {"model": "m", "error": "OrtException: bad model"}, {})
    assert (item["status"], item["reason"]) == ("error", "OrtException: bad model")
