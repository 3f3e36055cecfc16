"""One small runner per runtime, each declaring the artifact formats it loads.

In-process runners call Python runtimes; CLI runners drive a client through the common command
line of DESIGN.md (`--manifest --model --format --input --output`, exit codes 0/1/2/3), reading
only its output `.npy`, never its human output. A runner that cannot run here says why.
"""
from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from builder.runtimes.python_loaders import LOADERS, Predict
from builder.versions import package_version

REPO = Path(__file__).resolve().parents[3]
CLI_TIMEOUT_S = 300
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
        return LOADERS[artifact["format"]](manifest.parent / artifact["path"], artifact)


@dataclasses.dataclass(frozen=True)
class NativeRunner:
    """LibTorch C++ inside `builder._native` (the C++ client's code, bound with pybind11)."""

    name: str = "libtorch-native"
    formats: tuple[str, ...] = TORCH_FORMATS

    def unavailable(self) -> str | None:
        from builder import _native

        return None if hasattr(_native, "Model") else "builder._native has no LibTorch model runner yet (C++ client, issue 3)"

    def version(self) -> str | None:
        return f"libtorch {package_version('torch')}"

    def load(self, manifest: Path, model: dict, artifact: dict) -> Predict:
        from builder import _native

        native = _native.Model(str(manifest.parent / artifact["path"]), artifact["format"])
        return lambda x: np.asarray(native.predict(np.ascontiguousarray(x, np.float32)))


@dataclasses.dataclass(frozen=True)
class CliRunner:
    """A client CLI, launched from bin/ after `make setup` (DESIGN.md)."""

    name: str
    formats: tuple[str, ...]
    launcher: str  # relative to the repository root
    extra_args: tuple[str, ...] = ()
    issue: str = ""
    # (op, why): artifacts whose manifest `contains_ops` names the op are a documented
    # incompatibility of this runtime, shown as "n/s" cells rather than failures.
    unsupported_ops: tuple[tuple[str, str], ...] = ()

    def unsupported(self, artifact: dict) -> str | None:
        found = [why for op, why in self.unsupported_ops if op in artifact.get("contains_ops", [])]
        return found[0] if found else None

    def path(self) -> Path:
        return REPO / self.launcher

    def unavailable(self) -> str | None:
        return None if self.path().is_file() else f"{self.launcher} not found ({self.issue})"

    def version(self) -> str | None:
        try:
            out = subprocess.run([self.path(), "--version"], capture_output=True, text=True, timeout=60)
        except OSError:
            return None
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None

    def load(self, manifest: Path, model: dict, artifact: dict) -> Predict:
        def predict(x: np.ndarray) -> np.ndarray:
            with tempfile.TemporaryDirectory(prefix="deploykit-verify-") as tmp:
                inp, out = Path(tmp) / "input.npy", Path(tmp) / "output.npy"
                np.save(inp, np.ascontiguousarray(x, np.float32))
                cmd = [str(self.path()), "--manifest", str(manifest), "--model", model["id"], "--format", artifact["format"],
                       "--input", str(inp), "--output", str(out), *self.extra_args]
                result = subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)
                if result.returncode != 0:
                    lines = result.stderr.strip().splitlines() or ["(no message)"]
                    raise RunnerError(f"{self.launcher} exited {result.returncode}: {lines[-1]}")
                return np.load(out)

        return predict


Runner = PythonRunner | NativeRunner | CliRunner

RUNNERS: dict[str, Runner] = {
    r.name: r
    for r in (
        PythonRunner("torch-python", TORCH_FORMATS, "torch"),
        PythonRunner("onnxruntime", ("onnx",), "onnxruntime"),
        PythonRunner("tf-python", ("saved-model",), "tensorflow"),
        PythonRunner("tflite", ("tflite",), "tensorflow"),
        NativeRunner(),
        CliRunner("cpp", TORCH_FORMATS, "bin/deploykit-cpp", issue="C++ client, issue 3"),
        CliRunner("java", ("saved-model",), "bin/deploykit-java", issue="Java client, issue 4", unsupported_ops=JAVA_UNSUPPORTED),
        CliRunner("go", ("saved-model",), "bin/deploykit-go", issue="Go client, issue 5"),
        CliRunner("node-cpu", ("tfjs-graph",), "bin/deploykit-node", ("--backend", "cpu"), issue="TF.js client, issue 6"),
        CliRunner("node-wasm", ("tfjs-graph",), "bin/deploykit-node", ("--backend", "wasm"), issue="TF.js client, issue 6"),
        CliRunner("chromium", ("tfjs-graph",), "bin/deploykit-browser", issue="TF.js browser runner, issue 6"),
    )
}
