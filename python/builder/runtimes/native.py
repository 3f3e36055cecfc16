"""Loads the extension `builder._native` after the installed torch.

The extension links LibTorch (`libtorch_cpu.so`, `libc10.so`) but ships no copy of it: it uses the
torch package installed beside it. Importing torch first loads those libraries (and, in the CUDA
wheel, the `nvidia-*` libraries they need) from wherever that torch lives; the dynamic loader then
resolves the extension's dependencies to the copies already loaded, by soname, so one process holds
one LibTorch whatever the extension's RUNPATH (`$ORIGIN/../torch/lib`, the usual site-packages
layout) says. Without torch the extension cannot load: install the `[torch]` extra.
"""

from __future__ import annotations

import functools
from types import ModuleType

INSTALL_HINT = "pip install 'deploykit-builder[torch]'"


class NativeUnavailable(ImportError):
    """builder._native cannot be loaded here (one line, with what to install)."""


@functools.cache
def load() -> ModuleType:
    """Returns `builder._native`; raises NativeUnavailable with one clear line when it cannot load."""
    try:
        import torch  # noqa: F401  (loads LibTorch before the extension that links it)
    except ImportError as e:
        raise NativeUnavailable(f"builder._native needs PyTorch, which is not installed ({INSTALL_HINT})") from e
    try:
        from builder import _native
    except ImportError as e:  # built for another torch, or a broken install
        raise NativeUnavailable(f"builder._native cannot be loaded: {e}") from e
    return _native


def unavailable() -> str | None:
    """Why the extension cannot be loaded here, or None."""
    try:
        load()
    except NativeUnavailable as e:
        return str(e)
    return None
