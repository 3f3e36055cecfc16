"""The C++ client's demo CLI (bin/deploykit-cpp) end to end: every exit code of the contract's
command line (docs/contract.md), NAME=FILE / bare FILE / folder flags, --jobs, corrupted
artifacts, NaN/Inf, timing, and the conformance calls. Needs `make setup-cpp` (the binary) and
`make test-fixtures` (the shared test export); a missing one FAILS these tests."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import within_tolerance

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "bin" / "deploykit-cpp"
BINARY = REPO / "build" / "cpp" / "bin" / "deploykit-cpp"
TORCH_FORMATS = ("torchscript-script", "torchscript-trace", "aoti")
CONFORMANCE = REPO / "testdata" / "conformance"
TIMEOUT_S = 120


@pytest.fixture(scope="module")
def manifest_path() -> Path:
    path = Path(os.environ.get("DEPLOYKIT_TEST_MANIFEST", REPO / "build" / "test-models" / "manifest.json"))
    assert path.is_file(), f"{path} is missing: run `make test-fixtures`"
    assert BINARY.is_file(), f"{BINARY} is missing: run `make setup-cpp` to build the C++ client"
    return path


@pytest.fixture(scope="module")
def manifest(manifest_path) -> dict:
    return json.loads(manifest_path.read_text())


def torch_models(manifest: dict) -> list[dict]:
    # The torch-source models have every torch format; the Keras/JAX models' converted TorchScript
    # and .pt2 run in the parity matrix (test_verify_clients.py) and test_generate.py.
    models = [m for m in manifest["models"] if m["source"] == "torch"]
    assert models, "the test manifest has no torch model"
    return models


def run(*args, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(LAUNCHER), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT_S
    )
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {result.stderr[-2000:]}"
    return result


def assert_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    """Exit `code` and exactly one stderr line, `error: <what>: <why>`, never a trace."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def cli(manifest_path: Path, model: str, fmt: str | None, *extra) -> list:
    return ["--manifest", manifest_path, "--model", model, *extra] + (["--format", fmt] if fmt else [])


def golden_set(model: dict, name: str = "golden") -> dict:
    return next(g for g in model["golden"] if g["name"] == name)


def golden_dir(manifest_path: Path, model: dict, name: str = "golden") -> Path:
    """The set's folder: <id>/golden/<set>/ with <input>.npy and expected/<output>.npy."""
    g = golden_set(model, name)
    folder = (manifest_path.parent / next(iter(g["inputs"].values()))).parent
    assert all((manifest_path.parent / v).parent == folder for v in g["inputs"].values())
    assert all((manifest_path.parent / v).parent == folder / "expected" for v in g["expected"].values())
    return folder


def tolerance(artifact: dict, output: str) -> tuple[float, float]:
    chosen = (artifact["tolerance"].get("outputs") or {}).get(output, artifact["tolerance"])
    return chosen["atol"], chosen["rtol"]


def matches(expected: np.ndarray, got: np.ndarray, atol: float, rtol: float) -> bool:
    """The contract's comparison in NumPy: NaN and Inf at the same places, finite values within
    tolerance; integer and bool outputs exactly."""
    if expected.dtype.kind != "f":
        return np.array_equal(expected, got)
    nonfinite = ~np.isfinite(expected)
    if not np.array_equal(nonfinite, ~np.isfinite(got)):
        return False
    if not np.array_equal(expected[nonfinite], got[nonfinite], equal_nan=True):
        return False
    return within_tolerance(expected[~nonfinite], got[~nonfinite], atol, rtol)


def first_input(manifest_path: Path, model: dict) -> Path:
    return manifest_path.parent / golden_set(model)["inputs"][model["inputs"][0]["name"]]


def first_expected(manifest_path: Path, model: dict) -> Path:
    return manifest_path.parent / golden_set(model)["expected"][model["outputs"][0]["name"]]


def one_input_model(manifest: dict) -> dict:
    return next(m for m in torch_models(manifest) if len(m["inputs"]) == 1 and len(m["outputs"]) == 1)


# --- exit 0 ---------------------------------------------------------------------------------


