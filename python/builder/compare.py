"""Comparison of a runtime's output with the reference, through the native comparator."""
from __future__ import annotations

import numpy as np

from builder import _native


def compare(reference: np.ndarray, candidate: np.ndarray, atol: float, rtol: float) -> _native.CompareResult:
    """DESIGN.md comparison semantics; raises ValueError if the shapes differ."""
    reference = np.ascontiguousarray(reference, dtype=np.float32)
    candidate = np.ascontiguousarray(candidate, dtype=np.float32)
    if reference.shape != candidate.shape:
        raise ValueError(f"shape {candidate.shape} differs from the reference's {reference.shape}")
    return _native.compare(reference, candidate, float(atol), float(rtol))
