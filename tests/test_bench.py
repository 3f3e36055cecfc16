"""`python -m builder bench`: a smoke run with tiny repeats; sane numbers and the files. No timing thresholds."""

from __future__ import annotations

import json
import math

from builder import cli


def _positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_smoke_run_reports_every_runtime_with_sane_numbers(smoke_export, tmp_path, capsys, monkeypatch):
    from builder.verify.runners import RUNNERS, CliRunner

    monkeypatch.setitem(
        RUNNERS, "missing", CliRunner("missing", ("onnx",), str(tmp_path / "no-such-client"), needs="test")
    )
    code = cli.main(
        [
            "bench",
            "--manifest",
            str(smoke_export / "manifest.json"),
            "--models",
            "mlp_torch",
            "wide_keras",
            "--runtimes",
            "torch-python",
            "onnxruntime",
            "tf-python",
            "tflite",
            "cpp",
            "java",
            "missing",
            "--repeat",
            "5",
            "--warmup",
            "1",
            "--training-steps",
            "0",
            "--report-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    result = json.loads((tmp_path / "bench.json").read_text())
    assert _positive(result["gemm"]["peak_gflops"]) and result["machine"]["cores"] >= 1
    rows = result["inference"]
    ran = {(r["model"], r["format"], r["runtime"]) for r in rows if r["status"] == "ok"}
    assert ran == {
        ("mlp_torch", "torchscript-script", "torch-python"),
        ("mlp_torch", "torchscript-trace", "torch-python"),
        ("mlp_torch", "aoti", "torch-python"),
        ("mlp_torch", "onnx", "onnxruntime"),
        ("wide_keras", "saved-model", "tf-python"),
        ("wide_keras", "tflite", "tflite"),
        ("wide_keras", "onnx", "onnxruntime"),
        ("mlp_torch", "torchscript-script", "cpp"),
        ("mlp_torch", "torchscript-trace", "cpp"),
        ("mlp_torch", "aoti", "cpp"),
        ("wide_keras", "saved-model", "java"),
        # the conversions through ONNX: torch -> SavedModel/TFLite, Keras -> TorchScript/.pt2
        ("mlp_torch", "saved-model", "tf-python"),
        ("mlp_torch", "saved-model", "java"),
        ("mlp_torch", "tflite", "tflite"),
        ("wide_keras", "torchscript-trace", "torch-python"),
        ("wide_keras", "torchscript-trace", "cpp"),
        ("wide_keras", "aoti", "torch-python"),
        ("wide_keras", "aoti", "cpp"),
    }
    for r in rows:
        if r["status"] == "ok":
            assert all(_positive(r[k]) for k in ("load_ms", "first_ms", "rows_per_s", "gflops"))
            lat = r["latency_us"]
            assert all(_positive(lat[k]) for k in ("p50", "p90", "p99", "mean")) and lat["p50"] <= lat["p99"]
    assert {r["status"] for r in rows if r["runtime"] == "missing"} == {"unavailable"}
    md = (tmp_path / "bench.md").read_text()
    assert "| wide_keras | tflite | tflite |" in md and "GEMM peak" in md
    page = (tmp_path / "bench.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and "http" not in page
    assert "deploykit bench" in capsys.readouterr().out


def test_bench_usage_errors(tmp_path, capsys):
    assert cli.main(["bench", "--manifest", str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("error: bench: ")


FAKE_TIMED_CLIENT = """
import argparse, json, pathlib, time
import numpy as np
from builder.runtimes.python_loaders import load
p = argparse.ArgumentParser()
for flag in ("--manifest", "--jobs"):
    p.add_argument(flag, required=True)
a = p.parse_args()
doc = json.loads(pathlib.Path(a.manifest).read_text())
loaded = {}
pct = lambda v, q: float(np.percentile(v, q))
stats = lambda v: {"p50": pct(v, 50), "p90": pct(v, 90), "p99": pct(v, 99), "mean": float(np.mean(v))}
for index, line in enumerate(pathlib.Path(a.jobs).read_text().splitlines()):
    job = json.loads(line)
    model = next(m for m in doc["models"] if m["id"] == job["model"])
    art = next(x for x in model["artifacts"] if x["format"] == job["format"])
    if job["format"] not in loaded:
        t0 = time.perf_counter()
        loaded[job["format"]] = (load(pathlib.Path(a.manifest).parent / art["path"], art, model), (time.perf_counter() - t0) * 1e3)
    predict, load_ms = loaded[job["format"]]
    x = {name: np.load(path) for name, path in job["inputs"].items()}
    t0 = time.perf_counter(); y = predict(x); first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(job["warmup"]):
        predict(x)
    us, bare = [], []
    for _ in range(job["repeat"]):
        t0 = time.perf_counter(); predict(x); us.append((time.perf_counter() - t0) * 1e6)
        t0 = time.perf_counter(); predict(x); bare.append((time.perf_counter() - t0) * 1e6)
    timing = {"load_ms": load_ms, "first_ms": first_ms, "batch": len(next(iter(x.values()))),
              "latency_us": stats(us), "direct_latency_us": stats(bare), "direct": "the same predict"}
    print(json.dumps({"id": job["id"], "index": index, "exit": 0, "error": None, "seconds": 0.1, "timing": timing}))
"""


def test_client_clis_are_timed_by_their_own_timed_jobs(smoke_export, tmp_path, monkeypatch):
    """A client runs every cell in one process through docs/contract.md's timed --jobs; bench reads
    only the `timing` objects of its result lines."""
    import stat
    import sys

    from builder.bench import inference
    from builder.verify.runners import RUNNERS, CliRunner

    script = tmp_path / "fake-timed-client"
    script.write_text(f"#!{sys.executable}\n{FAKE_TIMED_CLIENT}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setitem(RUNNERS, "fake", CliRunner("fake", ("onnx",), str(script)))
    rows = inference.run(smoke_export / "manifest.json", models=["mlp_torch"], runtimes=["fake"], repeat=5, warmup=1)
    assert [(r["format"], r["status"]) for r in rows] == [("onnx", "ok")], rows
    assert all(_positive(rows[0][k]) for k in ("load_ms", "first_ms", "rows_per_s", "gflops"))
    assert _positive(rows[0]["latency_us"]["p50"]) and _positive(rows[0]["batch_latency_us"]["p50"])
    from builder.bench import report

    [over] = report.overheads(rows)
    assert over["client"] == "fake" and over["baseline"] == "the same predict"
    assert over["ratio"] == rows[0]["latency_us"]["p50"] / rows[0]["direct_latency_us"]["p50"] > 0
    assert "| mlp_torch | onnx | fake |" in report.markdown(
        {
            "machine": {"cpu": "x", "cores": 2},
            "gemm": {"n": 8, "gflops": {"numpy": 1.0}, "peak_gflops": 1.0},
            "inference": rows,
            "training": [],
            "command": "test",
            "seconds": 1.0,
        }
    )


def test_bench_counts_flops_from_layers_and_reports_each_model_in_its_unit(smoke_export):
    from builder.bench import inference

    rows = inference.run(
        smoke_export / "manifest.json",
        models=["wide_torch", "cnn_torch", "chargpt_torch"],
        runtimes=["onnxruntime"],
        repeat=3,
        warmup=1,
    )
    by_model = {r["model"]: r for r in rows}
    assert {m: r["status"] for m, r in by_model.items()} == dict.fromkeys(by_model, "ok")
    # wide: 2 x (256*1024 + 1024*1024 + 1024*10) multiply-adds per row, biases aside
    assert by_model["wide_torch"]["flops_per_row"] == 2 * (256 * 1024 + 1024 * 1024 + 1024 * 10)
    # cnn: two 3x3 convs over 8x8 and the dense head
    conv = 2 * (16 * 64 * 9 * 1 + 32 * 64 * 9 * 16)
    assert by_model["cnn_torch"]["flops_per_row"] == conv + 2 * (512 * 64 + 64 * 10)
    assert by_model["cnn_torch"]["throughput"]["unit"] == "images/s"
    gpt = by_model["chargpt_torch"]
    assert gpt["throughput"]["unit"] == "tokens/s" and gpt["throughput"]["value"] > gpt["rows_per_s"]
    assert "MatMul" in gpt["flops_counted"], "attention and the MLP are counted"
