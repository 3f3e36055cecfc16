"""The seed's training idioms: mixed precision, TF trainers, DDP and MirroredStrategy, `train` CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch

from builder import pipeline
from builder.config import ExportConfig
from builder.models import mlp_keras, mlp_torch, torch_distributed
from builder.models.common import TrainConfig


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "builder", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_amp_on_cpu_trains_in_bfloat16_and_reaches_the_bar():
    trained = mlp_torch.train(TrainConfig(seed=0, amp=True))
    assert trained.training["amp"] == "bfloat16" and trained.training["device"] == "cpu"
    assert trained.training["accuracy"] >= 0.95
    assert all(p.dtype == torch.float32 for p in trained.module.parameters()), "the exported model stays float32"


def test_amp_model_exports_with_golden_parity(tmp_path):
    cfg = ExportConfig(
        out=tmp_path / "m",
        models=("mlp_torch",),
        formats=("torchscript-script", "onnx"),
        epochs=2,
        train=TrainConfig(amp=True),
    )
    manifest_path, rows = pipeline.run(cfg)  # the export reloads each artifact and checks it against golden
    assert [r.format for r in rows] == ["torchscript-script", "onnx"]
    assert '"amp": "bfloat16"' in manifest_path.read_text()


@pytest.mark.parametrize("trainer", ["fit", "loop", "xla"])
def test_keras_trainers_reach_the_bar(trainer):
    trained = mlp_keras.train(TrainConfig(seed=0, trainer=trainer))
    assert trained.training["trainer"] == trainer
    assert trained.training["accuracy"] >= 0.95
    assert len(trained.history) == mlp_keras.DEFAULT_EPOCHS


def test_ddp_with_two_processes_matches_single_process_training():
    cfg = TrainConfig(seed=5, epochs=2, batch_size=32)
    one = torch_distributed.train(cfg.__class__(**{**cfg.__dict__, "nproc": 1}))
    two = torch_distributed.train(cfg.__class__(**{**cfg.__dict__, "nproc": 2}))
    assert two.training["nproc"] == 2 and len(two.history) == 2
    p1, p2 = dict(one.module.named_parameters()), dict(two.module.named_parameters())
    # Same global batches and averaged gradients: only float32 summation order differs
    # (measured max difference 3.6e-7 after 3 epochs).
    assert max((p1[k] - p2[k]).abs().max().item() for k in p1) < 1e-5
    initial = dict(mlp_torch.MLP().named_parameters())
    assert max((p1[k] - initial[k]).abs().max().item() for k in p1) > 0.1, "training moved the weights"
    assert two.training["accuracy"] >= 0.95


def test_train_cli_prints_epochs_and_writes_the_loss_curve(tmp_path):
    result = run_cli("train", "--model", "mlp_torch", "--nproc", "2", "--epochs", "2", "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert re.search(r"mlp_torch epoch 2/2: loss [0-9.]+, held-out accuracy [0-9.]+", result.stdout)
    assert "trained mlp_torch on 2 replicas" in result.stdout
    png = (tmp_path / "mlp_torch_loss.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_mirrored_strategy_over_two_logical_cpus(tmp_path):
    result = run_cli("train", "--model", "mlp_keras", "--nproc", "2", "--epochs", "4", "--report-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    accuracy = float(
        re.search(r"trained mlp_keras on 2 replicas .*held-out accuracy ([0-9.]+)", result.stdout).group(1)
    )
    assert accuracy >= 0.95


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "mlp_keras", "--trainer", "loop", "--nproc", "2"], "MirroredStrategy through Keras fit"),
        (["--model", "mlp_flax", "--amp"], "--amp applies only to mlp_torch"),
        (["--model", "mlp_torch", "--trainer", "xla"], "--trainer applies only to mlp_keras"),
        (["--model", "mlp_torch", "--nproc", "0"], "--nproc must be at least 1"),
    ],
)
def test_train_cli_usage_errors(args, message, tmp_path):
    result = run_cli("train", *args, "--report-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr


def test_export_cli_runs_jax_data_parallel(tmp_path):
    """`export --nproc 2` must give JAX two host devices (XLA_FLAGS set before JAX starts)."""
    out = tmp_path / "m"
    result = run_cli(
        "export", "--out", str(out), "--models", "mlp_jax", "--formats", "onnx", "--nproc", "2", "--epochs", "1"
    )
    assert result.returncode == 0, result.stderr
    training = json.loads((out / "manifest.json").read_text())["models"][0]["training"]
    assert training["nproc"] == 2
    assert (out / "report" / "mlp_jax_loss.png").exists()
