"""`textcls_keras`: a two-input, two-output Keras classifier of source snippets.

Task: which of four standard-library modules (calendar, csv, smtplib, wave) a snippet of 16-48
characters comes from; chance is 25%. Each module's last 20% is held out. Inputs `tokens` int32
(batch, seq) character ids and `mask` float32 (batch, seq), 1 over the snippet and 0 over padding;
outputs `logits` (batch, 4) and the pooled `embedding` (batch, 32) a search index would store.
Character embeddings -> Conv1D(5) -> masked mean pool -> Dense(32, tanh) embedding -> Dense(4).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from builder import data, datasets
from builder.models import keras_training
from builder.models.common import BATCH, EpochCallback, History, TrainConfig, Trained
from builder.tensors import Dim, TensorSpec

MODEL_ID = "textcls_keras"
SOURCE = "tensorflow"
DEFAULT_EPOCHS = 8
LEARNING_RATE = 3e-3
MODULES = ("calendar.py", "csv.py", "smtplib.py", "wave.py")
MAX_LEN, MIN_LEN = 48, 16
EMBED, FILTERS, POOLED = 24, 64, 32
TRAIN_PER_CLASS, TEST_PER_CLASS = 1500, 250
HELD_OUT_FRACTION = 0.2
SEQ = Dim("seq", min=1, max=MAX_LEN)
# A sum over up to 48 positions divided by the mask's sum. The golden mask lies in its declared
# range [0, 1]: with N(0, 1) and +-100 mask values (a float input's default golden values), the
# signed sums cancel and onnxruntime differed from Keras by 4.4e-4 on one logit (8 epochs).
TOLERANCE = {"atol": 1e-4, "rtol": 1e-4}


def masked_mean(inputs: list[tf.Tensor]) -> tf.Tensor:
    h, mask = inputs  # (batch, seq, filters), (batch, seq)
    weights = tf.expand_dims(mask, -1)  # (batch, seq, 1); TFLite's StridedSlice has no new-axis form
    return tf.reduce_sum(h * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)


def build(vocab: int) -> tuple[keras.Model, keras.Model]:
    """(the served model: [tokens, mask] -> [logits, embedding], the training model -> logits)."""
    layers = keras.layers
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    mask = keras.Input(shape=(None,), dtype="float32", name="mask")
    h = layers.Embedding(vocab, EMBED, name="chars")(tokens)
    h = layers.Conv1D(FILTERS, 5, padding="same", activation="relu", name="conv")(h)
    pooled = layers.Lambda(masked_mean, output_shape=(FILTERS,), name="masked_mean")([h, mask])
    embedding = layers.Dense(POOLED, activation="tanh", name="embedding")(pooled)
    logits = layers.Dense(len(MODULES), name="logits")(embedding)
    return keras.Model([tokens, mask], [logits, embedding], name=MODEL_ID), keras.Model([tokens, mask], logits)


def snippets(ids_per_class: list[np.ndarray], per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`per_class` random snippets of each class, padded to MAX_LEN: (tokens, mask, labels)."""
    tokens = np.zeros((per_class * len(ids_per_class), MAX_LEN), np.int32)
    mask = np.zeros(tokens.shape, np.float32)
    labels = np.repeat(np.arange(len(ids_per_class)), per_class).astype(np.int64)
    for row, label in enumerate(labels):
        ids = ids_per_class[label]
        length = int(rng.integers(MIN_LEN, MAX_LEN, endpoint=True))
        start = int(rng.integers(0, len(ids) - length))
        tokens[row, :length] = ids[start : start + length]
        mask[row, :length] = 1.0
    return tokens, mask, labels


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    corpus = datasets.stdlib_corpus(MODULES)
    vocab = datasets.Vocabulary.of(corpus.texts)
    cuts = [int(len(t) * (1 - HELD_OUT_FRACTION)) for t in corpus.texts]
    rng = np.random.default_rng([cfg.seed, 0x7E47])
    train_x = snippets([vocab.encode(t[:c]).astype(np.int32) for t, c in zip(corpus.texts, cuts)], TRAIN_PER_CLASS, rng)
    test_x = snippets([vocab.encode(t[c:]).astype(np.int32) for t, c in zip(corpus.texts, cuts)], TEST_PER_CLASS, rng)
    keras.utils.set_random_seed(cfg.seed)
    served, trainable = build(len(vocab))
    forward = keras_training.eager(served)
    history = History(on_epoch)
    seconds = keras_training.fit(
        trainable, [train_x[0], train_x[1]], train_x[2], keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda: data.class_accuracy(forward(test_x[0], test_x[1])[0], test_x[2]),
        epochs=epochs, batch_size=cfg.batch_size, learning_rate=LEARNING_RATE, seed=cfg.seed, history=history,
    )

    def predict(arrays: dict) -> dict:
        logits, embedding = forward(arrays["tokens"], arrays["mask"])
        return {"logits": logits, "embedding": embedding}

    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=served,
        predict=predict,
        parameters=served.count_params(),
        training={"epochs": epochs, "final_loss": history.rows[-1]["loss"], "accuracy": history.rows[-1]["accuracy"],
                  "seconds": seconds, "chance": 1 / len(MODULES), "held_out": len(test_x[2])},
        inputs=(TensorSpec("tokens", "int32", ("batch", "seq"), range=(0, len(vocab) - 1)), TensorSpec("mask", "float32", ("batch", "seq"), range=(0, 1))),
        outputs=(TensorSpec("logits", "float32", ("batch", len(MODULES))), TensorSpec("embedding", "float32", ("batch", POOLED))),
        dims=(BATCH, SEQ),
        history=history.rows,
        golden_sizes={"seq": 32},
        info={
            "task": "which standard-library module (calendar, csv, smtplib, wave) a 16-48 character snippet comes from",
            "data": corpus.manifest_entry(),
            "vocabulary": vocab.chars,
        },
    )
