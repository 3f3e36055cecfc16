"""Types shared by the per-framework model modules."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol

import numpy as np

from builder.tensors import Arrays, Dim, TensorSpec

# Called after each epoch with (epoch from 1, {"epoch", "loss", "accuracy"}): the epoch's mean
# training loss and the held-out accuracy after it.
EpochCallback = Callable[[int, dict], None]

TRAINERS = ("fit", "loop", "xla")
BATCH = Dim("batch", min=1)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    seed: int = 0
    epochs: int | None = None  # None: the model's own default
    batch_size: int = 32  # the global batch, whatever the number of replicas
    amp: bool = False  # torch: mixed precision (autocast; GradScaler on CUDA)
    trainer: str = "fit"  # keras: Keras fit | tf.data + GradientTape loop | the loop with XLA
    nproc: int = 1  # data-parallel replicas: DDP processes (torch), MirroredStrategy devices (keras), shard_map devices (jax)


class History:
    """Per-epoch metrics: reported to the callback as they come, kept for the loss-curve plot."""

    def __init__(self, on_epoch: EpochCallback | None = None) -> None:
        self.rows: list[dict] = []
        self._on_epoch = on_epoch

    def log(self, epoch: int, loss: float, accuracy: float) -> None:
        row = {"epoch": epoch, "loss": float(loss), "accuracy": float(accuracy)}
        self.rows.append(row)
        if self._on_epoch:
            self._on_epoch(epoch, row)


@dataclasses.dataclass(frozen=True)
class JaxFunction:
    """A JAX model as `apply(params, *inputs) -> output or tuple of outputs` plus its parameters
    (a Flax module's `apply` and variables, or a pure-JAX function and its pytree)."""

    apply: Callable[..., Any]
    params: Any


@dataclasses.dataclass
class Trained:
    """A trained model, its tensor specs and its eager reference forward pass.

    `module` is the framework's own handle: a `torch.nn.Module`, a `keras.Model`, or a `JaxFunction`.
    `predict` maps input name -> array to output name -> array, eager, in the specs' dtypes.
    """

    model_id: str
    source: str  # "torch" | "tensorflow" | "jax"
    module: Any
    predict: Callable[[Arrays], Arrays]
    parameters: int
    training: dict  # epochs, final_loss, accuracy, seconds (+ mode details such as amp, trainer, nproc)
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    dims: tuple[Dim, ...] = (BATCH,)
    history: list[dict] = dataclasses.field(default_factory=list)  # History.rows
    # Sizes of the dynamic dims other than batch in the golden sets (e.g. {"seq": 24}).
    golden_sizes: dict[str, int] = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)  # extra manifest fields (task, data, vocabulary...)
    # Dynamic dims along which the model is causal: the output at position i depends on inputs at
    # positions <= i only, so padding on the right changes no output it keeps. A converter that needs
    # a fixed size there (onnx2tf) may pad to the dim's max inside the graph and slice the outputs back.
    causal_dims: tuple[str, ...] = ()
    # "all": the special set holds NaN and +-Inf too; "finite": the model's non-finite behaviour is
    # implementation-defined (say why in `special_note`), so its special set keeps finite extremes only.
    special: str = "all"
    special_note: str = ""
    # A user's model (builder.user_model): the golden set's inputs when the user gave them, and how
    # long preparing it took (it is not trained here).
    golden_inputs: Arrays | None = None
    prepare_seconds: float = 0.0

    @property
    def user(self) -> bool:
        """A user's own model rather than a built-in: it brings its own weights and is not trained."""
        return self.info.get("origin", {}).get("kind") == "user"


class ModelSpec(Protocol):
    """What every model module exposes (see models/__init__.py for the registry)."""

    MODEL_ID: str
    SOURCE: str
    DEFAULT_EPOCHS: int

    def train(self, cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained: ...


def headline(training: dict) -> str:
    """The held-out result in words: accuracy, or the model's own metric (e.g. bits per character)."""
    if training.get("accuracy") is not None:
        return f"held-out accuracy {training['accuracy']:.3f}"
    if "held_out_bits_per_char" in training:
        return f"held-out {training['held_out_bits_per_char']:.3f} bits/char (unigram {training['unigram_bits_per_char']:.3f})"
    return training.get("metric", "no held-out metric")


def dense_specs(n_inputs: int, n_outputs: int) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...]]:
    """The specs of a (batch, n_inputs) -> (batch, n_outputs) float32 model: `input` -> `output`."""
    return (TensorSpec("input", "float32", ("batch", n_inputs)),), (TensorSpec("output", "float32", ("batch", n_outputs)),)


def single_io(predict: Callable[[np.ndarray], np.ndarray], input_name: str = "input", output_name: str = "output") -> Callable[[Arrays], Arrays]:
    """Wraps an array -> array forward as the name -> array map `Trained.predict` speaks."""
    return lambda arrays: {output_name: np.asarray(predict(arrays[input_name]))}


def jax_eager_reference(fn: JaxFunction, inputs: tuple[TensorSpec, ...], outputs: tuple[TensorSpec, ...]) -> Callable[[Arrays], Arrays]:
    """The export's reference for a JAX model: `fn.apply(params, *inputs)` run op by op (not
    jitted), as NumPy. Exports are compiled, so this is what they are checked against."""
    import jax
    import jax.numpy as jnp

    def predict(arrays: Arrays) -> Arrays:
        with jax.disable_jit():
            result = fn.apply(fn.params, *(jnp.asarray(arrays[s.name], s.dtype) for s in inputs))
        results = result if isinstance(result, (tuple, list)) else (result,)
        return {s.name: np.asarray(r, dtype=s.dtype) for s, r in zip(outputs, results, strict=True)}

    return predict
