"""bench-serve's target verdict and report (the speeds themselves live in `make bench-serve`)."""

from builder.bench import serving


def _run(engine, replicas, max_batch, rps_by_c):
    return {
        "engine": engine,
        "replicas": replicas,
        "max_batch": max_batch,
        "start_s": 5.0,
        "replica_rss_mb": [80.0] * replicas,
        "loads": [
            {
                "concurrency": c,
                "throughput_rps": rps,
                "latency_ms": {"p50": 1.0, "p90": 2.0, "p99": 3.0},
                "errors": {},
                "mismatched": 0,
            }
            for c, rps in rps_by_c.items()
        ],
    }


def test_target_is_judged_on_one_replica_without_batching_at_concurrency_16():
    runs = [
        _run("triton", 1, 0, {1: 300.0, 16: 1400.0, 32: 1600.0}),
        _run("triton", 2, 0, {16: 1900.0}),  # another setting never decides the verdict
        _run("triton", 1, 32, {16: 2000.0}),
    ]
    (verdict,) = serving.targets(runs)
    assert verdict == {"engine": "triton", "target_rps": 1500.0, "measured_rps": 1400.0, "met": False}
    runs[0]["loads"][1]["throughput_rps"] = 1500.0
    assert serving.targets(runs)[0]["met"] is True


def test_target_not_measured_when_the_engine_did_not_start():
    runs = [{"engine": "triton", "replicas": 1, "max_batch": 0, "error": "no .venv-triton"}]
    (verdict,) = serving.targets(runs)
    assert verdict["measured_rps"] is None and verdict["met"] is False
    result = {
        "machine": {"cpu": "x", "cores": 2, "load_average": [0.1, 0.1, 0.1]},
        "model": "mlp_torch",
        "format": "onnx",
        "requests": 10,
        "in_process": {"throughput_rps": 1.0, "latency_ms": {"p99": 1.0}},
        "runs": runs,
        "targets": [verdict],
    }
    text = serving.markdown(result)
    assert "did not start: no .venv-triton" in text
    assert "against >= 1500: not measured" in text
