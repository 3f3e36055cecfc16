"""The bench's confidence intervals (builder.bench.stats): a bootstrap over interleaved blocks."""

from __future__ import annotations

import numpy as np
import pytest

from builder.bench import report, stats


def test_blocks_split_like_the_clients():
    assert [(s.start, s.stop) for s in stats.block_slices(2000, 10)][:2] == [(0, 200), (200, 400)]
    assert [(s.start, s.stop) for s in stats.block_slices(7, 3)] == [(0, 3), (3, 5), (5, 7)]
    sizes = [s.stop - s.start for s in stats.block_slices(23, 10)]
    assert sizes == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]  # the C++, Go and JS clients' split
    assert len(stats.block_slices(3, 10)) == 3  # never an empty block


def test_exact_ratios_have_a_point_interval():
    direct = np.linspace(100, 200, 400)
    same = stats.ratio_interval(direct, direct, blocks=10)
    assert (same["ratio"], same["low"], same["high"], same["too_wide"]) == (1.0, 1.0, 1.0, False)
    scaled = stats.ratio_interval(1.2 * direct, direct, blocks=10)
    assert scaled["ratio"] == pytest.approx(1.2) and scaled["low"] == pytest.approx(1.2)
    assert scaled["high"] == pytest.approx(1.2)


def _series(rng, true_ratio: float, blocks: int, per_block: int, block_noise: float):
    """Bare calls of ~100 us with per-call noise, and a machine-wide slowdown per block pair (a burst
    of load hits a predict block and its neighbouring bare block alike)."""
    burst = np.repeat(np.exp(rng.normal(0, block_noise, blocks)), per_block)
    direct = 100 * burst * np.exp(rng.normal(0, 0.05, blocks * per_block))
    latency = true_ratio * 100 * burst * np.exp(rng.normal(0, 0.05, blocks * per_block))
    return latency, direct


def test_the_interval_covers_the_true_ratio_and_is_narrow_on_a_quiet_machine():
    rng = np.random.default_rng(1)
    covered = 0
    trials = 60
    for seed in range(trials):
        latency, direct = _series(rng, 1.15, blocks=10, per_block=40, block_noise=0.02)
        result = stats.ratio_interval(latency, direct, blocks=10, resamples=400, seed=seed)
        covered += result["low"] <= 1.15 <= result["high"]
        assert not result["too_wide"]
    assert covered >= 0.85 * trials  # a 95% interval, estimated from 60 runs


def test_bursts_that_hit_one_series_make_the_interval_too_wide_to_judge():
    rng = np.random.default_rng(2)
    latency, direct = _series(rng, 1.10, blocks=10, per_block=40, block_noise=0.0)
    latency[40:80] *= 3.0  # one predict block ran while something else held the cores
    latency[200:240] *= 2.0
    result = stats.ratio_interval(latency, direct, blocks=10, seed=0)
    assert result["too_wide"]
    assert "(too noisy to judge)" in stats.describe(result)


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="need the same"):
        stats.ratio_interval([1.0, 2.0], [1.0], blocks=1)
    with pytest.raises(ValueError, match="positive"):
        stats.ratio_interval([1.0, 0.0], [1.0, 1.0], blocks=1)


def test_the_report_shows_intervals_not_bare_ratios():
    rng = np.random.default_rng(3)
    latency, direct = _series(rng, 1.2, blocks=10, per_block=50, block_noise=0.01)
    row = {
        "model": "mlp_keras",
        "format": "saved-model",
        "runtime": "java",
        "status": "ok",
        "latency_us": {"p50": float(np.median(latency))},
        "direct_latency_us": {"p50": float(np.median(direct))},
        "direct": "Session.run",
        "overhead_interval": stats.ratio_interval(latency, direct, blocks=10),
    }
    bare = dict(row, runtime="go", overhead_interval=None)
    (with_interval, without) = report.overheads([row, bare])
    assert with_interval["interval"]["low"] < with_interval["ratio"] < with_interval["interval"]["high"]
    assert report._ratio(with_interval).startswith(f"{with_interval['ratio']:.2f}x [")
    assert report._ratio(without).endswith("(no samples, no interval)")


def test_a_jit_runtime_warms_its_batch_1_job_up_past_compilation():
    from builder.bench import inference
    from builder.verify import runners

    java = runners.RUNNERS["java"]
    assert java.jit_warmup >= 10_000 and runners.RUNNERS["go"].jit_warmup == 0
    model = {"id": "m", "inputs": [], "outputs": []}
    one, big = inference._cli_jobs(model, {"format": "saved-model"}, None, None, 2000, 20, java.jit_warmup)
    assert (one.warmup, big.warmup) == (java.jit_warmup, 2)  # the throughput batch keeps the default
    one, big = inference._cli_jobs(model, {"format": "saved-model"}, None, None, 2000, 20)
    assert (one.warmup, big.warmup) == (20, 2)
