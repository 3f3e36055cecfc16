"""One adapter per framework for `builder.UserModel` (builder.user_model).

An adapter knows the model's input specs (given, or read from a Keras or ONNX model), runs it on
NumPy arrays for the reference and the output probe (`run` returns `(key, array)` pairs: the key
of a dict output, or None), and hands the exporters a handle of the kind the built-ins use: a
`torch.nn.Module` returning a tensor or a tuple, a Keras model, a `JaxFunction`, an ONNX path.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from builder.tensors import DTYPES, NAME, Arrays, TensorSpec
from builder.user_model import UserModel, UserModelError

Results = list[tuple[str | None, np.ndarray]]


def adapter(user: UserModel):
    return {"torch": TorchAdapter, "tensorflow": KerasAdapter, "jax": JaxAdapter, "onnx": OnnxAdapter}[user.kind](user)


def flatten(model_id: str, result: Any, to_numpy) -> Results:
    """A forward's result (one array, a tuple/list of them, or a dict such as a Hugging Face
    ModelOutput) as (key, array) pairs in order."""
    if isinstance(result, Mapping):
        return [(str(k), to_numpy(v)) for k, v in result.items() if v is not None and hasattr(v, "shape")]
    if isinstance(result, (tuple, list)):
        pairs = []
        for i, v in enumerate(result):
            if not hasattr(v, "shape"):
                raise UserModelError(
                    f"{model_id}: output {i} is a {type(v).__name__}, not a tensor: return tensors (or a dict of them)"
                )
            pairs.append((None, to_numpy(v)))
        return pairs
    if hasattr(result, "shape"):
        return [(None, to_numpy(result))]
    raise UserModelError(f"{model_id}: the model returned a {type(result).__name__}, not tensors")


def select(result: Any, keys: Sequence[str] | None):
    """The outputs the export keeps: the named ones from a dict result, else the result itself."""
    if keys is None or not isinstance(result, Mapping):
        return result
    missing = [k for k in keys if k not in result]
    if missing:
        raise UserModelError(f"the model's result has no {missing[0]!r} (it has {', '.join(map(str, result))})")
    return tuple(result[k] for k in keys)


class _KeyedAdapter:
    """An adapter whose model may return a dict: after the probe, `keys` are the outputs kept."""

    keys: list[str] | None = None

    def bind_outputs(self, outputs: Sequence[TensorSpec], keys: list[str] | None) -> None:
        self.keys = keys


class TorchAdapter(_KeyedAdapter):
    def __init__(self, user: UserModel) -> None:
        import torch

        self.user = user
        self.model = user.model.eval()
        self.inputs = tuple(user.inputs or ())
        names = [s.name for s in self.inputs]
        try:
            params = inspect.signature(self.model.forward).parameters
        except (TypeError, ValueError):
            params = {}
        # Inputs named after forward's parameters are passed by keyword (a Hugging Face model's
        # input_ids, attention_mask); others by position, in the specs' order.
        self.keyword = bool(names) and all(n in params for n in names) and list(params)[: len(names)] != names
        self.torch = torch

    def _call(self, tensors: Sequence) -> Any:
        if self.keyword:
            return self.model(**dict(zip([s.name for s in self.inputs], tensors, strict=True)))
        return self.model(*tensors)

    def run(self, arrays: Arrays) -> Results:
        torch = self.torch
        with torch.no_grad():
            result = self._call([torch.from_numpy(np.ascontiguousarray(arrays[s.name])) for s in self.inputs])
        return flatten(self.user.id, select(result, self.keys), lambda t: t.detach().cpu().numpy())

    @property
    def module(self):
        return boundary_module(self)

    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def describe(self) -> str:
        return f"{type(self.model).__module__}.{type(self.model).__name__}"


def boundary_module(adapter: TorchAdapter):
    """The module the torch exporters see: the user's model called with the specs' inputs,
    returning a tensor or a tuple in the outputs' order. Its forward takes one parameter per input,
    named after it (torch.export matches dynamic shapes and ONNX names positionally).
    `script_target` is what torch.jit.script may compile: the model itself when it already has
    that boundary, else None."""
    torch = adapter.torch
    names = [s.name for s in adapter.inputs]

    class Boundary(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = adapter.model

        def call(self, inputs: tuple):
            result = select(adapter._call(inputs), adapter.keys)
            return result[0] if isinstance(result, tuple) and len(result) == 1 else result

    namespace: dict = {}
    exec(
        f"def forward(self, {', '.join(names)}):\n    return self.call(({', '.join(names)},))\n", namespace
    )  # the names are identifiers (TensorSpec checks)
    Boundary.forward = namespace["forward"]
    boundary = Boundary().eval()
    direct = not adapter.keyword and adapter.keys is None
    boundary.script_target = adapter.model if direct else None
    return boundary


class KerasAdapter(_KeyedAdapter):
    def __init__(self, user: UserModel) -> None:
        self.user = user
        self.model = user.model
        self.inputs = tuple(user.inputs) if user.inputs is not None else self._read_inputs()

    def _read_inputs(self) -> tuple[TensorSpec, ...]:
        specs = []
        for tensor in self.model.inputs:
            # The input layer's name (`keras.Input(name=...)`, else e.g. `input_layer`), not the
            # symbolic tensor's (`keras_tensor`).
            layer = getattr(getattr(tensor, "_keras_history", None), "operation", None)
            name = _identifier(self.user.id, getattr(layer, "name", None) or tensor.name.split(":")[0], "input")
            shape = tuple(
                d if d is not None else ("batch" if axis == 0 else f"d{axis}") for axis, d in enumerate(tensor.shape)
            )
            specs.append(TensorSpec(name, str(tensor.dtype), shape))
        return tuple(specs)

    def run(self, arrays: Arrays) -> Results:
        values = [arrays[s.name] for s in self.inputs]
        result = self.model(values[0] if len(values) == 1 else values, training=False)
        return flatten(self.user.id, select(result, self.keys), lambda t: np.asarray(t))

    @property
    def module(self):
        return self.model

    def parameters(self) -> int:
        return int(self.model.count_params())

    def describe(self) -> str:
        return f"keras {type(self.model).__name__} {self.model.name}"


class JaxAdapter(_KeyedAdapter):
    def __init__(self, user: UserModel) -> None:
        import jax

        self.user = user
        self.jax = jax
        self.inputs = tuple(user.inputs or ())
        self.apply = (
            user.model.apply if hasattr(user.model, "apply") and not inspect.isfunction(user.model) else user.model
        )

    def _apply(self, params, *inputs):
        return select(self.apply(params, *inputs), self.keys)

    def run(self, arrays: Arrays) -> Results:
        import jax.numpy as jnp

        with self.jax.disable_jit():  # the reference is op by op; every export is compiled
            result = self._apply(self.user.params, *(jnp.asarray(arrays[s.name]) for s in self.inputs))
        return flatten(self.user.id, result, lambda t: np.asarray(t))

    @property
    def module(self):
        from builder.models.common import JaxFunction

        return JaxFunction(apply=self._apply, params=self.user.params)

    def parameters(self) -> int:
        return int(sum(np.size(x) for x in self.jax.tree_util.tree_leaves(self.user.params)))

    def describe(self) -> str:
        model = self.user.model
        return f"{getattr(model, '__module__', '?')}.{getattr(model, '__qualname__', type(model).__name__)}"


class OnnxAdapter:
    def __init__(self, user: UserModel) -> None:
        import onnx

        self.user = user
        self.path = Path(user.model).resolve()
        try:
            self.proto = onnx.load(str(self.path), load_external_data=False)
        except Exception as e:
            raise UserModelError(f"{self.path}: not a readable ONNX model: {type(e).__name__}: {e}") from e
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in self.proto.graph.initializer):
            raise UserModelError(f"{self.path}: weights in external data files are not supported; save it as one file")
        self.inputs = tuple(user.inputs) if user.inputs is not None else self._read_inputs()
        self.session = None

    def _read_inputs(self) -> tuple[TensorSpec, ...]:
        from builder.formats.onnx_checks import ONNX_DTYPES

        by_code = {code: dtype for dtype, code in ONNX_DTYPES.items()}
        initializers = {t.name for t in self.proto.graph.initializer}
        specs = []
        for value in self.proto.graph.input:
            if value.name in initializers:
                continue
            name = _identifier(self.user.id, value.name, "input")
            tensor_type = value.type.tensor_type
            if tensor_type.elem_type not in by_code:
                raise UserModelError(
                    f"{self.user.id}: ONNX input {name} has element type {tensor_type.elem_type}, not one of "
                    f"{', '.join(DTYPES)}"
                )
            shape: list[int | str] = []
            for axis, dim in enumerate(tensor_type.shape.dim):
                if dim.HasField("dim_value"):
                    shape.append(int(dim.dim_value))
                elif axis == 0:
                    shape.append("batch")
                elif dim.dim_param and NAME.match(dim.dim_param):
                    shape.append(dim.dim_param)
                else:
                    raise UserModelError(
                        f"{self.user.id}: ONNX input {name} axis {axis} is dynamic without a name: pass inputs="
                    )
            specs.append(TensorSpec(name, by_code[tensor_type.elem_type], tuple(shape)))
        return tuple(specs)

    def run(self, arrays: Arrays) -> Results:
        import onnxruntime as ort

        if self.session is None:
            self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        names = [o.name for o in self.session.get_outputs()]
        results = self.session.run(None, {s.name: arrays[s.name] for s in self.inputs})
        return list(zip(names, results, strict=True))

    def bind_outputs(self, outputs: Sequence[TensorSpec], keys: list[str] | None) -> None:
        graph_outputs = [o.name for o in self.proto.graph.output]
        if [s.name for s in outputs] != graph_outputs:
            raise UserModelError(
                f"{self.user.id}: an ONNX model's outputs keep their graph names {graph_outputs}; "
                f"outputs= named {[s.name for s in outputs]}"
            )

    @property
    def module(self):
        return self.path

    def parameters(self) -> int:
        return int(sum(np.prod(t.dims, dtype=np.int64) for t in self.proto.graph.initializer))

    def describe(self) -> str:
        return f"ONNX file {self.path.name} (opset {max((o.version for o in self.proto.opset_import), default=0)})"


def _identifier(model_id: str, name: str, what: str) -> str:
    if NAME.match(name):
        return name
    fixed = re.sub(r"[^A-Za-z0-9_]", "_", name)
    raise UserModelError(
        f"{model_id}: {what} name {name!r} is not an identifier (e.g. {fixed!r}): rename it in the model, "
        "or pass inputs= with TensorSpecs"
    )
