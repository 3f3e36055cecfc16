"""`mlp_flax`: the seed's Flax linen MLP, Dense(64)-relu-Dense(1)-sigmoid, optax Adam, a jitted step."""
from __future__ import annotations

import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, JaxFunction, Trained, dense_specs, jax_eager_reference

MODEL_ID = "mlp_flax"
SOURCE = "jax"
DEFAULT_EPOCHS = 10
SPECS = dense_specs(data.N_FEATURES, 1)  # input (batch, 10) -> output (batch, 1)
LEARNING_RATE = 1e-3


class MLP(nn.Module):
    hidden: int = 64

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:  # (batch, 10) -> (batch, 1)
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.sigmoid(nn.Dense(1)(x))


def _bce(probabilities: jax.Array, labels: jax.Array) -> jax.Array:
    eps = 1e-7
    p = jnp.clip(probabilities, eps, 1.0 - eps)
    return -jnp.mean(labels * jnp.log(p) + (1.0 - labels) * jnp.log(1.0 - p))


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    train_split, test_split = data.make_task(cfg.seed)
    model = MLP()
    key = jax.random.PRNGKey(cfg.seed)
    params = model.init(key, jnp.zeros((1, data.N_FEATURES), jnp.float32))
    optimizer = optax.adam(LEARNING_RATE)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(lambda p: _bce(model.apply(p, xb), yb))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    forward = jax.jit(model.apply)
    history = History(on_epoch)
    rng = np.random.default_rng(cfg.seed)
    n = len(train_split.x)
    start = time.perf_counter()
    epoch_loss = float("nan")
    for epoch in range(1, epochs + 1):
        total, seen = 0.0, 0
        for idx in data.epoch_batches(n, cfg.batch_size, rng):
            params, opt_state, loss = step(params, opt_state, train_split.x[idx], train_split.y[idx])
            total += float(loss) * len(idx)
            seen += len(idx)
        epoch_loss = total / seen
        history.log(epoch, epoch_loss, data.accuracy(np.asarray(forward(params, test_split.x)), test_split.y))
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
        training={
            "epochs": epochs,
            "final_loss": epoch_loss,
            "accuracy": data.accuracy(predict(test_split.x), test_split.y),
            "seconds": seconds,
        },
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
