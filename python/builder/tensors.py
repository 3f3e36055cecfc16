"""Tensor specs (docs/contract.md, "Tensor specs") and the golden inputs generated from them.

A model declares its inputs and outputs as ordered lists of `TensorSpec`; a string in a shape is
a named dynamic dimension, bounded by a `Dim` in the model's `dims`. Every exporter, loader,
golden generator and runner works from these specs, never from an assumed `(batch, width)`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

import numpy as np

# dtype -> the .npy descr the contract allows (docs/contract.md).
DTYPES: dict[str, str] = {
    "float32": "<f4",
    "float16": "<f2",
    "int32": "<i4",
    "int64": "<i8",
    "uint8": "|u1",
    "bool": "|b1",
}
FLOAT_DTYPES = ("float32", "float16")
MAX_RANK = 8
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Casts a client may apply at a runtime's boundary (spec dtype -> boundary dtype).
BOUNDARY_CASTS = {("int64", "int32"), ("bool", "int32"), ("uint8", "int32"), ("float16", "float32")}

Arrays = dict[str, np.ndarray]


def boundary_problem(name: str, a: np.ndarray, target: str) -> str | None:
    """Why input `name`'s values cannot take the boundary cast to `target` (one does not fit), or None."""
    if not np.issubdtype(np.dtype(target), np.integer) or not a.size:
        return None
    info = np.iinfo(target)
    bad = np.flatnonzero((a < info.min) | (a > info.max))
    return f"input {name}: value {a.reshape(-1)[bad[0]]} at index {bad[0]} does not fit {target}" if bad.size else None


