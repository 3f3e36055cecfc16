"""The input sets every runtime is run on, with the reference outputs they are compared against."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from builder import tensors

BATCH_SIZES = (1, 7)


@dataclasses.dataclass(frozen=True)
class InputSet:
    name: str
    inputs: tensors.Arrays  # input name -> array
    expected: tensors.Arrays  # output name -> array: the source framework's eager outputs
    description: str

    @property
    def rows(self) -> int:
        return tensors.batch_of(self.inputs)


def input_sets(root: Path, model: dict) -> list[InputSet]:
    """Every golden set of the model (golden, special, ...), plus the first 1 and 7 rows of
    `golden` as their own batches (a dynamic batch must give the same rows' outputs)."""
    sets = []
    for entry in model["golden"]:
        inputs = {name: np.load(root / path) for name, path in entry["inputs"].items()}
        expected = {name: np.load(root / path) for name, path in entry["expected"].items()}
        sets.append(InputSet(entry["name"], inputs, expected, entry.get("description", entry["name"])))
        if entry["name"] == "golden":
            sets += [
                InputSet(
                    f"batch{b}",
                    tensors.take(inputs, b),
                    tensors.take(expected, b),
                    f"the first {b} golden rows as one batch",
                )
                for b in BATCH_SIZES
            ]
    return sets
