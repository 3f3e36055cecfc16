"""verify's `serve-triton` runtime: the artifacts behind a real Triton Inference Server
(`python -m builder serve --engine triton`), called over the Open Inference Protocol like any
client would, each golden set as one POST.

ONE server serves every servable format of every model of the manifest (or of the models named
by `prepare`), started on the first cell and closed by `close()` or, at the latest, when the
process exits.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from builder.runtimes.python_loaders import Predict
from builder.serve.servables import SERVE_FORMATS

REQUEST_TIMEOUT_S = 120.0

_lock = threading.Lock()
_state: dict = {"key": None, "server": None, "wanted": None}


@dataclasses.dataclass(frozen=True)
class ServeRunner:
    name: str = "serve-triton"
    formats: tuple[str, ...] = SERVE_FORMATS
    engine: str = "triton"

    def unavailable(self) -> str | None:
        from builder.serve import triton
        from builder.serve.engine import EngineError

        try:
            python = triton.triton_python()
        except EngineError as e:
            return str(e)
        return None if python.exists() else f"{python} does not exist ({triton.ENV_PYTHON})"

    def version(self) -> str | None:
        from builder.serve import triton

        try:
            out = subprocess.run(
                [
                    str(triton.triton_python()),
                    "-c",
                    "import importlib.metadata as m; print(m.version('nvidia-pytriton'))",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except Exception:  # noqa: BLE001 - no version is not an error
            return None
        return f"Triton 2.51 (nvidia-pytriton {out.stdout.strip()})" if out.returncode == 0 else None

    def prepare(self, manifest: Path, models: list[str] | None) -> None:
        """Serve only these models' artifacts (default: every model of the manifest)."""
        with _lock:
            _state["wanted"] = (str(Path(manifest).resolve()), tuple(models) if models else None)

    def load(self, manifest: Path, model: dict, artifact: dict) -> Predict:
        from builder.serve import protocol
        from builder.serve.servables import served_name

        server = self._server(Path(manifest), model["id"])
        url = f"{server.url}/v2/models/{served_name(model['id'], artifact['format'], True)}/infer"

        def predict(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            body = protocol.request_body(model, arrays)
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as r:
                    doc = json.loads(r.read())
            except urllib.error.HTTPError as e:
                raise RuntimeError(f"HTTP {e.code}: {e.read().decode(errors='replace')[:300]}") from None
            return protocol.response_arrays(model, doc)

        return predict

    def _server(self, manifest: Path, model_id: str):
        from builder.serve import engine, servables

        with _lock:
            path = str(manifest.resolve())
            wanted = _state["wanted"]
            models = wanted[1] if wanted and wanted[0] == path else None
            if models is not None and model_id not in models:
                models = None  # asked for a model outside `prepare`'s list: serve them all
            key = (path, models, self.formats)
            if _state["key"] == key and _state["server"] is not None:
                return _state["server"]
            _close_locked()
            chosen = servables.choose(manifest, list(models) if models else None, list(self.formats))
            # every format under its ID-FORMAT name, even where a model has a single servable one
            chosen = [
                dataclasses.replace(s, name=servables.served_name(s.model["id"], s.artifact["format"], True))
                for s in chosen
            ]
            server = engine.start(self.engine, manifest, chosen, engine.Options(port=0), lambda message: None)
            _state.update(key=key, server=server)
            atexit.register(close)
            return server

    def close(self) -> None:
        close()


def close() -> None:
    """Stops the server a ServeRunner started, if any (idempotent)."""
    with _lock:
        _close_locked()


def _close_locked() -> None:
    server, _state["server"], _state["key"] = _state["server"], None, None
    if server is not None:
        server.close()