def test_no_arguments_prints_usage_and_exits_2(tmp_path, manifest_path):
    result = run(cwd=tmp_path)
    assert result.returncode == 2
    assert "--manifest" in result.stderr and "Exit codes" in result.stderr
    assert result.stdout == ""


def test_help_and_version_exit_0(tmp_path, manifest_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for flag in ("--timing", "--input-dir", "--output-dir", "--check-dir", "--jobs"):
        assert flag in result.stdout
    version = run("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("deploykit-cpp ") and "libtorch" in version.stdout


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_every_torch_artifact_matches_every_golden_set(tmp_path, manifest_path, manifest, fmt):
    for model in torch_models(manifest):
        artifact = next(a for a in model["artifacts"] if a["format"] == fmt)
        for g in model["golden"]:
            folder, out = golden_dir(manifest_path, model, g["name"]), tmp_path / model["id"] / g["name"]
            result = run(
                *cli(
                    manifest_path,
                    model["id"],
                    fmt,
                    "--input-dir",
                    folder,
                    "--output-dir",
                    out,
                    "--check-dir",
                    folder / "expected",
                ),
                cwd=tmp_path,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            lines = result.stdout.splitlines()
            assert [line.split(":")[0] for line in lines] == [f"check {o['name']}" for o in model["outputs"]], lines
            assert all(": pass max_abs=" in line and " mismatches=0/" in line for line in lines), lines
            for spec in model["outputs"]:
                got = np.load(out / f"{spec['name']}.npy")
                expected = np.load(manifest_path.parent / g["expected"][spec["name"]])
                assert got.dtype == np.dtype(spec["dtype"]) and got.flags.c_contiguous and got.shape == expected.shape
                assert matches(expected, got, *tolerance(artifact, spec["name"])), (
                    model["id"],
                    g["name"],
                    spec["name"],
                )


def test_named_bare_and_folder_flags_give_the_same_outputs(tmp_path, manifest_path, manifest):
    model = one_input_model(manifest)
    (inp,), (out,) = [s["name"] for s in model["inputs"]], [s["name"] for s in model["outputs"]]
    folder = golden_dir(manifest_path, model)
    runs = {
        "bare": (
            "--input",
            folder / f"{inp}.npy",
            "--output",
            tmp_path / "bare.npy",
            "--check",
            folder / "expected" / f"{out}.npy",
        ),
        "named": (
            "--input",
            f"{inp}={folder / f'{inp}.npy'}",
            "--output",
            f"{out}={tmp_path / 'named.npy'}",
            "--check",
            f"{out}={folder / 'expected' / f'{out}.npy'}",
        ),
        "dirs": ("--input-dir", folder, "--output-dir", tmp_path / "dirs", "--check-dir", folder / "expected"),
    }
    for name, flags in runs.items():
        result = run(*cli(manifest_path, model["id"], "torchscript-trace", *flags), cwd=tmp_path)
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.startswith(f"check {out}: pass max_abs="), result.stdout
    bare = np.load(tmp_path / "bare.npy")
    np.testing.assert_array_equal(bare, np.load(tmp_path / "named.npy"))
    np.testing.assert_array_equal(bare, np.load(tmp_path / "dirs" / f"{out}.npy"))
    # No output flag: nothing is written, and without --check nothing is printed.
    quiet = run(*cli(manifest_path, model["id"], "aoti", "--input-dir", folder), cwd=tmp_path / "dirs")
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert sorted(p.name for p in (tmp_path / "dirs").iterdir()) == [f"{out}.npy"]


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_nan_and_inf_inputs_are_run_and_propagate(tmp_path, manifest_path, manifest, fmt):
    model = torch_models(manifest)[0]
    folder = golden_dir(manifest_path, model, "special")
    special = np.load(folder / f"{model['inputs'][0]['name']}.npy")
    assert not np.isfinite(special).all()
    result = run(
        *cli(
            manifest_path,
            model["id"],
            fmt,
            "--input-dir",
            folder,
            "--output-dir",
            tmp_path,
            "--check-dir",
            folder / "expected",
        ),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for spec in model["outputs"]:
        expected = np.load(folder / "expected" / f"{spec['name']}.npy")
        np.testing.assert_array_equal(np.isnan(np.load(tmp_path / f"{spec['name']}.npy")), np.isnan(expected))


@pytest.mark.parametrize("fmt", ["torchscript-trace", "aoti"])
def test_timing_json(tmp_path, manifest_path, manifest, fmt):
    model = torch_models(manifest)[0]
    timing = tmp_path / "timing.json"
    result = run(
        *cli(
            manifest_path,
            model["id"],
            fmt,
            "--input-dir",
            golden_dir(manifest_path, model),
            "--repeat",
            5,
            "--warmup",
            2,
            "--timing",
            timing,
        ),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(timing.read_text())
    assert doc["batch"] == np.load(first_input(manifest_path, model)).shape[0]
    assert doc["load_ms"] > 0 and doc["first_ms"] > 0
    lat = doc["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] and lat["mean"] > 0
    # The bare runtime call, timed alongside (same repeats and warm-ups).
    direct = doc["direct_latency_us"]
    assert set(direct) == {"p50", "p90", "p99", "mean"}
    assert all(math.isfinite(v) and v > 0 for v in direct.values()), direct
    assert direct["p50"] <= direct["p90"] <= direct["p99"]
    assert isinstance(doc["direct"], str) and doc["direct"].strip() and "\n" not in doc["direct"]
    assert ("AOTIModelPackageLoader::run" if fmt == "aoti" else "Module::forward") in doc["direct"]


# --- exit 1 ---------------------------------------------------------------------------------


def test_check_mismatch_exits_1(tmp_path, manifest_path, manifest):
    model = one_input_model(manifest)
    out_name = model["outputs"][0]["name"]
    wrong = tmp_path / "wrong.npy"
    expected = np.load(first_expected(manifest_path, model))
    np.save(wrong, expected + np.float32(1.0))
    result = run(
        *cli(
            manifest_path,
            model["id"],
            "aoti",
            "--input",
            first_input(manifest_path, model),
            "--output",
            tmp_path / "o.npy",
            "--check",
            wrong,
        ),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith(f"check {out_name}: FAIL max_abs=1 mismatches={expected.size}/{expected.size}"), (
        result.stdout
    )
    assert result.stderr == ""
    assert (tmp_path / "o.npy").is_file()  # the output is still written


def test_check_file_of_another_shape_or_dtype_fails_with_exit_1(tmp_path, manifest_path, manifest):
    model = one_input_model(manifest)
    out_name = model["outputs"][0]["name"]
    expected = np.load(first_expected(manifest_path, model))
    for name, array in {
        "short": expected[:3],
        "int": expected.astype(np.int32),
        "half": expected.astype(np.float16),
    }.items():
        np.save(tmp_path / f"{name}.npy", array)
        result = run(
            *cli(
                manifest_path,
                model["id"],
                "aoti",
                "--input",
                first_input(manifest_path, model),
                "--check",
                tmp_path / f"{name}.npy",
            ),
            cwd=tmp_path,
        )
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert result.stdout.startswith(f"check {out_name}: FAIL"), result.stdout
        assert "differs from the expected" in result.stdout and result.stderr == ""


# --- exit 2 ---------------------------------------------------------------------------------


def bad_npy_files(tmp: Path, width: int) -> dict[str, tuple[Path, str]]:
    """Each bad input file with a fragment of the error it must give."""
    x = np.zeros((3, width), np.float32)
    files = {
        "float64": (x.astype(np.float64), "dtype '<f8'"),
        "big-endian": (x.astype(">f4"), "dtype '>f4'"),
        "fortran": (np.asfortranarray(np.ones((3, width), np.float32)), "fortran_order"),
        "1-D": (x[0], "rank is 1, expected 2"),
        "3-D": (x[None], "rank is 3, expected 2"),
        "wrong width": (np.zeros((3, width + 1), np.float32), f"dim 1 is {width + 1}, expected {width}"),
        "int32": (x.astype(np.int32), "expected float32, got int32"),
        "empty batch": (x[:0], "dim 0 (batch) is 0, outside [1, inf]"),
    }
    paths = {}
    for name, (array, why) in files.items():
        paths[name] = (tmp / f"{name}.npy", why)
        np.save(paths[name][0], array)
    assert not np.load(paths["fortran"][0]).flags.c_contiguous
    good = (tmp / "float64.npy").read_bytes()
    np.save(tmp / "truncated.npy", x)
    (tmp / "truncated.npy").write_bytes((tmp / "truncated.npy").read_bytes()[:-5])
    paths["truncated"] = (tmp / "truncated.npy", "data bytes")
    (tmp / "garbage.npy").write_bytes(b"not an npy file" + good[:20])
    paths["garbage"] = (tmp / "garbage.npy", "not a .npy file")
    paths["missing"] = (tmp / "missing.npy", "no such file")
    return paths


def test_bad_input_files_exit_2(tmp_path, manifest_path, manifest):
    model = one_input_model(manifest)
    assert model["inputs"][0]["shape"][0] == "batch" and model["dims"]["batch"]["min"] == 1
    width = model["inputs"][0]["shape"][1]
    for name, (path, why) in bad_npy_files(tmp_path, width).items():
        result = run(
            *cli(manifest_path, model["id"], "torchscript-script", "--input", path, "--output", tmp_path / "o.npy"),
            cwd=tmp_path,
        )
        assert_error(result, 2, why)
        assert path.name in result.stderr or f"input {model['inputs'][0]['name']}:" in result.stderr, result.stderr
        assert not (tmp_path / "o.npy").exists(), name


def test_input_and_output_names_are_checked_exit_2(tmp_path, manifest_path, manifest):
    model = one_input_model(manifest)
    inp, out = model["inputs"][0]["name"], model["outputs"][0]["name"]
    x = first_input(manifest_path, model)
    base = cli(manifest_path, model["id"], "aoti")
    assert_error(
        run(*base, "--input", f"bogus={x}", cwd=tmp_path),
        2,
        f'input bogus: unknown input "bogus" (model inputs: {inp})',
    )
    assert_error(
        run(*base, "--input", f"{inp}={x}", "--input", f"{inp}={x}", cwd=tmp_path),
        2,
        f"input {inp}: given more than once",
    )
    assert_error(
        run(*base, "--input", x, "--output", f"bogus={tmp_path / 'o.npy'}", cwd=tmp_path), 2, 'unknown output "bogus"'
    )
    assert_error(run(*base, "--input", x, "--check", f"bogus={x}", cwd=tmp_path), 2, 'unknown check "bogus"')
    assert_error(run(*base, "--input-dir", tmp_path, cwd=tmp_path), 2, str(tmp_path / f"{inp}.npy"))
    assert_error(run(*base, "--input", x, "--check-dir", tmp_path, cwd=tmp_path), 2, str(tmp_path / f"{out}.npy"))


def conformance_calls() -> list[dict]:
    """The fixtures' input-check calls on a model with a torch artifact, without a boundary cast."""
    calls = []
    for call in json.loads((CONFORMANCE / "verdicts.json").read_text())["calls"]:
        doc = json.loads((CONFORMANCE / call["manifest"]).read_text())
        model = next(m for m in doc["models"] if m["id"] == call["model"])
        fmt = next((a["format"] for a in model["artifacts"] if a["format"] in TORCH_FORMATS), None)
        if fmt is not None and call.get("format", fmt) == fmt:
            calls.append(dict(call, format=fmt))
    return calls


def test_conformance_calls_through_the_cli(tmp_path):
    """Refused inputs exit 2 with one `error: input ...` line before any load; accepted ones get
    as far as the (absent) artifact, whose integrity check then exits 3."""
    calls = conformance_calls()
    assert any(c["valid"] for c in calls) and sum(not c["valid"] for c in calls) >= 5
    for call in calls:
        inputs = [f"{name}={CONFORMANCE / path}" for name, path in call["inputs"].items()]
        result = run(
            "--manifest",
            CONFORMANCE / call["manifest"],
            "--model",
            call["model"],
            "--format",
            call["format"],
            *[arg for i in inputs for arg in ("--input", i)],
            cwd=tmp_path,
        )
        if call["valid"]:
            assert_error(result, 3, "integrity of")
        else:
            assert_error(result, call["exit"], "error: input ")


def test_bare_file_for_a_model_with_several_inputs_exits_2(tmp_path):
    result = run(
        "--manifest",
        CONFORMANCE / "manifests/valid/two_inputs.json",
        "--model",
        "m",
        "--input",
        CONFORMANCE / "npy/calls/tokens_2x5.npy",
        cwd=tmp_path,
    )
    assert_error(result, 2, "a bare file needs a model with one input, m has 2 (tokens, mask)")


def test_unknown_model_and_format_exit_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    inp = ("--input-dir", golden_dir(manifest_path, model))
    assert_error(run(*cli(manifest_path, "no_such_model", "aoti", *inp), cwd=tmp_path), 2, "no_such_model")
    assert_error(run(*cli(manifest_path, model["id"], "onnx", *inp), cwd=tmp_path), 2, "not run by the C++ client")
    assert_error(run(*cli(manifest_path, model["id"], "tflite", *inp), cwd=tmp_path), 2, "tflite")
    # several torch formats: the default is ambiguous
    assert_error(run(*cli(manifest_path, model["id"], None, *inp), cwd=tmp_path), 2, "ambiguous")
    keras = next(m for m in manifest["models"] if not any(a["format"] in TORCH_FORMATS for a in m["artifacts"]))
    assert_error(run(*cli(manifest_path, keras["id"], None, *inp), cwd=tmp_path), 2, "no artifact the C++ client runs")
    assert_error(run(*cli(manifest_path, keras["id"], "aoti", *inp), cwd=tmp_path), 2, "lists no aoti artifact")


def test_bad_manifests_exit_2_and_other_versions_exit_3(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    inp = ("--input-dir", golden_dir(manifest_path, model))
    assert_error(run(*cli(tmp_path / "missing.json", model["id"], "aoti", *inp), cwd=tmp_path), 2, "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text(manifest_path.read_text()[:-40])
    assert_error(run(*cli(broken, model["id"], "aoti", *inp), cwd=tmp_path), 2, "invalid JSON")
    doc = json.loads(manifest_path.read_text())
    for version in (1, 99, "2"):
        doc["schema_version"] = version
        other = tmp_path / "other.json"
        other.write_text(json.dumps(doc))
        assert_error(
            run(*cli(other, model["id"], "aoti", *inp), cwd=tmp_path),
            3,
            f"error: {other}: schema_version {json.dumps(version)} is not supported (this client reads 2)",
        )
    doc["schema_version"] = 2
    doc["models"][0]["outputs"][0]["shape"] = ["batch", -1]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert_error(
        run(*cli(bad, model["id"], "aoti", *inp), cwd=tmp_path),
        2,
        f"model {doc['models'][0]['id']} output {doc['models'][0]['outputs'][0]['name']}: dim -1",
    )


def test_usage_errors_exit_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    folder = golden_dir(manifest_path, model)
    base = cli(manifest_path, model["id"], "aoti", "--input-dir", folder)
    assert_error(run(*base, "--bogus", cwd=tmp_path), 2, "--bogus")
    assert_error(run(*base, "--repeat", "0", cwd=tmp_path), 2, "--repeat")
    assert_error(run(*base, "--input", folder / "x.npy", cwd=tmp_path), 2, "--input and --input-dir exclude each other")
    assert_error(run("--model", model["id"], cwd=tmp_path), 2, "--manifest")
    assert_error(run("--manifest", manifest_path, "--input-dir", folder, cwd=tmp_path), 2, "--model is required")
    assert_error(run("--manifest", manifest_path, "--model", model["id"], cwd=tmp_path), 2, "--input or --input-dir")
    assert_error(run(*base, "--jobs", tmp_path / "j.jsonl", cwd=tmp_path), 2, "--jobs")


# --- --jobs ---------------------------------------------------------------------------------


def test_jobs_run_in_order_with_one_line_each(tmp_path, manifest_path, manifest):
    models = torch_models(manifest)
    jobs, expect = [], []
    for model in models:
        for fmt in TORCH_FORMATS:
            for g in model["golden"]:
                jobs.append(
                    {
                        "id": f"{model['id']}/{fmt}/{g['name']}",
                        "model": model["id"],
                        "format": fmt,
                        "inputs": {k: str(manifest_path.parent / v) for k, v in g["inputs"].items()},
                        "outputs": {
                            o["name"]: f"out/{model['id']}-{fmt}-{g['name']}-{o['name']}.npy" for o in model["outputs"]
                        },
                        "check": {k: str(manifest_path.parent / v) for k, v in g["expected"].items()},
                    }
                )
                expect.append((0, None))
    model = one_input_model(manifest)
    x, y = first_input(manifest_path, model), first_expected(manifest_path, model)
    np.save(tmp_path / "wrong.npy", np.load(y) + np.float32(1))
    failing = [
        (
            {
                "model": model["id"],
                "format": "aoti",
                "inputs": {model["inputs"][0]["name"]: str(x)},
                "check": {model["outputs"][0]["name"]: "wrong.npy"},
            },
            1,
            f"check {model['outputs'][0]['name']}: FAIL",
        ),
        (
            {"model": model["id"], "format": "aoti", "inputs": {"bogus": str(x)}},
            2,
            'input bogus: unknown input "bogus"',
        ),
        (
            {"model": model["id"], "format": "onnx", "inputs": {model["inputs"][0]["name"]: str(x)}},
            2,
            "not run by the C++ client",
        ),
        (
            {"model": model["id"], "inputs": {model["inputs"][0]["name"]: "missing.npy"}, "format": "aoti"},
            2,
            "no such file",
        ),
    ]
    jobs[1:1] = [job for job, _, _ in failing]  # failures in the middle do not stop the others
    expect[1:1] = [(code, why) for _, code, why in failing]
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(j) for j in jobs) + "\n\n")
    result = run("--manifest", manifest_path, "--jobs", tmp_path / "jobs.jsonl", "--verbose", cwd=tmp_path / "..")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["index"] for line in lines] == list(range(len(jobs)))
    assert [line["id"] for line in lines] == [j.get("id") for j in jobs]
    for line, (code, why) in zip(lines, expect, strict=True):
        assert line["exit"] == code, line
        assert (line["error"] is None) if why is None else (why in line["error"] and "\n" not in line["error"]), line
        assert list(line) == ["id", "index", "exit", "error", "seconds"] and line["seconds"] >= 0
    assert result.returncode == 1  # the first non-zero job exit code
    # Every output landed relative to the jobs file; each (model, format) loaded once.
    assert len(list((tmp_path / "out").iterdir())) == sum(len(j.get("outputs", {})) for j in jobs)
    loads = [line for line in result.stderr.splitlines() if line.startswith("loaded ")]
    assert sorted(loads) == sorted(set(loads)) and len(loads) == len(models) * len(TORCH_FORMATS), loads


def test_a_malformed_jobs_line_exits_2_before_any_job_runs(tmp_path, manifest_path, manifest):
    model = one_input_model(manifest)
    good = {
        "model": model["id"],
        "format": "aoti",
        "inputs": {model["inputs"][0]["name"]: str(first_input(manifest_path, model))},
        "outputs": {model["outputs"][0]["name"]: str(tmp_path / "o.npy")},
    }
    (tmp_path / "jobs.jsonl").write_text(json.dumps(good) + "\n{not json\n")
    result = run("--manifest", manifest_path, "--jobs", tmp_path / "jobs.jsonl", cwd=tmp_path)
    assert_error(result, 2, "line 2")
    assert result.stdout == "" and not (tmp_path / "o.npy").exists()
    (tmp_path / "jobs.jsonl").write_text(json.dumps(good) + "\n" + json.dumps({"model": model["id"]}) + "\n")
    assert_error(
        run("--manifest", manifest_path, "--jobs", tmp_path / "jobs.jsonl", cwd=tmp_path), 2, "missing 'inputs'"
    )
    assert_error(run("--manifest", manifest_path, "--jobs", tmp_path / "none.jsonl", cwd=tmp_path), 2, "no such file")
    (tmp_path / "jobs.jsonl").write_text(json.dumps(good) + "\n")
    ok = run("--manifest", manifest_path, "--jobs", tmp_path / "jobs.jsonl", cwd=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["exit"] == 0 and (tmp_path / "o.npy").is_file()


# --- exit 3 ---------------------------------------------------------------------------------


@pytest.fixture()
def private_copy(tmp_path, manifest_path, manifest):
    """One torch model copied with its own manifest, so its artifacts can be corrupted."""
    model = json.loads(json.dumps(torch_models(manifest)[0]))
    model["artifacts"] = [a for a in model["artifacts"] if a["format"] in TORCH_FORMATS]
    g = golden_set(model)
    for rel in [a["path"] for a in model["artifacts"]] + list(g["inputs"].values()) + list(g["expected"].values()):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest_path.parent / rel, tmp_path / rel)
    doc = dict(manifest, models=[model])
    path = tmp_path / "manifest.json"

    def write(mutate_format: str | None = None, data: bytes | None = None, rehash: bool = True) -> Path:
        if mutate_format is not None:
            artifact = next(a for a in model["artifacts"] if a["format"] == mutate_format)
            (tmp_path / artifact["path"]).write_bytes(data)
            if rehash:
                artifact["sha256"], artifact["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
        path.write_text(json.dumps(doc))
        return path

    write()
    return model, write


def run_copy(tmp_path, model, fmt):
    folder = golden_dir(tmp_path / "manifest.json", model)
    return run(
        *cli(
            tmp_path / "manifest.json",
            model["id"],
            fmt,
            "--input-dir",
            folder,
            "--output-dir",
            tmp_path / "o",
            "--check-dir",
            folder / "expected",
        ),
        cwd=tmp_path,
    )


def artifact_bytes(tmp_path, model, fmt) -> bytes:
    return (tmp_path / next(a["path"] for a in model["artifacts"] if a["format"] == fmt)).read_bytes()


def flipped(data: bytes, offset: int, count: int = 8) -> bytes:
    b = bytearray(data)
    for i in range(offset, min(offset + count, len(b))):
        b[i] ^= 0xFF
    return bytes(b)


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_flipped_bytes_fail_the_sha256_check(tmp_path, private_copy, fmt):
    model, write = private_copy
    write(fmt, flipped(artifact_bytes(tmp_path, model, fmt), 100), rehash=False)
    assert_error(run_copy(tmp_path, model, fmt), 3, "sha256 mismatch")


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_truncated_artifact_exits_3(tmp_path, private_copy, fmt):
    model, write = private_copy
    data = artifact_bytes(tmp_path, model, fmt)
    write(fmt, data[: len(data) // 2], rehash=False)
    assert_error(run_copy(tmp_path, model, fmt), 3, "size mismatch")
    write(fmt, data[: len(data) // 2], rehash=True)  # the manifest vouches for it: the loader must fail cleanly
    assert_error(run_copy(tmp_path, model, fmt), 3, f"load {fmt}")


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_corrupt_zip_header_with_matching_sha256_exits_3(tmp_path, private_copy, fmt):
    model, write = private_copy
    write(fmt, flipped(artifact_bytes(tmp_path, model, fmt), 0))
    assert_error(run_copy(tmp_path, model, fmt), 3, f"load {fmt}")


def test_flipped_torchscript_bytes_with_matching_sha256_never_crash(tmp_path, private_copy):
    """LibTorch's zip reader does not check CRCs: a flip inside tensor data can load and give wrong
    numbers (exit 1), which is why the sha256 check comes first. Whatever the flip hits, the
    client exits 0, 1 or 3 with at most one error line, never a signal or an abort."""
    model, write = private_copy
    data = artifact_bytes(tmp_path, model, "torchscript-script")
    codes = set()
    for offset in range(0, len(data), max(1, len(data) // 24)):
        write("torchscript-script", flipped(data, offset))
        result = run_copy(tmp_path, model, "torchscript-script")
        assert result.returncode in (0, 1, 3), (offset, result.returncode, result.stderr)
        assert len(result.stderr.strip().splitlines()) <= 1, (offset, result.stderr)
        codes.add(result.returncode)
    assert 3 in codes


def test_missing_and_symlinked_artifacts_exit_3(tmp_path, private_copy):
    model, _ = private_copy
    artifact = tmp_path / next(a["path"] for a in model["artifacts"] if a["format"] == "aoti")
    moved = tmp_path / "elsewhere.pt2"
    artifact.rename(moved)
    assert_error(run_copy(tmp_path, model, "aoti"), 3, "missing file")
    artifact.symlink_to(moved)
    assert_error(run_copy(tmp_path, model, "aoti"), 3, "symlink")
