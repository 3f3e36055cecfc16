"""Command line: `python -m builder <command>`. Errors are one line on stderr with exit code 2
(usage, bad arguments) or 1 (the work failed); `--verbose` shows tracebacks."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from builder import __version__, generate, quiet, tf_env
from builder.formats import FORMATS, artifact_cache
from builder.models import MODEL_IDS
from builder.models.common import TRAINERS, TrainConfig, headline
from builder.serve import cli as serve_cli

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (`error: ...`) with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _names(known: tuple[str, ...] | list[str], what: str):
    """argparse type for a comma- or space-separated list of names from `known`."""

    def parse(text: str) -> list[str]:
        names = [n for n in text.split(",") if n]
        for n in names:
            if n not in known:
                raise argparse.ArgumentTypeError(f"unknown {what} {n!r} (known: {', '.join(known)})")
        return names

    return parse


def _names_any(text: str) -> list[str]:
    """argparse type for a comma-separated list of model ids of a manifest (checked against it later)."""
    return [n for n in text.split(",") if n]


def build_parser() -> argparse.ArgumentParser:
    # `deploykit` (the wheel's console script) or `python -m builder`: the same commands.
    prog = "deploykit" if Path(sys.argv[0]).name == "deploykit" else "python -m builder"
    parser = _Parser(prog=prog, description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"deploykit-builder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    export = sub.add_parser(
        "export",
        help="train the models and export every artifact, golden vectors and the manifest",
        description=(
            "Train each model (the seed MLPs on the toy task x ~ N(0,1) in R^10, y = sum(x) > 0; the wide benchmark "
            "models briefly; the digit CNNs on scikit-learn's bundled digits; a character-level transformer and a "
            "two-input snippet classifier on the Python standard library's own source), export every format its "
            "framework reaches, write named golden sets generated from each model's tensor specs, reload each "
            "artifact in Python and compare every output with the eager reference (batch 1 and the golden batch), "
            "then write manifest.json (docs/contract.md). The output folder is replaced atomically at the end: a "
            "failed run leaves the previous export intact."
        ),
    )
    export.add_argument("--out", type=Path, default=Path("models"), help="output folder (default: models)")
    export.add_argument(
        "--models",
        type=_names(list(MODEL_IDS), "model"),
        nargs="+",
        metavar="ID",
        help=f"models to export (default: all of {', '.join(MODEL_IDS)})",
    )
    export.add_argument(
        "--from",
        dest="from_specs",
        action="append",
        metavar="SPEC",
        help="export your own model: SPEC is path/to/file.py:function or package.module:function, a function "
        "taking no arguments and returning a builder.UserModel (or a list); repeatable; without --models, only "
        "these are exported (docs/your-model.md)",
    )
    export.add_argument("--id", dest="user_id", metavar="ID", help="the manifest id of the one --from model")
    export.add_argument(
        "--formats",
        type=_names(FORMATS, "format"),
        nargs="+",
        metavar="FORMAT",
        help=f"formats to export where the model's framework can (default: all of {', '.join(FORMATS)}); "
        "tflite and tfjs-graph are converted from saved-model, which is then exported too",
    )
    _add_training_args(export)
    export.add_argument(
        "--serving",
        action="store_true",
        help="also write a Triton model repository and a TF Serving base path under OUT/serving/",
    )
    cache = export.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="reuse AOTInductor packages compiled before from the same program and toolchain, and keep new ones "
        f"(default: ${artifact_cache.ENV}, else ~/.cache/deploykit; every artifact is still checked)",
    )
    export.add_argument(
        "--sequential",
        action="store_true",
        help="export every model in this process, one after another (default on 2 or more cores: the torch models "
        "train and export in a second process beside the others; the results are the same)",
    )
    cache.add_argument("--no-cache", action="store_true", help="compile every AOTInductor package afresh and keep none")
    export.add_argument(
        "--strict",
        action="store_true",
        help="fail the export when a conversion cannot express a model (an op, a dynamic dim) instead of skipping "
        "that format; skipped formats are listed, with the reason, in the manifest's `skipped` and the closing table",
    )

    train = sub.add_parser(
        "train",
        help="train one model and plot its loss curve, without exporting",
        description=(
            "Train one model on its data set, print loss and the held-out metric per epoch, "
            "and write the loss curve to REPORT_DIR/<model>_loss.png. The same modes work in export."
        ),
    )
    train.add_argument(
        "--model", required=True, choices=list(MODEL_IDS), metavar="ID", help=f"one of {', '.join(MODEL_IDS)}"
    )
    train.add_argument(
        "--report-dir", type=Path, default=Path("models/report"), help="where the plot goes (default: models/report)"
    )
    _add_training_args(train)

    verify = sub.add_parser(
        "verify",
        help="run every runtime over every artifact it can load and report parity with the reference",
        description=(
            "Run each selected runtime on each artifact it loads, over the golden rows at once, the first "
            "1 and 7 rows as their own batches, and the special-values rows (NaN/Inf must match the "
            "reference), compare with the reference (docs/contract.md semantics, the artifact's tolerance), and "
            "write parity.json, parity.md and parity.html. Exit 0 when every available cell passes, 1 when "
            "any fails (or, with --require-all, any runtime is unavailable), 2 on bad arguments."
        ),
    )
    _add_matrix_args(verify)
    verify.add_argument(
        "--keep-outputs",
        type=Path,
        metavar="DIR",
        help="save every runtime's outputs as DIR/<model>/<format>/<runtime>/<input set>.npy",
    )
    verify.add_argument("--require-all", action="store_true", help="an unavailable runtime fails the run")
    from builder.verify.clients import ClientsDirAction  # imports nothing heavy

    clients_help = (
        "the only folder to find the client launchers in (deploykit-cpp, -java, -go, -node, -browser); "
        "default: $DEPLOYKIT_CLIENTS, else PATH, else the checkout's bin/"
    )
    verify.add_argument("--clients", metavar="DIR", action=ClientsDirAction, help=clients_help)
    verify.add_argument("-v", "--verbose", action="store_true", help="show framework logs and tracebacks")

    bench = sub.add_parser(
        "bench",
        help="measure inference and training speed of every runtime",
        description=(
            "Measure the machine's float32 GEMM peak; per (model, artifact, runtime) the load time, first "
            "call, batch-1 latency (p50/p90/p99) and batch-1024 throughput (rows/s, GFLOP/s, % of peak); "
            "and training steps/s of each framework's compiled mode against its eager mode. Writes "
            "bench.json, bench.md and bench.html. Results are noisy on shared machines: compare within one run."
        ),
    )
    _add_matrix_args(bench)
    bench.add_argument(
        "--repeat",
        type=int,
        default=2000,
        help="timed batch-1 calls per runtime, in 10 interleaved blocks for the clients' overhead intervals "
        "(default: 2000)",
    )
    bench.add_argument("--warmup", type=int, default=20, help="untimed calls first (default: 20)")
    bench.add_argument(
        "--training-steps", type=int, default=50, help="timed steps per training repeat (default: 50; 0 skips training)"
    )
    bench.add_argument("--training-repeats", type=int, default=5, help="training repeats, median reported (default: 5)")
    bench.add_argument("--clients", metavar="DIR", action=ClientsDirAction, help=clients_help)
    bench.add_argument("-v", "--verbose", action="store_true", help="show framework logs and tracebacks")
    generate.add_parser(sub)
    serve_cli.add_parsers(sub)
    conformance = sub.add_parser(
        "conformance",
        help="write the language-neutral conformance fixtures (npy files, manifests, verdicts.json)",
        description=(
            "Write valid and invalid .npy files of every contract dtype and rank, valid and invalid manifests, "
            "and input checks against tensor specs, with the verdict every client must reach (verdicts.json). "
            "The folder is replaced. The committed copy lives in testdata/conformance (docs/contract.md)."
        ),
    )
    conformance.add_argument(
        "--out", type=Path, default=Path("testdata/conformance"), help="default: testdata/conformance"
    )
    return parser


def _add_matrix_args(parser: argparse.ArgumentParser) -> None:
    """The selection flags shared by verify and bench: which export, models and runtimes."""
    parser.add_argument(
        "--manifest", type=Path, default=Path("models/manifest.json"), help="default: models/manifest.json"
    )
    parser.add_argument(
        "--models", type=_names_any, nargs="+", metavar="ID", help="models of the manifest (default: all in it)"
    )
    parser.add_argument(
        "--runtimes",
        type=_names(_runtime_names(), "runtime"),
        nargs="+",
        metavar="NAME",
        help=f"default: all of {', '.join(_runtime_names())}",
    )
    parser.add_argument("--report-dir", type=Path, help="default: report/ beside the manifest")


def _runtime_names() -> list[str]:
    from builder.verify.runners import RUNNERS

    return list(RUNNERS)


def _add_training_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="seed for data, initialisation and shuffling (default: 0)")
    parser.add_argument("--epochs", type=int, help="training epochs (default: each model's own)")
    modes = parser.add_argument_group("training modes (each applies to the models named)")
    modes.add_argument(
        "--amp",
        action="store_true",
        help="mlp_torch: mixed precision (torch.autocast: float16 + GradScaler on CUDA, bfloat16 on CPU)",
    )
    modes.add_argument(
        "--trainer",
        choices=TRAINERS,
        default="fit",
        help="mlp_keras: Keras fit (default), a tf.data + GradientTape loop, or that loop compiled with XLA",
    )
    modes.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="data-parallel replicas: mlp_torch DistributedDataParallel processes (gloo), mlp_keras "
        "MirroredStrategy over N logical CPUs, mlp_jax shard_map over N devices (default: 1)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show framework logs and tracebacks")


def _flatten(lists: list[list[str]] | None) -> list[str] | None:
    return None if lists is None else list(dict.fromkeys(n for group in lists for n in group))


def _set_verbosity(args: argparse.Namespace) -> None:
    """Framework logging: quiet unless --verbose. Must run before the frameworks are imported."""
    if args.verbose:
        os.environ[quiet.ENV_VERBOSE] = "1"
    else:
        _quiet_frameworks()


@contextlib.contextmanager
def _progress_lines(command: str) -> Iterator[Callable[[str], None]]:
    """Yields `progress(message)`, which prints `<command>: message` to the real stderr while the
    frameworks' native logging on fd 2 is silenced."""
    with os.fdopen(os.dup(2), "w", buffering=1) as stream, quiet.native_stderr_silenced():
        yield lambda message: print(f"{command}: {message}", file=stream)