@dataclasses.dataclass(frozen=True)
class Dim:
    """A named dynamic dimension with optional bounds (inclusive)."""

    name: str
    min: int = 0
    max: int | None = None

    def to_manifest(self) -> dict:
        return {"min": self.min} | ({"max": self.max} if self.max is not None else {})


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One named tensor: dtype, shape (ints and dim names) and, for integer inputs, the valid values."""

    name: str
    dtype: str
    shape: tuple[int | str, ...]
    range: tuple[float, float] | None = None  # inclusive [min, max] of valid values (token ids, a mask's [0, 1])

    def __post_init__(self) -> None:
        if isinstance(self.shape, (str, int)) or not hasattr(self.shape, "__iter__"):
            raise ValueError(f"tensor {self.name!r}: shape must be a tuple of ints and dim names, got {self.shape!r}")
        # A Dim in the shape names the dim and bounds it (kept in `bounds`, not compared).
        object.__setattr__(self, "_bounds", tuple(d for d in self.shape if isinstance(d, Dim)))
        shape = tuple(d.name if isinstance(d, Dim) else d for d in self.shape)
        object.__setattr__(self, "shape", shape)
        problem = spec_problem(self.to_manifest())
        if problem:
            raise ValueError(f"tensor {self.name!r}: {problem}")

    @property
    def bounds(self) -> tuple[Dim, ...]:
        """The `Dim`s the shape was given with (their bounds); plain strings are unbounded."""
        return getattr(self, "_bounds", ())

    @property
    def dim_names(self) -> list[str]:
        return [d for d in self.shape if isinstance(d, str)]

    def to_manifest(self) -> dict:
        entry = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        return entry | ({"range": list(self.range)} if self.range is not None else {})

    def concrete(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        return tuple(sizes[d] if isinstance(d, str) else d for d in self.shape)


def spec_problem(entry: dict) -> str | None:
    """Why a manifest tensor entry breaks the contract, or None."""
    if not isinstance(entry.get("name"), str) or not NAME.match(entry["name"]):
        return f"name {entry.get('name')!r} is not an identifier"
    if entry.get("dtype") not in DTYPES:
        return f"dtype {entry.get('dtype')!r} is not one of {', '.join(DTYPES)}"
    shape = entry.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_RANK:
        return f"shape must be a list of at most {MAX_RANK} dims"
    for d in shape:
        if isinstance(d, bool) or not ((isinstance(d, int) and d >= 0) or (isinstance(d, str) and NAME.match(d))):
            return f"dim {d!r} is neither a non-negative integer nor a dim name"
    return None


def dims_table(dims: Sequence[Dim]) -> dict:
    return {d.name: d.to_manifest() for d in dims}


def _float_values(spec: TensorSpec, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal(shape).astype(np.float32)
    if x.ndim >= 1 and x.shape[0] >= 5 and x[0].size:
        x[0] = 0.0
        # rows 1..4: each row scaled to magnitude ~100, mixed signs, so activations saturate both ways
        big = x[1:5].reshape(4, -1)
        big /= np.maximum(np.abs(big).max(axis=1, keepdims=True), 1e-6)
        x[1:5] = (big * 100.0).reshape(x[1:5].shape)
    return x.astype(spec.dtype)


def generate(
    specs: Sequence[TensorSpec], sizes: Mapping[str, int], rng: np.random.Generator, values: str = "golden"
) -> Arrays:
    """Seeded inputs for `specs` at the given dim sizes.

    `values="golden"`: floats N(0, 1) with a zero row and four rows of magnitude ~100, or uniform
    inside their `range` when they have one (a mask in [0, 1]); integers uniform inside their
    `range` (or [0, 100] without one); bools random. `values="special"`: floats
    hold NaN, +-Inf, +-0, +-1e30 and denormals (one kind per row, then single NaN/Inf in normal rows);
    `values="finite-special"`: the same without NaN and Inf (see special_values).
    """
    out: Arrays = {}
    for spec in specs:
        shape = spec.concrete(sizes)
        if spec.dtype in FLOAT_DTYPES and values != "golden":
            out[spec.name] = special_values(spec, shape, rng, finite=values == "finite-special")
        elif spec.dtype in FLOAT_DTYPES and spec.range is not None:  # a bounded input (a mask): its own domain
            x = rng.uniform(spec.range[0], spec.range[1], shape).astype(spec.dtype)
            if x.ndim >= 1 and x.shape[0]:
                x[0] = spec.range[0]
            out[spec.name] = x
        elif spec.dtype in FLOAT_DTYPES:
            out[spec.name] = _float_values(spec, shape, rng)
        elif spec.dtype == "bool":
            out[spec.name] = rng.integers(0, 2, shape).astype(bool)
        else:
            low, high = spec.range if spec.range is not None else (0, 100)
            out[spec.name] = rng.integers(low, high, shape, endpoint=True).astype(spec.dtype)
    return out


SPECIAL_ROWS = 10


def special_values(
    spec: TensorSpec, shape: tuple[int, ...], rng: np.random.Generator, finite: bool = False
) -> np.ndarray:
    """(10, ...) rows: NaN, +Inf, -Inf, +0, -0, 1e30, -1e30, a denormal, then normal rows with a
    single NaN and a single Inf. Every runtime must reproduce the reference's NaN/Inf pattern.

    `finite=True`, for a model whose non-finite behaviour is implementation-defined (max pooling
    over NaN, fused convolutions): the NaN and Inf rows become -denormal, +1e-30 and -1e-30, and the
    last two rows hold a single 1e30 and a single denormal instead of a NaN and an Inf."""
    if not shape or shape[0] != SPECIAL_ROWS:
        raise ValueError(f"special rows need a leading batch dim of {SPECIAL_ROWS}, got {shape}")
    tiny = np.float32(1e-40) if spec.dtype == "float32" else np.float16(1e-7)
    x = np.zeros(shape, dtype=np.float32)
    firsts = [-tiny, 1e-30, -1e-30] if finite else [np.nan, np.inf, -np.inf]
    for row, value in enumerate([*firsts, 0.0, -0.0, 1e30, -1e30, tiny]):
        x[row] = value
    x[8:] = rng.standard_normal(x[8:].shape)
    flat8, flat9 = x[8].reshape(-1), x[9].reshape(-1)
    if flat8.size:
        flat8[min(3, flat8.size - 1)] = 1e30 if finite else np.nan
        flat9[min(2, flat9.size - 1)] = tiny if finite else np.inf
    with np.errstate(over="ignore"):  # 1e30 is inf in float16, on purpose
        return x.astype(spec.dtype)


def batch_of(arrays: Arrays) -> int:
    first = next(iter(arrays.values()))
    return int(first.shape[0]) if first.ndim else 1


def take(arrays: Arrays, rows: int) -> Arrays:
    """The first `rows` rows (batch dim) of every array."""
    return {k: np.ascontiguousarray(v[:rows]) for k, v in arrays.items()}


def check_arrays(specs: Sequence[TensorSpec], arrays: Mapping[str, np.ndarray], what: str = "output") -> None:
    """Raises ValueError unless `arrays` holds exactly `specs` with their dtypes and ranks."""
    names = [s.name for s in specs]
    if sorted(arrays) != sorted(names):
        raise ValueError(f"{what}s {sorted(arrays)} differ from the spec's {names}")
    for s in specs:
        a = arrays[s.name]
        if a.dtype != np.dtype(s.dtype) or a.ndim != len(s.shape):
            raise ValueError(f"{what} {s.name}: {a.dtype} rank {a.ndim}, expected {s.dtype} rank {len(s.shape)}")
        fixed = [(i, d) for i, d in enumerate(s.shape) if isinstance(d, int) and a.shape[i] != d]
        if fixed:
            i, d = fixed[0]
            raise ValueError(f"{what} {s.name}: dim {i} is {a.shape[i]}, expected {d}")
