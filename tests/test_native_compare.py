"""builder._native.compare checked field by field against an independent NumPy reference."""

from __future__ import annotations

import array
import itertools
import tracemalloc

import numpy as np
import pytest

from builder import _native

FIELDS = (
    "count",
    "mismatches",
    "nonfinite_mismatches",
    "max_abs",
    "max_rel",
    "max_ulp",
    "min_passing_atol",
    "worst_index",
    "nan_match",
    "inf_match",
    "passed",
)

F32 = np.float32
SPECIALS = np.array(
    [
        0.0, -0.0, 1e-45, -1e-45, 1e-40, -1e-40, np.finfo(F32).tiny, 1.0, -1.0,
        np.nextafter(F32(1), F32(2)), 3e38, -3e38, np.finfo(F32).max, -np.finfo(F32).max,
        np.inf, -np.inf, np.nan,
    ],
    dtype=F32,
)  # fmt: skip


def _ordered(x: np.ndarray) -> np.ndarray:
    """Float32 bits as int64, monotonic in the value; -0 and +0 both map to 0."""
    bits = x.view(np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & 0x7FFFFFFF), bits)


def reference_stats(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float) -> dict:
    """The docs/contract.md comparison semantics, written independently in float64 NumPy."""
    b = np.ascontiguousarray(reference, dtype=F32).ravel()
    a = np.ascontiguousarray(candidate, dtype=F32).ravel()
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    inf_a, inf_b = np.isinf(a), np.isinf(b)
    finite = np.isfinite(a) & np.isfinite(b)
    equal_nonfinite = (nan_a & nan_b) | (inf_a & inf_b & (a == b))
    nonfinite_mismatch = ~finite & ~equal_nonfinite

    a64, b64 = a[finite].astype(np.float64), b[finite].astype(np.float64)
    diff = np.abs(a64 - b64)
    abs_b = np.abs(b64)
    outside_rtol = diff > rtol * abs_b
    fails = outside_rtol & (diff > atol)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff == 0, 0.0, diff / abs_b)
    ulp = np.abs(_ordered(a[finite]) - _ordered(b[finite]))

    n_nonfinite = int(np.count_nonzero(nonfinite_mismatch))
    mismatches = int(np.count_nonzero(fails)) + n_nonfinite
    if a.size == 0:
        worst = -1
    elif n_nonfinite:
        worst = int(np.flatnonzero(nonfinite_mismatch)[0])
    elif diff.size and diff.max() > 0:
        worst = int(np.flatnonzero(finite)[np.argmax(diff)])  # argmax: first of ties
    else:
        worst = 0

    def max_or_zero(x: np.ndarray) -> float:
        return float(x.max()) if x.size else 0.0

    return {
        "count": int(a.size),
        "mismatches": mismatches,
        "nonfinite_mismatches": n_nonfinite,
        "max_abs": max_or_zero(diff),
        "max_rel": max_or_zero(rel),
        "max_ulp": int(ulp.max()) if ulp.size else 0,
        "min_passing_atol": np.inf if n_nonfinite else max_or_zero(np.where(outside_rtol, diff, 0.0)),
        "worst_index": worst,
        "nan_match": bool(np.array_equal(nan_a, nan_b)),
        "inf_match": bool(np.array_equal(np.where(inf_a, a, 0), np.where(inf_b, b, 0))),
        "passed": mismatches == 0,
    }


def assert_matches_reference(
    reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float
) -> _native.CompareResult:
    got = _native.compare(reference, candidate, atol, rtol)
    want = reference_stats(reference, candidate, atol, rtol)
    assert got.as_dict() == want, f"ref={reference!r} cand={candidate!r} atol={atol} rtol={rtol}"
    return got


@pytest.mark.parametrize("shape", [(), (0,), (1,), (7,), (3, 0, 2), (3, 5), (2, 3, 4), (4099,), (64, 129)], ids=str)
@pytest.mark.parametrize("scale", [0.0, 1e-6, 1e-3, 1.0])
def test_random_data_matches_reference(shape: tuple[int, ...], scale: float) -> None:
    rng = np.random.default_rng([*shape, int(scale * 1e6)])
    ref = rng.standard_normal(shape).astype(F32)
    cand = (ref + scale * rng.standard_normal(shape)).astype(F32)
    got = assert_matches_reference(ref, cand, atol=1e-5, rtol=1e-4)
    assert got.count == ref.size


