"""`cnn_torch`: a small convolutional net on scikit-learn's handwritten digits, NCHW.

Conv(1->16)-BN-ReLU, Conv(16->32)-BN-ReLU, MaxPool 2, Dense 512->64-ReLU, Dense 64->10 logits.
Input `image` float32 (batch, 1, 8, 8) holding ink in [0, 1]; output `logits` (batch, 10).
The same network in Keras is `cnn_keras` (NHWC, its framework's own layout).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from builder import data, datasets
from builder.models import torch_training
from builder.models.common import EpochCallback, History, TrainConfig, Trained
from builder.tensors import TensorSpec

MODEL_ID = "cnn_torch"
SOURCE = "torch"
DEFAULT_EPOCHS = 12
LEARNING_RATE = 3e-3
INPUTS = (TensorSpec("image", "float32", ("batch", 1, datasets.DIGIT_SIZE, datasets.DIGIT_SIZE)),)
OUTPUTS = (TensorSpec("logits", "float32", ("batch", datasets.DIGIT_CLASSES)),)
# Convolutions, BatchNorm folded or not, and a 512-wide dense layer: runtimes differ by a few
# 1e-6 on logits of magnitude ~10, and up to ~1e-4 on the magnitude-100 golden rows.
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}
# Measured: through ONNX -> TF (builder.formats.onnx_convert), an all-NaN or all-Inf image gives
# NaN logits in torch and onnxruntime but finite ones in TensorFlow, TF Java, the TF C library and
# TF.js (their ReLU and MaxPool do not propagate NaN): non-finite inputs are implementation-defined
# once the model leaves torch, so its special set keeps finite extremes only (as cnn_keras's).
NON_FINITE = ("non-finite inputs are outside cnn_torch's contract: ReLU and max pooling over NaN/Inf propagate "
              "NaN in torch and onnxruntime, not in the TensorFlow runtimes it is converted to")


def build() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),  # (batch, 32, 4, 4)
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, datasets.DIGIT_CLASSES),
    )


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    torch.manual_seed(cfg.seed)
    train_split, test_split = datasets.digits(cfg.seed)
    x_train, x_test = train_split.x[:, None], test_split.x[:, None]  # (n, 1, 8, 8): NCHW
    model = build()
    forward = torch_training.numpy_forward(model)
    history = History(on_epoch)
    seconds = torch_training.fit(
        model, (x_train,), train_split.y, nn.CrossEntropyLoss(),
        lambda: data.class_accuracy(forward(x_test), test_split.y),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )
    model.eval()
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=lambda arrays: {"logits": forward(arrays["image"])},
        parameters=sum(p.numel() for p in model.parameters()),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"],
                  "seconds": seconds, "held_out": len(test_split.y)},
        inputs=INPUTS,
        outputs=OUTPUTS,
        history=history.rows,
        info={"task": "classify scikit-learn's 8x8 handwritten digits (load_digits), ink scaled to [0, 1]; layout NCHW"},
        special="finite",
        special_note=NON_FINITE,
    )
