"""The Open Inference Protocol suite: the same requests against the HTTP front alone (in-process,
real runtimes) and against each engine (Triton, Ray) started for real on 127.0.0.1.

Every answer is checked: golden rows must come back within the artifact's tolerance, each kind of
bad request must get its status code and a JSON {"error": ...}, and the server must keep serving.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from builder import compare
from builder.serve import app, engine, protocol, servables
from builder.verify.inputs import input_sets

# JAX, once another test module imported it, warns at every fork of this process; Ray forks only
# to exec its own processes at once (and the engine filters it around ray.init), but Ray's
# background threads fork too, so the filter covers the whole module. Nothing else is filtered.
pytestmark = pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")

# A float model, an int64 model with a bounded dynamic dim, and a two-input two-output model.
MODELS = ["mlp_torch", "chargpt_torch", "textcls_keras"]


def _body(doc) -> bytes:
    return json.dumps(doc).encode()


def _mlp(data, shape=(1, 10), datatype="FP32", name="input") -> dict:
    return {"name": name, "datatype": datatype, "shape": list(shape), "data": data}


ROW = [float(i) for i in range(10)]
# (what, method, path, body, status). Each must come back with a JSON {"error": ...} unless 200.
BAD_REQUESTS = [
    ("unknown model (infer)", "POST", "/v2/models/nope/infer", _body({"inputs": [_mlp(ROW)]}), 404),
    ("unknown model (metadata)", "GET", "/v2/models/nope", b"", 404),
    ("unknown version", "GET", "/v2/models/mlp_torch/versions/7", b"", 404),
    ("no such route", "GET", "/v1/models", b"", 404),
    ("malformed JSON", "POST", "/v2/models/mlp_torch/infer", b'{"inputs": [{"na', 400),
    ("not an object", "POST", "/v2/models/mlp_torch/infer", b"[1, 2]", 400),
    ("missing tensor", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": []}), 400),
    (
        "extra tensor",
        "POST",
        "/v2/models/mlp_torch/infer",
        _body({"inputs": [_mlp(ROW), _mlp([1.0], (1, 1), name="x")]}),
        400,
    ),
    ("tensor given twice", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": [_mlp(ROW), _mlp(ROW)]}), 400),
    (
        "wrong datatype",
        "POST",
        "/v2/models/mlp_torch/infer",
        _body({"inputs": [_mlp(list(range(10)), datatype="INT64")]}),
        400,
    ),
    ("wrong rank", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": [_mlp(ROW, (10,))]}), 400),
    ("wrong fixed dim", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": [_mlp(ROW[:9], (1, 9))]}), 400),
    ("data shorter than shape", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": [_mlp(ROW[:3])]}), 400),
    ("strings as data", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": [_mlp(["a"] * 10)]}), 400),
    ("ragged data", "POST", "/v2/models/mlp_torch/infer", _body({"inputs": [_mlp([[1.0], [1.0, 2.0]])]}), 400),
    (
        "unknown output",
        "POST",
        "/v2/models/mlp_torch/infer",
        _body({"inputs": [_mlp(ROW)], "outputs": [{"name": "z"}]}),
        400,
    ),
    (
        "token id out of range",
        "POST",
        "/v2/models/chargpt_torch/infer",
        _body({"inputs": [{"name": "tokens", "datatype": "INT64", "shape": [1, 2], "data": [1, 100000]}]}),
        400,
    ),
    (
        "sequence over the dim's max",
        "POST",
        "/v2/models/chargpt_torch/infer",
        _body({"inputs": [{"name": "tokens", "datatype": "INT64", "shape": [1, 49], "data": [1] * 49}]}),
        400,
    ),
    (
        "float data for an integer input",
        "POST",
        "/v2/models/chargpt_torch/infer",
        _body({"inputs": [{"name": "tokens", "datatype": "INT64", "shape": [1, 2], "data": [1.5, 2.0]}]}),
        400,
    ),
    (
        "a shared dim that differs between inputs",
        "POST",
        "/v2/models/textcls_keras/infer",
        _body(
            {
                "inputs": [
                    {"name": "tokens", "datatype": "INT32", "shape": [1, 3], "data": [1, 2, 3]},
                    {"name": "mask", "datatype": "FP32", "shape": [1, 4], "data": [1, 1, 1, 1]},
                ]
            }
        ),
        400,
    ),
    ("GET on infer", "GET", "/v2/models/mlp_torch/infer", b"", 405),
    (
        "binary_data_size without Inference-Header-Content-Length",
        "POST",
        "/v2/models/mlp_torch/infer",
        _body({"inputs": [{**_mlp(None), "parameters": {"binary_data_size": 40}}]}),
        400,
    ),
]


def _binary(doc: dict, blob: bytes) -> tuple[bytes, dict[str, str]]:
    head = _body(doc)
    return head + blob, {protocol.HEADER_LENGTH: str(len(head))}


_ROW_BYTES = np.arange(10, dtype="<f4").tobytes()
_BIN_INPUT = {"name": "input", "datatype": "FP32", "shape": [1, 10], "parameters": {"binary_data_size": 40}}
# (what, body, headers) of binary-extension requests to mlp_torch, each a 400 with a JSON error.
BAD_BINARY = [
    ("header not a byte count", _body({"inputs": [_mlp(ROW)]}), {protocol.HEADER_LENGTH: "ten"}),
    ("header past the body", _body({"inputs": [_mlp(ROW)]}), {protocol.HEADER_LENGTH: "100000"}),
    ("fewer bytes than the shape", *_binary({"inputs": [_BIN_INPUT]}, _ROW_BYTES[:36])),
    (
        "binary_data_size not the shape's",
        *_binary({"inputs": [{**_BIN_INPUT, "parameters": {"binary_data_size": 36}}]}, _ROW_BYTES[:36]),
    ),
    ("bytes left over", *_binary({"inputs": [_BIN_INPUT]}, _ROW_BYTES + b"\0\0\0\0")),
    ("both data and binary", *_binary({"inputs": [{**_BIN_INPUT, "data": ROW}]}, _ROW_BYTES)),
    (
        "parameters not an object",
        *_binary({"inputs": [{**_BIN_INPUT, "parameters": [40]}]}, _ROW_BYTES),
    ),
]


def _golden_cases(manifest_path, chosen: list[servables.Servable]):
    """(servable, input set) for the golden and batch-1 sets of each served model."""
    root = manifest_path.parent
    return [(s, st) for s in chosen for st in input_sets(root, s.model) if st.name in ("golden", "batch1", "special")]


def _check_answer(s: servables.Servable, inputs_set, status: int, body: bytes, json_length=None) -> None:
    assert status == 200, body[:300]
    got = protocol.decode_response(s.model, body, json_length)
    results = compare.compare_outputs(inputs_set.expected, got, s.artifact["tolerance"])
    bad = {n: r.as_dict() for n, r in results.items() if not r.passed}
    assert not bad, f"{s.name} {inputs_set.name}: {bad}"


@pytest.fixture(scope="module")
def chosen(manifest_path):
    return servables.choose(manifest_path, MODELS, ["onnx"])


def test_names_are_ids_for_one_format_and_id_format_for_several(manifest_path):
    one = servables.choose(manifest_path, ["mlp_torch"])
    assert [(s.name, s.artifact["format"]) for s in one] == [("mlp_torch", "onnx")]
    several = servables.choose(manifest_path, ["mlp_torch"], ["onnx", "torchscript-script"])
    assert [s.name for s in several] == ["mlp_torch-onnx", "mlp_torch-torchscript-script"]
    with pytest.raises(servables.ServeError, match="cannot serve format tflite"):
        servables.choose(manifest_path, ["mlp_torch"], ["tflite"])
    with pytest.raises(servables.ServeError, match="no model nope"):
        servables.choose(manifest_path, ["nope"])


# --- the front alone, in-process, over the real runtimes ------------------------------------------


@pytest.fixture(scope="module")
def front(chosen):
    predicts = {s.name: servables.load(s) for s in chosen}

    async def infer(s, request, body):
        return predicts[s.name](request.arrays)

    return app.Front(chosen, infer, max_body_bytes=1024 * 1024)


@pytest.mark.parametrize("what,method,path,body,status", BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS])
def test_front_refuses_bad_requests(front, what, method, path, body, status):
    got, answer = asyncio.run(front.handle(method, path, body))
    assert got == status, answer
    assert isinstance(json.loads(answer)["error"], str)


def test_front_answers_golden_sets_within_tolerance(front, chosen, manifest_path):
    for s, st in _golden_cases(manifest_path, chosen):
        status, answer = asyncio.run(
            front.handle("POST", f"/v2/models/{s.name}/infer", protocol.request_body(s.model, st.inputs))
        )
        _check_answer(s, st, status, answer)


@pytest.mark.parametrize("what,body,headers", BAD_BINARY, ids=[c[0] for c in BAD_BINARY])
def test_front_refuses_bad_binary_requests(front, what, body, headers):
    status, answer = asyncio.run(front.answer("POST", "/v2/models/mlp_torch/infer", body, headers))
    assert status == 400, answer
    assert isinstance(json.loads(answer.body)["error"], str) and answer.header_length is None


def test_front_binary_tensor_data_in_and_out(front, chosen, manifest_path):
    """Every golden set as binary inputs, answered in binary; and binary in, JSON out."""
    for s, st in _golden_cases(manifest_path, chosen):
        body, json_length = protocol.binary_request_body(s.model, st.inputs)
        status, answer = asyncio.run(
            front.answer("POST", f"/v2/models/{s.name}/infer", body, {protocol.HEADER_LENGTH: str(json_length)})
        )
        assert answer.header_length is not None
        _check_answer(s, st, status, answer.body, answer.header_length)
        body, json_length = protocol.binary_request_body(s.model, st.inputs, binary_outputs=False)
        status, answer = asyncio.run(
            front.answer("POST", f"/v2/models/{s.name}/infer", body, {protocol.HEADER_LENGTH: str(json_length)})
        )
        assert answer.header_length is None
        _check_answer(s, st, status, answer.body)


def test_front_binary_output_asked_for_one_output(front):
    tokens = np.array([[1, 2, 3]], dtype=np.int32)
    doc = {
        "inputs": [
            {"name": "tokens", "datatype": "INT32", "shape": [1, 3], "parameters": {"binary_data_size": 12}},
            {"name": "mask", "datatype": "FP32", "shape": [1, 3], "data": [1, 1, 0]},
        ],
        "outputs": [{"name": "logits"}, {"name": "embedding", "parameters": {"binary_data": True}}],
    }
    body, headers = _binary(doc, tokens.astype("<i4").tobytes())
    status, answer = asyncio.run(front.answer("POST", "/v2/models/textcls_keras/infer", body, headers))
    assert status == 200
    head = json.loads(answer.body[: answer.header_length])
    logits, embedding = head["outputs"]
    assert "data" in logits and "parameters" not in logits
    assert embedding["parameters"] == {"binary_data_size": 32 * 4} and "data" not in embedding
    assert len(answer.body) == answer.header_length + 32 * 4


def test_front_metadata_and_health(front):
    status, body = asyncio.run(front.handle("GET", "/v2/models/textcls_keras", b""))
    assert status == 200
    meta = json.loads(body)
    assert meta["inputs"] == [
        {"name": "tokens", "datatype": "INT32", "shape": [-1, -1]},
        {"name": "mask", "datatype": "FP32", "shape": [-1, -1]},
    ]
    assert [o["name"] for o in meta["outputs"]] == ["logits", "embedding"]
    assert asyncio.run(front.handle("GET", "/v2/health/ready", b""))[0] == 200
    assert asyncio.run(front.handle("GET", "/v2/models/mlp_torch/versions/1", b""))[0] == 200


def test_front_oversized_body_is_413(front):
    status, body = asyncio.run(front.handle("POST", "/v2/models/mlp_torch/infer", b" " * (1024 * 1024 + 1)))
    assert status == 413 and "limit" in json.loads(body)["error"]


def test_front_requested_outputs_only(front):
    body = _body(
        {
            "inputs": [
                {"name": "tokens", "datatype": "INT32", "shape": [1, 3], "data": [1, 2, 3]},
                {"name": "mask", "datatype": "FP32", "shape": [1, 3], "data": [1, 1, 0]},
            ],
            "outputs": [{"name": "embedding"}],
            "id": "r-1",
        }
    )
    status, answer = asyncio.run(front.handle("POST", "/v2/models/textcls_keras/infer", body))
    doc = json.loads(answer)
    assert status == 200 and doc["id"] == "r-1"
    assert [(o["name"], o["shape"]) for o in doc["outputs"]] == [("embedding", [1, 32])]


def test_values_outside_the_boundary_cast_are_a_bad_request(chosen):
    """An artifact that runs int64 inputs as int32 (its boundary cast) refuses a value that does
    not fit with 400 in the front, for every engine, before any runtime (or a batch) sees it."""
    good = next(s for s in chosen if s.name == "chargpt_torch")
    unbounded = [t | {"range": None} for t in good.model["inputs"]]  # so the range check does not answer first
    cast = dataclasses.replace(
        good,
        model=good.model | {"inputs": [{k: v for k, v in t.items() if v is not None} for t in unbounded]},
        artifact=good.artifact | {"boundary_dtypes": {"tokens": "int32"}},
    )
    ok = _body({"inputs": [{"name": "tokens", "datatype": "INT64", "shape": [1, 2], "data": [1, 2]}]})
    assert protocol.parse_infer(ok, cast).arrays["tokens"].tolist() == [[1, 2]]
    big = _body({"inputs": [{"name": "tokens", "datatype": "INT64", "shape": [1, 2], "data": [1, 2**31]}]})
    with pytest.raises(protocol.ProtocolError, match=r"value 2147483648 at index 1 does not fit int32") as e:
        protocol.parse_infer(big, cast)
    assert e.value.status == 400


# --- the same suite against each engine, over HTTP ------------------------------------------------


def _http(url: str, method: str, body: bytes = b"", timeout: float = 30.0, headers=None) -> tuple[int, bytes]:
    return _http_full(url, method, body, timeout, headers)[:2]


def _http_full(url: str, method: str, body: bytes = b"", timeout: float = 30.0, headers=None):
    """(status, body, the answer's Inference-Header-Content-Length or None)."""
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    request.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            length = r.headers.get(protocol.HEADER_LENGTH)
            return r.status, r.read(), int(length) if length is not None else None
    except urllib.error.HTTPError as e:
        return e.code, e.read(), None


# Ray's deployments autoscale (1..2 replicas): the suite checks that mode too, at no extra start.
ENGINE_OPTIONS = {"triton": {}, "ray": {"autoscale": (1, 2)}}


@pytest.fixture(scope="module", params=list(ENGINE_OPTIONS))
def served(request, manifest_path, chosen):
    import psutil

    options = engine.Options(port=0, max_body_bytes=1024 * 1024, timeout_s=30.0, **ENGINE_OPTIONS[request.param])
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # other tests' workers are not ours
    try:
        server = engine.start(request.param, manifest_path, chosen, options, lambda m: print(f"serve: {m}"))
    except engine.EngineError as e:
        pytest.fail(f"{request.param} did not start: {e}")
    yield request.param, server, before
    server.close()


def test_engine_health_and_metadata(served):
    name, server, _ = served
    assert _http(f"{server.url}/v2/health/ready", "GET")[0] == 200
    status, body = _http(f"{server.url}/v2/models/chargpt_torch", "GET")
    assert status == 200
    meta = json.loads(body)
    assert meta["inputs"] == [{"name": "tokens", "datatype": "INT64", "shape": [-1, -1]}]
    assert meta["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, -1, 158]}]
    assert {r.model for r in server.rows} == set(MODELS) and all(r.engine == name for r in server.rows)
    assert {r.replicas for r in server.rows} == {"1..2" if name == "ray" else "1"}
    assert len(server.replica_pids()) >= len(MODELS)


def test_engine_answers_golden_sets_within_tolerance(served, chosen, manifest_path):
    _, server, _ = served
    for s, st in _golden_cases(manifest_path, chosen):
        status, body = _http(
            f"{server.url}/v2/models/{s.name}/infer", "POST", protocol.request_body(s.model, st.inputs)
        )
        _check_answer(s, st, status, body)


def test_engine_binary_tensor_data_in_and_out(served, chosen, manifest_path):
    _, server, _ = served
    for s, st in _golden_cases(manifest_path, chosen):
        body, json_length = protocol.binary_request_body(s.model, st.inputs)
        status, answer, answer_length = _http_full(
            f"{server.url}/v2/models/{s.name}/infer", "POST", body, headers={protocol.HEADER_LENGTH: str(json_length)}
        )
        assert answer_length is not None, answer[:300]
        _check_answer(s, st, status, answer, answer_length)


def test_engine_refuses_every_bad_request_and_keeps_serving(served, chosen, manifest_path):
    _, server, _ = served
    wrong = []
    cases = [(what, method, path, body, status, None) for what, method, path, body, status in BAD_REQUESTS]
    cases += [(what, "POST", "/v2/models/mlp_torch/infer", body, 400, h) for what, body, h in BAD_BINARY]
    for what, method, path, body, status, headers in cases:
        got, answer = _http(f"{server.url}{path}", method, body, headers=headers)
        try:
            message = json.loads(answer)["error"]
        except (ValueError, KeyError):
            message = None
        if got != status or not isinstance(message, str):
            wrong.append(f"{what}: {got} {answer[:200]!r}")
    got, answer = _http(f"{server.url}/v2/models/mlp_torch/infer", "POST", b" " * (1024 * 1024 + 10))
    if got != 413:
        wrong.append(f"oversized body: {got} {answer[:200]!r}")
    assert not wrong, "\n".join(wrong)
    # still up, still right
    s = next(s for s in chosen if s.name == "mlp_torch")
    st = next(st for st in input_sets(manifest_path.parent, s.model) if st.name == "golden")
    status, body = _http(f"{server.url}/v2/models/mlp_torch/infer", "POST", protocol.request_body(s.model, st.inputs))
    _check_answer(s, st, status, body)


def test_loadtest_through_the_engine(served, manifest_path):
    from builder.serve import loadtest

    _, server, _ = served
    report = loadtest.run_model(
        server.url,
        manifest_path,
        "mlp_torch",
        concurrency=8,
        requests=300,
        check_every=3,
    )
    assert report.ok == 300 and not report.errors, report.as_dict()
    assert report.checked == 100 and report.mismatched == 0
    assert report.percentile(99) is not None and report.throughput > 0


def test_engine_close_leaves_no_process(served):
    """Last in the module, so it closes each engine's server after the suite (close() is idempotent:
    the fixture's own close is then a no-op). Every process the engine started must be gone."""
    import psutil

    _, server, before = served
    ours = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    assert ours, "the engine runs in processes of its own"
    server.close()
    deadline = time.monotonic() + 15
    while (
        left := [p for p in ours if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, [(p.pid, p.name()) for p in left]
