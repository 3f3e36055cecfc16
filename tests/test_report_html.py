"""The parity report page: self-contained, escaped, one heatmap row per artifact (no export needed)."""

from __future__ import annotations

import re

import pytest

from builder.verify import report_html

LABELS = ["0", "<1e-12"] + [f"[1e-{k},1e-{k - 1})" for k in range(12, 0, -1)] + [">=1"]
EDGES = ["0"] + [f"1e-{k}" for k in range(12, 0, -1)] + ["1"]
UNAVAILABLE_REASON = "bin/deploykit-cpp not found"
EVIL = "<script>alert(1)</script>"


def _cell(
    artifact: str, runtime: str, input_set: str, status: str, max_abs: float | None = 1e-7, reason: str | None = None
) -> dict:
    model, fmt = artifact.rsplit("/", 1)
    ran = status in ("pass", "fail")
    counts = [0] * len(LABELS)
    counts[7 if status == "pass" else 12] = 64
    return {
        "model": model,
        "format": fmt,
        "artifact": artifact,
        "runtime": runtime,
        "input_set": input_set,
        "status": status,
        "reason": reason,
        "tolerance": {"atol": 1e-5, "rtol": 1e-4},
        "stats": {
            "count": 64,
            "mismatches": 0 if status == "pass" else 3,
            "nonfinite_mismatches": 0,
            "max_abs": max_abs,
            "max_rel": None if max_abs is None else 2 * max_abs,
            "max_ulp": 2,
            "min_passing_atol": max_abs,
            "worst_index": 5,
            "nan_match": True,
            "inf_match": True,
        }
        if ran
        else None,
        "histogram": {"edges": EDGES, "labels": LABELS, "counts": counts} if ran else None,
    }


@pytest.fixture
def report() -> dict:
    """Three artifacts x three runtimes: pass, fail, unavailable, error, a None max_abs and one missing pair."""
    cells = []
    for input_set in ("golden", "batch1"):
        cells += [
            _cell("mlp_torch/onnx", "onnxruntime", input_set, "pass", 1.2e-7),
            _cell("mlp_torch/onnx", "torch-python", input_set, "pass", 0.0),
            _cell("mlp_torch/onnx", "cpp", input_set, "unavailable", reason=UNAVAILABLE_REASON),
            _cell("cnn_jax/savedmodel", "onnxruntime", input_set, "fail" if input_set == "batch1" else "pass", 3e-3),
            _cell(
                "cnn_jax/savedmodel",
                "torch-python",
                input_set,
                "error" if input_set == "golden" else "pass",
                None,
                reason="RuntimeError: shape mismatch" if input_set == "golden" else None,
            ),
            _cell(f"{EVIL}/aoti", "torch-python", input_set, "pass", None),  # no cpp or onnxruntime cell: missing pairs
        ]
    runtimes = {
        "onnxruntime": {"available": True, "reason": None, "version": "onnxruntime 1.23.0", "formats": ["onnx"]},
        "torch-python": {"available": True, "reason": None, "version": "torch 2.13.0", "formats": ["aoti", "onnx"]},
        "cpp": {"available": False, "reason": UNAVAILABLE_REASON, "version": None, "formats": ["aoti"]},
    }
    summary = {s: sum(c["status"] == s for c in cells) for s in ("pass", "fail", "unavailable", "error")}
    return {
        "schema_version": 1,
        "created": "2026-11-25T10:00:00Z",
        "manifest": "models/manifest.json",
        "runtimes": runtimes,
        "input_sets": {
            "golden": {"rows": 64, "description": "fixed rows"},
            "batch1": {"rows": 1, "description": "one row"},
        },
        "cells": cells,
        "summary": summary,
        "seconds": 12.3,
    }


def _heatmap(page: str) -> str:
    return re.search(r'<table class="hm">.*?</table>', page, re.S).group(0)


def test_page_is_self_contained_and_escaped(report):
    page = report_html.render(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page, "no external resources (the inline SVG needs no xmlns)"
    assert not re.search(r"<(script|link)\b|@import|url\(|\bsrc=", page)
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;/aoti" in page
    assert page == report_html.render(report), "same input, same output"


def test_heatmap_has_one_row_per_artifact_and_one_column_per_runtime(report):
    heat = _heatmap(report_html.render(report))
    assert heat.count("<tr>") == 1 + 3, "header plus one row per artifact"
    header = re.search(r"<tr>(.*?)</tr>", heat).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == ["artifact", "onnxruntime", "torch-python", "cpp"]
    rows = re.findall(r'<tr><th class="row">(.*?)</th>(.*?)</tr>', heat, re.S)
    assert [name for name, _ in rows] == [
        "mlp_torch/onnx",
        "cnn_jax/savedmodel",
        "&lt;script&gt;alert(1)&lt;/script&gt;/aoti",
    ]
    assert all(tds.count("<td") == 3 for _, tds in rows)
    by_name = dict(rows)
    assert "1.2e-07" in by_name["mlp_torch/onnx"] and UNAVAILABLE_REASON in by_name["mlp_torch/onnx"]
    assert '<td class="unavailable"' in by_name["mlp_torch/onnx"]
    assert ">FAIL 3.0e-03<" in by_name["cnn_jax/savedmodel"], (
        "a failing input set fails the pair, in text not only colour"
    )
    assert ">ERROR<" in by_name["cnn_jax/savedmodel"] and "shape mismatch" in by_name["cnn_jax/savedmodel"]
    assert by_name["&lt;script&gt;alert(1)&lt;/script&gt;/aoti"].count('class="none"') == 2, (
        "pairs with no cells are blank"
    )
    assert '<a href="#d4">pass</a>' in by_name["&lt;script&gt;alert(1)&lt;/script&gt;/aoti"], (
        "passed, no finite max_abs"
    )


def test_details_have_one_histogram_per_pair_that_ran(report):
    page = report_html.render(report)
    assert page.count("<details") == 5, "every pair except the unavailable one"
    assert page.count("<svg") == 5, "one summed histogram per pair with stats"
    assert "[1e-8,1e-7)" in page and "&gt;=1" in page, "bins are labelled"
    assert ">128</text>" in page, "counts are summed over the two input sets"
    runtimes = page.split("<h2>Runtimes</h2>")[1].split("</table>")[0]
    assert "torch 2.13.0" in runtimes and UNAVAILABLE_REASON in runtimes, "version or reason per runtime"


def test_missing_fields_render_as_dashes():
    page = report_html.render(
        {
            "cells": [
                {
                    "artifact": "m/f",
                    "runtime": "r",
                    "input_set": "s",
                    "status": "pass",
                    "stats": {"max_abs": None},
                    "histogram": None,
                }
            ]
        }
    )
    assert page.startswith("<!DOCTYPE html>") and "—" in page and "<svg" not in page
