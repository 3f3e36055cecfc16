"""Type stub for builder._native (cpp/python/native_module.cpp)."""

from typing import TypedDict

import numpy as np
from typing_extensions import Buffer

# Stub-only: the runtime type of CompareResult.as_dict() is a plain dict.
class _CompareDict(TypedDict):
    count: int
    mismatches: int
    nonfinite_mismatches: int
    max_abs: float
    max_rel: float
    max_ulp: int
    min_passing_atol: float
    worst_index: int
    nan_match: bool
    inf_match: bool
    passed: bool

class CompareResult:
    """Statistics of one comparison (read-only)."""

    @property
    def count(self) -> int: ...
    @property
    def mismatches(self) -> int: ...
    @property
    def nonfinite_mismatches(self) -> int: ...
    @property
    def max_abs(self) -> float: ...
    @property
    def max_rel(self) -> float: ...
    @property
    def max_ulp(self) -> int: ...
    @property
    def min_passing_atol(self) -> float: ...
    @property
    def worst_index(self) -> int: ...
    @property
    def nan_match(self) -> bool: ...
    @property
    def inf_match(self) -> bool: ...
    @property
    def passed(self) -> bool: ...
    def as_dict(self) -> _CompareDict: ...

def compare(reference: Buffer, candidate: Buffer, atol: float, rtol: float) -> CompareResult:
    """Compare a float32, C-contiguous candidate against a reference of the same shape.

    Raises TypeError for non-float32 input, ValueError for non-contiguous input,
    differing shapes, or a tolerance that is negative or not finite.
    """

libtorch_version: str
"""'libtorch <version>' of the LibTorch the extension was built against."""

class Model:
    """A TorchScript (.pt) or AOTInductor (.pt2) artifact run by LibTorch C++.

    The C++ client's deploykit::Model (cpp/src/model.cpp), linked into the extension.
    predict() may be called from several threads at once; it releases the GIL.
    """

    def __init__(self, path: str, format: str) -> None:
        """Loads an artifact file without an integrity check.

        Args:
            path: the .pt or .pt2 file.
            format: 'torchscript-script', 'torchscript-trace' or 'aoti'.

        Raises:
            ValueError: unknown format.
            RuntimeError: LibTorch cannot load the file (one line).
        """
    @staticmethod
    def from_manifest(manifest: str, model_id: str, format: str) -> Model:
        """Loads a model's artifact from a manifest after verifying its size and sha256.

        Raises ValueError for an unreadable manifest, an unknown model or format, and
        RuntimeError when the integrity check fails or LibTorch cannot load the file.
        """
    def predict(self, x: Buffer) -> np.ndarray:
        """Runs a batch: x float32, C-contiguous, shape (n, features) -> float32 (n, outputs).

        Raises TypeError for non-float32 input, ValueError for non-contiguous or non-2-D input
        or the wrong width (when loaded from a manifest), RuntimeError when LibTorch fails.
        """
    @property
    def format(self) -> str: ...
    @property
    def input_width(self) -> int | None:
        """Features per row (None unless loaded from a manifest)."""
    @property
    def output_width(self) -> int | None:
        """Outputs per row (None unless loaded from a manifest)."""
