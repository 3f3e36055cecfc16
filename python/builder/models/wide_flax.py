"""`wide_flax`: the compute-bound benchmark model in Flax, 256 -> 1024 -> 1024 -> 10 (ReLU, logits)."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, JaxFunction, Trained, dense_specs, jax_eager_reference
from builder.models import jax_training, wide_torch

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
    forward = jax.jit(model.apply)
    history = History(on_epoch)
    params, seconds = jax_training.fit(
        model.apply, params, lambda logits, y: optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(),
        train_split.x, train_split.y, lambda p: data.class_accuracy(np.asarray(forward(p, test_split.x)), test_split.y),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )

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
