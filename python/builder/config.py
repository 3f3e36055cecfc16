"""The export's configuration."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from builder.formats import FORMATS, plan, reachable
from builder.models import MODEL_IDS, REGISTRY
from builder.models.common import TRAINERS, TrainConfig


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    out: Path = Path("models")
    models: tuple[str, ...] = MODEL_IDS
    formats: tuple[str, ...] = FORMATS
    seed: int = 0
    epochs: int | None = None  # None: each model's default
    golden_rows: int = 64
    train: TrainConfig = TrainConfig()  # noqa: RUF009 - frozen, so one shared default is safe; training modes (amp, trainer, nproc); seed/epochs come from above
    serving: bool = False  # also write a Triton model repository and a TF Serving base path
    cache_dir: Path | None = None  # compiled artifacts reused across exports (builder.formats.artifact_cache)
    parallel: bool = False  # torch models in a second process beside the others (builder.pipeline.lane_models)
    strict: bool = False  # a format an edge cannot express fails the export instead of being skipped
    # Users' own models (builder.UserModel), exported after the built-ins in `models`.
    user_models: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in REGISTRY]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r} (known: {', '.join(MODEL_IDS)})")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r} (known: {', '.join(FORMATS)})")
        if not self.all_models:
            raise ValueError("no models selected")
        repeated = sorted({m for m in self.all_models if self.all_models.count(m) > 1})
        if repeated:
            raise ValueError(f"two models share the id {repeated[0]!r}: give one another id (UserModel(id=...), --id)")
        for model_id in self.all_models:
            source = self.source(model_id)
            if not plan(source, self.formats):
                raise ValueError(
                    f"{model_id} can export none of the requested formats "
                    f"(a {source} model exports {', '.join(reachable(source))})"
                )
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {self.epochs}")
        check_modes(self.train, self.models)

    @property
    def all_models(self) -> tuple[str, ...]:
        """Every model id to export: the built-ins, then the users' models."""
        return (*self.models, *(u.id for u in self.user_models))

    def user_model(self, model_id: str) -> Any | None:
        """The user's model with this id, or None for a built-in."""
        return next((u for u in self.user_models if u.id == model_id), None)

    def source(self, model_id: str) -> str:
        user = self.user_model(model_id)
        return user.kind if user is not None else REGISTRY[model_id].source

    def train_config(self, model_id: str) -> TrainConfig:
        """The training config for one model: the modes it supports, defaults for the rest."""
        supported = REGISTRY[model_id].modes if model_id in REGISTRY else frozenset()
        defaults = TrainConfig()
        modes = {m: getattr(self.train, m) if m in supported else getattr(defaults, m) for m in MODES}
        return dataclasses.replace(self.train, seed=self.seed, epochs=self.epochs, **modes)


MODES = ("amp", "trainer", "nproc")
_MODE_FLAGS = {"amp": "--amp", "trainer": "--trainer", "nproc": "--nproc"}


def check_modes(train: TrainConfig, model_ids: tuple[str, ...]) -> None:
    """Raises ValueError when a non-default training mode applies to none of the selected models."""
    if train.trainer not in TRAINERS:
        raise ValueError(f"unknown trainer {train.trainer!r} (known: {', '.join(TRAINERS)})")
    if train.nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {train.nproc}")
    if train.nproc > 1 and train.trainer != "fit" and "mlp_keras" in model_ids:
        raise ValueError("--nproc > 1 trains mlp_keras with MirroredStrategy through Keras fit; use --trainer fit")
    defaults = TrainConfig()
    for mode in MODES:
        if getattr(train, mode) != getattr(defaults, mode) and not any(mode in REGISTRY[m].modes for m in model_ids):
            users = [m for m, info in REGISTRY.items() if mode in info.modes]
            raise ValueError(f"{_MODE_FLAGS[mode]} applies only to {', '.join(users)}, not to {', '.join(model_ids)}")
