"""What every engine takes and gives back, and the registry `serve` picks an engine from.

An engine module has `start(manifest, servables, options, progress) -> Server`. The returned
server is up and ready when `start` returns (or `start` raised EngineError), and `close()` stops
everything it started (processes, Ray actors) and is safe to call twice.
"""

from __future__ import annotations

import dataclasses
import importlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from builder.serve.servables import Servable

DEFAULT_PORT = 8000
HOST = "127.0.0.1"  # loopback only; put a real proxy in front to publish a server
# engine name -> the module implementing it (imported only when chosen: each pulls a heavy stack).
ENGINES = {"triton": "builder.serve.triton", "ray": "builder.serve.ray_engine"}

Progress = Callable[[str], None]


def free_ports(n: int = 1) -> list[int]:
    """`n` distinct free TCP ports on HOST (held together while chosen, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class EngineError(RuntimeError):
    """The engine could not start or is not installed here (one line; `serve` exits 3)."""


@dataclasses.dataclass(frozen=True)
class Options:
    replicas: int = 1
    autoscale: tuple[int, int] | None = None  # (min, max) replicas; Ray only
    max_batch: int = 0  # 0: no dynamic batching; else the most rows one batched call takes
    batch_wait_ms: float = 2.0  # how long a batch waits to fill
    address: str | None = None  # Ray: join this cluster instead of starting a local instance
    port: int = DEFAULT_PORT  # 0: any free port (tests)
    timeout_s: float = 30.0  # per request, then 503
    max_body_bytes: int = 64 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the closing table."""

    engine: str
    model: str  # the protocol's model name
    format: str
    replicas: str  # "2", or "1..4" when autoscaling
    url: str  # the model's infer URL


class Server(Protocol):
    url: str  # base URL, e.g. http://127.0.0.1:8000 (routes start with /v2)
    rows: list[Row]

    def wait(self) -> None:
        """Blocks until the server stops or KeyboardInterrupt."""

    def close(self) -> None:
        """Stops everything `start` started; idempotent."""


def start(engine: str, manifest: Path, servables: list[Servable], options: Options, progress: Progress) -> Server:
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}: choose {' or '.join(ENGINES)}")
    module = importlib.import_module(ENGINES[engine])
    return module.start(manifest, servables, options, progress)
