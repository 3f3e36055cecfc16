"""The training loop every PyTorch classifier-style model shares: Adam, a seeded shuffled loader,
one History row per epoch (mean training loss, then the held-out metric). `mlp_torch` keeps its own
stepper for mixed precision and DDP; the other torch models train here.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from builder.models.common import History


def numpy_forward(model: nn.Module) -> Callable[..., np.ndarray]:
    """`model` run eagerly on NumPy arrays (positional inputs) in inference mode."""

    def forward(*arrays: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(*(torch.from_numpy(np.ascontiguousarray(a)) for a in arrays)).numpy()

    return forward


def fit(
    model: nn.Module,
    inputs: tuple[np.ndarray, ...],
    targets: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    evaluate: Callable[[], float],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    history: History,
    max_steps: int | None = None,
) -> float:
    """Trains `model` in place; returns the training seconds (evaluation included). `max_steps`
    caps the optimiser steps per epoch (a language model samples windows, it has no natural epoch)."""
    torch.manual_seed(seed)
    loader = DataLoader(
        TensorDataset(*(torch.from_numpy(a) for a in inputs), torch.from_numpy(targets)),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for step, (*xb, yb) in enumerate(loader):
            if max_steps is not None and step >= max_steps:
                break
            optimizer.zero_grad()
            loss = loss_fn(model(*xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        model.eval()
        history.log(epoch, total / seen, evaluate())
    return time.perf_counter() - start
