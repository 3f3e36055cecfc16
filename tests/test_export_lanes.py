"""The parallel export: torch models in a second process give the same export as one process."""

from __future__ import annotations

import dataclasses
import json
import warnings

from builder import pipeline
from builder.config import ExportConfig
from builder.models.common import TrainConfig


def test_the_lane_takes_the_torch_models_when_others_stay_here():
    cfg = ExportConfig(models=("mlp_torch", "mlp_keras", "cnn_torch", "mlp_jax"), parallel=True)
    assert pipeline.lane_models(cfg) == ["mlp_torch", "cnn_torch"]
    assert pipeline.lane_models(dataclasses.replace(cfg, parallel=False)) == []
    only_torch = ExportConfig(models=("mlp_torch", "cnn_torch"), parallel=True)
    assert pipeline.lane_models(only_torch) == []  # nothing to overlap with: all in this process
    ddp = ExportConfig(models=("mlp_torch", "cnn_torch", "mlp_keras"), parallel=True, train=TrainConfig(nproc=2))
    assert pipeline.lane_models(ddp) == ["cnn_torch"]  # DistributedDataParallel starts its own processes


def test_a_parallel_export_equals_a_sequential_one(tmp_path):
    def run(name: str, parallel: bool):
        cfg = ExportConfig(
            out=tmp_path / name,
            models=("cnn_torch", "mlp_keras"),
            formats=("torchscript-trace", "saved-model"),
            epochs=1,
            parallel=parallel,
        )
        path, rows = pipeline.run(cfg)
        return tmp_path / name, json.loads(path.read_text()), rows

    seq_dir, seq, seq_rows = run("sequential", False)
    par_dir, par, par_rows = run("parallel", True)
    assert [m["id"] for m in par["models"]] == [m["id"] for m in seq["models"]] == ["cnn_torch", "mlp_keras"]
    assert [(r.model, r.format) for r in par_rows] == [(r.model, r.format) for r in seq_rows]
    assert len(par_rows) == len({(r.model, r.format) for r in par_rows})  # each artifact exported once
    torch_seq, torch_par = seq["models"][0], par["models"][0]
    assert torch_par["training"]["final_loss"] == torch_seq["training"]["final_loss"]
    for golden in torch_seq["golden"]:  # the reference outputs of the trained weights, bit for bit
        for path in golden["expected"].values():
            assert (par_dir / path).read_bytes() == (seq_dir / path).read_bytes(), path
    # The same weights (a convolution's sums depend on the thread count: both lanes use the same).
    # The files themselves differ: TorchScript stores the Python call stack of the trace.
    import torch

    path = next(a["path"] for a in torch_seq["artifacts"] if a["format"] == "torchscript-trace")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load: TorchScript is what we ship
        weights = [torch.jit.load(str(d / path)).state_dict() for d in (seq_dir, par_dir)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
