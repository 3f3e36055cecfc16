"""One small runner per runtime, each declaring the artifact formats it loads.

In-process runners call Python runtimes; CLI runners drive a client through the common command
line of docs/contract.md (`--manifest --model --format --input --output`, exit codes 0/1/2/3), reading
only its output `.npy`, never its human output; `clients.find` says where its launcher is. A runner
that cannot run here says why.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from builder.bench.machine import cpu_flags
from builder.runtimes import native, python_loaders
from builder.runtimes.python_loaders import Predict
from builder.verify import clients
from builder.verify.serve_runner import ServeRunner
from builder.versions import package_version

CLI_TIMEOUT_S = 300
JOB_TIMEOUT_S = 20  # added per job of a --jobs run
TIMED_JOB_TIMEOUT_S = 600  # per timed job (bench): its batch-1024 calls on a slow runtime
TORCH_FORMATS = ("torchscript-script", "torchscript-trace", "aoti")


# No client documents an op it cannot run today. (TF Java 1.1.0 could not run jax2tf modules until
# the export serialized them for StableHLO 1.8.0: builder.formats.jax_formats.) A runner's
# `unsupported_ops` is where such a documented incompatibility goes, shown as `n/s`.


def unsupported(runner, artifact: dict) -> str | None:
    """Why `runner` documents that it cannot run `artifact`, or None."""
    check = getattr(runner, "unsupported", None)
    return check(artifact) if check else None


def unsupported_set(runner, input_set: str) -> str | None:
    """Why `runner` documents that it cannot match the reference on input set `input_set` on this
    machine, or None (shown as `n/s`, like `unsupported`)."""
    return dict(getattr(runner, "unsupported_sets", ())).get(input_set)


# TFLite 2.19's default XNNPACK delegate on AVX-512 CPUs answers NaN for the seed MLPs' rows of
# +-1e30 (its AVX-512 sigmoid and GEMM kernels), where TensorFlow, the reference and XNNPACK's
# AVX2 kernels give 0 or 1; TFLite's built-in kernels differ elsewhere (a lone +Inf feature).
XNNPACK_AVX512 = (
    "TFLite's XNNPACK kernels on AVX-512 CPUs answer NaN for inputs of +-1e30 where the reference "
    "saturates (docs/findings.md)"
)


class RunnerError(RuntimeError):
    """The runtime failed to load or run an artifact (one line)."""


@dataclasses.dataclass(frozen=True)
class PythonRunner:
    name: str
    formats: tuple[str, ...]
    package: str  # whose version identifies the runtime
    unsupported_sets: tuple[tuple[str, str], ...] = ()  # (input set, why): see `unsupported_set`

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
        reason = native.unavailable()
        if reason is None and not hasattr(native.load(), "Model"):
            reason = "builder._native was built without LibTorch"
        return reason

    def version(self) -> str | None:
        return f"libtorch {package_version('torch')}"

    def load(self, manifest: Path, model: dict, artifact: dict) -> Predict:
        loaded = native.load().Model.from_manifest(str(manifest), model["id"], artifact["format"])
        return lambda arrays: {name: np.asarray(a) for name, a in loaded.predict(arrays).items()}


@dataclasses.dataclass(frozen=True)
class CliRunner:
    """A client CLI (docs/contract.md), found by `clients.find`. verify and bench run it only
    through `--jobs` (one process per runtime); bench's jobs are timed by the client."""

    name: str
    formats: tuple[str, ...]
    launcher: str  # the launcher's name (looked up), or an absolute path (used as it is)
    extra_args: tuple[str, ...] = ()
    needs: str = ""  # what builds the launcher, for the "not found" reason
    # (op, why): artifacts whose manifest `contains_ops` names the op are a documented
    # incompatibility of this runtime, shown as "n/s" cells rather than failures.
    unsupported_ops: tuple[tuple[str, str], ...] = ()
    # A runtime that compiles its hot code as it runs: bench's batch-1 job makes at least this many
    # untimed calls first, so the timed ones run the compiled code a long-running service runs.
    jit_warmup: int = 0

    def unsupported(self, artifact: dict) -> str | None:
        found = [why for op, why in self.unsupported_ops if op in artifact.get("contains_ops", [])]
        return found[0] if found else None

    def path(self) -> Path:
        """The launcher's path; raises RunnerError when it is not found (see `unavailable`)."""
        found = clients.find(self.launcher)
        if found.path is None:
            raise RunnerError(f"{self.launcher} not found in {found.where()}")
        return found.path

    def unavailable(self) -> str | None:
        found = clients.find(self.launcher)
        if found.path is not None:
            return None
        return f"{self.launcher} not found in {found.where()}" + (f" ({self.needs})" if self.needs else "")

    def version(self) -> str | None:
        try:
            out = subprocess.run([self.path(), "--version"], capture_output=True, text=True, timeout=60)
        except (OSError, RunnerError):
            return None
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None

    def run_jobs(
        self, manifest: Path, work: list[tuple[dict, dict, list]]
    ) -> dict[tuple[str, str, str], dict | Exception]:
        """Runs every (model, artifact, input set) of `work` in ONE client process through the
        contract's `--jobs` (one JVM, Node or Chromium start for the whole matrix); returns each
        job's outputs, or the RunnerError it ended with, keyed by (model id, format, set name)."""
        jobs = [Job((m["id"], a["format"], s.name), m, a["format"], s.inputs) for m, a, sets in work for s in sets]
        return {
            job.key: result if isinstance(result, Exception) else result["outputs"]
            for job, result in zip(jobs, self.run(manifest, jobs), strict=True)
        }

    def run(self, manifest: Path, jobs: list[Job]) -> list[dict | RunnerError]:
        """Runs `jobs` in one client process; per job its result line (with `outputs`, the arrays
        it wrote, when the job asked for them) or the RunnerError it ended with."""
        with tempfile.TemporaryDirectory(prefix="deploykit-jobs-") as tmp:
            lines, outputs = [], []
            for index, job in enumerate(jobs):
                folder = Path(tmp) / str(index)
                (folder / "out").mkdir(parents=True)
                line = {
                    "id": "/".join(job.key),
                    "model": job.model["id"],
                    "format": job.format,
                    "inputs": save_arrays(folder, job.inputs),
                }
                outputs.append(
                    {t["name"]: str(folder / "out" / f"{t['name']}.npy") for t in job.model["outputs"]}
                    if job.outputs
                    else {}
                )
                if outputs[-1]:
                    line["outputs"] = outputs[-1]
                if job.repeat:
                    line |= {"repeat": job.repeat, "warmup": job.warmup}
                lines.append(json.dumps(line))
            path = Path(tmp) / "jobs.jsonl"
            path.write_text("\n".join(lines) + "\n")
            cmd = [str(self.path()), "--manifest", str(manifest), "--jobs", str(path), *self.extra_args]
            timeout = CLI_TIMEOUT_S + sum(TIMED_JOB_TIMEOUT_S if job.repeat else JOB_TIMEOUT_S for job in jobs)
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                return [RunnerError(f"{self.launcher} --jobs timed out after {timeout} s") for _ in jobs]
            reported = {}
            for text in proc.stdout.splitlines():
                try:
                    entry = json.loads(text)
                except json.JSONDecodeError:
                    continue  # the client's own human output
                if isinstance(entry, dict) and "index" in entry:
                    reported[entry["index"]] = entry
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            results: list[dict | RunnerError] = []
            for index, wanted in enumerate(outputs):
                entry = reported.get(index)
                if entry is None:
                    results.append(
                        RunnerError(
                            f"{self.launcher} --jobs exited {proc.returncode} without a result for this job: {last}"
                        )
                    )
                elif entry.get("exit") != 0:
                    results.append(
                        RunnerError(f"{self.launcher} exited {entry.get('exit')}: error: {entry.get('error')}")
                    )
                elif jobs[index].repeat and not isinstance(entry.get("timing"), dict):
                    results.append(RunnerError(f"{self.launcher} ran a timed job without reporting its timing"))
                else:
                    try:
                        results.append(entry | {"outputs": {name: np.load(file) for name, file in wanted.items()}})
                    except OSError as e:
                        results.append(RunnerError(f"{self.launcher} reported success but wrote no output: {e}"))
        return results


