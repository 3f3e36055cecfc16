"""Tensor specs, golden generation from specs, the format registry's plan, the comparator per dtype."""

from __future__ import annotations

import numpy as np
import pytest

from builder import compare, formats, tensors
from builder.tensors import Dim, TensorSpec


def test_specs_refuse_what_the_contract_refuses():
    for bad, message in [
        (dict(name="x-1", dtype="float32", shape=("batch",)), "not an identifier"),
        (dict(name="x", dtype="float64", shape=("batch",)), "dtype 'float64'"),
        (dict(name="x", dtype="int64", shape=(1,) * 9), "at most 8"),
        (dict(name="x", dtype="int64", shape=(-1, 3)), "neither"),
        (dict(name="x", dtype="bool", shape=("seq len",)), "neither"),
    ]:
        with pytest.raises(ValueError, match=message):
            TensorSpec(**bad)
    spec = TensorSpec("tokens", "int64", ("batch", Dim("seq", 1, 64)), range=(0, 95))
    assert spec.to_manifest() == {"name": "tokens", "dtype": "int64", "shape": ["batch", "seq"], "range": [0, 95]}
    assert spec.concrete({"batch": 2, "seq": 5}) == (2, 5)


def test_generation_follows_dtype_shape_and_range():
    specs = [
        TensorSpec("tokens", "int64", ("batch", "seq"), range=(3, 9)),
        TensorSpec("mask", "bool", ("batch", "seq")),
        TensorSpec("image", "float16", ("batch", 2, 2)),
        TensorSpec("scale", "float32", ()),
    ]
    a = tensors.generate(specs, {"batch": 64, "seq": 7}, np.random.default_rng(0))
    assert (
        a["tokens"].dtype == np.int64
        and a["tokens"].shape == (64, 7)
        and a["tokens"].min() >= 3
        and a["tokens"].max() <= 9
    )
    assert a["mask"].dtype == np.bool_ and a["image"].dtype == np.float16 and a["scale"].shape == ()
    b = tensors.generate(specs, {"batch": 64, "seq": 7}, np.random.default_rng(0))
    assert all(np.array_equal(a[k], b[k]) for k in a), "seeded"
    special = tensors.generate(specs[2:3], {"batch": 10}, np.random.default_rng(0), "special")["image"]
    assert np.isnan(special[0]).all() and np.isinf(special[5]).all(), "1e30 overflows float16 to inf, on purpose"


def test_plan_is_the_closure_over_prerequisites_with_routes():
    plan = dict(formats.plan("tensorflow", ["tfjs-graph"]))
    assert plan == {
        "saved-model": ("tensorflow", "saved-model"),
        "tfjs-graph": ("tensorflow", "saved-model", "tfjs-graph"),
    }
    assert [f for f, _ in formats.plan("torch", formats.FORMATS)] == [
        "torchscript-script",
        "torchscript-trace",
        "onnx",
        "aoti",
        "saved-model",
        "tflite",
        "tfjs-graph",
    ]
    # The XlaCallModule SavedModel does not convert to TF.js or TFLite: JAX goes through ONNX.
    assert formats.routes("jax")["tfjs-graph"] == ("jax", "onnx", "tfjs-graph")
    assert formats.routes("jax")["saved-model"] == ("jax", "saved-model")
    assert dict(formats.plan("torch", ["tflite"])) == {
        "onnx": ("torch", "onnx"),
        "saved-model": ("torch", "onnx", "saved-model"),
        "tflite": ("torch", "onnx", "saved-model", "tflite"),
    }
    # Every source reaches every format (TorchScript's script only from torch source).
    for source in formats.SOURCES:
        assert set(formats.reachable(source)) | {"torchscript-script"} == set(formats.FORMATS), source
    # A format's prerequisites come before it in every plan.
    for source in formats.SOURCES:
        order = [f for f, _ in formats.plan(source, formats.FORMATS)]
        for fmt, via in formats.plan(source, formats.FORMATS):
            assert all(order.index(step) < order.index(fmt) for step in via[1:-1]), (source, fmt)


def test_every_edge_names_a_real_exporter_and_format():
    for edge in formats.EDGES:
        assert edge.dst in formats.FORMATS_BY_ID and (edge.src in formats.SOURCES or edge.src in formats.FORMATS_BY_ID)
        assert callable(formats.exporter(edge.src, edge.dst))


def test_comparator_is_exact_for_integers_and_counts_float16_ulps():
    ints = np.array([[1, 2], [3, 4]], np.int64)
    assert compare.compare(ints, ints.copy(), 0.0, 0.0).passed
    off = ints.copy()
    off[1, 0] += 1
    r = compare.compare(ints, off, 10.0, 10.0)
    assert not r.passed and r.mismatches == 1 and r.worst_index == 2, "a tolerance never excuses an integer"
    half = np.array([1.0, 2.0, np.nan], np.float16)
    bumped = half.copy()
    bumped[1] = np.nextafter(np.float16(2.0), np.float16(3.0))
    r = compare.compare(half, bumped, 0.0, 0.0)
    assert r.max_ulp == 1 and not r.passed and r.nan_match
    with pytest.raises(ValueError, match="dtype"):
        compare.compare(ints, ints.astype(np.int32), 0, 0)
    assert compare.tolerance_for({"atol": 1e-5, "rtol": 1e-4, "outputs": {"e": {"atol": 1e-3, "rtol": 0}}}, "e") == (
        1e-3,
        0.0,
    )
