"""The C++ client's demo CLI (bin/deploykit-cpp) end to end: every exit code of DESIGN.md's
common command line, corrupted artifacts, NaN/Inf, timing. Needs `make setup-cpp` (the binary)
and `make test-fixtures` (the shared test export); a missing one FAILS these tests."""
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
    models = [m for m in manifest["models"] if any(a["format"] in TORCH_FORMATS for a in m["artifacts"])]
    assert models, "the test manifest has no torch model"
    return models


def run(*args, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run([str(LAUNCHER), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=TIMEOUT_S)
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {result.stderr[-2000:]}"
    return result


def assert_error(result: subprocess.CompletedProcess, code: int, *fragments: str) -> None:
    """Exit `code` and exactly one stderr line, `error: <what>: <why>`, never a trace."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def cli(manifest_path: Path, model: str, fmt: str | None, inp: Path, out: Path, *extra) -> list:
    args = ["--manifest", manifest_path, "--model", model, "--input", inp, "--output", out, *extra]
    return args + (["--format", fmt] if fmt else [])


def golden(manifest_path: Path, model: dict, key: str = "input") -> Path:
    return manifest_path.parent / model["golden"][key]


# --- exit 0 ---------------------------------------------------------------------------------

def test_no_arguments_prints_usage_and_exits_2(tmp_path, manifest_path):
    result = run(cwd=tmp_path)
    assert result.returncode == 2
    assert "--manifest" in result.stderr and "Exit codes" in result.stderr
    assert result.stdout == ""


def test_help_and_version_exit_0(tmp_path, manifest_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0 and "--timing" in result.stdout
    version = run("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("deploykit-cpp ") and "libtorch" in version.stdout


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_every_torch_artifact_matches_its_golden(tmp_path, manifest_path, manifest, fmt):
    for model in torch_models(manifest):
        artifact = next(a for a in model["artifacts"] if a["format"] == fmt)
        out = tmp_path / f"{model['id']}.npy"
        result = run(*cli(manifest_path, model["id"], fmt, golden(manifest_path, model), out,
                          "--check", golden(manifest_path, model, "expected")), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"check {model['id']}/{fmt}: pass max_abs="), result.stdout
        got, expected = np.load(out), np.load(golden(manifest_path, model, "expected"))
        assert got.dtype == np.dtype("<f4") and got.flags.c_contiguous and got.shape == expected.shape
        assert within_tolerance(expected, got, artifact["tolerance"]["atol"], artifact["tolerance"]["rtol"])


@pytest.mark.parametrize("fmt", TORCH_FORMATS)
def test_nan_and_inf_inputs_are_run_and_propagate(tmp_path, manifest_path, manifest, fmt):
    model = torch_models(manifest)[0]
    special = golden(manifest_path, model, "special_input")
    assert not np.isfinite(np.load(special)).all()
    out = tmp_path / "special.npy"
    result = run(*cli(manifest_path, model["id"], fmt, special, out,
                      "--check", golden(manifest_path, model, "special_expected")), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = np.load(golden(manifest_path, model, "special_expected"))
    np.testing.assert_array_equal(np.isnan(np.load(out)), np.isnan(expected))


@pytest.mark.parametrize("fmt", ["torchscript-trace", "aoti"])
def test_timing_json(tmp_path, manifest_path, manifest, fmt):
    model = torch_models(manifest)[0]
    timing = tmp_path / "timing.json"
    result = run(*cli(manifest_path, model["id"], fmt, golden(manifest_path, model), tmp_path / "o.npy",
                      "--repeat", 5, "--warmup", 2, "--timing", timing), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = json.loads(timing.read_text())
    assert doc["batch"] == np.load(golden(manifest_path, model)).shape[0]
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
    model = torch_models(manifest)[0]
    wrong = tmp_path / "wrong.npy"
    expected = np.load(golden(manifest_path, model, "expected"))
    np.save(wrong, expected + np.float32(1.0))
    result = run(*cli(manifest_path, model["id"], "aoti", golden(manifest_path, model), tmp_path / "o.npy",
                      "--check", wrong), cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"check {model['id']}/aoti: FAIL" in result.stdout
    assert (tmp_path / "o.npy").is_file()  # the output is still written


# --- exit 2 ---------------------------------------------------------------------------------

def bad_npy_files(tmp: Path, width: int) -> dict[str, Path]:
    x = np.zeros((3, width), np.float32)
    files = {"float64": x.astype(np.float64), "big-endian": x.astype(">f4"), "fortran": np.asfortranarray(np.ones((3, width), np.float32)),
             "1-D": x[0], "3-D": x[None], "wrong width": np.zeros((3, width + 1), np.float32)}
    paths = {}
    for name, array in files.items():
        paths[name] = tmp / f"{name}.npy"
        np.save(paths[name], array)
    assert not np.load(paths["fortran"]).flags.c_contiguous
    good = (tmp / "float64.npy").read_bytes()
    paths["truncated"] = tmp / "truncated.npy"
    np.save(paths["truncated"], x)
    paths["truncated"].write_bytes(paths["truncated"].read_bytes()[:-5])
    paths["garbage"] = tmp / "garbage.npy"
    paths["garbage"].write_bytes(b"not an npy file" + good[:20])
    paths["missing"] = tmp / "missing.npy"
    return paths


def test_bad_input_files_exit_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    width = model["inputs"][0]["shape"][1]
    for name, path in bad_npy_files(tmp_path, width).items():
        result = run(*cli(manifest_path, model["id"], "torchscript-script", path, tmp_path / "o.npy"), cwd=tmp_path)
        assert_error(result, 2, path.name)
        assert not (tmp_path / "o.npy").exists(), name


def test_bad_check_file_exits_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    wrong_shape = tmp_path / "short.npy"
    np.save(wrong_shape, np.load(golden(manifest_path, model, "expected"))[:3])
    result = run(*cli(manifest_path, model["id"], "aoti", golden(manifest_path, model), tmp_path / "o.npy",
                      "--check", wrong_shape), cwd=tmp_path)
    assert_error(result, 2, "short.npy", "expected shape")


def test_unknown_model_and_format_exit_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    inp, out = golden(manifest_path, model), tmp_path / "o.npy"
    assert_error(run(*cli(manifest_path, "no_such_model", "aoti", inp, out), cwd=tmp_path), 2, "no_such_model")
    assert_error(run(*cli(manifest_path, model["id"], "onnx", inp, out), cwd=tmp_path), 2, "not run by the C++ client")
    assert_error(run(*cli(manifest_path, model["id"], "tflite", inp, out), cwd=tmp_path), 2, "tflite")
    # several torch formats: the default is ambiguous
    assert_error(run(*cli(manifest_path, model["id"], None, inp, out), cwd=tmp_path), 2, "ambiguous")
    keras = next(m for m in manifest["models"] if not any(a["format"] in TORCH_FORMATS for a in m["artifacts"]))
    assert_error(run(*cli(manifest_path, keras["id"], None, inp, out), cwd=tmp_path), 2, "no artifact the C++ client runs")
    assert_error(run(*cli(manifest_path, keras["id"], "aoti", inp, out), cwd=tmp_path), 2, "lists no aoti artifact")


def test_bad_manifests_exit_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    inp, out = golden(manifest_path, model), tmp_path / "o.npy"
    assert_error(run(*cli(tmp_path / "missing.json", model["id"], "aoti", inp, out), cwd=tmp_path), 2, "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text(manifest_path.read_text()[:-40])
    assert_error(run(*cli(broken, model["id"], "aoti", inp, out), cwd=tmp_path), 2, "invalid JSON")
    doc = json.loads(manifest_path.read_text())
    doc["schema_version"] = 99
    future = tmp_path / "future.json"
    future.write_text(json.dumps(doc))
    assert_error(run(*cli(future, model["id"], "aoti", inp, out), cwd=tmp_path), 2, "schema_version")


def test_usage_errors_exit_2(tmp_path, manifest_path, manifest):
    model = torch_models(manifest)[0]
    base = cli(manifest_path, model["id"], "aoti", golden(manifest_path, model), tmp_path / "o.npy")
    assert_error(run(*base, "--bogus", cwd=tmp_path), 2, "--bogus")
    assert_error(run(*base, "--repeat", "0", cwd=tmp_path), 2, "--repeat")
    assert_error(run("--model", model["id"], cwd=tmp_path), 2, "--manifest")


# --- exit 3 ---------------------------------------------------------------------------------

@pytest.fixture()
def private_copy(tmp_path, manifest_path, manifest):
    """One torch model copied with its own manifest, so its artifacts can be corrupted."""
    model = json.loads(json.dumps(torch_models(manifest)[0]))
    for rel in [a["path"] for a in model["artifacts"]] + [model["golden"]["input"], model["golden"]["expected"]]:
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
    return run(*cli(tmp_path / "manifest.json", model["id"], fmt, tmp_path / model["golden"]["input"], tmp_path / "o.npy",
                    "--check", tmp_path / model["golden"]["expected"]), cwd=tmp_path)


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
    model, write = private_copy
    artifact = tmp_path / next(a["path"] for a in model["artifacts"] if a["format"] == "aoti")
    moved = tmp_path / "elsewhere.pt2"
    artifact.rename(moved)
    assert_error(run_copy(tmp_path, model, "aoti"), 3, "missing file")
    artifact.symlink_to(moved)
    assert_error(run_copy(tmp_path, model, "aoti"), 3, "symlink")
