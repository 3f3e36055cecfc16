"""Training bench: steady-state steps/s of each framework's compiled mode against its eager mode.

    .venv/bin/python -m builder.bench.training [--models mlp wide] [--steps 50] [--repeats 5]

What is held equal, so that only the execution mode differs within a framework (and as little
as possible across frameworks):
- Data: one epoch of full batches of the builder.data train split, shuffled once with a fixed
  seed and converted to each framework's tensors before timing; step i trains on batch
  i mod (batches per epoch). Every mode starts at batch 0.
- Architecture and initial weights: `mlp` is the seed MLP 10-5-1 (ReLU, sigmoid output, binary
  cross-entropy on the probabilities), 61 parameters; `wide` is data.WIDE_LAYERS 256-1024-1024-10
  (ReLU, softmax cross-entropy on the logits), 1,324,018 parameters. The weights come from one
  seeded NumPy Glorot-uniform draw copied into every framework, so each row's `first_loss` (the
  loss of its first step) must agree across frameworks and modes: a check that they compute
  the same thing.
- Optimiser: Adam, learning rate 1e-3, each framework's own (optax.adam, keras Adam,
  torch.optim.Adam), fresh state for every mode.
- Batch (BATCH): 32 rows for `mlp` (the trainers' default), 256 for `wide` (enough rows that
  the step is matrix-multiply bound rather than dispatch bound).
- Threads: each framework's defaults, recorded per row in `threads` (torch intra/inter-op
  threads; TF's, where 0 means the runtime sizes the pool to the cores; XLA:CPU has no public
  knob and sizes its pool to the cores the process may use, recorded as `cpus`).
- Timing: `warmup` steps first, each waited on and timed (they absorb compilation and Adam's
  slot creation); then `repeats` runs of `steps` steps, each run waited on once at its end, so a
  framework that dispatches asynchronously (JAX) may overlap Python with compute as it would in
  a loop that does not read the loss every step.

Modes, the first of each framework being its eager baseline:
- jax: "op-by-op" (the step called under `jax.disable_jit()`, each primitive dispatched on its
  own) and "jit" (`jax.jit` of the same step function).
- tensorflow: "eager" (a GradientTape step on a Keras model called as plain Python),
  "tf.function" (the same function traced into a graph) and "xla" (`tf.function(jit_compile=True)`).
- torch: "eager" and "torch.compile" of the whole step function (zero_grad, forward, loss,
  backward, optimizer.step), like the jitted steps above: Dynamo breaks the graph at
  `zero_grad`, `backward()` and inside `optimizer.step`, so Inductor compiles the forward with
  its AOTAutograd backward and, separately, the Adam update (one fused loop over all parameters).

Op-by-op JAX is slow, so it runs min(steps, max(5, steps // 10)) steps per timed run; steps/s
stays comparable. `compile_s` (compiled modes only) is the warmup's time beyond `warmup`
ordinary steps, i.e. the first calls' tracing and compilation (it depends on Inductor's on-disk
cache: a cold first compile of the MLP takes ~25 s on 2 cores, a warm one ~4 s).

Global state: no global seeds are set (torch's RNG is forked around layer construction, Keras
layers start from zeros), no determinism or thread settings are touched. The one global effect is
`torch.compiler.reset()` around the torch.compile mode (see `_torch_step`): other compiled
functions in the process recompile on their next call, correctly.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import itertools
import os
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np

from builder import data

LEARNING_RATE = 1e-3
SEED = 0
# Rows per step: the trainers' default for the seed MLP; for the wide model enough rows that its
# step is bound by matrix multiplies rather than by per-op dispatch.
BATCH = {"mlp": 32, "wide": 256}
MODES = {"jax": ("op-by-op", "jit"), "tensorflow": ("eager", "tf.function", "xla"), "torch": ("eager", "torch.compile")}


@dataclasses.dataclass(frozen=True)
class Bench:
    name: str
    layers: tuple[int, ...]  # widths, input first
    batch: int
    classify: bool  # True: softmax cross-entropy on logits, int labels; False: sigmoid + BCE, (n, 1) labels
    x: np.ndarray  # (batches, batch, layers[0]) float32
    y: np.ndarray  # (batches, batch, 1) float32 or (batches, batch) int64
    init: list[tuple[np.ndarray, np.ndarray]]  # per layer (W (in, out), b (out,))

    @property
    def parameters(self) -> int:
        return sum(w.size + b.size for w, b in self.init)


def make_bench(name: str, seed: int = SEED) -> Bench:
    """The model's data as stacked batches and its shared initial weights."""
    if name == "mlp":
        split, layers, classify = data.make_task(seed)[0], (data.N_FEATURES, 5, 1), False
    elif name == "wide":
        split, layers, classify = data.make_wide_task(seed)[0], data.WIDE_LAYERS, True
    else:
        raise ValueError(f"unknown bench model {name!r} (known: {', '.join(BATCH)})")
    batch = BATCH[name]
    rng = np.random.default_rng([seed, 0xBE7C])
    idx = np.stack(list(data.epoch_batches(len(split.x), batch, rng)))  # (batches, batch)
    init = []
    for fan_in, fan_out in itertools.pairwise(layers):
        limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, Keras's default
        init.append((rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32), np.zeros(fan_out, np.float32)))
    return Bench(name, tuple(layers), batch, classify, split.x[idx], split.y[idx], init)


