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
    """Compare a C-contiguous candidate against a reference of the same shape and dtype.

    float32 and float16 compare within atol/rtol (float16 ULPs counted in float16); int32,
    int64, uint8 and bool compare exactly. Raises TypeError for another dtype or differing
    dtypes, ValueError for non-contiguous input, differing shapes, or a tolerance that is
    negative or not finite.
    """

libtorch_version: str
"""'libtorch <version>' of the LibTorch the extension was built against."""

class Model:
    """A TorchScript (.pt) or AOTInductor (.pt2) artifact run by LibTorch C++.

    The C++ client's deploykit::Model (cpp/src/model.cpp), linked into the extension.
    predict() may be called from several threads at once; it releases the GIL.
    """

    @staticmethod
    def from_manifest(manifest: str, model: str, format: str) -> Model:
        """Loads a model's artifact from a manifest (schema_version 2) after verifying its size and sha256.

        Args:
            manifest: models/manifest.json.
            model: the model id.
            format: 'torchscript-script', 'torchscript-trace' or 'aoti'.

        Raises ValueError for an unreadable or malformed manifest, an unknown model or
        format, and RuntimeError for another schema_version, a failed integrity check, or
        a file LibTorch cannot load.
        """
    def predict(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs one call: {input name: array} -> {output name: array} in the model's output order.

        Every input is checked against the model's tensor specs first (names, dtype, rank,
        fixed dims, dynamic dim ranges and agreement); nothing is converted. Raises
        ValueError with a one-line 'input <name>: ...' message for a refused input and
        RuntimeError when LibTorch fails or returns outputs that do not match the specs.
        """
    @property
    def format(self) -> str: ...
    @property
    def input_names(self) -> list[str]:
        """The model's inputs, in order."""
    @property
    def output_names(self) -> list[str]:
        """The model's outputs, in order."""
