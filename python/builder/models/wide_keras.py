"""`wide_keras`: the compute-bound benchmark model in Keras, 256 -> 1024 -> 1024 -> 10 (ReLU, logits)."""
from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from builder import data
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
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model(np.ascontiguousarray(x, np.float32), training=False))

    history = History(on_epoch)

    class _Hook(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            history.log(epoch + 1, float((logs or {})["loss"]), data.class_accuracy(predict(test_split.x), test_split.y))

    start = time.perf_counter()
    model.fit(train_split.x, train_split.y, batch_size=cfg.batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[_Hook()])
    seconds = time.perf_counter() - start
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=single_io(predict),
        parameters=model.count_params(),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"], "seconds": seconds},
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
