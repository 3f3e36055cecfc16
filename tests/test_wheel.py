"""The wheel as a user installs it: built from this tree, installed with its `[torch]` extra into a
fresh venv (nothing of the checkout on its path), where `deploykit` exports a user model through the
Python API and verifies it on the Python runtimes and the extension.

The extension is rebuilt incrementally in build/<wheel tag> (the folder `make setup` compiled it
in); the venv installs from uv's cache, filled by `make setup` from the same lock (the constraints
keep it on the lock's versions). About 40 s in all, most of it the export.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "lock.txt"

USER_MODEL = """
import sys

import torch

import builder

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).eval()
spec = builder.TensorSpec("features", "float32", ("batch", 6))
model = builder.UserModel(net, inputs=[spec], outputs=["scores"], id="tiny_torch")
print(builder.export(model, out=sys.argv[1], formats=["torchscript-trace", "onnx"], strict=True))
"""


def _lock() -> dict[str, str]:
    pins = (line.split("==") for line in LOCK.read_text().splitlines() if "==" in line and not line.startswith("#"))
    return {canonicalize_name(name): version.strip() for name, version in pins}


def test_every_declared_requirement_admits_the_locked_version():
    """The wheel's ranges are built around the lock: each admits exactly the pinned version the
    tests run on, so `pip install -c requirements/lock.txt` installs the tested set."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = _lock()
    declared = [Requirement(r) for r in project["dependencies"]]
    declared += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    for req in declared:
        name = canonicalize_name(req.name)
        if name == canonicalize_name(project["name"]):
            continue  # [all] names the other extras
        assert name in lock, f"{req} is not in requirements/lock.txt"
        assert req.specifier and req.specifier.contains(lock[name]), f"{req} does not admit the lock's {lock[name]}"
    assert project["scripts"] == {"deploykit": "builder.cli:main"}


def _uv() -> str:
    uv = Path(sys.executable).with_name("uv")
    found = str(uv) if uv.is_file() else shutil.which("uv")
    assert found, "uv is not installed: run make setup (it comes from requirements/lock.txt)"
    return found


def _run(cmd: list, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd[0]} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A fresh Python 3.11 venv holding the wheel of this tree and its `[torch]` extra."""
    tmp = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-q", "-w", tmp, REPO], REPO)
    (wheel,) = tmp.glob("deploykit_builder-*.whl")
    _run([_uv(), "venv", "-q", "--python", sys.executable, tmp / "venv"], tmp)
    python = tmp / "venv" / "bin" / "python"
    _run([_uv(), "pip", "install", "-q", "--python", python, "-c", LOCK, f"{wheel}[torch]"], tmp)
    return tmp / "venv"


def _env(venv: Path) -> dict:
    """The user's environment: the venv's bin/ first, nothing of the checkout or of a client folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "DEPLOYKIT_CLIENTS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin"
    return env


def test_the_installed_package_is_not_the_checkout(venv):
    out = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import builder, builder.verify.clients as c; print(builder.__file__, c.CHECKOUT_BIN)",
        ],
        venv.parent,
        _env(venv),
    ).stdout.split()
    assert Path(out[0]).is_relative_to(venv) and out[1] == "None", out


def test_console_script(venv):
    out = _run([venv / "bin" / "deploykit", "--help"], venv.parent, _env(venv)).stdout
    assert "export" in out and "verify" in out


def test_the_extension_finds_libtorch_through_the_installed_torch(venv):
    (native,) = (venv / "lib" / "python3.11" / "site-packages" / "builder").glob("_native*.so")
    dynamic = _run(["readelf", "-d", native], venv.parent).stdout
    runpath = [
        line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines() if "RUNPATH" in line or "RPATH" in line
    ]
    entries = [entry for line in runpath for entry in line.split(":")]
    assert entries == ["$ORIGIN/../torch/lib"], f"the extension's runpath names build-machine paths: {entries}"
    assert str(REPO) not in dynamic


def test_export_a_user_model_and_verify_it_in_the_fresh_venv(venv, tmp_path):
    env = _env(venv)
    (tmp_path / "make_model.py").write_text(USER_MODEL)
    out = _run([venv / "bin" / "python", "make_model.py", tmp_path / "export"], tmp_path, env).stdout
    manifest = Path(out.strip().splitlines()[-1])
    assert manifest == tmp_path / "export" / "manifest.json" and manifest.is_file(), out
    runtimes = ["torch-python", "onnxruntime", "libtorch-native"]
    verify = [venv / "bin" / "deploykit", "verify", "--manifest", manifest, "--require-all", "--runtimes", *runtimes]
    _run(verify, tmp_path, env)
    summary = json.loads((tmp_path / "export" / "report" / "parity.json").read_text())["summary"]
    assert summary["pass"] > 0, summary
    assert summary["fail"] == summary["error"] == summary["unavailable"] == summary["unsupported"] == 0, summary

    # An installed verify finds clients only where it is told: an empty --clients folder makes the
    # C++ client unavailable (exit 1 with --require-all), naming the folder.
    empty = tmp_path / "no-clients"
    empty.mkdir()
    args = ["--manifest", manifest, "--runtimes", "cpp", "--clients", empty, "--report-dir", tmp_path / "r"]
    done = subprocess.run(
        [str(a) for a in (venv / "bin" / "deploykit", "verify", *args, "--require-all")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    reasons = json.loads((tmp_path / "r" / "parity.json").read_text())["runtimes"]["cpp"]["reason"]
    assert reasons.startswith(f"deploykit-cpp not found in --clients {empty.resolve()}"), reasons
