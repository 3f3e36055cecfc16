"""The export's configuration."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from builder.formats import FORMATS, SOURCE_FORMATS, plan
from builder.models import MODEL_MODULES, MODEL_SOURCES
from builder.models.common import TrainConfig


@dataclasses.dataclass(frozen=True)
class ExportConfig:
    out: Path = Path("models")
    models: tuple[str, ...] = tuple(MODEL_MODULES)
    formats: tuple[str, ...] = FORMATS
    seed: int = 0
    epochs: int | None = None  # None: each model's default
    golden_rows: int = 64
    train: TrainConfig = TrainConfig()  # training modes (amp, trainer, nproc); seed/epochs come from above
    serving: bool = False  # also write a Triton model repository and a TF Serving base path

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODEL_MODULES]
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r} (known: {', '.join(MODEL_MODULES)})")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r} (known: {', '.join(FORMATS)})")
        if not self.models:
            raise ValueError("no models selected")
        for model_id in self.models:
            source = MODEL_SOURCES[model_id]
            if not plan(source, self.formats):
                raise ValueError(
                    f"{model_id} can export none of the requested formats "
                    f"(a {source} model exports {', '.join(SOURCE_FORMATS[source])})"
                )
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {self.epochs}")
