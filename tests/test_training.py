"""Training: default settings give a real model; training is deterministic under the seed."""
from __future__ import annotations

import numpy as np
import pytest

from builder import data, models
from builder.models.common import TrainConfig

SEED_MODELS = [m for m in models.MODEL_MODULES if m.startswith("mlp_")]
WIDE_PARAMETERS = 256 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10
PARAMETERS = {"wide_torch": WIDE_PARAMETERS, "wide_keras": WIDE_PARAMETERS, "wide_flax": WIDE_PARAMETERS, "mlp_torch": 10 * 5 + 5 + 5 + 1, "mlp_keras": 10 * 5 + 5 + 5 + 1, "mlp_flax": 10 * 64 + 64 + 64 + 1, "mlp_jax": 10 * 16 + 16 + 16 + 1}


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


@pytest.mark.parametrize("model_id", list(models.MODEL_MODULES))
def test_training_is_deterministic_under_the_seed(model_id):
    runs = []
    for seed in (3, 3, 4):
        trained = models.get(model_id).train(TrainConfig(seed=seed, epochs=1))
        runs.append(trained.predict(data.golden_inputs(0, features=trained.n_inputs)))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2]), "another seed gives another model"


def test_golden_inputs_are_seeded_and_shaped():
    a, b = data.golden_inputs(1), data.golden_inputs(1)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (64, 10) and a.dtype == np.float32
    assert not np.array_equal(a, data.golden_inputs(2))
    train, _ = data.make_task(1)
    assert not any(np.array_equal(row, t) for row in a[5:8] for t in train.x[:1000])


def test_registry_sources_match_the_modules():
    for model_id, source in models.MODEL_SOURCES.items():
        assert models.get(model_id).SOURCE == source
    assert set(models.MODEL_SOURCES) == set(models.MODEL_MODULES)


@pytest.mark.parametrize("model_id", ["wide_torch", "wide_keras", "wide_flax"])
def test_wide_models_share_one_architecture_and_learn(model_id):
    trained = models.get(model_id).train(TrainConfig(seed=0))
    assert trained.parameters == WIDE_PARAMETERS
    assert (trained.n_inputs, trained.n_outputs) == (256, 10)
    x = data.golden_inputs(0, features=256)
    assert trained.predict(x).shape == (64, 10) and trained.predict(x).dtype == np.float32
    assert trained.training["accuracy"] > 0.3, "one epoch beats chance (0.1) by far"
