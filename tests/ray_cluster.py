"""A two-node Ray cluster on 127.0.0.1 for the tests, started the way a user starts one.

Head:   RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ray start --head --node-ip-address=127.0.0.1 ...
        (Ray 2.52 turns 127.0.0.1 into the machine's LAN address unless that switch is off, and its
        servers bind every interface unless the node's address is exactly 127.0.0.1.)
Worker: `ray start --address=127.0.0.1:PORT --node-ip-address=127.0.0.1`, run through this file
        (`python tests/ray_cluster.py start ...`): the same CLI with the 127.0.0.1 rewrite turned off,
        because Ray 2.52's `ray start --address` refuses to run while the switch is off.

Every process of the cluster inherits DEPLOYKIT_RAY_CLUSTER=<token> from `ray start`, so the test
finds all of them (GCS, raylets, agents, workers, replicas) in /proc and stops exactly those:
`ray stop` would also stop every other Ray on a shared machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

MARK = "DEPLOYKIT_RAY_CLUSTER"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, venv_bin: Path, temp_dir: Path, cpus_per_node: int = 1):
        self.bin = venv_bin
        self.temp_dir = temp_dir
        self.cpus = cpus_per_node
        self.token = uuid.uuid4().hex
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.seen: dict[int, tuple[str, float]] = {}  # pid -> (name, create time): everything it ever ran
        self.timings: dict[str, float] = {}

    def _env(self, **extra) -> dict:
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **extra)
        env[MARK] = self.token
        return env

    def _run(self, what: str, cmd: list[str], env: dict) -> None:
        before = time.monotonic()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        self.timings[what] = time.monotonic() - before
        if done.returncode != 0:
            raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")

    def start(self) -> None:
        common = [f"--num-cpus={self.cpus}", "--disable-usage-stats"]
        self._run(
            "head",
            [
                str(self.bin / "ray"),
                "start",
                "--head",
                "--node-ip-address=127.0.0.1",
                f"--port={self.port}",
                f"--ray-client-server-port={free_port()}",
                "--include-dashboard=false",
                f"--temp-dir={self.temp_dir}",
                *common,
            ],
            self._env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"),
        )
        self._run(
            "worker",
            [
                str(self.bin / "python"),
                __file__,
                "start",
                f"--address={self.address}",
                "--node-ip-address=127.0.0.1",
                *common,
            ],
            self._env(),
        )
        self.processes()

    def processes(self) -> dict[int, str]:
        """pid -> name of every live process of the cluster (and records them)."""
        import psutil

        found = {}
        for p in psutil.process_iter(["pid", "name"]):
            with contextlib.suppress(OSError, psutil.Error):
                marked = f"{MARK}={self.token}".encode() + b"\0" in Path(f"/proc/{p.pid}/environ").read_bytes()
                if marked and p.status() != psutil.STATUS_ZOMBIE:
                    found[p.pid] = p.info["name"]
                    self.seen.setdefault(p.pid, (p.info["name"], p.create_time()))
        return found

    def left(self) -> dict[int, str]:
        """The recorded processes still running (same pid and start time, not a zombie)."""
        import psutil

        out = {}
        for pid, (name, created) in self.seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if p.create_time() == created and p.status() != psutil.STATUS_ZOMBIE:
                    out[pid] = name
        return out

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM to every process of the cluster, SIGKILL to what is left after grace_s; idempotent."""
        self.processes()
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            for pid in self.left():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while self.left() and time.monotonic() < deadline:
                time.sleep(0.2)
            self.processes()  # a worker started meanwhile
            if not self.left():
                return


if __name__ == "__main__" and sys.argv[1:2] == ["start"]:
    # `ray start` for a node that joins a loopback head (see the module's docstring).
    import ray._private.services as services

    services.resolve_ip_for_localhost = lambda host: host
    from ray.scripts.scripts import main

    sys.argv = ["ray", *sys.argv[1:]]
    sys.exit(main())
