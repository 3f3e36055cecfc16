"""`wide_flax`: the compute-bound benchmark model in Flax, 256 -> 1024 -> 1024 -> 10 (ReLU, logits)."""
from __future__ import annotations

import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, JaxFunction, Trained, dense_specs, jax_eager_reference
from builder.models import wide_torch

MODEL_ID = "wide_flax"
SOURCE = "jax"
DEFAULT_EPOCHS = 1
LEARNING_RATE = 1e-3
TOLERANCE = wide_torch.TOLERANCE  # same architecture, same float32 error
SPECS = dense_specs(data.WIDE_LAYERS[0], data.WIDE_LAYERS[-1])  # (batch, 256) -> (batch, 10) logits


class Wide(nn.Module):
    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # (batch, 256) -> (batch, 10) logits
        _, h1, h2, o = data.WIDE_LAYERS
        x = nn.relu(nn.Dense(h1)(x))
        x = nn.relu(nn.Dense(h2)(x))
        return nn.Dense(o)(x)


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    train_split, test_split = data.make_wide_task(cfg.seed)
    model = Wide()
    params = model.init(jax.random.PRNGKey(cfg.seed), jnp.zeros((1, data.WIDE_LAYERS[0]), jnp.float32))
    optimizer = optax.adam(LEARNING_RATE)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state, xb, yb):
        def loss_fn(p):
            return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, xb), yb).mean()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    forward = jax.jit(model.apply)
    history = History(on_epoch)
    rng = np.random.default_rng(cfg.seed)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, seen = 0.0, 0
        for idx in data.epoch_batches(len(train_split.x), cfg.batch_size, rng):
            params, opt_state, loss = step(params, opt_state, train_split.x[idx], train_split.y[idx])
            total += float(loss) * len(idx)
            seen += len(idx)
        history.log(epoch, total / seen, data.class_accuracy(np.asarray(forward(params, test_split.x)), test_split.y))
    seconds = time.perf_counter() - start

    fn = JaxFunction(model.apply, params)
    reference = jax_eager_reference(fn, *SPECS)

    def predict(x: np.ndarray) -> np.ndarray:
        return reference({"input": x})["output"]

    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=fn,
        predict=reference,
        parameters=sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(params)),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"], "seconds": seconds},
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
