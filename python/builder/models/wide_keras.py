"""`wide_keras`: the compute-bound benchmark model in Keras, 256 -> 1024 -> 1024 -> 10 (ReLU, logits)."""
from __future__ import annotations

import keras
import tensorflow as tf

from builder import data
from builder.models import keras_training
from builder.models.common import EpochCallback, History, TrainConfig, Trained, dense_specs, single_io
from builder.models import wide_torch

MODEL_ID = "wide_keras"
SOURCE = "tensorflow"
DEFAULT_EPOCHS = 1
SPECS = dense_specs(data.WIDE_LAYERS[0], data.WIDE_LAYERS[-1])  # (batch, 256) -> (batch, 10) logits
LEARNING_RATE = 1e-3
TOLERANCE = wide_torch.TOLERANCE  # same architecture, same float32 error


def build() -> keras.Model:
    i, h1, h2, o = data.WIDE_LAYERS
    return keras.Sequential(
        [keras.Input(shape=(i,), name="input"), keras.layers.Dense(h1, activation="relu"),
         keras.layers.Dense(h2, activation="relu"), keras.layers.Dense(o)],
        name=MODEL_ID,
    )


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    train_split, test_split = data.make_wide_task(cfg.seed)
    model = build()
    forward = keras_training.eager(model)
    history = History(on_epoch)
    seconds = keras_training.fit(
        model, train_split.x, train_split.y, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda: data.class_accuracy(forward(test_split.x), test_split.y),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=single_io(forward),
        parameters=model.count_params(),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"], "seconds": seconds},
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
