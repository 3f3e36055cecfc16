"""Checks an exported ONNX graph's inputs and outputs against the model's tensor specs.

Exporters can silently freeze a dynamic dim (torch.onnx.export after torch.export in the same
process turned an LSTM's `seq` into a constant): every named dim must stay symbolic, every fixed
dim must keep its size, and every dtype must match, or the export fails naming the tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ONNX_DTYPES = {"float32": 1, "uint8": 2, "int32": 6, "int64": 7, "bool": 9, "float16": 10}


def check_dims(
    path: Path,
    trained,
    input_keys: Mapping[str, str],
    output_keys: Mapping[str, str],
    boundary_dtypes: Mapping[str, str] | None = None,
) -> None:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    boundary_dtypes = boundary_dtypes or {}
    for specs, keys, values, what in (
        (trained.inputs, input_keys, graph.input, "input"),
        (trained.outputs, output_keys, graph.output, "output"),
    ):
        by_name = {v.name: v for v in values}
        for spec in specs:
            value = by_name.get(keys[spec.name])
            if value is None:
                raise ValueError(
                    f"ONNX graph has no {what} {keys[spec.name]!r} for {spec.name} (has {sorted(by_name)})"
                )
            tensor_type = value.type.tensor_type
            want = ONNX_DTYPES[boundary_dtypes.get(spec.name, spec.dtype)]
            if tensor_type.elem_type != want:
                raise ValueError(
                    f"ONNX {what} {spec.name} has element type {tensor_type.elem_type}, expected {spec.dtype} ({want})"
                )
            if not tensor_type.HasField("shape"):
                continue
            dims = tensor_type.shape.dim
            if len(dims) != len(spec.shape):
                raise ValueError(f"ONNX {what} {spec.name} has rank {len(dims)}, expected {len(spec.shape)}")
            for axis, (got, declared) in enumerate(zip(dims, spec.shape, strict=True)):
                if isinstance(declared, str) and got.HasField("dim_value"):
                    raise ValueError(
                        f"ONNX {what} {spec.name}: dynamic dim {axis} ({declared}) was frozen to {got.dim_value}"
                    )
                if isinstance(declared, int) and got.HasField("dim_value") and got.dim_value != declared:
                    raise ValueError(f"ONNX {what} {spec.name}: dim {axis} is {got.dim_value}, expected {declared}")
