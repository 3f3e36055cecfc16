"""Type stub for builder._native (cpp/python/native_module.cpp)."""

from typing import TypedDict

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