# Each factory is a context manager giving (step, threads): step() trains on the next batch and
# returns the loss as the framework's tensor, unwaited; float() of it waits for that step and all
# before it.
Step = Callable[[], object]


@contextlib.contextmanager
def _jax_step(bench: Bench, mode: str) -> Iterator[tuple[Step, dict]]:
    import jax
    import jax.numpy as jnp
    import optax

    def forward(params, x):  # (batch, in) -> (batch, out)
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        w, b = params[-1]
        return x @ w + b if bench.classify else jax.nn.sigmoid(x @ w + b)

    def loss_fn(params, x, y):
        if bench.classify:
            return optax.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()
        p = jnp.clip(forward(params, x), 1e-7, 1.0 - 1e-7)  # as Keras clips its BCE
        return -jnp.mean(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))

    optimizer = optax.adam(LEARNING_RATE)

    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in bench.init]
    state = [params, optimizer.init(params)]
    labels = bench.y.astype(np.int32) if bench.classify else bench.y  # JAX's default (x64 off) has no int64
    batches = itertools.cycle(list(zip(jnp.asarray(bench.x), jnp.asarray(labels), strict=True)))
    fn = jax.jit(train_step) if mode == "jit" else train_step

    def step():
        x, y = next(batches)
        with jax.disable_jit(mode == "op-by-op"):
            state[0], state[1], loss = fn(state[0], state[1], x, y)
        return loss

    yield step, {"cpus": len(os.sched_getaffinity(0))}  # XLA:CPU sizes its pool to these


