"""The C++ client as an installed CMake package (cpp/README.md, "Use it from your project"), and
the Python extension's runpath.

`cmake --install build/cpp` into a temporary prefix, then cpp/examples/consumer, a project of its
own with `find_package(deploykit CONFIG REQUIRED)`, is configured against that prefix and torch's
CMake folder only, built, and run on torch artifacts of the shared test export against their
golden outputs. Needs `make setup-cpp` (build/cpp) and `make test-fixtures`; a missing one FAILS.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CPP_BUILD = REPO / "build" / "cpp"
CONSUMER = REPO / "cpp" / "examples" / "consumer"
TIMEOUT_S = 300


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT_S, **kwargs)
    assert result.returncode >= 0, f"{cmd[0]} killed by signal {-result.returncode}: {result.stderr[-2000:]}"
    return result


def check(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    result = run(cmd, **kwargs)
    assert result.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def torch_cmake_dir() -> Path:
    """torch.utils.cmake_prefix_path, found without importing torch."""
    spec = importlib.util.find_spec("torch")
    assert spec is not None and spec.origin, "torch is not installed in this interpreter"
    return Path(spec.origin).parent / "share" / "cmake"


@pytest.fixture(scope="module")
def prefix(tmp_path_factory) -> Path:
    assert (CPP_BUILD / "cmake_install.cmake").is_file(), f"{CPP_BUILD} is not configured: run `make setup-cpp`"
    out = tmp_path_factory.mktemp("cpp-package") / "prefix"
    check(["cmake", "--install", CPP_BUILD, "--prefix", out])
    return out


@pytest.fixture(scope="module")
def consumer(prefix) -> Path:
    """The consumer's binary, built from its own CMakeLists.txt against the installed package."""
    build = prefix.parent / "consumer-build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    check(
        [
            "cmake", "-S", CONSUMER, "-B", build, *generator, "-DCMAKE_BUILD_TYPE=Release",
            "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", f"-DCMAKE_PREFIX_PATH={prefix};{torch_cmake_dir()}",
        ]
    )  # fmt: skip
    check(["cmake", "--build", build])
    # The package's headers, not the source tree's.
    commands = json.loads((build / "compile_commands.json").read_text())
    flags = " ".join(c["command"] for c in commands)
    assert str(prefix / "include") in flags, flags
    assert str(REPO / "cpp" / "include") not in flags, flags
    return build / "deploykit_consumer"


def test_installed_package_layout(prefix):
    cmake_dir = prefix / "lib" / "cmake" / "deploykit"
    for name in (
        "deploykitConfig.cmake",
        "deploykitConfigVersion.cmake",
        "deploykitTargets.cmake",
        "DeploykitTorch.cmake",
    ):
        assert (cmake_dir / name).is_file(), name
    assert (prefix / "include" / "deploykit" / "model.hpp").is_file()
    targets = "".join(p.read_text() for p in cmake_dir.glob("deploykitTargets*.cmake"))
    for target in ("deploykit::deploykit", "deploykit::model", "deploykit::core", "deploykit::compare"):
        assert f"add_library({target} " in targets, target
    # Nothing of the source tree, and CLI11 (header-only, used inside the library) is not a dependency.
    assert str(REPO / "cpp") not in targets
    assert "CLI11" not in targets
    # Tests are not installed; the demo CLI is, with an rpath to the LibTorch it was built against.
    assert not list(prefix.rglob("*_test"))
    assert (prefix / "bin" / "deploykit-cpp").is_file()


@pytest.mark.parametrize(("model", "fmt"), [("mlp_torch", "torchscript-trace"), ("cnn_torch", "aoti")])
def test_consumer_predicts_the_golden_outputs(consumer, manifest_path, model, fmt):
    manifest = json.loads(manifest_path.read_text())
    entry = next(m for m in manifest["models"] if m["id"] == model)
    result = check([consumer, manifest_path, model, fmt])
    lines = result.stdout.splitlines()
    # One "pass" line per golden set and output, then the LibTorch version.
    for golden in entry["golden"]:
        for output in golden["expected"]:
            line = next((x for x in lines if x.startswith(f"{model}/{fmt}/{golden['name']} {output}: ")), None)
            assert line is not None, result.stdout
            assert re.search(r": pass max_abs=\S+ mismatches=0/\d+$", line), line
    assert lines[-1].startswith("libtorch "), result.stdout


def test_consumer_defaults_to_the_test_manifest_and_maps_errors(consumer, manifest_path):
    env = {**os.environ, "DEPLOYKIT_TEST_MANIFEST": str(manifest_path)}
    assert "mlp_torch/torchscript-trace/golden output: pass" in check([consumer], env=env).stdout
    bad_format = run([consumer, manifest_path, "mlp_torch", "onnx"])
    assert bad_format.returncode == 2
    assert bad_format.stderr.strip() == "error: format 'onnx': not one of torchscript-script, torchscript-trace, aoti"
    assert run([consumer, manifest_path, "no_such_model"]).returncode == 2


def test_native_extension_finds_libtorch_through_the_torch_package():
    """builder._native's RUNPATH is $ORIGIN/../torch/lib only: no path of the machine that built it."""
    spec = importlib.util.find_spec("builder._native")
    assert spec is not None and spec.origin, "builder._native is not built: run `make setup`"
    dynamic = check(["readelf", "-d", spec.origin]).stdout
    runpaths = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library (?:runpath|rpath): \[(.*)\]", dynamic)
    assert runpaths == ["$ORIGIN/../torch/lib"], dynamic
