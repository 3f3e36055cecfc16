"""Silencing native libraries that write to the process's stderr directly (TensorFlow's and XLA's
C++ logs, written before absl logging is initialised, so TF_CPP_MIN_LOG_LEVEL misses them; TFLite's
delegate banner). Exceptions still propagate and are reported after the file descriptor is
restored; `--verbose` skips the silencing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

ENV_VERBOSE = "DEPLOYKIT_VERBOSE"


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    if os.environ.get(ENV_VERBOSE):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
