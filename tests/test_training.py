"""Training: default settings give a real model; training is deterministic under the seed."""

from __future__ import annotations

import numpy as np
import pytest

from builder import models
from builder.models.common import TrainConfig
from helpers import golden_rows

SEED_MODELS = [m for m in models.MODEL_IDS if m.startswith("mlp_")]
WIDE_PARAMETERS = 256 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
CNN_PARAMETERS = (9 * 16 + 16) + 2 * 16 + (9 * 16 * 32 + 32) + 2 * 32 + (512 * 64 + 64) + (64 * 10 + 10)
PARAMETERS = {
    "wide_torch": WIDE_PARAMETERS,
    "wide_keras": WIDE_PARAMETERS,
    "wide_flax": WIDE_PARAMETERS,
    "mlp_torch": 10 * 5 + 5 + 5 + 1,
    "mlp_keras": 10 * 5 + 5 + 5 + 1,
    "mlp_flax": 10 * 64 + 64 + 64 + 1,
    "mlp_jax": 10 * 16 + 16 + 16 + 1,
    "cnn_torch": CNN_PARAMETERS,
}


def test_the_registry_is_one_table_matching_the_modules():
    for model_id, info in models.REGISTRY.items():
        module = models.get(model_id)
        assert (model_id, info.source) == (module.MODEL_ID, module.SOURCE)
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        models.get("nope")


@pytest.mark.parametrize("model_id", SEED_MODELS)
def test_default_training_reaches_the_accuracy_bar(model_id):
    losses = []
    trained = models.get(model_id).train(TrainConfig(seed=0), on_epoch=lambda e, m: losses.append(m["loss"]))
    assert trained.training["accuracy"] >= 0.95
    assert trained.parameters == PARAMETERS[model_id]
    assert len(losses) == trained.training["epochs"] == models.get(model_id).DEFAULT_EPOCHS
    assert losses[-1] < losses[0], "training lowers the loss"
    assert trained.training["final_loss"] == pytest.approx(losses[-1])
    assert [row["loss"] for row in trained.history] == losses
    assert trained.history[-1]["accuracy"] == pytest.approx(trained.training["accuracy"])


@pytest.mark.parametrize("model_id", ["cnn_torch", "cnn_keras"])
def test_digit_cnns_reach_095_held_out(model_id):
    trained = models.get(model_id).train(TrainConfig(seed=0))
    assert trained.training["accuracy"] >= 0.95, trained.training
    assert trained.training["held_out"] >= 300, "a fifth of the 1,797 digits is held out"
    # Keras counts BatchNorm's moving mean and variance as (non-trainable) weights; torch keeps them as buffers.
    assert trained.parameters == CNN_PARAMETERS + (2 * (16 + 32) if model_id == "cnn_keras" else 0)
    image = trained.inputs[0]
    assert image.shape == (("batch", 1, 8, 8) if model_id == "cnn_torch" else ("batch", 8, 8, 1))


def test_chargpt_beats_the_unigram_baseline_by_far():
    trained = models.get("chargpt_torch").train(TrainConfig(seed=0))
    t = trained.training
    assert t["held_out_bits_per_char"] < 0.75 * t["unigram_bits_per_char"], t
    assert t["seconds"] < 120
    data = trained.info["data"]
    assert [f["path"] for f in data["files"]] and all(len(f["sha256"]) == 64 for f in data["files"])
    vocab = trained.info["vocabulary"]
    assert trained.inputs[0].range == (0, len(vocab) - 1) and trained.outputs[0].shape == ("batch", "seq", len(vocab))


def test_textcls_beats_chance_by_far():
    trained = models.get("textcls_keras").train(TrainConfig(seed=0))
    assert trained.training["accuracy"] >= 2 * trained.training["chance"], trained.training
    inputs = golden_rows(trained.inputs, rows=5, seq=7)
    out = trained.predict(inputs)
    assert out["logits"].shape == (5, 4) and out["embedding"].shape == (5, 32)


@pytest.mark.parametrize("model_id", list(models.MODEL_IDS))
def test_training_is_deterministic_under_the_seed(model_id):
    runs = []
    for seed in (3, 3, 4):
        trained = models.get(model_id).train(TrainConfig(seed=seed, epochs=1))
        inputs = golden_rows(trained.inputs, rows=16, **{d.name: 5 for d in trained.dims if d.name != "batch"})
        runs.append(trained.predict(dict(inputs) if isinstance(inputs, dict) else {trained.inputs[0].name: inputs}))
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[1][name])
    assert any(not np.array_equal(runs[0][n], runs[2][n]) for n in runs[0]), "another seed gives another model"


def test_golden_inputs_are_seeded_and_shaped():
    spec = models.get("mlp_torch").SPECS[0][0]
    a, b = golden_rows(spec, seed=1), golden_rows(spec, seed=1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (64, 10) and a.dtype == np.float32
    assert not np.array_equal(a, golden_rows(spec, seed=2))
    assert (a[0] == 0).all() and np.abs(a[1:5]).max() == pytest.approx(100.0)


@pytest.mark.parametrize("model_id", ["wide_torch", "wide_keras", "wide_flax"])
def test_wide_models_share_one_architecture_and_learn(model_id):
    trained = models.get(model_id).train(TrainConfig(seed=0))
    assert trained.parameters == WIDE_PARAMETERS
    assert [s.shape for s in trained.inputs + trained.outputs] == [("batch", 256), ("batch", 10)]
    out = trained.predict({"input": golden_rows(trained.inputs[0])})["output"]
    assert out.shape == (64, 10) and out.dtype == np.float32
    assert trained.training["accuracy"] > 0.3, "one epoch beats chance (0.1) by far"
