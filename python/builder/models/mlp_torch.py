"""`mlp_torch`: the seed's PyTorch MLP, Linear(10,5)-ReLU-Linear(5,1)-Sigmoid, trained with BCELoss + Adam.

Modes (TrainConfig): `amp` trains under mixed precision (torch.autocast: float16 with a GradScaler
on CUDA, bfloat16 on CPU); `nproc > 1` trains with DistributedDataParallel (torch_distributed.py).
The trained model is always float32 on the CPU, so every export sees the same module.
"""
from __future__ import annotations

import contextlib
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, Trained, dense_specs, single_io

MODEL_ID = "mlp_torch"
SOURCE = "torch"
DEFAULT_EPOCHS = 20
SPECS = dense_specs(data.N_FEATURES, 1)  # input (batch, 10) -> output (batch, 1)
LEARNING_RATE = 1e-2


class MLP(nn.Module):
    def __init__(self, hidden: int = 5) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(data.N_FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, 1), nn.Sigmoid()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, 10) -> (batch, 1)
        return self.net(x)


class ToyDataset(Dataset):
    def __init__(self, split: data.Split) -> None:
        self.x = torch.from_numpy(split.x)
        self.y = torch.from_numpy(split.y)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i], self.y[i]


class Stepper:
    """One optimisation step, in float32 or under autocast.

    BCELoss is on autocast's "unsafe" list (it raises on CUDA), so the loss is computed in float32
    on the forward's output cast back, the usual pattern for a model that ends in a Sigmoid.
    """

    def __init__(self, model: nn.Module, amp: bool, device: torch.device) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        self.loss_fn = nn.BCELoss()
        self.device = device
        self.amp_dtype = amp_dtype(device) if amp else None
        # Loss scaling guards float16 gradients against underflow; bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None

    def __call__(self, xb: torch.Tensor, yb: torch.Tensor) -> float:
        xb, yb = xb.to(self.device), yb.to(self.device)
        self.optimizer.zero_grad()
        autocast = (
            torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype
            else contextlib.nullcontext()
        )
        with autocast:
            probabilities = self.model(xb)
        loss = self.loss_fn(probabilities.float(), yb)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        return loss.item()


def amp_dtype(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def device_for(amp: bool) -> torch.device:
    """CUDA when mixed precision is asked for and a GPU exists; the CPU otherwise."""
    return torch.device("cuda" if amp and torch.cuda.is_available() else "cpu")


def cpu_predict(model: nn.Module):
    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()

    return predict


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    if cfg.nproc > 1:
        from builder.models import torch_distributed

        return torch_distributed.train(cfg, on_epoch)
    epochs = cfg.epochs or DEFAULT_EPOCHS
    torch.manual_seed(cfg.seed)
    train_split, test_split = data.make_task(cfg.seed)
    loader = DataLoader(
        ToyDataset(train_split),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    device = device_for(cfg.amp)
    model = MLP().to(device)
    step = Stepper(model, cfg.amp, device)

    history = History(on_epoch)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            total += step(xb, yb) * len(xb)
            seen += len(xb)
        model.eval()
        with torch.inference_mode():
            test_probabilities = model(torch.from_numpy(test_split.x).to(device)).float().cpu().numpy()
        history.log(epoch, total / seen, data.accuracy(test_probabilities, test_split.y))
    seconds = time.perf_counter() - start
    return finish(model.float().cpu().eval(), cfg, epochs, history, seconds, test_split, device)


def finish(
    model: MLP, cfg: TrainConfig, epochs: int, history: History, seconds: float, test_split: data.Split, device: torch.device
) -> Trained:
    """Wraps a trained float32 CPU model; its eager forward is the export's reference."""
    predict = cpu_predict(model)
    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=single_io(predict),
        parameters=sum(p.numel() for p in model.parameters()),
        training={
            "epochs": epochs,
            "final_loss": history.rows[-1]["loss"],
            "accuracy": data.accuracy(predict(test_split.x), test_split.y),
            "seconds": seconds,
            "amp": str(amp_dtype(device)).removeprefix("torch.") if cfg.amp else None,
            "nproc": cfg.nproc,
            "device": str(device),
        },
        history=history.rows,
        inputs=SPECS[0],
        outputs=SPECS[1],
    )
