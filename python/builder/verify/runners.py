"""One small runner per runtime, each declaring the artifact formats it loads.

In-process runners call Python runtimes; CLI runners drive a client through the common command
line of docs/contract.md (`--manifest --model --format --input --output`, exit codes 0/1/2/3), reading
only its output `.npy`, never its human output. A runner that cannot run here says why.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from builder.runtimes import python_loaders
from builder.runtimes.python_loaders import Predict
from builder.versions import package_version

REPO = Path(__file__).resolve().parents[3]
CLI_TIMEOUT_S = 300
JOB_TIMEOUT_S = 20  # added per job of a --jobs run
TORCH_FORMATS = ("torchscript-script", "torchscript-trace", "aoti")


# Measured with TF Java 1.1.0 (TensorFlow 2.18.0): the client refuses these with exit 3, and
# java/src/test/.../XlaCallModuleTest.java asserts that refusal on every run of `make test`.
JAVA_UNSUPPORTED = (
    ("XlaCallModule", "TF Java 1.1.0 is TensorFlow 2.18, which cannot deserialize the StableHLO (bytecode v1.15) that "
                      "jax 0.10 writes into XlaCallModule; the client refuses it with exit 3 (see java/README.md)"),
)


def unsupported(runner, artifact: dict) -> str | None:
    """Why `runner` documents that it cannot run `artifact`, or None."""
    check = getattr(runner, "unsupported", None)
    return check(artifact) if check else None


class RunnerError(RuntimeError):
    """The runtime failed to load or run an artifact (one line)."""


@dataclasses.dataclass(frozen=True)
class PythonRunner:
    name: str
    formats: tuple[str, ...]
    package: str  # whose version identifies the runtime

    def unavailable(self) -> str | None:
        return None if package_version(self.package) != "not installed" else f"{self.package} is not installed"

    def version(self) -> str | None:
        return f"{self.package} {package_version(self.package)}"

    def load(self, manifest: Path, model: dict, artifact: dict) -> Predict:
        return python_loaders.load(manifest.parent / artifact["path"], artifact, model)


@dataclasses.dataclass(frozen=True)
class NativeRunner:
    """LibTorch C++ inside `builder._native` (the C++ client's code, bound with pybind11)."""

    name: str = "libtorch-native"
    formats: tuple[str, ...] = TORCH_FORMATS

    def unavailable(self) -> str | None:
        from builder import _native

        return None if hasattr(_native, "Model") else "builder._native was built without LibTorch"

    def version(self) -> str | None:
        return f"libtorch {package_version('torch')}"

    def load(self, manifest: Path, model: dict, artifact: dict) -> Predict:
        from builder import _native

        native = _native.Model.from_manifest(str(manifest), model["id"], artifact["format"])
        return lambda arrays: {name: np.asarray(a) for name, a in native.predict(arrays).items()}


@dataclasses.dataclass(frozen=True)
class CliRunner:
    """A client CLI, launched from bin/ after `make setup` (docs/contract.md). verify runs it only
    through `run_jobs` (one process per runtime); bench times it with its own `--timing` calls."""

    name: str
    formats: tuple[str, ...]
    launcher: str  # relative to the repository root
    extra_args: tuple[str, ...] = ()
    needs: str = ""  # what provides the launcher, for the "not found" reason
    # (op, why): artifacts whose manifest `contains_ops` names the op are a documented
    # incompatibility of this runtime, shown as "n/s" cells rather than failures.
    unsupported_ops: tuple[tuple[str, str], ...] = ()

    def unsupported(self, artifact: dict) -> str | None:
        found = [why for op, why in self.unsupported_ops if op in artifact.get("contains_ops", [])]
        return found[0] if found else None

    def path(self) -> Path:
        return REPO / self.launcher

    def unavailable(self) -> str | None:
        return None if self.path().is_file() else f"{self.launcher} not found ({self.needs})"

    def version(self) -> str | None:
        try:
            out = subprocess.run([self.path(), "--version"], capture_output=True, text=True, timeout=60)
        except OSError:
            return None
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None

    def run_jobs(self, manifest: Path, work: list[tuple[dict, dict, list]]) -> dict[tuple[str, str, str], dict | Exception]:
        """Runs every (model, artifact, input set) of `work` in ONE client process through the
        contract's `--jobs` (one JVM, Node or Chromium start for the whole matrix); returns each
        job's outputs, or the RunnerError it ended with, keyed by (model id, format, set name)."""
        results: dict[tuple[str, str, str], dict | Exception] = {}
        with tempfile.TemporaryDirectory(prefix="deploykit-jobs-") as tmp:
            lines, keys = [], []
            for model, artifact, sets in work:
                for s in sets:
                    folder = Path(tmp) / str(len(keys))
                    folder.mkdir()
                    inputs = {}
                    for name, array in s.inputs.items():
                        np.save(folder / f"{name}.npy", array)
                        inputs[name] = str(folder / f"{name}.npy")
                    outputs = {t["name"]: str(folder / "out" / f"{t['name']}.npy") for t in model["outputs"]}
                    (folder / "out").mkdir()
                    key = (model["id"], artifact["format"], s.name)
                    lines.append(json.dumps({"id": "/".join(key), "model": model["id"], "format": artifact["format"], "inputs": inputs, "outputs": outputs}))
                    keys.append((key, outputs))
            jobs = Path(tmp) / "jobs.jsonl"
            jobs.write_text("\n".join(lines) + "\n")
            cmd = [str(self.path()), "--manifest", str(manifest), "--jobs", str(jobs), *self.extra_args]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S + JOB_TIMEOUT_S * len(keys))
            except subprocess.TimeoutExpired:
                return {key: RunnerError(f"{self.launcher} --jobs timed out") for key, _ in keys}
            reported = {}
            for line in proc.stdout.splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the client's own human output
                if isinstance(entry, dict) and "index" in entry:
                    reported[entry["index"]] = entry
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            for index, (key, outputs) in enumerate(keys):
                entry = reported.get(index)
                if entry is None:
                    results[key] = RunnerError(f"{self.launcher} --jobs exited {proc.returncode} without a result for this job: {last}")
                elif entry.get("exit") != 0:
                    results[key] = RunnerError(f"{self.launcher} exited {entry.get('exit')}: error: {entry.get('error')}")
                else:
                    try:
                        results[key] = {name: np.load(path) for name, path in outputs.items()}
                    except OSError as e:
                        results[key] = RunnerError(f"{self.launcher} reported success but wrote no output: {e}")
        return results


Runner = PythonRunner | NativeRunner | CliRunner

RUNNERS: dict[str, Runner] = {
    r.name: r
    for r in (
        PythonRunner("torch-python", TORCH_FORMATS, "torch"),
        PythonRunner("onnxruntime", ("onnx",), "onnxruntime"),
        PythonRunner("tf-python", ("saved-model",), "tensorflow"),
        PythonRunner("tflite", ("tflite",), "tensorflow"),
        NativeRunner(),
        CliRunner("cpp", TORCH_FORMATS, "bin/deploykit-cpp", needs="make setup-cpp"),
        CliRunner("java", ("saved-model",), "bin/deploykit-java", needs="make setup-java", unsupported_ops=JAVA_UNSUPPORTED),
        CliRunner("go", ("saved-model",), "bin/deploykit-go", needs="make setup-go"),
        CliRunner("node-cpu", ("tfjs-graph",), "bin/deploykit-node", ("--backend", "cpu"), needs="make setup-js"),
        CliRunner("node-wasm", ("tfjs-graph",), "bin/deploykit-node", ("--backend", "wasm"), needs="make setup-js"),
        CliRunner("chromium", ("tfjs-graph",), "bin/deploykit-browser", needs="make setup-js"),
    )
}
