"""`mlp_jax`: a pure-JAX MLP, Dense(16)-relu-Dense(1)-sigmoid, with no Flax or optax.

The parameters are a plain pytree (a dict of arrays) and training is plain SGD: the gradient of
the BCE loss from `jax.grad`, applied leaf by leaf with `jax.tree_util.tree_map`, all in one
jitted step. With `TrainConfig.nproc > 1` the step runs data parallel through `jax.shard_map`:
each device takes its slice of the same global batch, the gradients are averaged with
`jax.lax.pmean`, and every device applies the same update to its replica of the parameters, so
the result equals single-device training up to float rounding.

On CPU, several devices come from `XLA_FLAGS=--xla_force_host_platform_device_count=N`, which
must be set before JAX starts.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, PartitionSpec as P

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, JaxFunction, Trained, dense_specs, jax_eager_reference

MODEL_ID = "mlp_jax"
SOURCE = "jax"
DEFAULT_EPOCHS = 5
SPECS = dense_specs(data.N_FEATURES, 1)  # input (batch, 10) -> output (batch, 1)
HIDDEN = 16
LEARNING_RATE = 0.1
AXIS = "data"  # the mesh axis the global batch is split over

Params = dict[str, jax.Array]


def init_params(key: jax.Array) -> Params:
    """He-normal weights for the relu layer, Glorot-normal for the sigmoid one, zero biases."""
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (data.N_FEATURES, HIDDEN), jnp.float32) * np.sqrt(2.0 / data.N_FEATURES),
        "b1": jnp.zeros((HIDDEN,), jnp.float32),
        "w2": jax.random.normal(k2, (HIDDEN, 1), jnp.float32) * np.sqrt(2.0 / (HIDDEN + 1)),
        "b2": jnp.zeros((1,), jnp.float32),
    }


def forward_one(params: Params, x: jax.Array) -> jax.Array:
    """One example: (10,) -> (1,) probability. `jax.vmap` of this equals `forward`."""
    h = jax.nn.relu(x @ params["w1"] + params["b1"])  # (16,)
    return jax.nn.sigmoid(h @ params["w2"] + params["b2"])  # (1,)


def forward(params: Params, x: jax.Array) -> jax.Array:
    """A batch: (batch, 10) -> (batch, 1) probabilities, written with batched matmuls (no vmap)."""
    h = jax.nn.relu(x @ params["w1"] + params["b1"])  # (batch, 16)
    return jax.nn.sigmoid(h @ params["w2"] + params["b2"])  # (batch, 1)


def loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean binary cross-entropy of `forward(params, x)` (batch, 1) against labels y (batch, 1)."""
    eps = 1e-7
    p = jnp.clip(forward(params, x), eps, 1.0 - eps)
    return -jnp.mean(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))


def sgd_step(params: Params, x: jax.Array, y: jax.Array, axis_name: str | None = None) -> tuple[Params, jax.Array]:
    """One SGD step on a batch; returns (new params, the batch's loss).

    Under `shard_map`, `axis_name` names the device axis: the per-shard gradients and losses are
    averaged over it. The shards are equal in size, so the mean of shard means is the global mean.
    """
    local = params
    if axis_name is not None:
        # The params come in replicated (invariant over the axis), and the transpose of replication
        # is a cross-device sum: the gradient would arrive already psum'ed, and pmean'ing it again
        # would double the step. Marking them device-varying keeps each gradient per shard.
        local = jax.lax.pcast(params, axis_name, to="varying")
    batch_loss, grads = jax.value_and_grad(loss)(local, x, y)
    if axis_name is not None:
        batch_loss, grads = jax.lax.pmean((batch_loss, grads), axis_name)
    return jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads), batch_loss


def make_step(nproc: int, batch_size: int):
    """The jitted step `(params, x (batch, 10), y (batch, 1)) -> (params, loss)` for `nproc` devices."""
    if nproc < 1:
        raise ValueError(f"nproc must be at least 1, got {nproc}")
    if nproc == 1:
        return jax.jit(sgd_step), None
    if jax.device_count() < nproc:
        raise ValueError(
            f"mlp_jax: nproc={nproc} needs {nproc} devices but JAX sees {jax.device_count()}; on CPU set "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={nproc} before JAX starts"
        )
    if batch_size % nproc:
        raise ValueError(f"mlp_jax: the global batch {batch_size} does not split evenly over nproc={nproc} devices")
    mesh = Mesh(np.array(jax.devices()[:nproc]), (AXIS,))
    sharded = jax.shard_map(
        lambda params, x, y: sgd_step(params, x, y, AXIS),
        mesh=mesh,
        in_specs=(P(), P(AXIS), P(AXIS)),  # params replicated, the batch split along its rows
        out_specs=(P(), P()),  # pmean made the update and the loss identical on every device
    )
    return jax.jit(sharded), mesh


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    step, mesh = make_step(cfg.nproc, cfg.batch_size)
    devices = list(mesh.devices.flat) if mesh is not None else jax.devices()[:1]
    train_split, test_split = data.make_task(cfg.seed)
    params = init_params(jax.random.PRNGKey(cfg.seed))
    evaluate = jax.jit(forward)
    history = History(on_epoch)
    rng = np.random.default_rng(cfg.seed)  # the same batch order whatever nproc is
    n = len(train_split.x)
    start = time.perf_counter()
    epoch_loss = float("nan")
    for epoch in range(1, epochs + 1):
        total, seen = 0.0, 0
        for idx in data.epoch_batches(n, cfg.batch_size, rng):
            params, batch_loss = step(params, train_split.x[idx], train_split.y[idx])
            # float() waits for the step, so at most one all-reduce is in flight: queueing hundreds
            # of them asynchronously deadlocked XLA:CPU's in-process all-reduce on a 2-core host.
            total += float(batch_loss) * len(idx)
            seen += len(idx)
        epoch_loss = total / seen
        history.log(epoch, epoch_loss, data.accuracy(np.asarray(evaluate(params, test_split.x)), test_split.y))
    seconds = time.perf_counter() - start

    # Back to ordinary single-device arrays: the exporters and the reference need no mesh.
    params = jax.tree_util.tree_map(jnp.asarray, jax.device_get(params))

    fn = JaxFunction(forward, params)
    reference = jax_eager_reference(fn, *SPECS)

    def predict(x: np.ndarray) -> np.ndarray:
        return reference({"input": x})["output"]

    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=fn,
        predict=reference,
        parameters=sum(int(p.size) for p in jax.tree_util.tree_leaves(params)),
        training={
            "epochs": epochs,
            "final_loss": epoch_loss,
            "accuracy": data.accuracy(predict(test_split.x), test_split.y),
            "seconds": seconds,
            "nproc": cfg.nproc,
            "device_kind": devices[0].device_kind,
        },
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
