"""Your own model (builder.UserModel, builder.export, export --from): every framework kind, the specs
it measures, the manifest it writes, and the errors a user meets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import builder
from builder import manifest
from builder.user_model import UserModelError, infer_outputs, probe_sizes

ROOT = Path(__file__).resolve().parents[1]


class TwoInputNet(torch.nn.Module):
    """Two inputs, a dict of two outputs (a Hugging Face-style result): what script cannot take."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4, 5)

    def forward(self, image, scale):
        features = torch.relu(self.conv(image)).mean(dim=(2, 3))
        return {"logits": self.fc(features) * scale, "features": features}


def two_input_model(**kwargs) -> builder.UserModel:
    torch.manual_seed(0)
    specs = [
        builder.TensorSpec("image", "float32", ("batch", 3, 12, 12)),
        builder.TensorSpec("scale", "float32", ("batch", 1)),
    ]
    return builder.UserModel(TwoInputNet(), inputs=specs, id="two_input", **kwargs)


def test_torch_model_every_format(tmp_path):
    """A two-input torch model returning a dict: outputs named after the dict's keys, shapes
    measured with the batch dim named, every format but script (skipped with the reason)."""
    path = builder.export(two_input_model(), out=tmp_path / "models", progress=False, cache_dir=tmp_path / "cache")
    doc = manifest.read(path)
    (entry,) = doc["models"]
    assert entry["source"] == "torch"
    assert entry["origin"]["kind"] == "user" and entry["origin"]["model"].endswith("TwoInputNet")
    assert "training" not in entry
    assert [(o["name"], o["shape"]) for o in entry["outputs"]] == [("logits", ["batch", 5]), ("features", ["batch", 4])]
    made = {a["format"] for a in entry["artifacts"]}
    assert made == {"torchscript-trace", "onnx", "aoti", "saved-model", "tflite", "tfjs-graph"}
    (skip,) = entry["skipped"]
    assert skip["format"] == "torchscript-script" and "returns a dict" in skip["reason"]
    # The golden set holds the finite special rows by default: a user model's NaN behaviour is not ours to define.
    assert [g["name"] for g in entry["golden"]] == ["golden", "special"]
    assert entry["golden"][1]["values"] == "finite"
    expected = np.load(path.parent / entry["golden"][0]["expected"]["logits"])
    inputs = {k: np.load(path.parent / p) for k, p in entry["golden"][0]["inputs"].items()}
    torch.manual_seed(0)
    reference = TwoInputNet()  # the same seeded weights as two_input_model's
    with torch.no_grad():
        want = reference(torch.from_numpy(inputs["image"]), torch.from_numpy(inputs["scale"]))["logits"].numpy()
    np.testing.assert_array_equal(expected, want)  # the golden expectation is the model's own eager output


def test_user_golden_and_tolerance_and_keyword_inputs(tmp_path):
    """Golden rows given by the user are the golden set; a tolerance is recorded on every artifact."""
    rng = np.random.default_rng(3)
    golden = {
        "image": rng.standard_normal((9, 3, 12, 12)).astype(np.float32),
        "scale": rng.standard_normal((9, 1)).astype(np.float32),
    }
    model = two_input_model(golden=golden, tolerance={"atol": 1e-4, "rtol": 1e-4}, outputs=["logits"])
    path = builder.export(model, out=tmp_path / "m", formats=["onnx"], progress=False)
    (entry,) = manifest.read(path)["models"]
    assert [o["name"] for o in entry["outputs"]] == ["logits"]
    np.testing.assert_array_equal(np.load(path.parent / entry["golden"][0]["inputs"]["image"]), golden["image"])
    assert entry["golden"][0]["rows"] == 9
    assert all(a["tolerance"] == {"atol": 1e-4, "rtol": 1e-4} for a in entry["artifacts"])


def test_builtin_keras_jax_and_onnx_share_an_export(tmp_path):
    """A built-in id, a Keras model (inputs read from it), a pure JAX function with params and an
    .onnx file in one export."""
    import jax.numpy as jnp
    import keras

    keras.utils.set_random_seed(0)
    tokens = keras.Input((6,), name="values")
    keras_model = keras.Model(tokens, keras.layers.Dense(3)(keras.layers.Dense(8, activation="relu")(tokens)))

    def affine(params, x):
        return jnp.tanh(x @ params["w"] + params["b"])

    params = {"w": np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), "b": np.ones(3, np.float32)}
    onnx_path = (
        builder.export(
            builder.UserModel(keras_model, id="dense_keras"), out=tmp_path / "first", formats=["onnx"], progress=False
        ).parent
        / "dense_keras"
        / "onnx"
        / "model.onnx"
    )
    models = [
        "mlp_keras",
        builder.UserModel(keras_model, id="dense_keras"),
        builder.UserModel(affine, params=params, inputs=[builder.TensorSpec("x", "float32", ("batch", 4))]),
        builder.UserModel(onnx_path, id="from_onnx"),
    ]
    path = builder.export(models, out=tmp_path / "all", formats=["onnx", "torchscript-trace"], progress=False)
    doc = manifest.read(path)
    by_id = {m["id"]: m for m in doc["models"]}
    assert list(by_id) == ["mlp_keras", "dense_keras", "affine", "from_onnx"]
    assert "training" in by_id["mlp_keras"] and "origin" not in by_id["mlp_keras"]
    assert by_id["dense_keras"]["inputs"] == [{"name": "values", "dtype": "float32", "shape": ["batch", 6]}]
    assert [a["via"] for a in by_id["from_onnx"]["artifacts"]] == [
        ["onnx", "onnx"],
        ["onnx", "onnx", "torchscript-trace"],
    ]
    assert by_id["affine"]["source"] == "jax" and by_id["from_onnx"]["source"] == "onnx"
    assert by_id["from_onnx"]["outputs"][0]["shape"] == ["batch", 3]


