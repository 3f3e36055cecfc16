"""Your own model: `builder.UserModel` wraps a PyTorch module, a Keras model, a JAX function or Flax
module with its parameters, or an `.onnx` file, so the export treats it like a built-in model
(docs/your-model.md).

A user model is not trained here: `prepare()` turns it into the same `Trained` record the built-ins
produce (tensor specs, an eager reference forward, the framework's own handle), and the rest of the
export (every format its framework reaches, golden sets, checks, manifest) is shared. What the
model cannot say is asked for: input specs for torch and JAX (read from Keras and ONNX models);
output specs are measured by running the model twice at different sizes of each dynamic dim, so a
dim that follows an input's named dim gets that name.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from builder import tensors
from builder.tensors import Arrays, Dim, TensorSpec

KINDS = ("torch", "tensorflow", "jax", "onnx")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# The golden set's size of a dynamic dim without a `max`, and of the batch (the contract's >= 64 rows).
DEFAULT_DIM_SIZE = 8
NON_FINITE_NOTE = (
    "a user model's behaviour on NaN/Inf inputs differs between runtimes (pooling and ReLU over NaN); "
    "pass special_values=True to UserModel to check NaN and Inf too"
)


class UserModelError(ValueError):
    """A user model that cannot be exported as given: one line saying what to change."""


@dataclasses.dataclass
class UserModel:
    """Your own model, ready for `builder.export`.

    model: a `torch.nn.Module`, a Keras model, a JAX function `fn(params, *inputs)` or a Flax module
        (both with `params=`), or the path of an `.onnx` file.
    inputs: the input `TensorSpec`s in the order the model takes them; required for torch and JAX,
        read from Keras and ONNX models when omitted. A string in a shape names a dynamic dim; a
        `Dim(name, min, max)` in its place also bounds it.
    outputs: output names, or `TensorSpec`s; default: the keys of a dict the model returns, else
        `output_0`, `output_1`, ... Shapes and dtypes are measured when only names are given.
    id: the model's id in the manifest (lowercase identifier); default: from the class or file name.
    golden: input name -> array, the golden set's inputs (>= 1 row); default: seeded, from the specs.
    tolerance: {"atol": ..., "rtol": ...} every artifact must meet; default: each format's own.
    params: the parameters of a JAX function or Flax module.
    causal: dynamic dims along which the model is causal (a GPT's sequence): a converter that needs
        a fixed size (onnx2tf) then pads them, exactly; without it such a dim stops at ONNX.
    special_values: also check NaN/Inf inputs (default: finite extremes only).
    """

    model: Any
    inputs: Sequence[TensorSpec] | None = None
    outputs: Sequence[TensorSpec | str] | None = None
    id: str | None = None
    golden: Mapping[str, np.ndarray] | None = None
    tolerance: Mapping[str, float] | None = None
    params: Any = None
    causal: Sequence[str] = ()
    special_values: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        self.kind = framework_of(self.model, self.params)
        if self.inputs is not None:
            self.inputs = tuple(self.inputs)
            for spec in self.inputs:
                if not isinstance(spec, TensorSpec):
                    raise UserModelError(f"inputs must be builder.TensorSpec objects, got {type(spec).__name__}")
        elif self.kind in ("torch", "jax"):
            raise UserModelError(
                f"a {self.kind} model cannot say its inputs: pass inputs=[builder.TensorSpec(name, dtype, shape), ...]"
            )
        if self.outputs is not None:
            self.outputs = tuple(self.outputs)
            for out in self.outputs:
                if not isinstance(out, (str, TensorSpec)):
                    raise UserModelError(f"outputs must be names or builder.TensorSpec objects, got {out!r}")
        self.id = self.id or default_id(self.model, self.kind)
        if not ID_PATTERN.match(self.id):
            raise UserModelError(f"model id {self.id!r} must be a lowercase identifier (a-z, 0-9, _)")
        if self.tolerance is not None and set(self.tolerance) != {"atol", "rtol"}:
            raise UserModelError(f"tolerance must be {{'atol': ..., 'rtol': ...}}, got {dict(self.tolerance)}")
        self.causal = tuple(self.causal)

    def prepare(self, seed: int = 0):
        """The model as a `Trained` record (builder.models.common), its output specs measured."""
        from builder import user_frameworks
        from builder.models.common import Trained

        start = time.perf_counter()
        adapter = user_frameworks.adapter(self)
        inputs = adapter.inputs
        dims = collect_dims(inputs)
        for name in self.causal:
            if name not in dims:
                raise UserModelError(f"{self.id}: causal dim {name!r} is not a dim of its inputs ({', '.join(dims)})")
        golden, given_sizes = check_golden(self, inputs) if self.golden is not None else (None, None)
        outputs, keys = infer_outputs(self.id, adapter.run, inputs, dims, self.outputs, seed)
        adapter.bind_outputs(outputs, keys)

        def predict(arrays: Arrays) -> Arrays:
            results = [a for _, a in adapter.run(arrays)]
            return {s.name: np.asarray(r, dtype=s.dtype) for r, s in zip(results, outputs, strict=True)}

        sizes = given_sizes or {d: golden_dim_size(dims[d]) for d in dims if d != "batch"}
        return Trained(
            model_id=self.id,
            source=self.kind,
            module=adapter.module,
            predict=predict,
            parameters=adapter.parameters(),
            training={},
            inputs=inputs,
            outputs=outputs,
            dims=tuple(dims.values()),
            golden_sizes=sizes,
            info={"origin": {"kind": "user", "framework": self.kind, "model": adapter.describe()}}
            | ({"description": self.description} if self.description else {}),
            causal_dims=self.causal,
            special="all" if self.special_values else "finite",
            special_note="" if self.special_values else NON_FINITE_NOTE,
            golden_inputs=golden,
            prepare_seconds=time.perf_counter() - start,
        )


def framework_of(model: Any, params: Any) -> str:
    """torch, tensorflow (Keras), jax (a Flax module or a function with params) or onnx (a path)."""
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if path.suffix != ".onnx":
            raise UserModelError(f"{path}: a model given as a path must be an .onnx file")
        if not path.is_file():
            raise UserModelError(f"{path}: no such file")
        return "onnx"
    if "torch" in sys.modules and isinstance(model, sys.modules["torch"].nn.Module):
        return "torch"
    if "keras" in sys.modules and isinstance(model, sys.modules["keras"].Model):
        return "tensorflow"
    if "flax.linen" in sys.modules and isinstance(model, sys.modules["flax.linen"].Module):
        if params is None:
            raise UserModelError("a Flax module needs its variables: UserModel(module, params=variables, ...)")
        return "jax"
    if callable(model) and params is not None:
        return "jax"
    if callable(model):
        raise UserModelError(
            f"{type(model).__name__} is callable but not a torch/Keras/Flax model: a JAX function needs params=..."
        )
    raise UserModelError(
        f"cannot export a {type(model).__module__}.{type(model).__name__}: expected a torch.nn.Module, a Keras "
        "model, a JAX function or Flax module with params=, or the path of an .onnx file"
    )


def default_id(model: Any, kind: str) -> str:
    name = Path(model).stem if kind == "onnx" else getattr(model, "__name__", type(model).__name__)
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    snake = re.sub(r"[^a-z0-9_]+", "_", snake).strip("_")
    return snake if ID_PATTERN.match(snake) else f"model_{snake}".rstrip("_")


def collect_dims(inputs: Sequence[TensorSpec]) -> dict[str, Dim]:
    """Every named dim of the inputs, bounded by the `Dim`s given (the batch from 1 up)."""
    dims: dict[str, Dim] = {}
    for spec in inputs:
        given = {d.name: d for d in spec.bounds}
        for name in spec.dim_names:
            dim = given.get(name) or dims.get(name) or Dim(name, min=1)
            if name in dims and name in given and dims[name] != given[name] and dims[name] != Dim(name, min=1):
                raise UserModelError(f"dim {name!r} has two different bounds: {dims[name]} and {given[name]}")
            dims[name] = dim
    return dims


def golden_dim_size(dim: Dim) -> int:
    size = dim.max if dim.max is not None else DEFAULT_DIM_SIZE
    return max(min(size, DEFAULT_DIM_SIZE * 2), dim.min, 1)


def check_golden(user: UserModel, inputs: Sequence[TensorSpec]) -> tuple[Arrays, dict[str, int]]:
    """The user's golden inputs, checked against the specs, and the size of every named dim in them."""
    golden = {k: np.asarray(v) for k, v in dict(user.golden).items()}
    names = [s.name for s in inputs]
    if sorted(golden) != sorted(names):
        raise UserModelError(f"{user.id}: golden has {sorted(golden)}, the model's inputs are {names}")
    for spec in inputs:
        array = golden[spec.name]
        if array.dtype != np.dtype(spec.dtype):
            raise UserModelError(f"{user.id}: golden {spec.name} is {array.dtype}, its spec says {spec.dtype}")
        if array.ndim != len(spec.shape) or array.shape[0] < 1:
            raise UserModelError(f"{user.id}: golden {spec.name} has shape {array.shape}, its spec {spec.shape}")
    try:
        sizes = golden_sizes(inputs, golden)
    except ValueError as e:
        raise UserModelError(f"{user.id}: golden: {e}") from e
    return {s.name: np.ascontiguousarray(golden[s.name]) for s in inputs}, sizes


def golden_sizes(inputs: Sequence[TensorSpec], arrays: Arrays) -> dict[str, int]:
    """The size of every named dim in `arrays`, checked to agree between inputs and with fixed dims."""
    sizes: dict[str, int] = {}
    for spec in inputs:
        for axis, dim in enumerate(spec.shape):
            got = arrays[spec.name].shape[axis]
            if isinstance(dim, int) and got != dim:
                raise ValueError(f"{spec.name} dim {axis} is {got}, expected {dim}")
            if isinstance(dim, str) and sizes.setdefault(dim, got) != got:
                raise ValueError(f"dim {dim!r} is {sizes[dim]} in one input and {got} in {spec.name}")
    return sizes


def probe_sizes(dims: Mapping[str, Dim]) -> tuple[dict[str, int], dict[str, int]]:
    """Two sizes per dim, inside its bounds, every dim's pair distinct from the others' so an
    output axis that moves with a dim can be named after it."""
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    used: set[tuple[int, int]] = set()
    for dim in dims.values():
        low = max(dim.min, 2)  # torch.export specialises sizes 0 and 1
        high = dim.max if dim.max is not None else 64
        candidates = [(a, b) for a in range(low, high + 1) for b in range(a + 1, high + 1) if (a, b) not in used]
        if not candidates:
            raise UserModelError(f"dim {dim.name!r} ({dim.min}..{dim.max}) leaves no room to vary: make it a number")
        # Small sizes keep the probe fast; sizes that differ from every other dim's keep names apart.
        taken = {v for pair in used for v in pair}
        pair = next((p for p in candidates if not (set(p) & taken)), candidates[0])
        used.add(pair)
        first[dim.name], second[dim.name] = pair
    return first, second


def infer_outputs(
    model_id: str,
    run: Callable[[Arrays], list[tuple[str | None, np.ndarray]]],
    inputs: Sequence[TensorSpec],
    dims: Mapping[str, Dim],
    given: Sequence[TensorSpec | str] | None,
    seed: int,
) -> tuple[tuple[TensorSpec, ...], list[str] | None]:
    """The output specs (as given when they are TensorSpecs, else measured from two runs at
    different dim sizes) and, for a model returning a dict, the keys the export keeps."""
    first, second = probe_sizes(dims)
    rng = np.random.default_rng([seed, 0x9B0BE])
    try:
        results = [run(tensors.generate(inputs, sizes, rng)) for sizes in (first, second)]
    except UserModelError:
        raise
    except Exception as e:
        raise UserModelError(
            f"{model_id}: running the model on inputs generated from its specs failed: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''} (check the input specs; integer inputs take values in "
            "their TensorSpec range, default [0, 100])"
        ) from e
    keyed = all(key is not None for key, _ in results[0])
    names = [o if isinstance(o, str) else o.name for o in given] if given is not None else None
    keys = None
    if keyed:  # a dict result: keep the named keys, or all of them
        available = [key for key, _ in results[0]]
        keys = names or available
        missing = [k for k in keys if k not in available]
        if missing:
            raise UserModelError(
                f"{model_id}: the model's result has no {missing[0]!r} (it has {', '.join(available)})"
            )
        results = [[dict(r)[k] for k in keys] for r in results]
    else:
        results = [[a for _, a in r] for r in results]
    count = len(results[0])
    names = names or keys or [f"output_{i}" for i in range(count)]
    if len(names) != count:
        raise UserModelError(f"{model_id}: the model returns {count} outputs, outputs= names {len(names)}: {names}")
    if given is not None and all(isinstance(o, TensorSpec) for o in given):
        return tuple(given), keys  # type: ignore[arg-type]
    specs = []
    for name, a, b in zip(names, results[0], results[1], strict=True):
        dtype = np.asarray(a).dtype.name
        if dtype not in tensors.DTYPES:
            raise UserModelError(
                f"{model_id}: output {name} is {dtype}, which the contract lacks ({', '.join(tensors.DTYPES)}): "
                "cast it inside the model"
            )
        if np.ndim(a) != np.ndim(b):
            raise UserModelError(f"{model_id}: output {name} changes rank with the input sizes")
        shape: list[int | str] = []
        for axis, (sa, sb) in enumerate(zip(np.shape(a), np.shape(b), strict=True)):
            if sa == sb:
                shape.append(int(sa))
                continue
            match = [d for d in dims if first[d] == sa and second[d] == sb]
            if not match:
                raise UserModelError(
                    f"{model_id}: output {name} axis {axis} changes size ({sa}, {sb}) with no input dim: "
                    "pass its TensorSpec in outputs="
                )
            shape.append(match[0])
        try:
            specs.append(TensorSpec(name, dtype, tuple(shape)))
        except ValueError as e:
            raise UserModelError(f"{model_id}: {e}: name the outputs with outputs=[...]") from e
    return tuple(specs), keys
