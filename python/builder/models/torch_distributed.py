"""`mlp_torch` with DistributedDataParallel: `nproc` processes on this machine, gloo backend.

Each process holds a replica, reads its share of every global batch through a DistributedSampler
and averages gradients with the others (all-reduce) before each Adam step. With the same global
batch the result equals single-process training on the same sampler order up to float rounding:
rank r's local batch s is perm[r::nproc][b*s : b*(s+1)] (b = global batch / nproc), so the ranks'
local batches together are exactly perm[B*s : B*(s+1)], and the mean of equal-sized local means is
the global mean. `nproc=1` runs the same code in one process: the reference the test compares with.
"""
from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from builder import data
from builder.models import mlp_torch
from builder.models.common import EpochCallback, History, TrainConfig, Trained

_DONE = "done"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, nproc: int, port: int, cfg: TrainConfig, epochs: int, out: str, events) -> None:
    """One DDP process. Rank 0 reports per-epoch metrics on `events` and saves the final weights."""
    torch.set_num_threads(1)  # nproc processes share the machine's cores
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=nproc)
    try:
        torch.manual_seed(cfg.seed)  # same initial weights everywhere (DDP also broadcasts rank 0's)
        train_split, test_split = data.make_task(cfg.seed)
        dataset = mlp_torch.ToyDataset(train_split)
        sampler = DistributedSampler(dataset, num_replicas=nproc, rank=rank, shuffle=True, seed=cfg.seed)
        loader = DataLoader(dataset, batch_size=cfg.batch_size // nproc, sampler=sampler)
        model = mlp_torch.MLP()
        ddp = DistributedDataParallel(model)
        step = mlp_torch.Stepper(ddp, amp=cfg.amp, device=torch.device("cpu"))
        for epoch in range(1, epochs + 1):
            sampler.set_epoch(epoch)
            ddp.train()
            total = torch.zeros(2, dtype=torch.float64)  # (sum of loss * rows, rows) on this rank
            for xb, yb in loader:
                total += torch.tensor([step(xb, yb) * len(xb), len(xb)], dtype=torch.float64)
            dist.all_reduce(total)
            if rank == 0:
                model.eval()
                with torch.inference_mode():
                    accuracy = data.accuracy(model(torch.from_numpy(test_split.x)).numpy(), test_split.y)
                events.put((epoch, float(total[0] / total[1]), accuracy))
        if rank == 0:
            torch.save(model.state_dict(), out)
            events.put(_DONE)
    finally:
        dist.destroy_process_group()


def train(cfg: TrainConfig, on_epoch: EpochCallback | None = None) -> Trained:
    if cfg.batch_size % cfg.nproc:
        raise ValueError(f"the global batch {cfg.batch_size} does not split evenly over {cfg.nproc} processes")
    epochs = cfg.epochs or mlp_torch.DEFAULT_EPOCHS
    _, test_split = data.make_task(cfg.seed)
    history = History(on_epoch)
    ctx = mp.get_context("spawn")
    events = ctx.SimpleQueue()
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / "model.pt"
        start = time.perf_counter()
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")  # stay on loopback
        procs = mp.start_processes(
            _worker, args=(cfg.nproc, _free_port(), cfg, epochs, str(weights), events), nprocs=cfg.nproc, join=False, start_method="spawn"
        )
        _relay(procs, events, history)
        seconds = time.perf_counter() - start
        model = mlp_torch.MLP()
        model.load_state_dict(torch.load(weights, weights_only=True))
    return mlp_torch.finish(model.eval(), cfg, epochs, history, seconds, test_split, torch.device("cpu"))


def _relay(procs, events, history: History) -> None:
    """Forwards rank 0's per-epoch metrics to `history` while the processes run; raises if one fails."""
    done = False
    while not done:
        while not events.empty():
            event = events.get()
            if event == _DONE:
                done = True
            else:
                history.log(*event)
        if procs.join(timeout=0.2):  # True once every process exited; raises ProcessRaisedException
            while not events.empty():
                event = events.get()
                done = done or event == _DONE
                if event != _DONE:
                    history.log(*event)
            if not done:
                raise RuntimeError("DDP training ended without a result")
            return
    procs.join()
