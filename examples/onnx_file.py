"""An existing .onnx file: here a two-layer MLP written with onnx.helper and seeded weights (your own
file would come from any exporter). Its inputs and outputs are read from the graph.

    python -m builder export --from examples/onnx_file.py:build
"""

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import builder


def write_mlp(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    weights = {
        "w1": rng.standard_normal((20, 32)) / np.sqrt(20),
        "b1": rng.standard_normal(32) * 0.1,
        "w2": rng.standard_normal((32, 3)) / np.sqrt(32),
        "b2": rng.standard_normal(3) * 0.1,
    }
    weights = {k: v.astype(np.float32) for k, v in weights.items()}
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["h2"]),
        helper.make_node("MatMul", ["h2", "w2"], ["h3"]),
        helper.make_node("Add", ["h3", "b2"], ["scores"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 20])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="deploykit-example")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def build() -> builder.UserModel:
    path = write_mlp(Path(tempfile.gettempdir()) / "deploykit-examples" / "mlp.onnx")
    return builder.UserModel(path, id="onnx_mlp", description="an .onnx file: MLP 20-32-3")
