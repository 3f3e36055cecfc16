"""The machine a benchmark ran on, and its measured float32 GEMM peak."""

from __future__ import annotations

import os
import platform
import time

import numpy as np

from builder.versions import producer


def _cpuinfo(field: str) -> str | None:
    """The first value of `field` in Linux's /proc/cpuinfo, or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or "unknown"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (`avx512f`, ...), empty where /proc/cpuinfo does not say."""
    return set((_cpuinfo("flags") or "").split())


def governor() -> str:
    """The CPU frequency governor of cpu0 (`performance`, `powersave`...), or `unknown` (a VM)."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", encoding="utf-8") as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def info() -> dict:
    """What the figures depend on, recorded with them: a busy machine (load average above its
    core count) or a power-saving governor explains a wide interval."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "governor": governor(),
        "load_average": load_average(),  # 1, 5 and 15 minutes, when the run started
        "platform": platform.platform(),
        "versions": producer(),
    }


WARMUP_S = 1.5


def gemm_peak(n: int = 2048, repeats: int = 5) -> dict:
    """Best float32 GFLOP/s of an n x n matmul in NumPy's BLAS (OpenBLAS), torch (oneDNN/MKL) and
    TensorFlow (Eigen/oneDNN), 2 n^3 flops each: the machine's limit is the best of them."""
    import tensorflow as tf
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    fa, fb = tf.constant(a), tf.constant(b)
    results = {}
    candidates = (
        ("numpy", lambda: a @ b),
        ("torch", lambda: torch.mm(ta, tb)),
        ("tensorflow", lambda: tf.linalg.matmul(fa, fb).numpy()),
    )
    for name, matmul in candidates:
        # Warm up for a while, not once: a single call left the first library measured at about
        # half its speed here (thread pools spinning up, page faults, CPU clocks ramping), which
        # put runtimes above "100% of the peak".
        deadline = time.perf_counter() + WARMUP_S
        while time.perf_counter() < deadline:
            matmul()
        best = min(_timed(matmul) for _ in range(repeats))
        results[name] = 2 * n**3 / best / 1e9
    return {"n": n, "gflops": results, "peak_gflops": max(results.values()), "best": max(results, key=results.get)}


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
