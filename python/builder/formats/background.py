"""Slow, self-contained export steps run in a worker process while the export goes on.

An AOTInductor compile is the slowest step of an export (12-22 s per small network on 2 cores,
most of it g++ on the generated C++), and it needs nothing from the exporting process but the
serialized `torch.export` program. So the exporter saves the program and hands the compile to a
worker; the next model trains (single-threaded Python and small kernels, for the most part)
while g++ runs. The export waits for every pending artifact, and checks it like any other,
before it writes the manifest.

The worker is a fresh interpreter (`spawn`: forking a process that has started torch, TF and
JAX threads is unsafe), started on the first submit and stopped when the export ends; an error
in it comes back as the artifact's export error. The export also uses a second worker, a
"lane", to train and export whole models beside the main process (builder.pipeline).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

# One single-process pool per purpose: "compile" (AOTInductor compiles), "lane" (whole models
# exported beside the main process, builder.pipeline). Each is started on its first submit.
_pools: dict[str, ProcessPoolExecutor] = {}
_active = False


@contextlib.contextmanager
def workers() -> Iterator[None]:
    """The scope in which `submit` may use a worker; without it `submit` runs inline."""
    global _active
    _active = True
    failed = False
    try:
        yield
    except BaseException:  # a failed or interrupted export does not wait for work it drops
        failed = True
        raise
    finally:
        _active = False
        pools = list(_pools.values())
        _pools.clear()
        for pool in pools:
            if failed:
                for process in list(getattr(pool, "_processes", {}).values()):  # no public API before 3.14
                    process.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


def submit(fn: Callable, *args, pool: str = "compile") -> Future:
    """Runs `fn(*args)` (a module-level function; picklable arguments) in the worker named `pool`."""
    if not _active:  # e.g. an exporter called directly from a test: same result, no overlap
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as e:  # noqa: BLE001 - delivered through the future, as from a worker
            future.set_exception(e)
        return future
    if pool not in _pools:
        _pools[pool] = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _pools[pool].submit(fn, *args)


def compile_aoti(program_path: str, package_path: str) -> float:
    """Worker side: AOTInductor-compiles a saved `torch.export` program into a `.pt2` package."""
    import torch

    start = time.perf_counter()
    try:
        program = torch.export.load(program_path)
        with warnings.catch_warnings():  # torch internals, as in torch_formats._export_noise_silenced
            warnings.filterwarnings("ignore", message=r".*LeafSpec.*is deprecated", category=FutureWarning)
            torch._inductor.aoti_compile_and_package(program, package_path=package_path)
    finally:
        os.unlink(program_path)
    return time.perf_counter() - start
