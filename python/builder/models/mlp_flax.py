"""`mlp_flax`: the seed's Flax linen MLP, Dense(64)-relu-Dense(1)-sigmoid, optax Adam, a jitted step."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from builder import data
from builder.models import jax_training
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
    forward = jax.jit(model.apply)
    history = History(on_epoch)
    params, seconds = jax_training.fit(
        model.apply, params, _bce, train_split.x, train_split.y,
        lambda p: data.accuracy(np.asarray(forward(p, test_split.x)), test_split.y),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )
    epoch_loss = history.rows[-1]["loss"]

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
