"""The Open Inference Protocol (KServe v2) over HTTP/JSON, with the model's tensor specs enforced.

Every engine answers through these functions, so a request gets the same status code and the same
one-line error from Triton and from Ray (docs/serving.md, "Errors"):

    400  malformed JSON, a missing or extra input, an unknown requested output, a wrong datatype,
         shape (rank, fixed dims, dim bounds, a named dim that differs between inputs), a data
         array whose length is not the shape's, a value outside the input's declared range
    404  an unknown model
    413  a body over the size limit (--max-body-mb)
    503  the engine could not answer in time or lost the replica (retried first; see engine.py)

Bodies are JSON; NaN and +-Infinity travel as the bare tokens `NaN`, `Infinity`, `-Infinity` (what
Python's json, Triton and most clients read), since the golden sets hold them on purpose.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from builder import tensors
from builder.serve.servables import Servable

# Manifest dtype <-> the protocol's datatype names.
DATATYPES = {"float32": "FP32", "float16": "FP16", "int32": "INT32", "int64": "INT64", "uint8": "UINT8", "bool": "BOOL"}
VERSION = "1"  # every served model has one version
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


class ProtocolError(Exception):
    """A request the protocol refuses: HTTP `status` and a one-line `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _shape(tensor: dict) -> list[int]:
    return [d if isinstance(d, int) else -1 for d in tensor["shape"]]


def metadata(s: Servable) -> dict:
    """`GET /v2/models/{name}`: inputs and outputs with names, datatypes and shapes (-1: dynamic)."""
    return {
        "name": s.name,
        "versions": [VERSION],
        "platform": s.artifact["format"],
        "inputs": [
            {"name": t["name"], "datatype": DATATYPES[t["dtype"]], "shape": _shape(t)} for t in s.model["inputs"]
        ],
        "outputs": [
            {"name": t["name"], "datatype": DATATYPES[t["dtype"]], "shape": _shape(t)} for t in s.model["outputs"]
        ],
    }


@dataclasses.dataclass
class InferRequest:
    id: str | None
    arrays: dict[str, np.ndarray]
    outputs: list[str]  # in the order to answer


def parse_infer(body: bytes, s: Servable) -> InferRequest:
    """A `POST /v2/models/{name}/infer` body as arrays; raises ProtocolError(400) naming the problem."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(400, f"malformed JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise ProtocolError(400, 'the body must be a JSON object with an "inputs" list')
    specs = {t["name"]: t for t in s.model["inputs"]}
    arrays: dict[str, np.ndarray] = {}
    for item in doc["inputs"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ProtocolError(400, 'each input must be an object with a "name"')
        name = item["name"]
        if name not in specs:
            raise ProtocolError(400, f"unexpected input {name!r}: model {s.name!r} takes {', '.join(specs)}")
        if name in arrays:
            raise ProtocolError(400, f"input {name!r} is given twice")
        arrays[name] = _tensor(item, specs[name])
    missing = [n for n in specs if n not in arrays]
    if missing:
        raise ProtocolError(400, f"missing input {', '.join(map(repr, missing))} for model {s.name!r}")
    check_dims(s, arrays)
    for name, target in (s.artifact.get("boundary_dtypes") or {}).items():  # the runtime's casts (int64 -> int32)
        problem = tensors.boundary_problem(name, arrays[name], target)
        if problem:
            raise ProtocolError(400, problem)
    outputs = [t["name"] for t in s.model["outputs"]]
    asked = doc.get("outputs")
    if asked is not None:
        if not isinstance(asked, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked
        ):
            raise ProtocolError(400, '"outputs" must be a list of objects with a "name"')
        unknown = [o["name"] for o in asked if o["name"] not in outputs]
        if unknown:
            raise ProtocolError(
                400, f"unknown output {', '.join(map(repr, unknown))}: model {s.name!r} has {', '.join(outputs)}"
            )
        outputs = [o["name"] for o in asked]
    rid = doc.get("id")
    return InferRequest(rid if isinstance(rid, str) else None, arrays, outputs)


def _tensor(item: dict, spec: dict) -> np.ndarray:
    name, dtype = spec["name"], spec["dtype"]
    want = DATATYPES[dtype]
    if item.get("datatype") != want:
        raise ProtocolError(400, f"input {name!r} has datatype {item.get('datatype')!r}, expected {want}")
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ProtocolError(400, f"input {name!r}: shape must be a list of non-negative integers")
    if len(shape) != len(spec["shape"]):
        raise ProtocolError(400, f"input {name!r} has shape {shape}, expected rank {len(spec['shape'])} {_shape(spec)}")
    for i, (got, dim) in enumerate(zip(shape, spec["shape"], strict=True)):
        if isinstance(dim, int) and got != dim:
            raise ProtocolError(
                400, f"input {name!r} has shape {shape}, expected {_shape(spec)} (dim {i} is fixed at {dim})"
            )
    if "data" not in item:
        raise ProtocolError(400, f'input {name!r} has no "data" (binary tensor data is not supported; send JSON)')
    data = item["data"]
    try:
        flat = np.asarray(data)
    except ValueError:
        raise ProtocolError(400, f"input {name!r}: data is not a regular (non-ragged) array") from None
    if flat.dtype == object or (flat.size and flat.dtype.kind not in _KINDS[dtype]):
        raise ProtocolError(400, f"input {name!r}: data holds {_kind_name(flat)}, expected {want} values")
    count = math.prod(shape)
    if flat.size != count:
        raise ProtocolError(400, f"input {name!r}: data has {flat.size} values, shape {shape} needs {count}")
    with np.errstate(over="ignore", invalid="ignore"):
        array = flat.astype(dtype)
    if dtype not in ("float32", "float16") and flat.size and not np.array_equal(array, flat):
        raise ProtocolError(400, f"input {name!r}: a value does not fit {want}")
    array = array.reshape(shape)
    rng = spec.get("range")
    if rng is not None and array.size and dtype != "bool":
        low, high = np.min(array), np.max(array)
        if low < rng[0] or high > rng[1]:
            raise ProtocolError(400, f"input {name!r}: values must lie in [{rng[0]}, {rng[1]}], got {low}..{high}")
    return array


# Which numpy kinds JSON data may parse to for each dtype (ints are fine for floats; bools only for BOOL).
_KINDS = {"float32": "fiu", "float16": "fiu", "int32": "iu", "int64": "iu", "uint8": "iu", "bool": "b"}


def _kind_name(a: np.ndarray) -> str:
    return {"f": "floats", "i": "integers", "u": "integers", "b": "booleans", "U": "strings"}.get(
        a.dtype.kind, "mixed values"
    )


def check_dims(s: Servable, arrays: dict[str, np.ndarray]) -> None:
    """Named dims: one size across every input, inside the model's `dims` bounds."""
    sizes: dict[str, tuple[int, str]] = {}
    bounds = s.model.get("dims") or {}
    for t in s.model["inputs"]:
        for dim, got in zip(t["shape"], arrays[t["name"]].shape, strict=True):
            if not isinstance(dim, str):
                continue
            if dim in sizes and sizes[dim][0] != got:
                raise ProtocolError(
                    400, f"dim {dim!r} is {sizes[dim][0]} in input {sizes[dim][1]!r} but {got} in {t['name']!r}"
                )
            sizes[dim] = (got, t["name"])
            b = bounds.get(dim, {})
            if got < b.get("min", 0) or ("max" in b and got > b["max"]):
                hi = b.get("max", "any")
                raise ProtocolError(
                    400, f"input {t['name']!r}: dim {dim!r} is {got}, the model takes {b.get('min', 0)}..{hi}"
                )


def infer_response(s: Servable, request: InferRequest, outputs: dict[str, np.ndarray]) -> dict:
    """The response body for `outputs` (only the requested ones, in the requested order)."""
    specs = {t["name"]: t for t in s.model["outputs"]}
    body = {
        "model_name": s.name,
        "model_version": VERSION,
        "outputs": [
            {
                "name": n,
                "datatype": DATATYPES[specs[n]["dtype"]],
                "shape": list(outputs[n].shape),
                "data": outputs[n].reshape(-1).tolist(),
            }
            for n in request.outputs
        ],
    }
    return body | ({"id": request.id} if request.id is not None else {})


def dumps(doc: dict) -> bytes:
    """JSON with NaN/Infinity as bare tokens (see the module's docstring)."""
    return json.dumps(doc, separators=(",", ":")).encode()


def error_body(message: str) -> bytes:
    return dumps({"error": message})


def request_body(model: dict, arrays: dict[str, np.ndarray], outputs: list[str] | None = None) -> bytes:
    """A client's infer body for `arrays` (loadtest and verify's serve runtime use it)."""
    specs = {t["name"]: t for t in model["inputs"]}
    doc: dict = {
        "inputs": [
            {
                "name": n,
                "datatype": DATATYPES[specs[n]["dtype"]],
                "shape": list(a.shape),
                "data": a.reshape(-1).tolist(),
            }
            for n, a in arrays.items()
        ]
    }
    if outputs is not None:
        doc["outputs"] = [{"name": n} for n in outputs]
    return dumps(doc)


def response_arrays(model: dict, doc: dict) -> dict[str, np.ndarray]:
    """A response body's outputs as arrays of the spec's dtypes (ValueError if malformed)."""
    specs = {t["name"]: t for t in model["outputs"]}
    out = {}
    for item in doc["outputs"]:
        spec = specs[item["name"]]
        out[item["name"]] = np.asarray(item["data"], dtype=spec["dtype"]).reshape(item["shape"])
    return out
