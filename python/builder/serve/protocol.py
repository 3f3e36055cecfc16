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

The binary tensor data extension (as Triton speaks it): a request whose `Inference-Header-Content-Length`
header is N holds N bytes of JSON, then the raw little-endian bytes of each input whose
`parameters.binary_data_size` says how many, in the order the inputs are listed (BOOL: one byte
per value). An output is answered the same way when the request asks for it
(`parameters.binary_data: true` on the output, or `parameters.binary_data_output: true` on the
request); the response then carries the header too.
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


HEADER_LENGTH = "inference-header-content-length"  # the binary extension's HTTP header (lower case)


@dataclasses.dataclass
class InferRequest:
    id: str | None
    arrays: dict[str, np.ndarray]
    outputs: list[str]  # in the order to answer
    binary_outputs: frozenset[str] = frozenset()  # answered as raw bytes after the JSON
    json_length: int | None = None  # the binary extension's Inference-Header-Content-Length, if used


@dataclasses.dataclass
class Encoded:
    """A response body already in the protocol's form, and its JSON part's length when binary."""

    body: bytes
    header_length: int | None = None


def header_length(value: str | None) -> int | None:
    """The `Inference-Header-Content-Length` header's value; ProtocolError(400) if malformed."""
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ProtocolError(400, f"Inference-Header-Content-Length must be a byte count, got {value!r}")
    return int(value)


