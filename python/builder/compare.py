"""Comparison of a runtime's outputs with the reference (docs/contract.md, "Comparison semantics").

float32 goes through the native comparator (the C++ client's own code); float16 is compared in
float32 with its ULP distance counted in float16; integer and bool tensors must be equal.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from builder.runtimes import native

FLOATS = (np.float32, np.float16)


@dataclasses.dataclass(frozen=True)
class Result:
    """One output's comparison: the fields of the native CompareResult, for every dtype."""

    passed: bool
    count: int
    mismatches: int
    max_abs: float
    max_rel: float
    max_ulp: int
    min_passing_atol: float
    worst_index: int
    nan_match: bool = True
    inf_match: bool = True
    nonfinite_mismatches: int = 0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _float16_ulps(reference: np.ndarray, candidate: np.ndarray) -> int:
    """Largest distance in float16 ULPs over finite pairs (sign-magnitude bits made monotonic)."""
    finite = np.isfinite(reference) & np.isfinite(candidate)
    if not finite.any():
        return 0

    def ordered(a: np.ndarray) -> np.ndarray:
        bits = a[finite].astype(np.float16).view(np.uint16).astype(np.int32)
        return np.where(bits & 0x8000, 0x8000 - bits, bits + 0x8000)

    return int(np.abs(ordered(reference) - ordered(candidate)).max())


def compare(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float) -> Result:
    """Compares one output; raises ValueError if the shapes or dtypes differ."""
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape:
        raise ValueError(f"shape {candidate.shape} differs from the reference's {reference.shape}")
    if reference.dtype != candidate.dtype:
        raise ValueError(f"dtype {candidate.dtype} differs from the reference's {reference.dtype}")
    if reference.dtype.type in FLOATS:
        native_result = (
            native.load()
            .compare(
                np.ascontiguousarray(reference, np.float32).reshape(-1),
                np.ascontiguousarray(candidate, np.float32).reshape(-1),
                float(atol),
                float(rtol),
            )
            .as_dict()
        )
        if reference.dtype == np.float16:
            native_result["max_ulp"] = _float16_ulps(reference, candidate)
        return Result(**native_result)
    diff = np.abs(reference.astype(np.int64) - candidate.astype(np.int64)).reshape(-1)
    worst = int(diff.argmax()) if diff.size else 0
    mismatches = int(np.count_nonzero(diff))
    max_abs = float(diff.max()) if diff.size else 0.0
    return Result(
        passed=mismatches == 0,
        count=int(diff.size),
        mismatches=mismatches,
        max_abs=max_abs,
        max_rel=0.0 if not mismatches else float("inf"),
        max_ulp=int(max_abs),
        min_passing_atol=max_abs,
        worst_index=worst,
    )


def tolerance_for(tolerance: dict, output: str) -> tuple[float, float]:
    """(atol, rtol) for one output: the per-output override, else the artifact's default."""
    chosen = (tolerance.get("outputs") or {}).get(output, tolerance)
    return float(chosen["atol"]), float(chosen["rtol"])


def compare_outputs(expected: dict[str, np.ndarray], got: dict[str, np.ndarray], tolerance: dict) -> dict[str, Result]:
    """Compares every output by name; raises ValueError if the names, shapes or dtypes differ."""
    if sorted(got) != sorted(expected):
        raise ValueError(f"outputs {sorted(got)} differ from the reference's {sorted(expected)}")
    return {name: compare(ref, got[name], *tolerance_for(tolerance, name)) for name, ref in expected.items()}