@contextlib.contextmanager
def _tf_step(bench: Bench, mode: str) -> Iterator[tuple[Step, dict]]:
    import keras
    import tensorflow as tf

    # Zeros initialisers draw nothing from Keras's global seed generator; the weights are set below.
    last = None if bench.classify else "sigmoid"
    activations = ["relu"] * (len(bench.layers) - 2) + [last]
    layers = [
        keras.layers.Dense(n, a, kernel_initializer="zeros") for n, a in zip(bench.layers[1:], activations, strict=True)
    ]
    model = keras.Sequential([keras.Input(shape=(bench.layers[0],)), *layers])
    model.set_weights([a for pair in bench.init for a in pair])
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)
    if bench.classify:
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        loss_fn = keras.losses.BinaryCrossentropy()

    from builder.models.mlp_keras import gradient_tape_step

    train_step = gradient_tape_step(model, loss_fn, optimizer)
    fn = train_step if mode == "eager" else tf.function(train_step, jit_compile=mode == "xla")
    batches = itertools.cycle([(tf.constant(x), tf.constant(y)) for x, y in zip(bench.x, bench.y, strict=True)])

    def step():
        return fn(*next(batches))

    yield (
        step,
        {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
    )


@contextlib.contextmanager
def _torch_step(bench: Bench, mode: str) -> Iterator[tuple[Step, dict]]:
    import torch
    from torch import nn

    # Dynamo keeps at most 8 compilations per code object (recompile_limit), counting those of dead
    # models, and past that runs the function eagerly without failing. The step's frames include
    # torch.optim's, shared by every optimizer in the process, so without a reset before and after,
    # a later bench here (or other code) would silently measure eager code.
    compiled = mode == "torch.compile"
    if compiled:
        torch.compiler.reset()
    with torch.random.fork_rng(devices=[]):  # nn.Linear's own init must not move the global RNG
        linears = [nn.Linear(i, o) for i, o in itertools.pairwise(bench.layers)]
    with torch.no_grad():
        for linear, (w, b) in zip(linears, bench.init, strict=True):
            linear.weight.copy_(torch.from_numpy(w.T))  # torch stores (out, in)
            linear.bias.copy_(torch.from_numpy(b))
    body = [m for linear in linears[:-1] for m in (linear, nn.ReLU())]
    model = nn.Sequential(*body, linears[-1], *([] if bench.classify else [nn.Sigmoid()]))
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss() if bench.classify else nn.BCELoss()

    def train_step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        value = loss.detach()
        # Dynamo resumes after backward() in a new frame; were the non-leaf `loss` still live there,
        # wrapping it would read its .grad and warn (an error under -W error).
        loss.backward()
        optimizer.step()
        return value

    fn = torch.compile(train_step) if compiled else train_step
    batches = itertools.cycle(list(zip(torch.from_numpy(bench.x), torch.from_numpy(bench.y), strict=True)))

    def step():
        return fn(*next(batches))

    try:
        yield step, {"intra_op": torch.get_num_threads(), "inter_op": torch.get_num_interop_threads()}
    finally:
        if compiled:
            torch.compiler.reset()


FACTORIES = {"jax": _jax_step, "tensorflow": _tf_step, "torch": _torch_step}


def measure(step: Step, steps: int, warmup: int, repeats: int) -> tuple[float, list[float], list[float]]:
    """Returns (the first step's loss, each warmup step's seconds, steps/s of each timed run)."""
    warm = []
    first_loss = float("nan")
    for i in range(warmup):
        start = time.perf_counter()
        loss = float(step())
        warm.append(time.perf_counter() - start)
        first_loss = loss if i == 0 else first_loss
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        float(loss)  # waits for the run's last step, hence all of them
        rates.append(steps / (time.perf_counter() - start))
    return first_loss, warm, rates


def run(
    models=("mlp", "wide"),
    steps: int = 50,
    warmup: int = 5,
    repeats: int = 5,
    frameworks=("jax", "tensorflow", "torch"),
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """Benchmarks every (framework, model, mode); returns one row per combination.

    Rows: framework, model, mode, eager (the baseline mode), batch, parameters, steps (per timed
    run), repeats, steps_per_s_median/min/max, compile_s (None for eager modes),
    speedup_vs_eager (median over the eager row's median; 1.0 for the eager row), first_loss,
    threads.
    """
    if steps < 1 or warmup < 1 or repeats < 1:
        raise ValueError(f"steps, warmup and repeats must be at least 1, got {steps}, {warmup}, {repeats}")
    for names, known in ((models, BATCH), (frameworks, MODES)):
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"unknown bench names {unknown} (known: {', '.join(known)})")
    rows = []
    for name in models:
        bench = make_bench(name)
        for framework in frameworks:
            baseline = None
            for mode in MODES[framework]:
                eager = mode == MODES[framework][0]
                n = min(steps, max(5, steps // 10)) if mode == "op-by-op" else steps
                with FACTORIES[framework](bench, mode) as (step, threads):
                    first_loss, warm, rates = measure(step, n, warmup, repeats)
                median = statistics.median(rates)
                baseline = median if eager else baseline
                rows.append({
                    "framework": framework, "model": name, "mode": mode, "eager": eager,
                    "batch": bench.batch, "parameters": bench.parameters, "steps": n, "repeats": repeats,
                    "steps_per_s_median": median, "steps_per_s_min": min(rates), "steps_per_s_max": max(rates),
                    "compile_s": None if eager else max(0.0, sum(warm) - warmup / median),
                    "speedup_vs_eager": median / baseline, "first_loss": first_loss, "threads": threads,
                })  # fmt: skip
                if progress:
                    progress(f"{framework} {name} {mode}: {median:.1f} steps/s")
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'framework':<11}{'model':<6}{'mode':<15}{'steps/s (min..max)':>28}{'speed-up':>10}{'compile_s':>11}"]
    for r in rows:
        spread = f"{r['steps_per_s_median']:.1f} ({r['steps_per_s_min']:.1f}..{r['steps_per_s_max']:.1f})"
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        speedup = f"{r['speedup_vs_eager']:.2f}x"
        lines.append(f"{r['framework']:<11}{r['model']:<6}{r['mode']:<15}{spread:>28}{speedup:>10}{compile_s:>11}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=list(BATCH), choices=list(BATCH))
    parser.add_argument("--frameworks", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    rows = run(
        args.models, args.steps, args.warmup, args.repeats, args.frameworks, functools.partial(print, flush=True)
    )
    print(format_table(rows))
    print(f"wall time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