@pytest.mark.parametrize("rtol", [0.0, 1e-3])
def test_perturbations_at_the_tolerance_boundary(rtol: float) -> None:
    rng = np.random.default_rng(7)
    atol = 1e-3
    ref = rng.uniform(-2, 2, 20_000).astype(F32)
    limit = atol + rtol * np.abs(ref.astype(np.float64))
    cand = (ref + rng.choice([-1, 1], ref.size) * limit * rng.uniform(0.999, 1.001, ref.size)).astype(F32)
    got = assert_matches_reference(ref, cand, atol, rtol)
    assert 0 < got.mismatches < ref.size  # both sides of the boundary are exercised
    # min_passing_atol is the exact boundary: it passes, the next smaller double fails.
    assert _native.compare(ref, cand, got.min_passing_atol, rtol).passed
    assert not _native.compare(ref, cand, np.nextafter(got.min_passing_atol, 0), rtol).passed


def test_special_value_pairs_one_by_one() -> None:
    for b, a in itertools.product(SPECIALS, repeat=2):
        assert_matches_reference(np.array([b]), np.array([a]), atol=0.0, rtol=0.0)
        assert_matches_reference(np.array([b]), np.array([a]), atol=1e-3, rtol=1e-2)


def test_special_values_mixed_into_large_arrays() -> None:
    rng = np.random.default_rng(3)
    ref = rng.standard_normal(10_000).astype(F32)
    cand = ref + F32(1e-4) * rng.standard_normal(ref.size).astype(F32)
    both = rng.choice(ref.size, 40, replace=False)
    ref[both[:20]] = cand[both[:20]] = rng.choice(SPECIALS, 20)  # equal specials
    ref[both[20:]] = rng.choice(SPECIALS, 20)  # specials against numbers or each other
    cand[both[20:]] = rng.choice(SPECIALS, 20)
    assert_matches_reference(ref, cand, atol=1e-5, rtol=1e-4)
    pairs = np.array(list(itertools.product(SPECIALS, repeat=2)), dtype=F32)  # (289, 2)
    assert_matches_reference(pairs[:, 0].copy(), pairs[:, 1].copy(), atol=0.0, rtol=0.0)


@pytest.mark.parametrize(
    ("ref", "cand", "expected"),
    [
        ([np.nan, 1.0], [np.nan, 1.0], {"passed": True, "nan_match": True, "min_passing_atol": 0.0}),
        ([1.0, 2.0], [np.nan, 2.0], {"nonfinite_mismatches": 1, "nan_match": False, "worst_index": 0}),
        ([np.inf], [-np.inf], {"mismatches": 1, "nan_match": True, "inf_match": False}),
        ([np.inf], [np.finfo(F32).max], {"inf_match": False, "min_passing_atol": np.inf}),
        ([0.0], [-0.0], {"passed": True, "max_ulp": 0, "max_rel": 0.0}),
        ([0.0], [1e-45], {"max_ulp": 1, "max_rel": np.inf}),
        ([-1e-45], [1e-45], {"max_ulp": 2}),
        ([-3e38], [3e38], {"max_abs": 2 * float(F32(3e38)), "max_rel": 2.0}),
        ([-np.finfo(F32).max], [np.finfo(F32).max], {"max_ulp": 2 * 0x7F7FFFFF}),
    ],
)
def test_adversarial_values(ref: list[float], cand: list[float], expected: dict) -> None:
    got = assert_matches_reference(np.array(ref, F32), np.array(cand, F32), atol=0.0, rtol=0.0)
    assert {k: got.as_dict()[k] for k in expected} == expected


def test_nan_payload_and_sign_do_not_matter() -> None:
    quiet = np.array([0x7FC00000], np.uint32).view(F32)
    other = np.array([0xFFC00001], np.uint32).view(F32)
    assert _native.compare(quiet, other, 0.0, 0.0).passed


def test_result_is_read_only_and_printable() -> None:
    got = _native.compare(np.zeros(3, F32), np.ones(3, F32), 0.0, 0.0)
    assert set(got.as_dict()) == set(FIELDS)
    assert all(getattr(got, name) == value for name, value in got.as_dict().items())
    with pytest.raises(AttributeError):
        got.mismatches = 0  # type: ignore[misc]
    assert repr(got).startswith("CompareResult(passed=False, count=3, mismatches=3")


