"""`wide_torch`: the compute-bound model for benchmarks, 256 -> 1024 -> 1024 -> 10 (ReLU, logits).

Briefly trained (one epoch by default) on the wide task of builder.data, so its weights are real
but it exists to be fast, not accurate. The same architecture is wide_keras and wide_flax.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from builder import data
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
    loader = DataLoader(
        TensorDataset(torch.from_numpy(train_split.x), torch.from_numpy(train_split.y)),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()

    history = History(on_epoch)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            seen += len(xb)
        model.eval()
        history.log(epoch, total / seen, data.class_accuracy(predict(test_split.x), test_split.y))
    seconds = time.perf_counter() - start
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model.eval(),
        predict=single_io(predict),
        parameters=sum(p.numel() for p in model.parameters()),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"], "seconds": seconds},
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
