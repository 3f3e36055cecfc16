"""The training loop every Keras model shares: Keras `fit` with Adam, seeded, one History row per
epoch (mean training loss, then the held-out metric). `mlp_keras` keeps its own trainers (a
GradientTape loop, XLA, MirroredStrategy); the other Keras models train here.
"""
from __future__ import annotations

import time
from typing import Callable

import keras
import numpy as np

from builder.models.common import History


def eager(model: keras.Model) -> Callable[..., np.ndarray | list[np.ndarray]]:
    """Calls the model directly (eagerly; predict() would build a tf.function) on NumPy inputs."""

    def forward(*arrays: np.ndarray):
        result = model(arrays[0] if len(arrays) == 1 else list(arrays), training=False)
        return [np.asarray(r) for r in result] if isinstance(result, (list, tuple)) else np.asarray(result)

    return forward


def fit(
    model: keras.Model,
    x,
    y: np.ndarray,
    loss: str | keras.losses.Loss,
    evaluate: Callable[[], float],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    history: History,
) -> float:
    """Compiles and fits `model` (which outputs what `loss` reads); returns the training seconds."""
    keras.utils.set_random_seed(seed)

    class _Hook(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            history.log(epoch + 1, float((logs or {})["loss"]), evaluate())

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[_Hook()])
    return time.perf_counter() - start
