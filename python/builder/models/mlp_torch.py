"""`mlp_torch`: the seed's PyTorch MLP, Linear(10,5)-ReLU-Linear(5,1)-Sigmoid, trained with BCELoss + Adam."""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from builder import data
from builder.models.common import EpochCallback, History, TrainConfig, Trained

MODEL_ID = "mlp_torch"
SOURCE = "torch"
DEFAULT_EPOCHS = 20
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


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    epochs = cfg.epochs or DEFAULT_EPOCHS
    torch.manual_seed(cfg.seed)
    train_split, test_split = data.make_task(cfg.seed)
    loader = DataLoader(
        ToyDataset(train_split),
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.BCELoss()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(np.ascontiguousarray(x, np.float32))).numpy()

    history = History(on_epoch)
    start = time.perf_counter()
    epoch_loss = float("nan")
    for epoch in range(1, epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            seen += len(xb)
        epoch_loss = total / seen
        model.eval()
        history.log(epoch, epoch_loss, data.accuracy(predict(test_split.x), test_split.y))
    seconds = time.perf_counter() - start

    return Trained(
        model_id=MODEL_ID,
        source=SOURCE,
        module=model,
        predict=predict,
        parameters=sum(p.numel() for p in model.parameters()),
        training={
            "epochs": epochs,
            "final_loss": epoch_loss,
            "accuracy": data.accuracy(predict(test_split.x), test_split.y),
            "seconds": seconds,
        },
        history=history.rows,
    )
