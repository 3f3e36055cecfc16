"""`cnn_keras`: the digits CNN of `cnn_torch` in Keras, in Keras's own layout (NHWC).

Conv(16)-BN-ReLU, Conv(32)-BN-ReLU, MaxPool 2, Dense 64-ReLU, Dense 10 logits. Input `image`
float32 (batch, 8, 8, 1) holding ink in [0, 1]; output `logits` (batch, 10). The browser page's
drawing pad feeds it.
"""
from __future__ import annotations

import keras
import numpy as np

from builder import data, datasets
from builder.models import keras_training
from builder.models.common import EpochCallback, History, TrainConfig, Trained
from builder.tensors import TensorSpec

MODEL_ID = "cnn_keras"
# cnn_torch's rtol, with atol 1e-3. The golden set's magnitude-100 rows give logits up to ~1,300;
# on an AVX-512 CPU TFLite's XNNPACK kernels put a logit of 0.0722 in such a row 3.2e-4 away from
# Keras (the fully trained model, `make test-verify`'s export, 2026-12-01): 2.4e-7 of the row's
# largest logit, two float32 ulps of the sums it cancels out of. atol 1e-4 (cnn_torch's) cannot
# hold a near-zero logit of such a row on every CPU's summation order.
TOLERANCE = {"atol": 1e-3, "rtol": 1e-4}
SOURCE = "tensorflow"
DEFAULT_EPOCHS = 12
LEARNING_RATE = 3e-3
SIZE = datasets.DIGIT_SIZE
# Measured: on NaN/Inf images, TensorFlow's graph runtime (grappler fuses Conv+BatchNorm+ReLU)
# gives a different NaN/Inf pattern than Keras eager on 50 of 100 logits, and TF.js's converter
# moves ReLU after MaxPool while its wasm Conv2D turns NaN into -Inf; max pooling over NaN is
# implementation-defined. So cnn_keras's special set keeps finite extremes only.
NON_FINITE = ("non-finite inputs are outside cnn_keras's contract: max pooling and fused Conv+BatchNorm+ReLU "
              "treat NaN differently in Keras eager, TF graph mode and TF.js")
INPUTS = (TensorSpec("image", "float32", ("batch", SIZE, SIZE, 1)),)
OUTPUTS = (TensorSpec("logits", "float32", ("batch", datasets.DIGIT_CLASSES)),)


def build() -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(SIZE, SIZE, 1), name="image"),
            layers.Conv2D(16, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
            layers.Conv2D(32, 3, padding="same"), layers.BatchNormalization(), layers.ReLU(),
            layers.MaxPooling2D(2),  # (batch, 4, 4, 32)
            layers.Flatten(), layers.Dense(64, activation="relu"), layers.Dense(datasets.DIGIT_CLASSES),
        ],
        name=MODEL_ID,
    )


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    train_split, test_split = datasets.digits(cfg.seed)
    x_train, x_test = train_split.x[..., None], test_split.x[..., None]  # (n, 8, 8, 1): NHWC
    keras.utils.set_random_seed(cfg.seed)
    model = build()
    forward = keras_training.eager(model)
    history = History(on_epoch)
    seconds = keras_training.fit(
        model, x_train, train_split.y, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda: data.class_accuracy(forward(x_test), test_split.y),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=lambda arrays: {"logits": np.asarray(forward(arrays["image"]))},
        parameters=model.count_params(),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"],
                  "seconds": seconds, "held_out": len(test_split.y)},
        inputs=INPUTS,
        outputs=OUTPUTS,
        history=history.rows,
        info={"task": "classify scikit-learn's 8x8 handwritten digits (load_digits), ink scaled to [0, 1]; layout NHWC"},
        special="finite",
        special_note=NON_FINITE,
    )
