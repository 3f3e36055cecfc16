"""FLOPs per batch row, counted from the model's layers rather than its parameter count.

The model's ONNX artifact is run once at batch 1 on its first golden row with every intermediate
value exposed as an output, so every tensor's real shape is known (whatever symbolic shapes the
exporter wrote); then each MatMul, Gemm and Conv node counts 2 x multiply-adds. Attention shows up
as its two MatMuls (scores and weighted values), so a transformer's count grows with the sequence.
Element-wise ops, normalisation and softmax are left out: they are a few percent of these models.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COUNTED = ("MatMul", "Gemm", "Conv")


def onnx_flops_per_row(onnx_path: Path, inputs: dict[str, np.ndarray], input_keys: dict[str, str]) -> dict:
    """{"flops": per batch row, "by_op": {op: flops}} for one row of `inputs` (name -> array)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    graph = model.graph
    wanted = {
        name for node in graph.node if node.op_type in COUNTED for name in list(node.input) + list(node.output) if name
    }
    known = {o.name for o in graph.output} | {i.name for i in graph.initializer} | {i.name for i in graph.input}
    for name in sorted(wanted - known):
        graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the nodes as written
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = {input_keys[n]: np.ascontiguousarray(a[:1]) for n, a in inputs.items()}
    names = [o.name for o in session.get_outputs()]
    shapes = {n: v.shape for n, v in zip(names, session.run(names, feeds), strict=True)}
    shapes |= {i.name: tuple(i.dims) for i in graph.initializer} | {
        input_keys[n]: a[:1].shape for n, a in inputs.items()
    }
    by_op: dict[str, int] = {}
    for node in graph.node:
        if node.op_type not in COUNTED:
            continue
        out = shapes[node.output[0]]
        if node.op_type == "MatMul":
            k = shapes[node.input[0]][-1]
        elif node.op_type == "Gemm":
            trans_a = next((a.i for a in node.attribute if a.name == "transA"), 0)
            k = shapes[node.input[0]][0 if trans_a else 1]
        else:  # Conv: weight (out channels, in channels / groups, *kernel)
            k = int(np.prod(shapes[node.input[1]][1:]))
        by_op[node.op_type] = by_op.get(node.op_type, 0) + 2 * int(np.prod(out)) * int(k)
    return {"flops": sum(by_op.values()), "by_op": by_op}
