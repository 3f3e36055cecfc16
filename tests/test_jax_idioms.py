"""JAX idioms in `mlp_jax`: vmap of the one-example forward, jit(grad) SGD, shard_map data parallelism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from builder.models import mlp_jax
from builder.models.common import TrainConfig
from helpers import golden_rows

PARAMETERS = 10 * 16 + 16 + 16 + 1
# Two host devices vs one differ only in how the batch-mean gradient is summed (two half-batch
# means averaged vs one mean), a float32 rounding difference (~1e-7) per step that SGD does not
# amplify here: 2 epochs measured <= 2.4e-7. 1e-5 leaves margin, yet is far below what training
# moves the parameters (> 1e-2), so a wrongly scaled gradient (psum instead of pmean) fails.
DATA_PARALLEL_ATOL = 1e-5

# Runs in a fresh process: the host device count is fixed when JAX starts.
DATA_PARALLEL_SCRIPT = textwrap.dedent(
    """
    import json
    import jax
    import numpy as np
    from builder import data
    from builder.models import mlp_jax
    from builder.models.common import TrainConfig

    runs = [mlp_jax.train(TrainConfig(seed=0, epochs=2, nproc=n)) for n in (1, 2)]
    p1, p2 = runs[0].module.params, runs[1].module.params
    p0 = mlp_jax.init_params(jax.random.PRNGKey(0))
    step, mesh = mlp_jax.make_step(2, 32)
    train_split, _ = data.make_task(0)
    new_params, _ = step(p0, train_split.x[:32], train_split.y[:32])
    try:
        mlp_jax.make_step(2, 31)
        uneven = None
    except ValueError as e:
        uneven = str(e)
    print(json.dumps({
        "device_count": jax.device_count(),
        "mesh_devices": int(mesh.devices.size),
        "step_output_devices": len(new_params["w1"].sharding.device_set),
        "nproc": [r.training["nproc"] for r in runs],
        "max_diff": max(float(np.abs(np.asarray(p1[k]) - np.asarray(p2[k])).max()) for k in p1),
        "max_change": max(float(np.abs(np.asarray(p1[k]) - np.asarray(p0[k])).max()) for k in p1),
        "accuracy": [r.training["accuracy"] for r in runs],
        "uneven_batch_error": uneven,
    }))
    """
)


def test_vmap_of_the_single_example_forward_equals_the_batched_forward():
    x = golden_rows(mlp_jax.SPECS[0])  # (64, 10): row 0 zeros, rows 1..4 at magnitude 100
    trained = mlp_jax.train(TrainConfig(seed=0, epochs=1)).module.params
    for params in (mlp_jax.init_params(jax.random.PRNGKey(0)), trained):
        batched = np.asarray(mlp_jax.forward(params, x))  # (64, 1)
        mapped = np.asarray(jax.vmap(mlp_jax.forward_one, in_axes=(None, 0))(params, x))  # (64, 1)
        assert mapped.shape == batched.shape == (64, 1)
        np.testing.assert_allclose(mapped, batched, rtol=1e-6, atol=1e-6)


def test_data_parallel_over_two_host_devices_matches_one_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", DATA_PARALLEL_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["device_count"] == 2 and result["mesh_devices"] == 2
    assert result["step_output_devices"] == 2, "the sharded step ran on both devices"
    assert result["nproc"] == [1, 2]
    assert result["max_change"] > 1e-2, "training moved the parameters"
    assert result["max_diff"] <= DATA_PARALLEL_ATOL, result
    assert result["accuracy"][0] == pytest.approx(result["accuracy"][1], abs=2 / 1024)
    assert "does not split evenly" in (result["uneven_batch_error"] or "")


def test_too_few_devices_names_the_xla_flag():
    if jax.device_count() >= 2:
        pytest.skip("this process already has several devices")
    with pytest.raises(ValueError, match="xla_force_host_platform_device_count=2"):
        mlp_jax.train(TrainConfig(seed=0, epochs=1, nproc=2))
