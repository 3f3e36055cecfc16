"""`python -m builder bench`: a smoke run with tiny repeats; sane numbers and the files. No timing thresholds."""
from __future__ import annotations

import json
import math

from builder import cli


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_smoke_run_reports_every_runtime_with_sane_numbers(smoke_export, tmp_path, capsys):
    code = cli.main([
        "bench", "--manifest", str(smoke_export / "manifest.json"), "--models", "mlp_torch", "wide_keras",
        "--runtimes", "torch-python", "onnxruntime", "tf-python", "tflite", "cpp",
        "--repeat", "5", "--warmup", "1", "--training-steps", "0", "--report-dir", str(tmp_path),
    ])
    assert code == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert _positive(result["gemm"]["peak_gflops"]) and result["machine"]["cores"] >= 1
    rows = result["inference"]
    ran = {(r["model"], r["format"], r["runtime"]) for r in rows if r["status"] == "ok"}
    assert ran == {
        ("mlp_torch", "torchscript-script", "torch-python"), ("mlp_torch", "torchscript-trace", "torch-python"),
        ("mlp_torch", "aoti", "torch-python"), ("mlp_torch", "onnx", "onnxruntime"),
        ("wide_keras", "saved-model", "tf-python"), ("wide_keras", "tflite", "tflite"), ("wide_keras", "onnx", "onnxruntime"),
    }
    for r in rows:
        if r["status"] == "ok":
            assert all(_positive(r[k]) for k in ("load_ms", "first_ms", "rows_per_s", "gflops"))
            lat = r["latency_us"]
            assert all(_positive(lat[k]) for k in ("p50", "p90", "p99", "mean")) and lat["p50"] <= lat["p99"]
    assert {r["status"] for r in rows if r["runtime"] == "cpp"} == {"unavailable"}
    md = (tmp_path / "bench.md").read_text()
    assert "| wide_keras | tflite | tflite |" in md and "GEMM peak" in md
    page = (tmp_path / "bench.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "http" not in page
    assert "deploykit bench" in capsys.readouterr().out


def test_bench_usage_errors(tmp_path, capsys):
    assert cli.main(["bench", "--manifest", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("error: bench: ")