def test_output_dims_are_named_after_the_input_dims_they_follow():
    dims = {"batch": builder.Dim("batch", 1), "seq": builder.Dim("seq", 1, 10)}
    first, second = probe_sizes(dims)
    assert {(first[d], second[d]) for d in dims} and len({first["batch"], first["seq"]}) == 2
    specs = [builder.TensorSpec("ids", "int64", ("batch", builder.Dim("seq", 1, 10)), range=(0, 9))]

    def run(arrays):
        ids = arrays["ids"]
        return [(None, np.zeros((ids.shape[1], ids.shape[0], 7), np.float32))]  # (seq, batch, 7)

    (out,), keys = infer_outputs("m", run, specs, dims, None, seed=0)
    assert (out.name, out.shape, keys) == ("output_0", ("seq", "batch", 7), None)

    def bad(arrays):
        return [(None, np.zeros((arrays["ids"].shape[0] * 2,), np.float32))]

    with pytest.raises(UserModelError, match=r"axis 0 changes size .* with no input dim"):
        infer_outputs("m", bad, specs, dims, None, seed=0)

    def float64(arrays):
        return [(None, np.zeros((arrays["ids"].shape[0],), np.float64))]

    with pytest.raises(UserModelError, match="float64, which the contract lacks"):
        infer_outputs("m", float64, specs, dims, None, seed=0)


def test_usage_errors_are_one_line():
    with pytest.raises(UserModelError, match="cannot say its inputs"):
        builder.UserModel(TwoInputNet())
    with pytest.raises(UserModelError, match=r"must be an \.onnx file"):
        builder.UserModel("model.pt")
    with pytest.raises(UserModelError, match="needs params"):
        builder.UserModel(lambda x: x)
    with pytest.raises(UserModelError, match="lowercase identifier"):
        builder.UserModel(TwoInputNet(), inputs=[], id="Bad-Id")
    with pytest.raises(ValueError, match="dtype 'float64' is not one of"):
        builder.TensorSpec("x", "float64", ("batch", 3))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder", *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize(
    ("body", "spec", "message"),
    [
        ("", "missing.py:build", "no such file"),
        ("", "factory.py:nothing", "has no function 'nothing'"),
        (
            "def build():\n    raise RuntimeError('no weights here')\n",
            "factory.py:build",
            "build\\(\\) raised RuntimeError: no weights here",
        ),
        (
            "def build():\n    return 42\n",
            "factory.py:build",
            "must return a builder.UserModel or a list of them, got int",
        ),
        (
            "import torch, builder\ndef build():\n    return builder.UserModel(torch.nn.Linear(2, 2))\n",
            "factory.py:build",
            "cannot say its inputs",
        ),
        (
            (
                "import torch, builder\ndef build():\n    return builder.UserModel(torch.nn.Linear(2, 2), "
                "inputs=[builder.TensorSpec('x', 'complex64', ('batch', 2))])\n"
            ),
            "factory.py:build",
            "dtype 'complex64' is not one of",
        ),
        ("", "no_such_package.module:build", "no module 'no_such_package.module'"),
        ("", "factory.py", "expected path/to/file.py:function"),
    ],
)
def test_from_spec_errors_exit_2(tmp_path, body, spec, message):
    (tmp_path / "factory.py").write_text(body)
    done = _cli("export", "--from", spec, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: export: "), done.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()


FACTORY = textwrap.dedent(
    """
    import torch
    import builder

    def build():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
        spec = builder.TensorSpec("x", "float32", ("batch", 6))
        return builder.UserModel(net, inputs=[spec], tolerance={"atol": 0.0, "rtol": 0.0})

    def two():
        return [build(), build()]
    """
)


def test_from_spec_mismatch_exits_1_naming_model_format_output_and_tolerance(tmp_path):
    """A zero tolerance that ONNX Runtime's summation order cannot meet: exit 1, one line with the
    model, format, output, max diff and tolerance; the previous output folder is untouched."""
    (tmp_path / "factory.py").write_text(FACTORY)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("previous export")
    done = _cli(
        "export", "--from", "factory.py:build", "--formats", "onnx", "--out", str(tmp_path / "out"), cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "error: export: sequential/onnx: output differs from the reference" in last
    assert "(output_0)" in last and "atol=0 rtol=0" in last and "max abs diff" in last
    assert (tmp_path / "out" / "keep.txt").read_text() == "previous export"


def test_from_spec_id_and_verify_on_user_ids(tmp_path):
    (tmp_path / "factory.py").write_text(FACTORY.replace('tolerance={"atol": 0.0, "rtol": 0.0}', "tolerance=None"))
    done = _cli("export", "--from", "factory.py:two", "--id", "x", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert done.returncode == 2 and "gives 2 models, not one" in done.stderr
    done = _cli("export", "--from", "factory.py:two", "--formats", "onnx", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert done.returncode == 2 and "two models share the id 'sequential'" in done.stderr
    out = tmp_path / "models"
    done = _cli(
        "export", "--from", "factory.py:build", "--id", "my_mlp", "--formats", "onnx", "torchscript-trace",
        "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [m["id"] for m in json.loads((out / "manifest.json").read_text())["models"]] == ["my_mlp"]
    done = _cli(
        "verify",
        "--manifest",
        str(out / "manifest.json"),
        "--models",
        "my_mlp",
        "--runtimes",
        "onnxruntime",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "my_mlp" in done.stdout
    done = _cli("verify", "--manifest", str(out / "manifest.json"), "--models", "mlp_torch", cwd=tmp_path)
    assert done.returncode == 2 and "the manifest has no model 'mlp_torch' (it has my_mlp)" in done.stderr
