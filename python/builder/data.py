"""The built-in toy tasks (golden inputs are generated from tensor specs: builder.tensors).

Task (from the seed document): x ~ N(0, 1) in R^10, y = 1 if sum(x) > 0 else 0.
It is linearly separable, so every model must reach a high held-out accuracy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

N_FEATURES = 10


@dataclasses.dataclass(frozen=True)
class Split:
    x: np.ndarray  # (n, features) float32
    y: np.ndarray  # (n, 1) float32 0/1 for the seed task; (n,) int64 class indices for the wide task


def make_split(n: int, rng: np.random.Generator) -> Split:
    x = rng.standard_normal((n, N_FEATURES), dtype=np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    return Split(x, y)


# The compute-bound model shared by wide_torch, wide_keras and wide_flax.
WIDE_LAYERS = (256, 1024, 1024, 10)


def make_wide_task(seed: int, n_train: int = 4096, n_test: int = 1024) -> tuple[Split, Split]:
    """A 10-class task for the wide models: x ~ N(0, 1) in R^256, y = argmax(x @ P) for a fixed
    seeded projection P (linear, so learnable). Labels are int64 class indices, shape (n,)."""
    features, classes = WIDE_LAYERS[0], WIDE_LAYERS[-1]
    rng = np.random.default_rng([seed, 0x31DE])
    projection = rng.standard_normal((features, classes)).astype(np.float32)

    def split(n: int) -> Split:
        x = rng.standard_normal((n, features), dtype=np.float32)
        return Split(x, np.argmax(x @ projection, axis=1).astype(np.int64))

    return split(n_train), split(n_test)


def make_task(seed: int, n_train: int = 4096, n_test: int = 1024) -> tuple[Split, Split]:
    """Returns (train, held-out test) splits, deterministic under `seed`."""
    rng = np.random.default_rng(seed)
    return make_split(n_train, rng), make_split(n_test, rng)


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator):
    """Yields the row indices of each full batch of one epoch, in a fresh random order.

    The ragged last batch is dropped, so a jitted training step sees one shape and compiles once.
    """
    order = rng.permutation(n)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start : start + batch_size]


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(((probabilities > 0.5) == (labels > 0.5)).mean())


def class_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Multi-class accuracy: logits (n, classes), labels (n,) class indices."""
    return float((np.argmax(logits, axis=1) == labels).mean())
