"""The training loop every Flax model shares: optax Adam, one jitted step, seeded full batches
(the ragged last batch is dropped so the step compiles once), one History row per epoch.
`mlp_jax` keeps its own step, since it shards the batch over devices (`nproc`).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import jax
import numpy as np
import optax

from builder import data
from builder.models.common import History


def fit(
    apply: Callable[..., jax.Array],
    params: Any,
    loss_fn: Callable[[jax.Array, jax.Array], jax.Array],
    x: np.ndarray,
    y: np.ndarray,
    evaluate: Callable[[Any], float],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    history: History,
) -> tuple[Any, float]:
    """Trains `params` of `apply(params, x)`; returns (the trained params, training seconds)."""
    optimizer = optax.adam(learning_rate)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(lambda p: loss_fn(apply(p, xb), yb))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, seen = 0.0, 0
        for idx in data.epoch_batches(len(x), batch_size, rng):
            params, opt_state, loss = step(params, opt_state, x[idx], y[idx])
            total += float(loss) * len(idx)
            seen += len(idx)
        history.log(epoch, total / seen, evaluate(params))
    return params, time.perf_counter() - start
