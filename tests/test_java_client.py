"""The Java client (java/, bin/deploykit-java) driven the way `verify` drives it (one `--jobs` run):
parity over the golden, batch-1, batch-7 and special-values sets; the contract's command line on a
golden set folder; and the unsafe-op fixture refused. The JUnit suite (make test-java) covers the
rest, the conformance fixtures and the XlaCallModule incompatibility included."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from builder.verify import matrix

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "bin" / "deploykit-java"


@pytest.fixture(scope="module")
def launcher() -> Path:
    assert (REPO / "java" / "deploykit-cli" / "target" / "deploykit-java.jar").is_file(), (
        "the Java client is not built: run `make setup-java`"
    )
    return LAUNCHER


def test_java_matches_reference_on_keras_saved_model(launcher, smoke_export):
    result = matrix.run(smoke_export / "manifest.json", models=["mlp_keras"], runtimes=["java"])
    cells = result["cells"]
    assert {c["input_set"] for c in cells} >= {"golden", "batch1", "batch7", "special"}
    assert all(c["status"] == "pass" for c in cells), [(c["input_set"], c["reason"]) for c in cells]


def test_java_cli_checks_a_golden_set_folder_per_output(launcher, smoke_export, tmp_path):
    manifest = smoke_export / "manifest.json"
    golden = smoke_export / "wide_keras" / "golden" / "golden"
    cmd = [
        str(launcher),
        "--manifest",
        str(manifest),
        "--model",
        "wide_keras",
        "--input-dir",
        str(golden),
        "--output-dir",
        str(tmp_path / "out"),
        "--check-dir",
        str(golden / "expected"),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("check output: pass max_abs="), run.stdout
    assert " mismatches=0/640 " in run.stdout
    assert (tmp_path / "out" / "output.npy").is_file()
    bare = subprocess.run(
        [*cmd[:7], "--input", "nope=" + str(golden / "input.npy")], capture_output=True, text=True, timeout=300
    )
    assert bare.returncode == 2
    assert bare.stderr == 'error: input nope: unknown input "nope" (model inputs: input)\n'


def test_java_refuses_the_unsafe_fixture(launcher, tmp_path):
    manifest = Path(os.environ.get("DEPLOYKIT_UNSAFE_MANIFEST", REPO / "build/fixtures/unsafe/manifest.json"))
    assert manifest.is_file(), "run `make test-fixtures`"
    golden = manifest.parent / "unsafe_readfile" / "golden" / "golden"
    cmd = [
        str(launcher),
        "--manifest",
        str(manifest),
        "--model",
        "unsafe_readfile",
        "--input-dir",
        str(golden),
        "--output-dir",
        str(tmp_path / "out"),
        "--check-dir",
        str(golden / "expected"),
    ]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 3
    assert refused.stderr.startswith("error: safety unsafe_readfile/saved-model:") and "ReadFile" in refused.stderr
    assert len(refused.stderr.splitlines()) == 1
    allowed = subprocess.run([*cmd, "--allow-unsafe-ops"], capture_output=True, text=True, timeout=300)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("check output: pass")
