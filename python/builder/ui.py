"""Terminal output of the export: progress while training and exporting, the closing table."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from builder.models.common import Trained, headline
from builder.pipeline import ArtifactRow


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class RichReporter:
    """Progress bars on a terminal; one plain line per step when stderr is not a terminal (CI logs)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, int] = {}
        self._overall: int | None = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def planned(self, artifacts: int) -> None:
        self._overall = self.progress.add_task("export", total=artifacts, status="")

    def training(self, model_id: str, epochs: int) -> None:
        self._tasks[model_id] = self.progress.add_task(f"train {model_id}", total=epochs, status="")

    def epoch(self, model_id: str, epoch: int, metrics: dict) -> None:
        self.progress.update(
            self._tasks[model_id],
            completed=epoch,
            status=f"loss {metrics['loss']:.4f} held-out {metrics['accuracy']:.3f}",
        )

    def trained(self, trained: Trained) -> None:
        self.progress.remove_task(self._tasks.pop(trained.model_id))
        t = trained.training
        self.console.print(
            f"trained {trained.model_id}: {t['epochs']} epochs, loss {t['final_loss']:.4f}, "
            f"{headline(t)}, {t['seconds']:.1f} s"
        )

    def prepared(self, trained: Trained) -> None:
        def specs(tensors) -> str:
            return ", ".join(f"{t.name} {t.dtype} ({', '.join(map(str, t.shape))})" for t in tensors)

        self.console.print(
            f"prepared {trained.model_id} ({trained.info['origin']['model']}, {trained.parameters:,} parameters): "
            f"{specs(trained.inputs)} -> {specs(trained.outputs)}, {trained.prepare_seconds:.1f} s"
        )

    def artifact(self, row: ArtifactRow) -> None:
        if self._overall is not None:
            self.progress.update(self._overall, advance=1, status=f"{row.model}/{row.format}")
        self.console.print(
            f"  exported {row.model}/{row.format}: {human_bytes(row.bytes)}, "
            f"max abs diff {row.max_abs:.2e}, {row.seconds:.1f} s" + (" (from the cache)" if row.cached else "")
        )

    def background(self, model_id: str, fmt: str) -> None:
        self.console.print(f"  compiling {model_id}/{fmt} in a worker process; the export goes on meanwhile")

    def skipped(self, model_id: str, fmt: str, reason: str) -> None:
        self.console.print(f"  skipped {model_id}/{fmt}: {reason}")


def summary_table(rows: list[ArtifactRow], skipped: list[tuple[str, str, str]] = ()) -> Table:
    """The closing table: one row per artifact, then one per skipped format with the reason."""
    table = Table(title="deploykit export")
    for name, justify in (
        ("model", "left"),
        ("format", "left"),
        ("size", "right"),
        ("max abs diff", "right"),
        ("time", "right"),
    ):
        table.add_column(name, justify=justify)
    for r in rows:
        table.add_row(
            r.model,
            r.format,
            human_bytes(r.bytes),
            f"{r.max_abs:.2e}",
            f"{r.seconds:.1f} s" + (" cached" if r.cached else ""),
        )
    for model, fmt, reason in skipped:
        table.add_row(model, fmt, "skipped", reason, "", style="yellow")
    return table


def skipped_from(manifest_path: Path) -> list[tuple[str, str, str]]:
    """(model, format, reason) for every format the export skipped, from its manifest."""
    doc = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    return [(m["id"], s["format"], s["reason"]) for m in doc["models"] for s in m.get("skipped", [])]
