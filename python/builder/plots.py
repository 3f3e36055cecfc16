"""Training plots: the per-epoch loss and held-out accuracy of one run, as a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from builder.models.common import headline


def loss_curve(model_id: str, history: list[dict], training: dict, path: Path) -> Path:
    """Writes `path` (PNG): loss on the left axis, held-out accuracy on the right, per epoch."""
    epochs = [row["epoch"] for row in history]
    fig, ax_loss = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax_loss.plot(epochs, [row["loss"] for row in history], "o-", color="tab:blue", label="training loss")
    ax_loss.set_xlabel("epoch")
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_ylabel("training loss", color="tab:blue")
    ax_loss.set_yscale("log")
    ax_acc = ax_loss.twinx()
    metric = training.get("metric", "held-out accuracy")
    ax_acc.plot(epochs, [row["accuracy"] for row in history], "s--", color="tab:green", label=metric)
    ax_acc.set_ylabel(metric, color="tab:green")
    if metric == "held-out accuracy":
        ax_acc.set_ylim(min(0.5, min(row["accuracy"] for row in history)), 1.0)
    modes = ", ".join(
        f"{k}={training[k]}" for k in ("amp", "trainer", "nproc") if training.get(k) not in (None, 1, "fit")
    )
    ax_loss.set_title(
        f"{model_id}: {headline(training)} in {training['seconds']:.1f} s" + (f" ({modes})" if modes else "")
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