def parse_infer(body: bytes, s: Servable, json_length: int | None = None) -> InferRequest:
    """A `POST /v2/models/{name}/infer` body as arrays; raises ProtocolError(400) naming the problem.
    `json_length`: the Inference-Header-Content-Length header (binary tensor data follows the JSON)."""
    if json_length is not None and json_length > len(body):
        raise ProtocolError(400, f"Inference-Header-Content-Length is {json_length}, the body has {len(body)} bytes")
    head, binary = (body, b"") if json_length is None else (body[:json_length], memoryview(body)[json_length:])
    try:
        doc = json.loads(head)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(400, f"malformed JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("inputs"), list):
        raise ProtocolError(400, 'the body must be a JSON object with an "inputs" list')
    specs = {t["name"]: t for t in s.model["inputs"]}
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for item in doc["inputs"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ProtocolError(400, 'each input must be an object with a "name"')
        name = item["name"]
        if name not in specs:
            raise ProtocolError(400, f"unexpected input {name!r}: model {s.name!r} takes {', '.join(specs)}")
        if name in arrays:
            raise ProtocolError(400, f"input {name!r} is given twice")
        size = _parameters(item, f"input {name!r}").get("binary_data_size")
        chunk = None
        if size is not None:
            if json_length is None:
                raise ProtocolError(
                    400, f"input {name!r} has binary_data_size but the request has no Inference-Header-Content-Length"
                )
            if not isinstance(size, int) or isinstance(size, bool) or size < 0 or offset + size > len(binary):
                raise ProtocolError(
                    400, f"input {name!r}: binary_data_size {size!r} does not fit the {len(binary) - offset} bytes left"
                )
            chunk, offset = binary[offset : offset + size], offset + size
        arrays[name] = _tensor(item, specs[name], chunk)
    if offset != len(binary):
        raise ProtocolError(400, f"{len(binary) - offset} bytes of binary data follow the inputs that use them")
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
    # An output's own `binary_data` wins over the request's `binary_data_output`.
    default = _parameters(doc, "the request").get("binary_data_output") is True
    own = {o["name"]: _parameters(o, f"output {o['name']!r}").get("binary_data") for o in asked or []}
    binary_outputs = frozenset(n for n in outputs if (default if own.get(n) is None else own[n] is True))
    rid = doc.get("id")
    return InferRequest(rid if isinstance(rid, str) else None, arrays, outputs, binary_outputs, json_length)


def _parameters(item: dict, what: str) -> dict:
    params = item.get("parameters", {})
    if not isinstance(params, dict):
        raise ProtocolError(400, f'{what}: "parameters" must be an object')
    return params


def _tensor(item: dict, spec: dict, chunk: memoryview | None = None) -> np.ndarray:
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
    count = math.prod(shape)
    if chunk is not None:
        if "data" in item:
            raise ProtocolError(400, f'input {name!r} has both "data" and binary_data_size')
        array = _from_bytes(name, chunk, dtype, count).reshape(shape)
    elif "data" not in item:
        raise ProtocolError(
            400, f'input {name!r} has no "data" (or parameters.binary_data_size with binary tensor data)'
        )
    else:
        array = _from_json(name, item["data"], dtype, count).reshape(shape)
    rng = spec.get("range")
    if rng is not None and array.size and dtype != "bool":
        low, high = np.min(array), np.max(array)
        if low < rng[0] or high > rng[1]:
            raise ProtocolError(400, f"input {name!r}: values must lie in [{rng[0]}, {rng[1]}], got {low}..{high}")
    return array


def _from_json(name: str, data, dtype: str, count: int) -> np.ndarray:
    want = DATATYPES[dtype]
    try:
        flat = np.asarray(data)
    except ValueError:
        raise ProtocolError(400, f"input {name!r}: data is not a regular (non-ragged) array") from None
    if flat.dtype == object or (flat.size and flat.dtype.kind not in _KINDS[dtype]):
        raise ProtocolError(400, f"input {name!r}: data holds {_kind_name(flat)}, expected {want} values")
    if flat.size != count:
        raise ProtocolError(400, f"input {name!r}: data has {flat.size} values, its shape needs {count}")
    with np.errstate(over="ignore", invalid="ignore"):
        array = flat.astype(dtype)
    if dtype not in ("float32", "float16") and flat.size and not np.array_equal(array, flat):
        raise ProtocolError(400, f"input {name!r}: a value does not fit {want}")
    return array


def _from_bytes(name: str, chunk: memoryview, dtype: str, count: int) -> np.ndarray:
    wire = _WIRE[dtype]
    if len(chunk) != count * wire.itemsize:
        raise ProtocolError(
            400, f"input {name!r}: {len(chunk)} bytes of binary data, its shape needs {count * wire.itemsize}"
        )
    raw = np.frombuffer(chunk, dtype=wire)
    if dtype == "bool":
        if raw.size and raw.max() > 1:
            raise ProtocolError(400, f"input {name!r}: BOOL bytes must be 0 or 1")
        return raw.astype(np.bool_)
    return raw.astype(dtype)  # a native-order copy the runtime may keep


# The binary extension's bytes for each dtype: little-endian, BOOL one byte per value.
_WIRE = {d: np.dtype(d).newbyteorder("<") for d in ("float32", "float16", "int32", "int64")} | {
    "uint8": np.dtype(np.uint8),
    "bool": np.dtype(np.uint8),
}


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
    """The response's JSON (only the requested outputs, in the requested order); an output asked
    for in binary has `parameters.binary_data_size` instead of `data` (encode_response adds its bytes)."""
    specs = {t["name"]: t for t in s.model["outputs"]}

    def item(n: str) -> dict:
        dtype = specs[n]["dtype"]
        head = {"name": n, "datatype": DATATYPES[dtype], "shape": list(outputs[n].shape)}
        if n in request.binary_outputs:
            return head | {"parameters": {"binary_data_size": outputs[n].size * _WIRE[dtype].itemsize}}
        return head | {"data": outputs[n].reshape(-1).tolist()}

    body = {"model_name": s.name, "model_version": VERSION, "outputs": [item(n) for n in request.outputs]}
    return body | ({"id": request.id} if request.id is not None else {})


def encode_response(s: Servable, request: InferRequest, outputs: dict[str, np.ndarray]) -> Encoded:
    """The response body for `outputs`: JSON, then the raw little-endian bytes of the outputs the
    request asked for in binary, in their order (`header_length` is then the JSON's length)."""
    head = dumps(infer_response(s, request, outputs))
    if not request.binary_outputs:
        return Encoded(head)
    specs = {t["name"]: t for t in s.model["outputs"]}
    blobs = [
        np.ascontiguousarray(outputs[n], dtype=_WIRE[specs[n]["dtype"]]).tobytes()
        for n in request.outputs
        if n in request.binary_outputs
    ]
    return Encoded(head + b"".join(blobs), len(head))


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


def binary_request_body(model: dict, arrays: dict[str, np.ndarray], binary_outputs: bool = True) -> tuple[bytes, int]:
    """A client's infer body with every input as binary tensor data, and its JSON part's length
    (the Inference-Header-Content-Length header); `binary_outputs` asks for binary answers."""
    specs = {t["name"]: t for t in model["inputs"]}
    blobs = [np.ascontiguousarray(a, dtype=_WIRE[specs[n]["dtype"]]).tobytes() for n, a in arrays.items()]
    doc: dict = {
        "inputs": [
            {
                "name": n,
                "datatype": DATATYPES[specs[n]["dtype"]],
                "shape": list(a.shape),
                "parameters": {"binary_data_size": len(blob)},
            }
            for (n, a), blob in zip(arrays.items(), blobs, strict=True)
        ]
    }
    if binary_outputs:
        doc["parameters"] = {"binary_data_output": True}
    head = dumps(doc)
    return head + b"".join(blobs), len(head)


def response_arrays(model: dict, doc: dict, binary: bytes = b"") -> dict[str, np.ndarray]:
    """A response's outputs as arrays of the spec's dtypes (ValueError if malformed); `binary`: the
    bytes after the JSON when the response used the binary extension."""
    specs = {t["name"]: t for t in model["outputs"]}
    out, offset = {}, 0
    for item in doc["outputs"]:
        dtype = specs[item["name"]]["dtype"]
        size = (item.get("parameters") or {}).get("binary_data_size")
        if size is None:
            out[item["name"]] = np.asarray(item["data"], dtype=dtype).reshape(item["shape"])
            continue
        if offset + size > len(binary):
            raise ValueError(f"output {item['name']!r}: {size} bytes of binary data, {len(binary) - offset} left")
        raw = np.frombuffer(binary[offset : offset + size], dtype=_WIRE[dtype])
        out[item["name"]] = raw.astype(dtype).reshape(item["shape"])
        offset += size
    return out


def decode_response(model: dict, body: bytes, json_length: int | None = None) -> dict[str, np.ndarray]:
    """A response body's outputs; `json_length`: its Inference-Header-Content-Length header, if any."""
    if json_length is None:
        return response_arrays(model, json.loads(body))
    return response_arrays(model, json.loads(body[:json_length]), body[json_length:])
