"""`mlp_keras`: the seed's Keras model, Sequential([Dense(5, relu), Dense(1, sigmoid)]).

Trainers (TrainConfig.trainer):
- `fit`: compile(adam, binary_crossentropy) + fit, as in the seed.
- `loop`: a tf.data pipeline (shuffle, batch) and a custom GradientTape step in `@tf.function`.
- `xla`: the same step compiled with XLA (`jit_compile=True`).
`nproc > 1` trains with `fit` under tf.distribute.MirroredStrategy over that many logical CPU
devices, which must be configured before TensorFlow starts (see `configure_logical_cpus`).
"""
from __future__ import annotations

import contextlib
import time

import keras
import numpy as np
import tensorflow as tf

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, Trained, dense_specs, single_io

MODEL_ID = "mlp_keras"
SOURCE = "tensorflow"
DEFAULT_EPOCHS = 20
SPECS = dense_specs(data.N_FEATURES, 1)  # input (batch, 10) -> output (batch, 1)
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


def configure_logical_cpus(n: int) -> None:
    """Splits the CPU into `n` logical devices for MirroredStrategy; only possible before TF starts."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError:  # the runtime already started: fine if it already has enough devices
        if len(tf.config.list_logical_devices("CPU")) >= n:
            return
        raise ValueError(
            f"MirroredStrategy over {n} CPU devices needs them configured before TensorFlow starts; "
            "run it from a fresh process (`python -m builder train --model mlp_keras --nproc N`)"
        ) from None


class _EpochHook(keras.callbacks.Callback):
    def __init__(self, history: History, test_split: data.Split) -> None:
        super().__init__()
        self._history = history
        self._test = test_split

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        accuracy = data.accuracy(np.asarray(self.model(self._test.x, training=False)), self._test.y)
        self._history.log(epoch + 1, float((logs or {}).get("loss", float("nan"))), accuracy)


def _train_fit(model, train_split, test_split, cfg, epochs, history) -> None:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss="binary_crossentropy")
    model.fit(
        train_split.x,
        train_split.y,
        batch_size=cfg.batch_size,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[_EpochHook(history, test_split)],
    )


def gradient_tape_step(model, loss_fn, optimizer):
    """A plain-Python training step `(x, y) -> loss` with GradientTape: eager as it is, a graph
    under `tf.function`, XLA-compiled under `tf.function(jit_compile=True)`."""

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return step


def _train_loop(model, train_split, test_split, cfg, epochs, history) -> None:
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)
    loss_fn = keras.losses.BinaryCrossentropy()
    dataset = (
        tf.data.Dataset.from_tensor_slices((train_split.x, train_split.y))
        .shuffle(len(train_split.x), seed=cfg.seed, reshuffle_each_iteration=True)
        .batch(cfg.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )

    step = tf.function(gradient_tape_step(model, loss_fn, optimizer), jit_compile=cfg.trainer == "xla")

    for epoch in range(1, epochs + 1):
        total, seen = 0.0, 0
        for xb, yb in dataset:
            total += float(step(xb, yb)) * int(xb.shape[0])
            seen += int(xb.shape[0])
        accuracy = data.accuracy(np.asarray(model(test_split.x, training=False)), test_split.y)
        history.log(epoch, total / seen, accuracy)


TRAINERS = {"fit": _train_fit, "loop": _train_loop, "xla": _train_loop}


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    if cfg.trainer not in TRAINERS:
        raise ValueError(f"unknown trainer {cfg.trainer!r} (known: {', '.join(TRAINERS)})")
    if cfg.nproc > 1 and cfg.trainer != "fit":
        raise ValueError("--nproc > 1 trains mlp_keras with MirroredStrategy through Keras fit; use --trainer fit")
    scope = contextlib.nullcontext()
    replicas = 1
    if cfg.nproc > 1:
        configure_logical_cpus(cfg.nproc)  # before anything below starts the TF runtime
    epochs = cfg.epochs or DEFAULT_EPOCHS
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()
    train_split, test_split = data.make_task(cfg.seed)
    if cfg.nproc > 1:
        strategy = tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")[: cfg.nproc]])
        scope, replicas = strategy.scope(), strategy.num_replicas_in_sync

    history = History(on_epoch)
    start = time.perf_counter()
    with scope:
        model = build()
        TRAINERS[cfg.trainer](model, train_split, test_split, cfg, epochs, history)
    seconds = time.perf_counter() - start

    def predict(x: np.ndarray) -> np.ndarray:
        # Calling the model directly runs it eagerly (predict() would build a tf.function).
        return np.asarray(model(np.ascontiguousarray(x, np.float32), training=False))

    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=single_io(predict),
        parameters=model.count_params(),
        training={
            "epochs": epochs,
            "final_loss": history.rows[-1]["loss"],
            "accuracy": data.accuracy(predict(test_split.x), test_split.y),
            "seconds": seconds,
            "trainer": cfg.trainer,
            "nproc": replicas,
        },
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
