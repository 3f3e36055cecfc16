"""The model registry: one table, one row per built-in model.

Each row names the model's source framework (known without importing it, so exporting only torch
models never imports TensorFlow), the module implementing `builder.models.common.ModelSpec`, the
training modes it supports and one line on what it is. Adding a model is one module plus one row.
"""
from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    id: str
    source: str  # "torch" | "tensorflow" | "jax"
    module: str
    summary: str
    modes: frozenset[str] = frozenset()  # TrainConfig fields it supports beyond seed/epochs


REGISTRY: dict[str, ModelInfo] = {
    m.id: m
    for m in (
        ModelInfo("mlp_torch", "torch", "builder.models.mlp_torch", "seed MLP 10-5-1, toy task", frozenset({"amp", "nproc"})),
        ModelInfo("mlp_keras", "tensorflow", "builder.models.mlp_keras", "seed MLP 10-5-1, toy task", frozenset({"trainer", "nproc"})),
        ModelInfo("mlp_flax", "jax", "builder.models.mlp_flax", "seed MLP 10-64-1 in Flax, toy task"),
        ModelInfo("mlp_jax", "jax", "builder.models.mlp_jax", "seed MLP in pure JAX, toy task", frozenset({"nproc"})),
        # compute-bound models for benchmarks, 256 -> 1024 -> 1024 -> 10, the same in each framework
        ModelInfo("wide_torch", "torch", "builder.models.wide_torch", "benchmark MLP 256-1024-1024-10"),
        ModelInfo("wide_keras", "tensorflow", "builder.models.wide_keras", "benchmark MLP 256-1024-1024-10"),
        ModelInfo("wide_flax", "jax", "builder.models.wide_flax", "benchmark MLP 256-1024-1024-10"),
        # real data that ships offline
        ModelInfo("cnn_torch", "torch", "builder.models.cnn_torch", "CNN on scikit-learn's 8x8 digits, NCHW"),
        ModelInfo("cnn_keras", "tensorflow", "builder.models.cnn_keras", "CNN on scikit-learn's 8x8 digits, NHWC"),
        ModelInfo("chargpt_torch", "torch", "builder.models.chargpt_torch", "character-level causal transformer on stdlib source"),
        ModelInfo("textcls_keras", "tensorflow", "builder.models.textcls_keras", "two-input snippet classifier: tokens + mask -> logits, embedding"),
    )
}

MODEL_IDS: tuple[str, ...] = tuple(REGISTRY)


def source(model_id: str) -> str:
    return info(model_id).source


def info(model_id: str) -> ModelInfo:
    if model_id not in REGISTRY:
        raise KeyError(f"unknown model {model_id!r} (known: {', '.join(REGISTRY)})")
    return REGISTRY[model_id]


def get(model_id: str) -> ModuleType:
    return importlib.import_module(info(model_id).module)