@dataclasses.dataclass(frozen=True)
class Job:
    """One line of a `--jobs` file: run `model` in `format` on `inputs`; with `repeat`, a timed job."""

    key: tuple[str, ...]  # echoed as the job's id, "/"-joined
    model: dict
    format: str
    inputs: dict[str, np.ndarray]
    outputs: bool = True  # write and return every output
    repeat: int | None = None
    warmup: int = 0


def save_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Writes `folder/<name>.npy` per array; returns name -> path."""
    paths = {}
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
        paths[name] = str(folder / f"{name}.npy")
    return paths


Runner = PythonRunner | NativeRunner | CliRunner | ServeRunner

SETUP = "pass --clients DIR or set DEPLOYKIT_CLIENTS; in a checkout, make setup-{} builds it"

RUNNERS: dict[str, Runner] = {
    r.name: r
    for r in (
        PythonRunner("torch-python", TORCH_FORMATS, "torch"),
        PythonRunner("onnxruntime", ("onnx",), "onnxruntime"),
        PythonRunner("tf-python", ("saved-model",), "tensorflow"),
        PythonRunner(
            "tflite",
            ("tflite",),
            "tensorflow",
            (("special", XNNPACK_AVX512),) if "avx512f" in cpu_flags() else (),
        ),
        NativeRunner(),
        CliRunner("cpp", TORCH_FORMATS, "deploykit-cpp", needs=SETUP.format("cpp")),
        # HotSpot's C2 compiles a method after ~5,000-15,000 calls (Tier4 thresholds); bench's default
        # 20 warm-up calls timed the client's predict half-interpreted (docs/measurements.md).
        CliRunner("java", ("saved-model",), "deploykit-java", needs=SETUP.format("java"), jit_warmup=20_000),
        CliRunner("go", ("saved-model",), "deploykit-go", needs=SETUP.format("go")),
        CliRunner("node-cpu", ("tfjs-graph",), "deploykit-node", ("--backend", "cpu"), needs=SETUP.format("js")),
        CliRunner("node-wasm", ("tfjs-graph",), "deploykit-node", ("--backend", "wasm"), needs=SETUP.format("js")),
        CliRunner("chromium", ("tfjs-graph",), "deploykit-browser", needs=SETUP.format("js")),
        # The artifacts behind `serve --engine triton`, over HTTP. verify serves the ONNX and scripted
        # TorchScript artifacts (two runtimes' worth: 15 served models on the test export, ~2 GB);
        # all five servable formats took 160 s and 6 GB (docs/serving.md).
        ServeRunner(formats=("onnx", "torchscript-script")),
    )
}
