"""Small helpers shared by the test files (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import numpy as np

from builder import tensors


def golden_rows(specs, rows: int = 64, seed: int = 0, **sizes) -> np.ndarray | dict[str, np.ndarray]:
    """Seeded golden-style inputs for `specs` (one spec: its array; several: a name -> array map)."""
    specs = tuple(specs) if isinstance(specs, (tuple, list)) else (specs,)
    arrays = tensors.generate(specs, {"batch": rows, **sizes}, np.random.default_rng(seed))
    return arrays[specs[0].name] if len(specs) == 1 else arrays


def documented(cell: dict) -> bool:
    """A verify cell its runtime documents it cannot match on this machine (`unsupported_sets`:
    TFLite's XNNPACK special set on AVX-512 CPUs), left out where a test wants every cell to pass."""
    from builder.verify.runners import RUNNERS, unsupported_set

    runner = RUNNERS.get(cell["runtime"])
    return (
        cell["status"] == "unsupported"
        and runner is not None
        and cell["reason"] == unsupported_set(runner, cell["input_set"])
    )
