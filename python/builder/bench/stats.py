"""Confidence intervals for bench ratios: a bootstrap over interleaved blocks.

A client times `repeat` predict calls and as many bare runtime calls in B alternating blocks
(docs/contract.md, `samples_us`): block k of predict calls next to block k of bare calls (which
goes first alternates), and so on.
Noise on a shared machine comes in bursts that span a block, so calls are not independent draws;
blocks nearly are. The bootstrap therefore resamples whole blocks (the same block indices for both
series, keeping each pair of neighbouring blocks together), recomputes median(predict) /
median(bare) each time, and reports the 2.5th and 97.5th percentiles of those ratios.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
# An interval wider than this fraction of its ratio cannot tell 1.09x from 1.19x: the run is
# flagged as too noisy to judge (a busy machine), and its ratio should not be compared with a target.
TOO_WIDE = 0.10


def block_slices(count: int, blocks: int) -> list[slice]:
    """The blocks of `count` samples as the clients split them: `count // blocks` each, one more in
    each of the first `count % blocks` blocks (23 calls in 10 blocks: 3, 3, 3, 2, ..., 2)."""
    blocks = max(1, min(blocks, count))
    size, extra = divmod(count, blocks)
    slices, start = [], 0
    for k in range(blocks):
        stop = start + size + (1 if k < extra else 0)
        slices.append(slice(start, stop))
        start = stop
    return slices


def ratio_interval(
    latency: list[float] | np.ndarray,
    direct: list[float] | np.ndarray,
    blocks: int,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> dict:
    """median(latency) / median(direct) with its bootstrap interval over blocks, and whether the
    interval is too wide to judge. Raises ValueError on series of different lengths or none."""
    a, b = np.asarray(latency, dtype=np.float64), np.asarray(direct, dtype=np.float64)
    if a.size != b.size or a.size == 0:
        raise ValueError(f"samples_us: latency has {a.size} samples and direct {b.size}; need the same, > 0")
    if np.any(b <= 0) or np.any(a <= 0):
        raise ValueError("samples_us: every sample must be a positive time")
    parts = block_slices(a.size, blocks)
    a_blocks = [a[s] for s in parts]
    b_blocks = [b[s] for s in parts]
    rng = np.random.default_rng(seed)
    ratios = np.empty(resamples)
    for i in range(resamples):
        pick = rng.integers(0, len(parts), len(parts))
        ratios[i] = np.median(np.concatenate([a_blocks[k] for k in pick])) / np.median(
            np.concatenate([b_blocks[k] for k in pick])
        )
    ratio = float(np.median(a) / np.median(b))
    tail = (1 - level) / 2 * 100
    low, high = (float(x) for x in np.percentile(ratios, [tail, 100 - tail]))
    return {
        "ratio": ratio,
        "low": low,
        "high": high,
        "level": level,
        "blocks": len(parts),
        "samples": int(a.size),
        "too_wide": (high - low) / ratio > TOO_WIDE,
    }


def describe(interval: dict) -> str:
    """`1.12x [1.08, 1.17]`, with `(too noisy to judge)` when the interval is too wide."""
    text = f"{interval['ratio']:.2f}x [{interval['low']:.2f}, {interval['high']:.2f}]"
    return text + (" (too noisy to judge)" if interval["too_wide"] else "")
