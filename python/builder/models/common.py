"""Types shared by the per-framework model modules."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol

import numpy as np

# Called after each epoch with (epoch from 1, {"epoch", "loss", "accuracy"}): the epoch's mean
# training loss and the held-out accuracy after it.
EpochCallback = Callable[[int, dict], None]

TRAINERS = ("fit", "loop", "xla")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int | None = None  # None: the model's own default
    batch_size: int = 32  # the global batch, whatever the number of replicas
    amp: bool = False  # torch: mixed precision (autocast; GradScaler on CUDA)
    trainer: str = "fit"  # keras: Keras fit | tf.data + GradientTape loop | the loop with XLA
    nproc: int = 1  # data-parallel replicas: DDP processes (torch), MirroredStrategy devices (keras), shard_map devices (jax)


class History:
    """Per-epoch metrics: reported to the callback as they come, kept for the loss-curve plot."""

    def __init__(self, on_epoch: EpochCallback | None = None) -> None:
        self.rows: list[dict] = []
        self._on_epoch = on_epoch

    def log(self, epoch: int, loss: float, accuracy: float) -> None:
        row = {"epoch": epoch, "loss": float(loss), "accuracy": float(accuracy)}
        self.rows.append(row)
        if self._on_epoch:
            self._on_epoch(epoch, row)


@dataclasses.dataclass
class Trained:
    """A trained model plus its eager reference forward pass."""

    model_id: str
    source: str  # "torch" | "tensorflow" | "jax"
    module: Any  # the framework's model object; for JAX `(apply_fn, params)`
    predict: Callable[[np.ndarray], np.ndarray]  # (batch, n_inputs) float32 -> (batch, n_outputs) float32, eager
    parameters: int
    training: dict  # epochs, final_loss, accuracy, seconds (+ mode details such as amp, trainer, nproc)
    history: list[dict] = dataclasses.field(default_factory=list)  # History.rows
    n_inputs: int = 10  # features per row: input shape (batch, n_inputs)
    n_outputs: int = 1  # output shape (batch, n_outputs)


class ModelSpec(Protocol):
    """What every model module exposes (see models/__init__.py for the registry)."""

    MODEL_ID: str
    SOURCE: str
    DEFAULT_EPOCHS: int

    def train(self, cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained: ...


def jax_eager_reference(apply_fn: Callable, params) -> Callable[[np.ndarray], np.ndarray]:
    """The export's reference for a JAX model: `apply_fn(params, x)` run op by op (not jitted),
    as float32 NumPy. Exports are compiled, so this is what they are checked against."""
    import jax
    import jax.numpy as jnp

    def predict(x: np.ndarray) -> np.ndarray:
        with jax.disable_jit():
            return np.asarray(apply_fn(params, jnp.asarray(x, jnp.float32)), dtype=np.float32)

    return predict
