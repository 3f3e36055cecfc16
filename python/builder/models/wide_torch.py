"""`wide_torch`: the compute-bound model for benchmarks, 256 -> 1024 -> 1024 -> 10 (ReLU, logits).

Briefly trained (one epoch by default) on the wide task of builder.data, so its weights are real
but it exists to be fast, not accurate. The same architecture is wide_keras and wide_flax.
"""
from __future__ import annotations

import torch
from torch import nn

from builder import data
from builder.models import torch_training
from builder.models.common import EpochCallback, History, TrainConfig, Trained, dense_specs, single_io

MODEL_ID = "wide_torch"
SOURCE = "torch"
DEFAULT_EPOCHS = 1
SPECS = dense_specs(data.WIDE_LAYERS[0], data.WIDE_LAYERS[-1])  # (batch, 256) -> (batch, 10) logits
LEARNING_RATE = 1e-3
# Three float32 layers summing 256 and 1024 products: kernels that block or order the sums
# differently (oneDNN, XNNPACK, onnxruntime's MLAS) differ by up to 1.2e-4 absolute (TFLite) on
# logits up to 260 (the magnitude-100 golden rows), about 5e-7 relative.
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


def build() -> nn.Module:
    i, h1, h2, o = data.WIDE_LAYERS
    return nn.Sequential(nn.Linear(i, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, o))


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    torch.manual_seed(cfg.seed)
    train_split, test_split = data.make_wide_task(cfg.seed)
    model = build()
    forward = torch_training.numpy_forward(model)
    history = History(on_epoch)
    seconds = torch_training.fit(
        model, (train_split.x,), train_split.y, nn.CrossEntropyLoss(),
        lambda: data.class_accuracy(forward(test_split.x), test_split.y),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model.eval(),
        predict=single_io(forward),
        parameters=sum(p.numel() for p in model.parameters()),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"], "seconds": seconds},
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
