"""Benchmark: the native comparator against a fast NumPy expression of the same statistics.

    .venv/bin/python -m builder.verify.bench_compare [--n 10000000] [--repeats 10]

Both are checked to give identical statistics before the times are printed. The NumPy version is
written for speed (float64 in place, one argmax, masked max, integer-view ULPs), not for clarity.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from builder.runtimes import native


def numpy_stats(b32: np.ndarray, a32: np.ndarray, atol: float, rtol: float) -> dict:
    """The comparator's statistics for all-finite data, in NumPy (temporaries and several passes)."""
    b = b32.astype(np.float64)
    d = a32.astype(np.float64)
    d -= b
    np.abs(d, out=d)  # |a-b|
    np.abs(b, out=b)  # |b|
    worst = int(d.argmax())
    tol = b * rtol
    outside = d > tol
    mismatches = int(np.count_nonzero(outside & (d > atol)))
    min_passing_atol = float(np.max(d, where=outside, initial=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(d, b, out=tol)
    ia, ib = a32.view(np.int32), b32.view(np.int32)
    oa = np.where(ia < 0, np.int32(-(2**31)) - ia, ia).astype(np.int64)
    ob = np.where(ib < 0, np.int32(-(2**31)) - ib, ib).astype(np.int64)
    return {
        "max_abs": float(d[worst]),
        "max_rel": float(np.nanmax(tol)),
        "max_ulp": int(np.abs(oa - ob).max()),
        "min_passing_atol": min_passing_atol,
        "mismatches": mismatches,
        "worst_index": worst,
        "all_finite": bool(np.isfinite(b32).all() and np.isfinite(a32).all()),
    }


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(args.n, dtype=np.float32)
    cand = ref + np.float32(1e-5) * rng.standard_normal(args.n, dtype=np.float32)
    atol, rtol = 1e-5, 1e-4
    compare = native.load().compare
    t_native, result = best_of(lambda: compare(ref, cand, atol, rtol), args.repeats)
    t_numpy, numpy_result = best_of(lambda: numpy_stats(ref, cand, atol, rtol), max(3, args.repeats // 3))
    for key in ("max_abs", "max_rel", "max_ulp", "min_passing_atol", "mismatches", "worst_index"):
        assert getattr(result, key) == numpy_result[key], (key, getattr(result, key), numpy_result[key])
    pairs = args.n / 1e6
    print(
        f"{pairs:.0f} M float32 pairs: native {t_native * 1e3:.1f} ms ({pairs / t_native:.0f} M pairs/s), "
        f"numpy {t_numpy * 1e3:.1f} ms ({pairs / t_numpy:.0f} M pairs/s), {t_numpy / t_native:.1f}x (best of each)"
    )


if __name__ == "__main__":
    main()
