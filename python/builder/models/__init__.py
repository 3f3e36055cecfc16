"""The model registry: model id -> module implementing `builder.models.common.ModelSpec`.

Modules are imported lazily so that exporting only torch models never imports TensorFlow.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# Each model's source framework, known without importing the framework (a test keeps it in sync
# with the modules' own SOURCE).
MODEL_SOURCES: dict[str, str] = {
    "mlp_torch": "torch", "mlp_keras": "tensorflow", "mlp_flax": "jax", "mlp_jax": "jax",
    "wide_torch": "torch", "wide_keras": "tensorflow", "wide_flax": "jax",
}

MODEL_MODULES: dict[str, str] = {
    "mlp_torch": "builder.models.mlp_torch",
    "mlp_keras": "builder.models.mlp_keras",
    "mlp_flax": "builder.models.mlp_flax",
    "mlp_jax": "builder.models.mlp_jax",
    # compute-bound models for benchmarks, 256 -> 1024 -> 1024 -> 10, the same in each framework
    "wide_torch": "builder.models.wide_torch",
    "wide_keras": "builder.models.wide_keras",
    "wide_flax": "builder.models.wide_flax",
}


# Training modes (TrainConfig fields) each model supports; the others keep their defaults.
MODEL_MODES: dict[str, frozenset[str]] = {
    "mlp_torch": frozenset({"amp", "nproc"}),
    "mlp_keras": frozenset({"trainer", "nproc"}),
    "mlp_flax": frozenset(),
    "mlp_jax": frozenset({"nproc"}),
    "wide_torch": frozenset(),
    "wide_keras": frozenset(),
    "wide_flax": frozenset(),
}


def get(model_id: str) -> ModuleType:
    if model_id not in MODEL_MODULES:
        raise KeyError(f"unknown model {model_id!r} (known: {', '.join(MODEL_MODULES)})")
    return importlib.import_module(MODEL_MODULES[model_id])
