"""The model Triton's Python backend runs for each served artifact (`serve --engine triton`).

Triton starts one Python stub process per model instance (a replica); the stub imports the
repository's `model.py`, a one-line shim that re-exports TritonPythonModel from here, so the
artifact is loaded and called inside the stub itself, with the runtime `verify` uses
(builder.serve.servables.load). Nothing sits between Triton and the runtime but Triton's own
shared-memory hop to its stub. The stub runs .venv-triton's Python (numpy<2); `triton_python_backend_utils`
is the stub's own module.

Each model folder of the repository (written by builder.serve.triton_child) holds `servable.json`:
the served name, the manifest's model entry, the artifact entry, its path, and whether requests
are batched together (`--max-batch`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from builder.serve import servables as servables_mod

# A predict ValueError with this in its message is the client's fault (python_loaders' boundary
# casts); the parent's front maps Triton's error carrying it back to HTTP 400.
BAD_REQUEST = "deploykit-bad-request: "
SERVABLE_FILE = "servable.json"


class Batcher:
    """Runs the requests Triton hands over in one `execute`: one predict per request, or (batching)
    one predict per group of consecutive requests stacked along the batch dim, split back per
    request. A group holds up to `max_rows` rows (0: no cap); a request of more rows is a group of
    its own. A stacked call that fails is retried request by request, so one bad request does not
    fail the others."""

    def __init__(self, predict, names_in: list[str], names_out: list[str], batching: bool, max_rows: int = 0):
        self.predict, self.names_in, self.names_out, self.batching = predict, names_in, names_out, batching
        self.max_rows = max_rows

    def run(self, datas: list[dict]) -> list[dict | Exception]:
        if not self.batching or len(datas) < 2:
            return [self._one(d) for d in datas]
        answers: list[dict | Exception] = []
        for group in self.groups(datas):
            answers += self._group(group)
        return answers

    def groups(self, datas: list[dict]) -> list[list[dict]]:
        """Consecutive requests with the same non-batch dims, up to max_rows rows together."""
        groups: list[list[dict]] = []
        rows = 0
        for d in datas:
            n = d[self.names_in[0]].shape[0]
            fits = groups and self._stackable([groups[-1][0], d]) and (not self.max_rows or rows + n <= self.max_rows)
            if fits:
                groups[-1].append(d)
                rows += n
            else:
                groups.append([d])
                rows = n
        return groups

    def _group(self, datas: list[dict]) -> list[dict | Exception]:
        if len(datas) > 1:
            try:
                return self._stacked(datas)
            except Exception:  # noqa: BLE001 - retried one by one below, where each error is reported
                pass
        return [self._one(d) for d in datas]

    def _stackable(self, datas: list[dict]) -> bool:
        first = datas[0]
        return all(
            d[n].shape[1:] == first[n].shape[1:] and d[n].dtype == first[n].dtype for d in datas for n in self.names_in
        )

    def _stacked(self, datas: list[dict]) -> list[dict]:
        rows = [d[self.names_in[0]].shape[0] for d in datas]
        out = self.predict({n: np.concatenate([d[n] for d in datas]) for n in self.names_in})
        bounds = np.cumsum(rows)[:-1]
        parts = {n: np.split(np.asarray(out[n]), bounds) for n in self.names_out}
        return [{n: np.ascontiguousarray(parts[n][i]) for n in self.names_out} for i in range(len(datas))]

    def _one(self, data: dict) -> dict | Exception:
        try:
            out = self.predict(data)
        except ValueError as e:
            if "does not fit" in str(e):
                return ValueError(BAD_REQUEST + str(e).splitlines()[0])
            return e
        except Exception as e:  # noqa: BLE001 - answered as this request's error, the model keeps serving
            return e
        return {n: np.ascontiguousarray(out[n]) for n in self.names_out}


def batcher_for(folder: Path) -> Batcher:
    """Loads the servable described in `folder/servable.json`."""
    spec = json.loads((folder / SERVABLE_FILE).read_text())
    servable = servables_mod.Servable(spec["name"], spec["model"], spec["artifact"], Path(spec["path"]))
    names_in = [t["name"] for t in servable.model["inputs"]]
    names_out = [t["name"] for t in servable.model["outputs"]]
    from builder.runtimes import python_loaders

    python_loaders.single_threaded()  # this stub is one replica: Triton's instances give the parallelism
    return Batcher(servables_mod.load(servable), names_in, names_out, spec["batching"], spec.get("max_rows", 0))


class TritonPythonModel:
    """Triton's Python-backend interface: initialize once per instance, execute per scheduled batch."""

    def initialize(self, args: dict) -> None:
        self.batcher = batcher_for(Path(args["model_repository"]))

    def execute(self, requests: list) -> list:
        import triton_python_backend_utils as pb  # the stub's own module

        names_in, names_out = self.batcher.names_in, self.batcher.names_out
        datas = [{n: pb.get_input_tensor_by_name(r, n).as_numpy() for n in names_in} for r in requests]
        answers = []
        for result in self.batcher.run(datas):
            if isinstance(result, Exception):
                message = (
                    f"{type(result).__name__}: {str(result).strip().splitlines()[0] if str(result).strip() else ''}"
                )
                answers.append(pb.InferenceResponse(output_tensors=[], error=pb.TritonError(message)))
            else:
                answers.append(pb.InferenceResponse(output_tensors=[pb.Tensor(n, result[n]) for n in names_out]))
        return answers
