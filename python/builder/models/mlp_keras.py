"""`mlp_keras`: the seed's Keras model, Sequential([Dense(5, relu), Dense(1, sigmoid)]), compile + fit."""
from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, Trained

MODEL_ID = "mlp_keras"
SOURCE = "tensorflow"
DEFAULT_EPOCHS = 20
LEARNING_RATE = 1e-2


def build() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(data.N_FEATURES,), name="input"),
            keras.layers.Dense(5, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name=MODEL_ID,
    )


class _EpochHook(keras.callbacks.Callback):
    def __init__(self, history: History, test_split: data.Split) -> None:
        super().__init__()
        self._history = history
        self._test = test_split

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        accuracy = data.accuracy(np.asarray(self.model(self._test.x, training=False)), self._test.y)
        self._history.log(epoch + 1, float((logs or {}).get("loss", float("nan"))), accuracy)


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    train_split, test_split = data.make_task(cfg.seed)
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss="binary_crossentropy"
    )
    history = History(on_epoch)
    start = time.perf_counter()
    model.fit(
        train_split.x,
        train_split.y,
        batch_size=cfg.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[_EpochHook(history, test_split)],
    )
    seconds = time.perf_counter() - start

    def predict(x: np.ndarray) -> np.ndarray:
        # Calling the model directly runs it eagerly (predict() would build a tf.function).
        return np.asarray(model(np.ascontiguousarray(x, np.float32), training=False))

    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=predict,
        parameters=model.count_params(),
        training={
            "epochs": epochs,
            "final_loss": history.rows[-1]["loss"],
            "accuracy": data.accuracy(predict(test_split.x), test_split.y),
            "seconds": seconds,
        },
        history=history.rows,
    )
