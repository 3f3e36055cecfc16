"""Types shared by the per-framework model modules."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol

import numpy as np

# Called after each epoch with (epoch index from 1, mean training loss of the epoch).
EpochCallback = Callable[[int, float], None]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int | None = None  # None: the model's own default
    batch_size: int = 32


@dataclasses.dataclass
class Trained:
    """A trained model plus its eager reference forward pass."""

    model_id: str
    source: str  # "torch" | "tensorflow" | "jax"
    module: Any  # the framework's model object (and params, for JAX)
    predict: Callable[[np.ndarray], np.ndarray]  # (batch, 10) float32 -> (batch, 1) float32, eager
    parameters: int
    training: dict  # epochs, final_loss, accuracy, seconds


class ModelSpec(Protocol):
    """What every model module exposes (see models/__init__.py for the registry)."""

    MODEL_ID: str
    SOURCE: str
    DEFAULT_EPOCHS: int

    def train(self, cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained: ...