def test_accepts_any_float32_buffer_zero_copy() -> None:
    ref = np.arange(2_000_000, dtype=F32).reshape(1000, 2000)
    ref.setflags(write=False)
    cand = ref.copy()
    cand[999, 1999] += 1
    cand.setflags(write=False)
    tracemalloc.start()
    try:
        got = _native.compare(ref, cand, 0.0, 0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < ref.nbytes // 10  # nothing the size of the inputs was allocated
    assert (got.mismatches, got.worst_index) == (1, ref.size - 1)
    assert _native.compare(array.array("f", [1, 2]), memoryview(np.array([1, 2], F32)), 0.0, 0.0).passed


def test_rejects_wrong_dtype() -> None:
    x = np.zeros(4, F32)
    with pytest.raises(TypeError, match="float32"):
        _native.compare(x.astype(np.float64), x, 0.0, 0.0)
    with pytest.raises(TypeError, match="float32"):
        _native.compare(x, x.astype(">f4"), 0.0, 0.0)
    with pytest.raises(TypeError):
        _native.compare([0.0] * 4, x, 0.0, 0.0)


def test_rejects_bad_layout_and_shape() -> None:
    a = np.zeros((4, 6), F32)
    with pytest.raises(ValueError, match="C-contiguous"):
        _native.compare(a[:, ::2], np.zeros((4, 3), F32), 0.0, 0.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        _native.compare(a, np.asfortranarray(a), 0.0, 0.0)
    with pytest.raises(ValueError, match="shape mismatch"):
        _native.compare(a, a.reshape(6, 4), 0.0, 0.0)


@pytest.mark.parametrize(("atol", "rtol"), [(-1e-3, 0.0), (np.nan, 0.0), (0.0, np.inf), (0.0, -1.0)])
def test_rejects_bad_tolerances(atol: float, rtol: float) -> None:
    x = np.zeros(4, F32)
    with pytest.raises(ValueError, match="atol and rtol"):
        _native.compare(x, x, atol, rtol)


def _half_ordered(x: np.ndarray) -> np.ndarray:
    bits = x.view(np.uint16).astype(np.int64)
    return np.where(bits & 0x8000, -(bits & 0x7FFF), bits)


def test_float16_compares_like_float32_with_float16_ulps() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(40, 25)).astype(np.float16)
    cand = (ref.astype(F32) + rng.normal(scale=2e-3, size=ref.shape).astype(F32)).astype(np.float16)
    cand.flat[[5, 17]] = ref.flat[[5, 17]]
    ref.flat[3], cand.flat[3] = np.nan, np.nan
    ref.flat[9], cand.flat[9] = np.inf, np.inf
    got = _native.compare(ref, cand, 1e-3, 1e-3).as_dict()
    # float16 -> float32 is exact, so every field but the ULPs equals the float32 comparison ...
    as_f32 = _native.compare(ref.astype(F32), cand.astype(F32), 1e-3, 1e-3).as_dict()
    assert {k: v for k, v in got.items() if k != "max_ulp"} == {k: v for k, v in as_f32.items() if k != "max_ulp"}
    # ... and the ULPs are counted in float16.
    finite = np.isfinite(ref) & np.isfinite(cand)
    assert got["max_ulp"] == int(np.abs(_half_ordered(ref[finite]) - _half_ordered(cand[finite])).max())
    assert got["max_ulp"] < as_f32["max_ulp"]
    assert _native.compare(ref, ref, 0.0, 0.0).passed


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integers_and_bools_compare_exactly(dtype) -> None:
    rng = np.random.default_rng(5)
    high = 2 if dtype == np.bool_ else 100
    ref = rng.integers(0, high, size=(30, 7)).astype(dtype)
    cand = ref.copy()
    cand.flat[[4, 11, 200]] = (ref.flat[[4, 11, 200]].astype(np.int64) + np.array([1, 3, 1])) % high
    got = _native.compare(ref, cand, 1e9, 1e9)  # tolerances do not apply
    diff = np.abs(ref.astype(np.int64) - cand.astype(np.int64)).ravel()
    assert not got.passed
    assert (got.count, got.mismatches, got.nonfinite_mismatches) == (ref.size, np.count_nonzero(diff), 0)
    assert got.max_abs == diff.max() and got.worst_index == int(diff.argmax()) and got.max_ulp == 0
    assert _native.compare(ref, ref, 0.0, 0.0).passed


def test_int64_differences_do_not_overflow() -> None:
    info = np.iinfo(np.int64)
    got = _native.compare(np.array([info.min, 0], np.int64), np.array([info.max, 0], np.int64), 0.0, 0.0)
    assert got.mismatches == 1 and got.max_abs == float(2**64)


def test_rejects_differing_and_foreign_dtypes() -> None:
    with pytest.raises(TypeError, match="dtype mismatch"):
        _native.compare(np.zeros(3, np.int32), np.zeros(3, np.int64), 0.0, 0.0)
    with pytest.raises(TypeError, match="float32"):
        _native.compare(np.zeros(3, np.int8), np.zeros(3, np.int8), 0.0, 0.0)
    with pytest.raises(TypeError):
        _native.compare(np.zeros(3, np.uint16), np.zeros(3, np.uint16), 0.0, 0.0)
