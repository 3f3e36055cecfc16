"""The input sets every runtime is run on, with the reference outputs they are compared against."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

BATCH_SIZES = (1, 7)


@dataclasses.dataclass(frozen=True)
class InputSet:
    name: str
    x: np.ndarray  # (batch, features) float32
    expected: np.ndarray  # (batch, outputs) float32, the source framework's eager outputs
    description: str


def input_sets(root: Path, model: dict) -> list[InputSet]:
    """The golden batch, its first 1 and 7 rows (a dynamic batch must give the same rows' outputs),
    and the special-values rows whose NaN/Inf pattern must match the reference."""
    golden = model["golden"]
    x, expected = np.load(root / golden["input"]), np.load(root / golden["expected"])
    sets = [InputSet("golden", x, expected, f"the {len(x)} golden rows at once")]
    sets += [InputSet(f"batch{b}", x[:b], expected[:b], f"the first {b} golden rows as one batch") for b in BATCH_SIZES]
    if "special_input" in golden:
        sets.append(
            InputSet(
                "special",
                np.load(root / golden["special_input"]),
                np.load(root / golden["special_expected"]),
                "NaN, +-Inf, +-0, +-1e30 and denormal rows",
            )
        )
    return sets
