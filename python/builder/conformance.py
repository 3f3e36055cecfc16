"""`python -m builder conformance`: writes the language-neutral conformance fixtures.

Like Arrow's integration golden files: one command writes `testdata/conformance/` (valid and
invalid `.npy` files, valid and invalid manifests, input checks against tensor specs) with the
verdict every client must reach, in `verdicts.json`. Each client's own test suite reads it.
The files are committed; never edit them by hand (docs/contract.md, "Conformance fixtures").
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import struct
from pathlib import Path

import numpy as np

DTYPES = {"float32": "<f4", "float16": "<f2", "int32": "<i4", "int64": "<i8", "uint8": "|u1", "bool": "|b1"}
SHAPES = {0: (), 1: (3,), 2: (2, 3), 3: (2, 0, 3), 4: (1, 2, 1, 3), 5: (2, 1, 2, 1, 2)}
FAKE_SHA = "0" * 64


def _header(
    descr: str, fortran: bool, shape: tuple, version: tuple[int, int] = (1, 0), raw: str | None = None
) -> bytes:
    """An npy header, padded so the data starts at a multiple of 64 bytes (as NumPy writes it)."""
    text = (
        raw if raw is not None else f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {tuple(shape)!r}, }}"
    )
    len_bytes = 2 if version == (1, 0) else 4
    prefix = 6 + 2 + len_bytes
    pad = (-(prefix + len(text) + 1)) % 64
    body = (text + " " * pad + "\n").encode("latin1" if version != (3, 0) else "utf-8")
    size = struct.pack("<H", len(body)) if len_bytes == 2 else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes(version) + size + body


def _values(dtype: str, shape: tuple, rng: np.random.Generator) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    if dtype in ("float32", "float16"):
        v = rng.standard_normal(n).astype(dtype)
        specials = [np.nan, np.inf, -np.inf, -0.0, 1e-40 if dtype == "float32" else 1e-7]
        v[: min(n, len(specials))] = specials[: min(n, len(specials))]
    elif dtype == "bool":
        v = rng.integers(0, 2, n).astype(bool)
    elif dtype == "uint8":
        v = rng.integers(0, 256, n).astype(np.uint8)
    else:
        info = np.iinfo(dtype)
        v = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
        v[: min(n, 2)] = [info.min, info.max][: min(n, 2)]
    return v.reshape(shape)


def _data_sha(a: np.ndarray) -> str:
    little = a.astype(a.dtype.newbyteorder("<")) if a.dtype.byteorder == ">" else a
    return hashlib.sha256(np.ascontiguousarray(little).tobytes()).hexdigest()


def _npy_fixtures(root: Path) -> list[dict]:
    rng = np.random.default_rng(0xC0F0)
    out: list[dict] = []
    valid = root / "npy" / "valid"
    invalid = root / "npy" / "invalid"
    valid.mkdir(parents=True)
    invalid.mkdir(parents=True)

    def ok(name: str, a: np.ndarray, data: bytes | None = None, **header) -> None:
        path = valid / name
        if data is None and not header:
            np.save(path, a, allow_pickle=False)
        else:
            descr = DTYPES[str(a.dtype) if a.dtype != bool else "bool"]
            path.write_bytes(_header(descr, False, a.shape, **header) + (a.tobytes() if data is None else data))
        out.append(
            {
                "file": path.relative_to(root).as_posix(),
                "valid": True,
                "dtype": "bool" if a.dtype == bool else str(a.dtype),
                "shape": list(a.shape),
                "data_sha256": _data_sha(a),
            }
        )

    for dtype in DTYPES:
        for rank, shape in SHAPES.items():
            ok(f"{dtype}_r{rank}.npy", _values(dtype, shape, rng))
    ok("float32_r2_v2.npy", _values("float32", (2, 3), rng), version=(2, 0))
    ok("int64_r2_v3.npy", _values("int64", (2, 2), rng), version=(3, 0))
    ok("float32_r8.npy", _values("float32", (1, 2, 1, 2, 1, 2, 1, 2), rng))
    ok("float32_empty_batch.npy", np.zeros((0, 10), np.float32))
    a = _values("uint8", (2, 2), rng)
    path = valid / "uint8_little_descr.npy"
    path.write_bytes(_header("<u1", False, a.shape) + a.tobytes())
    out.append(
        {
            "file": path.relative_to(root).as_posix(),
            "valid": True,
            "dtype": "uint8",
            "shape": [2, 2],
            "data_sha256": _data_sha(a),
        }
    )

    def bad(name: str, content: bytes, why: str) -> None:
        path = invalid / name
        path.write_bytes(content)
        out.append({"file": path.relative_to(root).as_posix(), "valid": False, "why": why})

    f4 = np.arange(6, dtype="<f4").reshape(2, 3)
    for descr, why in (
        ("<f8", "float64 is not a contract dtype"),
        ("<u2", "uint16 is not a contract dtype"),
        ("<c8", "complex64 is not a contract dtype"),
        ("|i1", "int8 is not a contract dtype"),
        ("<U3", "unicode strings are not tensors"),
    ):
        itemsize = np.dtype(descr).itemsize
        bad(f"dtype_{np.dtype(descr).name}.npy", _header(descr, False, (2, 3)) + b"\0" * (6 * itemsize), why)
    bad("object.npy", _header("|O", False, (2,)) + b"\0" * 16, "object arrays are not tensors")
    bad("big_endian_f4.npy", _header(">f4", False, (2, 3)) + f4.astype(">f4").tobytes(), "big-endian >f4")
    bad("big_endian_i8.npy", _header(">i8", False, (3,)) + np.arange(3, dtype=">i8").tobytes(), "big-endian >i8")
    bad("fortran.npy", _header("<f4", True, (2, 3)) + f4.tobytes(order="F"), "Fortran order")
    bad("truncated.npy", _header("<f4", False, (2, 3)) + f4.tobytes()[:-5], "data shorter than the shape says")
    bad(
        "too_long.npy",
        _header("<i4", False, (2, 3)) + np.arange(7, dtype="<i4").tobytes(),
        "data longer than the shape says",
    )
    bad("header_truncated.npy", _header("<f4", False, (2, 3))[:30], "header cut off")
    bad("garbage.npy", b"this is not an npy file at all, just text\n", "no npy magic")
    bad("empty.npy", b"", "empty file")
    bad("bad_version.npy", _header("<f4", False, (2, 3), version=(9, 0)) + f4.tobytes(), "unknown format version 9.0")
    bad("header_not_dict.npy", _header("", False, (), raw="[1, 2, 3]") + b"", "header is not a dict")
    bad(
        "header_missing_shape.npy",
        _header("", False, (), raw="{'descr': '<f4', 'fortran_order': False, }") + f4.tobytes(),
        "header has no shape",
    )
    bad(
        "negative_dim.npy",
        _header("", False, (), raw="{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"),
        "negative dim",
    )
    bad(
        "structured.npy",
        _header("", False, (), raw="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }") + b"\0" * 8,
        "structured dtype",
    )
    bad("bool_byte_2.npy", _header("|b1", False, (3,)) + b"\x01\x02\x00", "bool byte 2")
    bad("rank_9.npy", _header("<f4", False, (1,) * 9) + b"\0" * 4, "rank 9 is over the contract's 8")
    return out


def _model(
    model_id: str,
    inputs: list[dict],
    outputs: list[dict],
    dims: dict | None = None,
    artifacts: list[dict] | None = None,
) -> dict:
    m = {
        "id": model_id,
        "source": "torch",
        "parameters": 1,
        "inputs": inputs,
        "outputs": outputs,
        "training": {"epochs": 1, "final_loss": 0.1, "accuracy": 0.9, "seconds": 0.1},
        "golden": [],
        "artifacts": artifacts if artifacts is not None else [_artifact("onnx", inputs, outputs)],
    }
    if dims is not None:
        m["dims"] = dims
    return m


def _artifact(fmt: str, inputs: list[dict], outputs: list[dict], **extra) -> dict:
    a = {
        "format": fmt,
        "path": f"m/{fmt}",
        "via": ["torch", fmt],
        "sha256": FAKE_SHA,
        "bytes": 1,
        "tolerance": {"atol": 1e-5, "rtol": 1e-4},
    }
    if fmt not in ("torchscript-script", "torchscript-trace", "aoti"):
        a["input_keys"] = {t["name"]: t["name"] for t in inputs}
        a["output_keys"] = {t["name"]: f"out_{t['name']}" for t in outputs}
    if fmt in ("saved-model", "tflite", "tfjs-graph"):
        a["signature"] = "serving_default"
    if fmt in ("saved-model", "tfjs-graph"):
        a["files"] = [
            {"path": "model.json" if fmt == "tfjs-graph" else "saved_model.pb", "sha256": FAKE_SHA, "bytes": 1}
        ]
    if fmt == "tfjs-graph":
        a["entry"] = "model.json"
    return a | extra


def _doc(models: list[dict], version=2) -> dict:
    doc = {
        "schema_version": version,
        "created": "2026-11-30T00:00:00Z",
        "producer": {"builder": "conformance", "python": "3.11"},
        "models": models,
    }
    if version is None:
        del doc["schema_version"]
    return doc


def _t(name: str, dtype: str, shape: list) -> dict:
    return {"name": name, "dtype": dtype, "shape": shape}


def _manifests() -> tuple[dict[str, dict], dict[str, tuple[object, int, str]]]:
    one = _model(
        "mlp", [_t("input", "float32", ["batch", 10])], [_t("output", "float32", ["batch", 1])], {"batch": {"min": 1}}
    )
    two_in = [_t("tokens", "int64", ["batch", "seq"]) | {"range": [0, 95]}, _t("mask", "bool", ["batch", "seq"])]
    two_out = [_t("logits", "float32", ["batch", "seq", 5]), _t("embedding", "float16", ["batch", 4])]
    two = _model(
        "m",
        two_in,
        two_out,
        {"batch": {"min": 1}, "seq": {"min": 1, "max": 64}},
        [
            _artifact(
                "onnx",
                two_in,
                two_out,
                tolerance={"atol": 1e-5, "rtol": 1e-4, "outputs": {"embedding": {"atol": 1e-3, "rtol": 1e-3}}},
            ),
            _artifact("tfjs-graph", two_in, two_out, boundary_dtypes={"tokens": "int32", "mask": "int32"}),
            _artifact("torchscript-trace", two_in, two_out),
        ],
    )
    every_in = [_t(f"x_{d}", d, [2] * r) for r, d in enumerate(DTYPES)] + [
        _t("scalar", "uint8", []),
        _t("rank8", "float32", [1] * 7 + ["n"]),
    ]
    every = _model(
        "every", every_in, [_t("y", "float32", ["n"]), _t("z", "int32", [0, 3])], {"n": {"min": 0, "max": 8}}
    )
    extra = copy.deepcopy(one) | {"future_field": {"anything": [1, 2]}}
    extra["inputs"][0]["future"] = True
    valid = {
        "one_input": _doc([one]),
        "two_inputs": _doc([two]),
        "every_dtype": _doc([every]),
        "unknown_fields": _doc([extra]) | {"future_top_level": 1},
        "two_models": _doc([one, two]),
    }

    def broken(mutate, base=two) -> dict:
        m = copy.deepcopy(base)
        mutate(m)
        return _doc([m])

    invalid: dict[str, tuple[object, int, str]] = {
        "version_1": (_doc([one], version=1), 3, "schema_version 1"),
        "version_3": (_doc([one], version=3), 3, "schema_version 3"),
        "version_missing": (_doc([one], version=None), 3, "no schema_version"),
        "version_string": (_doc([one], version="2"), 3, "schema_version is a string"),
        "not_json": ('{"schema_version": 2, "models": [', 2, "not JSON"),
        "models_not_list": (_doc([one]) | {"models": {"id": "mlp"}}, 2, "models is not a list"),
        "dtype_float64": (broken(lambda m: m["inputs"][0].update(dtype="float64")), 2, "dtype float64"),
        "rank_9": (broken(lambda m: m["inputs"][0].update(shape=["batch"] + [1] * 8)), 2, "rank 9"),
        "negative_dim": (
            broken(lambda m: m["outputs"][1].update(shape=["batch", -1])),
            2,
            "negative dim (version 1 style)",
        ),
        "fractional_dim": (broken(lambda m: m["outputs"][1].update(shape=["batch", 2.5])), 2, "fractional dim"),
        "bad_dim_name": (
            broken(lambda m: m["inputs"][1].update(shape=["batch", "seq len"])),
            2,
            "dim name with a space",
        ),
        "bad_tensor_name": (broken(lambda m: m["inputs"][1].update(name="mask-1")), 2, "tensor name with a dash"),
        "duplicate_input": (broken(lambda m: m["inputs"][1].update(name="tokens")), 2, "two inputs named tokens"),
        "dims_min_over_max": (broken(lambda m: m["dims"]["seq"].update(min=9, max=4)), 2, "dims seq min > max"),
        "dims_unused_name": (broken(lambda m: m["dims"].update(width={"min": 1})), 2, "dims names a dim no shape uses"),
        "keys_missing_input": (
            broken(lambda m: m["artifacts"][0]["input_keys"].pop("mask")),
            2,
            "onnx input_keys lack mask",
        ),
        "keys_unknown_output": (
            broken(lambda m: m["artifacts"][0]["output_keys"].update(probs="p")),
            2,
            "output_keys name an unknown tensor",
        ),
        "boundary_unknown": (
            broken(lambda m: m["artifacts"][1]["boundary_dtypes"].update(ids="int32")),
            2,
            "boundary cast for an unknown tensor",
        ),
        "boundary_not_allowed": (
            broken(lambda m: m["artifacts"][1]["boundary_dtypes"].update(tokens="float32")),
            2,
            "int64 -> float32 is not an allowed cast",
        ),
        "boundary_same_dtype": (
            broken(lambda m: m["artifacts"][1]["boundary_dtypes"].update(tokens="int64")),
            2,
            "int64 -> int64 is not an allowed cast",
        ),
        "tolerance_unknown_output": (
            broken(lambda m: m["artifacts"][0]["tolerance"]["outputs"].update(probs={"atol": 1, "rtol": 1})),
            2,
            "a per-output tolerance for an unknown output",
        ),
        "no_inputs": (broken(lambda m: m.update(inputs=[])), 2, "a model without inputs"),
        "no_outputs": (broken(lambda m: m.update(outputs=[])), 2, "a model without outputs"),
        "path_escapes": (
            broken(lambda m: m["artifacts"][0].update(path="../outside/model.onnx")),
            2,
            "artifact path leaves the export",
        ),
    }
    return valid, invalid


def _calls(root: Path) -> list[dict]:
    folder = root / "npy" / "calls"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0xCA11)

    def arr(name: str, a: np.ndarray) -> str:
        path = folder / f"{name}.npy"
        np.save(path, a, allow_pickle=False)
        return path.relative_to(root).as_posix()

    tok = arr("tokens_2x5", rng.integers(0, 96, (2, 5)).astype(np.int64))
    mask = arr("mask_2x5", np.ones((2, 5), bool))
    tok32 = arr("tokens_2x5_int32", rng.integers(0, 96, (2, 5)).astype(np.int32))
    tok1 = arr("tokens_r1", rng.integers(0, 96, (5,)).astype(np.int64))
    tok0 = arr("tokens_2x0", np.zeros((2, 0), np.int64))
    mask0 = arr("mask_2x0", np.zeros((2, 0), bool))
    tok65 = arr("tokens_2x65", rng.integers(0, 96, (2, 65)).astype(np.int64))
    mask65 = arr("mask_2x65", np.ones((2, 65), bool))
    mask3 = arr("mask_3x5", np.ones((3, 5), bool))
    mask6 = arr("mask_2x6", np.ones((2, 6), bool))
    big = np.zeros((2, 5), np.int64)
    big[1, 2] = 1 << 31
    tokbig = arr("tokens_2x5_over_int32", big)
    x = arr("input_4x10", rng.standard_normal((4, 10)).astype(np.float32))
    x9 = arr("input_4x9", rng.standard_normal((4, 9)).astype(np.float32))
    x0 = arr("input_0x10", np.zeros((0, 10), np.float32))
    two, one = "manifests/valid/two_inputs.json", "manifests/valid/one_input.json"

    def call(manifest: str, model: str, inputs: dict, exit_code: int, why: str, fmt: str | None = None) -> dict:
        c = {"manifest": manifest, "model": model, "inputs": inputs, "valid": exit_code == 0, "why": why}
        if fmt:
            c["format"] = fmt
        return c | ({"exit": exit_code} if exit_code else {})

    return [
        call(two, "m", {"tokens": tok, "mask": mask}, 0, "both inputs, int64 and bool, (2, 5)"),
        call(two, "m", {"tokens": tok, "mask": mask}, 0, "boundary casts that fit int32", "tfjs-graph"),
        call(two, "m", {"tokens": tok}, 2, "missing input mask"),
        call(two, "m", {"tokens": tok, "mask": mask, "extra": mask}, 2, "unknown input extra"),
        call(two, "m", {"tokens": tok32, "mask": mask}, 2, "tokens is int32, expected int64"),
        call(two, "m", {"tokens": tok1, "mask": mask}, 2, "tokens has rank 1, expected 2"),
        call(two, "m", {"tokens": tok0, "mask": mask0}, 2, "seq is 0, below its min 1"),
        call(two, "m", {"tokens": tok65, "mask": mask65}, 2, "seq is 65, above its max 64"),
        call(two, "m", {"tokens": tok, "mask": mask3}, 2, "batch is 2 in tokens but 3 in mask"),
        call(two, "m", {"tokens": tok, "mask": mask6}, 2, "seq is 5 in tokens but 6 in mask"),
        call(two, "m", {"tokens": tokbig, "mask": mask}, 0, "2**31 is fine without a boundary cast", "onnx"),
        call(two, "m", {"tokens": tokbig, "mask": mask}, 2, "2**31 does not fit the int32 boundary cast", "tfjs-graph"),
        call(one, "mlp", {"input": x}, 0, "one float32 input (4, 10)"),
        call(one, "mlp", {"input": x9}, 2, "fixed dim 1 is 9, expected 10"),
        call(one, "mlp", {"input": x0}, 2, "batch 0 is below its min 1"),
    ]


def write(out: Path) -> Path:
    """Writes the fixtures into `out` (replacing it); returns the verdicts file."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    npy = _npy_fixtures(out)
    valid, invalid = _manifests()
    manifests = []
    for name, doc in valid.items():
        path = out / "manifests" / "valid" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        manifests.append(
            {
                "file": path.relative_to(out).as_posix(),
                "valid": True,
                "models": [
                    {k: m[k] for k in ("id", "inputs", "outputs") if k in m} | {"dims": m.get("dims", {})}
                    for m in doc["models"]
                ],
            }
        )
    for name, (doc, code, why) in invalid.items():
        path = out / "manifests" / "invalid" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2) + "\n")
        manifests.append({"file": path.relative_to(out).as_posix(), "valid": False, "exit": code, "why": why})
    calls = _calls(out)
    verdicts = out / "verdicts.json"
    verdicts.write_text(json.dumps({"version": 1, "npy": npy, "manifests": manifests, "calls": calls}, indent=1) + "\n")
    (out / "README.md").write_text(
        "# Conformance fixtures\n\nWritten by `python -m builder conformance --out testdata/conformance` "
        "(python/builder/conformance.py); never edit by hand. `verdicts.json` gives the verdict every client must "
        'reach for each file: see docs/contract.md, "Conformance fixtures".\n'
    )
    return verdicts
