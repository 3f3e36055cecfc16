"""Small helpers shared by the test files (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np

from builder import tensors


def golden_rows(specs, rows: int = 64, seed: int = 0, **sizes) -> np.ndarray | dict[str, np.ndarray]:
    """Seeded golden-style inputs for `specs` (one spec: its array; several: a name -> array map)."""
    specs = tuple(specs) if isinstance(specs, (tuple, list)) else (specs,)
    arrays = tensors.generate(specs, {"batch": rows, **sizes}, np.random.default_rng(seed))
    return arrays[specs[0].name] if len(specs) == 1 else arrays
