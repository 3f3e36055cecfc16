"""The kernel profile in the bench report (builder.bench.kernels, js/bench/profile.js): where TF.js
wasm's batch time goes, and the verdict on issue 17's wasm target. The arithmetic and verdicts are
checked on fixed profiles; one real profile runs js/bench/profile.js in Node on the test export
and checks its shape and internal consistency, never a speed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from builder import manifest as manifest_io
from builder.bench import inference, kernels
from builder.verify.inputs import input_sets

PROFILE = {
    "model": "wide_torch",
    "runtime": "chromium",
    "ok": True,
    "runs": 2,
    "wall_ms": [10.0, 12.0],
    "kernels": [
        {"name": "_FusedMatMul", "ms": 8.0, "count": 3},
        {"name": "Select", "ms": 1.5, "count": 2},
        {"name": "Less", "ms": 0.5, "count": 2},
    ],
    "wasm_binary": "tfjs-backend-wasm-simd.wasm",
    "threads": 1,
}
FLOPS = 80_000_000  # per profiled call


def _row(runtime: str, gflops: float, profile: dict | None = None) -> dict:
    row = {"model": "wide_torch", "format": "tfjs-graph", "runtime": runtime, "status": "ok", "gflops": gflops}
    if profile is not None:
        row["kernel_profile"] = profile
    return row


def test_summarize_shares_and_the_gemm_kernels_own_rate():
    p = kernels.summarize(PROFILE, FLOPS)
    assert p["wall_ms"] == 11.0  # the mean call, as the kernels' times are means
    assert p["kernel_ms"] == 10.0
    assert p["gemm_ms"] == 8.0  # only MatMul/Conv kernels
    assert p["gemm_share"] == pytest.approx(8.0 / 11.0)
    assert p["gemm_gflops"] == pytest.approx(FLOPS / 8e-3 / 1e9)  # 10 GFLOP/s
    assert [k["name"] for k in p["kernels"]] == ["_FusedMatMul", "Select", "Less"]
    assert p["kernels"][1]["share"] == pytest.approx(1.5 / 11.0)


def test_summarize_without_a_gemm_kernel_has_no_rate():
    p = kernels.summarize(PROFILE | {"kernels": [{"name": "Add", "ms": 1.0, "count": 1}]}, FLOPS)
    assert p["gemm_ms"] == 0 and p["gemm_gflops"] is None


def test_the_report_judges_each_profiled_row_against_the_target():
    peak = 100.0
    gemm_slow = kernels.summarize(PROFILE, FLOPS)  # GEMM kernels alone: 10 GFLOP/s = 10% of the peak
    gemm_fast = kernels.summarize(PROFILE, 40 * FLOPS)  # 400 GFLOP/s alone
    rows = [
        _row("node-wasm", 8.0, gemm_slow),
        _row("chromium", 20.0, gemm_fast),
        _row("chromium", 30.0, gemm_fast),
        _row("node-wasm", 5.0, {"status": "error", "reason": "boom"}),
        _row("java", 50.0),  # not profiled: not in the section
        _row("chromium", 30.0, gemm_fast) | {"model": "mlp_torch"},  # profiled, judged against no target
    ]
    lines = kernels.markdown(rows, peak)
    table = [line for line in lines if line.startswith("| wide_torch")]
    assert len(table) == 4
    assert next(line for line in lines if line.startswith("| mlp_torch")).endswith("| 30.0% | (no target) |")
    assert "missed: out of reach, the GEMM kernels alone are below it" in table[0]
    assert "10.0 GFLOP/s, 10.0% peak" in table[0]
    assert "_FusedMatMul 73%" in table[0] and "outside kernels 9%" in table[0]
    assert table[1].endswith("| 20.0% | missed |")  # the kernels could, the call did not
    assert table[2].endswith("| 30.0% | met |")
    assert "error: boom" in table[3]
    assert kernels.markdown([_row("java", 1.0)], peak) == []


def test_a_profile_that_cannot_run_says_why(tmp_path):
    rows = [_row("chromium", 1.0)]
    kernels.attach(tmp_path / "manifest.json", rows, {"wide_torch": {"x": np.zeros((2, 3))}}, root=None)
    assert rows[0]["kernel_profile"] == {
        "status": "unavailable",
        "reason": "the kernel profile runs from a source checkout only",
    }


def test_a_failing_profile_tool_is_an_error_on_each_row(tmp_path, monkeypatch):
    root = tmp_path / "checkout"
    (root / "js" / "node_modules" / "@tensorflow" / "tfjs").mkdir(parents=True)
    (root / "js" / "bench").mkdir()
    (root / "js" / "bench" / "profile.js").write_text("console.error('no luck'); process.exit(3);\n")
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/node")
    rows = [_row("chromium", 1.0), _row("node-wasm", 1.0)]
    kernels.attach(tmp_path / "manifest.json", rows, {"wide_torch": {"x": np.zeros((2, 3))}}, root=root)
    for row in rows:
        assert row["kernel_profile"]["status"] == "error"
        assert "exit 3: no luck" in row["kernel_profile"]["reason"]


@pytest.mark.skipif(kernels.ROOT is None or shutil.which("node") is None, reason="needs the checkout's js/")
@pytest.mark.parametrize("runtime", ["node-wasm", "chromium"])
def test_a_real_profile_of_the_wide_model(manifest_path, runtime):
    doc = manifest_io.read(manifest_path)
    model = next(m for m in doc["models"] if m["id"] == "wide_torch")
    golden = next(s for s in input_sets(manifest_path.parent, model) if s.name == "golden").inputs
    flops, _ = inference.flops_per_row(manifest_path, model, golden)
    rows = [_row(runtime, 1.0) | {"flops_per_row": flops}]
    kernels.attach(manifest_path, rows, {"wide_torch": inference.batch_of_rows(golden, 64)})
    p = rows[0]["kernel_profile"]
    assert p["status"] == "ok", p
    if runtime == "node-wasm":  # TF.js turns wasm threads off in Node
        assert p["wasm_binary"] == "tfjs-backend-wasm-simd.wasm" and p["threads"] == 1
    else:  # the page's own choice (js/web/loader.js): threaded only where it starts 2+ threads
        assert p["wasm_binary"] in {"tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"}
        assert p["threads"] >= 1
    names = [k["name"] for k in p["kernels"]]
    assert "_FusedMatMul" in names and not any(n.endswith("__op") for n in names)  # kernels, not op scopes
    # wide_torch is three dense layers: three matmul launches per call
    assert next(k for k in p["kernels"] if k["name"] == "_FusedMatMul")["count"] == 3
    assert 0 < p["gemm_ms"] <= p["kernel_ms"] <= p["wall_ms"]
    assert p["gemm_gflops"] == pytest.approx(flops * 64 / (p["gemm_ms"] * 1e6))
