"""Smoke test of the training bench: every framework and mode runs a few steps of the seed MLP.

No timing thresholds: a shared 2-core CI machine makes steps/s too noisy to assert on. The
first-step losses, though, must agree: same data, weights, architecture and loss everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from builder.bench import training

EXPECTED_MODES = {
    "jax": {"op-by-op", "jit"},
    "tensorflow": {"eager", "tf.function", "xla"},
    "torch": {"eager", "torch.compile"},
}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    messages: list[str] = []
    result = training.run(models=("mlp",), steps=3, warmup=1, repeats=1, progress=messages.append)
    assert len(messages) == len(result)
    return result


def test_every_framework_and_mode_reports_a_row(rows):
    got: dict[str, set[str]] = {}
    for row in rows:
        got.setdefault(row["framework"], set()).add(row["mode"])
    assert got == EXPECTED_MODES
    assert all(row["model"] == "mlp" and row["batch"] == 32 and row["parameters"] == 61 for row in rows)


def test_rates_are_positive_and_speedups_relative_to_eager(rows):
    for row in rows:
        for key in ("steps_per_s_median", "steps_per_s_min", "steps_per_s_max"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["framework"], row["mode"], key)
        assert row["steps_per_s_min"] <= row["steps_per_s_median"] <= row["steps_per_s_max"]
        assert math.isfinite(row["speedup_vs_eager"]) and row["speedup_vs_eager"] > 0
        assert row["repeats"] == 1 and row["steps"] == 3
        if row["eager"]:
            assert row["speedup_vs_eager"] == 1.0 and row["compile_s"] is None
        else:
            assert row["compile_s"] >= 0.0
    assert {row["mode"] for row in rows if row["eager"]} == {"op-by-op", "eager"}


def test_all_modes_start_from_the_same_loss(rows):
    # Identical first batch, initial weights and loss in every framework and mode.
    losses = np.array([row["first_loss"] for row in rows])
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses, losses[0], rtol=1e-5)


def test_op_by_op_jax_runs_fewer_steps():
    assert training.run(models=("mlp",), steps=100, warmup=1, repeats=1, frameworks=("jax",))[0]["steps"] == 10


def test_rejects_unknown_names_and_bad_counts():
    with pytest.raises(ValueError, match=r"unknown bench names \['nope'\]"):
        training.run(models=("mlp", "nope"))
    with pytest.raises(ValueError, match=r"unknown bench names \['mxnet'\]"):
        training.run(frameworks=("mxnet",))
    with pytest.raises(ValueError, match="at least 1"):
        training.run(warmup=0)