def _prepare_environment(args: argparse.Namespace) -> None:
    """Environment that must be set before the frameworks are imported."""
    _set_verbosity(args)
    if args.nproc > 1:
        # JAX data parallelism on the CPU needs that many host devices, fixed when JAX starts.
        flag = f"--xla_force_host_platform_device_count={args.nproc}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()


def _training_modes(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(seed=args.seed, epochs=args.epochs, amp=args.amp, trainer=args.trainer, nproc=args.nproc)


def _quiet_frameworks() -> None:
    # Must run before TensorFlow is imported; users can still override with their own value.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for name in ("torch.onnx", "torch._inductor", "torch.export", "absl", "tensorflow", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cmd_export(args: argparse.Namespace) -> int:
    from rich.console import Console

    from builder.config import ExportConfig

    if args.user_id and len(args.from_specs or []) != 1:
        print("error: export: --id names the model of exactly one --from", file=sys.stderr)
        return EXIT_USAGE
    user_models = ()
    if args.from_specs:
        _prepare_environment(args)  # the factories import their frameworks
        from builder import api

        try:
            with quiet.native_stderr_silenced():
                user_models = tuple(m for spec in args.from_specs for m in api.load(spec))
            if args.user_id:
                if len(user_models) != 1:
                    raise api.SpecError(f"--id: {args.from_specs[0]} gives {len(user_models)} models, not one")
                user_models[0].id = args.user_id
                from builder.user_model import ID_PATTERN

                if not ID_PATTERN.match(args.user_id):
                    raise api.SpecError(f"--id {args.user_id!r}: a model id is a lowercase identifier (a-z, 0-9, _)")
        except ValueError as e:  # SpecError, UserModelError
            print(f"error: export: {e}", file=sys.stderr)
            return EXIT_USAGE
    try:
        cfg = ExportConfig(
            out=args.out,
            models=tuple(_flatten(args.models) or (() if user_models else MODEL_IDS)),
            user_models=user_models,
            formats=tuple(_flatten(args.formats) or FORMATS),
            seed=args.seed,
            epochs=args.epochs,
            train=_training_modes(args),
            serving=args.serving,
            parallel=not args.sequential and (os.cpu_count() or 1) >= 2,
            strict=args.strict,
            cache_dir=None if args.no_cache else (args.cache_dir or artifact_cache.default_root()),
        )
    except ValueError as e:
        print(f"error: export: {e}", file=sys.stderr)
        return EXIT_USAGE
    out = cfg.out.absolute()
    if not out.parent.is_dir():
        print(f"error: export: --out {cfg.out}: parent folder {out.parent} does not exist", file=sys.stderr)
        return EXIT_USAGE
    if (out.exists() and not out.is_dir()) or not os.access(out.parent, os.W_OK):
        print(f"error: export: --out {cfg.out}: not a writable folder", file=sys.stderr)
        return EXIT_USAGE

    _prepare_environment(args)
    from builder import pipeline, ui  # imports the frameworks lazily, after the env is set

    # Progress goes to a duplicate of stderr, so the frameworks' own native logging on fd 2 can be
    # silenced for the whole run without hiding ours.
    start = time.perf_counter()
    with os.fdopen(os.dup(2), "w", buffering=1) as progress_stream:
        try:
            with quiet.native_stderr_silenced(), ui.RichReporter(Console(file=progress_stream)) as reporter:
                manifest_path, rows = pipeline.run(cfg, reporter)
        except (pipeline.ExportError, OSError) as e:
            if args.verbose:
                raise
            print(f"error: export: {e} ({cfg.out} is unchanged)", file=sys.stderr)
            return EXIT_FAILED
    Console().print(ui.summary_table(rows, ui.skipped_from(manifest_path)))
    print(f"wrote {manifest_path} ({len(rows)} artifacts) in {time.perf_counter() - start:.1f} s")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from builder.config import check_modes

    modes = _training_modes(args)
    try:
        check_modes(modes, (args.model,))
        if args.epochs is not None and args.epochs < 1:
            raise ValueError(f"--epochs must be at least 1, got {args.epochs}")
    except ValueError as e:
        print(f"error: train: {e}", file=sys.stderr)
        return EXIT_USAGE
    _prepare_environment(args)
    from builder import models, plots

    with quiet.native_stderr_silenced():  # importing TF/JAX logs natively to stderr
        spec = models.get(args.model)
    epochs = args.epochs or spec.DEFAULT_EPOCHS
    metric = getattr(spec, "METRIC", "held-out accuracy")  # what each epoch's held-out number is

    def show(epoch: int, row: dict) -> None:
        print(
            f"{args.model} epoch {epoch}/{epochs}: loss {row['loss']:.4f}, {metric} {row['accuracy']:.3f}", flush=True
        )

    try:
        with quiet.native_stderr_silenced():
            trained = spec.train(modes, on_epoch=show)
    except ValueError as e:  # a mode this machine cannot run (e.g. too few devices)
        if args.verbose:
            raise
        print(f"error: train: {e}", file=sys.stderr)
        return EXIT_USAGE
    t = trained.training
    plot = plots.loss_curve(args.model, trained.history, t, args.report_dir / f"{args.model}_loss.png")
    replicas = f" on {t['nproc']} replicas" if t.get("nproc", 1) > 1 else ""
    print(
        f"trained {args.model}{replicas} in {t['seconds']:.1f} s: {headline(t)}, "
        f"final loss {t['final_loss']:.4f}; loss curve: {plot}"
    )
    return EXIT_OK


def _check_models(doc: dict, selected: list[list[str]] | None) -> None:
    """--models must name models of the manifest (its ids, built-in or not)."""
    known = [m["id"] for m in doc["models"]]
    unknown = [m for m in _flatten(selected) or [] if m not in known]
    if unknown:
        raise ValueError(f"--models: the manifest has no model {unknown[0]!r} (it has {', '.join(known)})")


def cmd_verify(args: argparse.Namespace) -> int:
    from builder import manifest as manifest_io

    try:
        _check_models(manifest_io.read(args.manifest), args.models)
    except ValueError as e:
        print(f"error: verify: {e}", file=sys.stderr)
        return EXIT_USAGE
    _set_verbosity(args)
    from builder.verify import matrix, report

    with _progress_lines("verify") as progress:
        result = matrix.run(
            args.manifest,
            models=_flatten(args.models),
            runtimes=_flatten(args.runtimes),
            keep_outputs=args.keep_outputs,
            progress=progress,
        )
    paths = report.write(result, args.report_dir or args.manifest.parent / "report")
    print(report.markdown(result), end="")
    print(f"wrote {', '.join(str(p) for p in paths)}")
    s = result["summary"]
    failed = s["fail"] + s["error"] > 0 or (args.require_all and s["unavailable"] > 0)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from builder import manifest as manifest_io

    try:
        _check_models(manifest_io.read(args.manifest), args.models)
        if args.repeat < 1 or args.warmup < 0 or args.training_steps < 0 or args.training_repeats < 1:
            raise ValueError(
                "--repeat and --training-repeats must be at least 1; --warmup and --training-steps at least 0"
            )
    except ValueError as e:
        print(f"error: bench: {e}", file=sys.stderr)
        return EXIT_USAGE
    _set_verbosity(args)
    from builder.bench import inference, machine, report

    start = time.perf_counter()
    with _progress_lines("bench") as progress:
        progress("float32 GEMM peak")
        result = {"machine": machine.info(), "gemm": machine.gemm_peak()}
        result["inference"] = inference.run(
            args.manifest, _flatten(args.models), _flatten(args.runtimes), args.repeat, args.warmup, progress
        )
        result["training"] = []
        if args.training_steps:
            from builder.bench import training

            result["training"] = training.run(
                steps=args.training_steps, repeats=args.training_repeats, progress=progress
            )
    result["command"] = (
        f"python -m builder bench --manifest {args.manifest} --repeat {args.repeat} --warmup {args.warmup} "
        f"--training-steps {args.training_steps} --training-repeats {args.training_repeats}"
        + (f" --models {' '.join(_flatten(args.models))}" if args.models else "")
        + (f" --runtimes {' '.join(_flatten(args.runtimes))}" if args.runtimes else "")
    )
    result["seconds"] = time.perf_counter() - start
    paths = report.write(result, args.report_dir or args.manifest.parent / "report")
    print(report.markdown(result), end="")
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return EXIT_OK


def cmd_conformance(args: argparse.Namespace) -> int:
    from builder import conformance

    verdicts = conformance.write(args.out)
    print(f"wrote {verdicts}")
    return EXIT_OK


COMMANDS = {
    "conformance": cmd_conformance,
    "generate": generate.cmd,
    "export": cmd_export,
    "train": cmd_train,
    "verify": cmd_verify,
    "bench": cmd_bench,
    "serve": serve_cli.cmd_serve,
    "loadtest": serve_cli.cmd_loadtest,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tf_env.set_before_import()  # every command may import TensorFlow
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("error: interrupted; the previous output is unchanged", file=sys.stderr)
        return 130
