"""Greedy text generation from a character model, the same in every client (docs/contract.md,
"Text generation"): `python -m builder generate --model chargpt_torch --generate "def " --tokens 40`.

The Python side runs any format its loaders read (builder.runtimes.python_loaders), so one
prompt can be continued by TorchScript, AOTInductor, onnxruntime, TensorFlow, TFLite and the
TF.js graph (in TensorFlow), and compared with the C++, Java, Go and JS clients' text.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

MAX_TOKENS = 10_000


class GenerateError(ValueError):
    """A model or a prompt that --generate cannot use (exit 2)."""


def char_model(model: dict) -> tuple[str, dict, dict]:
    """(vocabulary, input spec, output spec) of a character model; GenerateError if it is not one."""
    model_id = model["id"]

    def refuse(why: str) -> GenerateError:
        return GenerateError(f"model {model_id} is not a character model ({why})")

    vocabulary = model.get("vocabulary")
    if not isinstance(vocabulary, str) or not vocabulary:
        raise refuse("no vocabulary")
    if len(model["inputs"]) != 1 or len(model["outputs"]) != 1:
        raise refuse(f"{len(model['inputs'])} inputs and {len(model['outputs'])} outputs, expected 1 and 1")
    (spec_in,), (spec_out,) = model["inputs"], model["outputs"]
    if spec_in["dtype"] not in ("int32", "int64") or len(spec_in["shape"]) != 2:
        raise refuse(
            f"input {spec_in['name']} is {spec_in['dtype']} of rank {len(spec_in['shape'])}, expected int32/int64 [batch, seq]"
        )
    if (
        spec_out["dtype"] not in ("float16", "float32")
        or len(spec_out["shape"]) != 3
        or spec_out["shape"][2] != len(vocabulary)
    ):
        raise refuse(f"output {spec_out['name']} is not float [batch, seq, {len(vocabulary)}]")
    return vocabulary, spec_in, spec_out


def encode(vocabulary: str, prompt: str, model_id: str) -> list[int]:
    if not prompt:
        raise GenerateError("the prompt is empty")
    index = {c: i for i, c in enumerate(vocabulary)}
    for position, char in enumerate(prompt):
        if char not in index:
            raise GenerateError(
                f"character U+{ord(char):04X} at position {position} is not in the vocabulary of {model_id}"
            )
    return [index[c] for c in prompt]


def greedy(logits: np.ndarray) -> int:
    """The contract's argmax: ties keep the lowest id, a NaN never wins."""
    best = 0
    for i in range(1, len(logits)):
        if logits[i] > logits[best]:
            best = i
    return best


def generate(predict: Callable[[dict], dict], model: dict, prompt: str, tokens: int) -> str:
    """The prompt followed by `tokens` greedily generated characters; `predict` is one model call."""
    vocabulary, spec_in, spec_out = char_model(model)
    ids = encode(vocabulary, prompt, model["id"])  # the contract's order: model, prompt, then N
    if not 0 <= tokens <= MAX_TOKENS:
        raise GenerateError(f"--tokens must be from 0 to {MAX_TOKENS}, got {tokens}")
    window = model.get("dims", {}).get(spec_in["shape"][1], {}).get("max") or len(ids) + tokens
    for _ in range(tokens):
        context = ids[-window:]
        row = np.asarray([context], dtype=spec_in["dtype"])
        logits = predict({spec_in["name"]: row})[spec_out["name"]]
        ids.append(greedy(logits[0, len(context) - 1]))
    return "".join(vocabulary[i] for i in ids)


def across_runtimes(manifest: Path, model: dict, prompt: str, tokens: int) -> dict[tuple[str, str], str]:
    """The text every available runtime of `verify` (builder.verify.runners) generates from every
    artifact of `model` it loads: {(runtime, format): text, or "error: ..." for a failure}."""
    import subprocess

    from builder.verify.runners import RUNNERS, CliRunner
    from builder.verify.serve_runner import ServeRunner

    texts: dict[tuple[str, str], str] = {}
    for runner in RUNNERS.values():
        if isinstance(runner, ServeRunner) or runner.unavailable():  # a server is not a text client
            continue
        for artifact in model["artifacts"]:
            if artifact["format"] not in runner.formats:
                continue
            key = (runner.name, artifact["format"])
            if isinstance(runner, CliRunner):
                command = [str(runner.path()), *runner.extra_args, "--manifest", str(manifest)]
                command += ["--model", model["id"], "--format", artifact["format"]]
                command += ["--generate", prompt, "--tokens", str(tokens)]
                done = subprocess.run(command, capture_output=True, timeout=600, check=False)
                error = done.stderr.decode("utf-8", "replace").strip()
                ok = done.returncode == 0 and not error
                texts[key] = done.stdout.decode("utf-8") if ok else f"error: exit {done.returncode}: {error}"
            else:
                try:
                    texts[key] = generate(runner.load(manifest, model, artifact), model, prompt, tokens)
                except Exception as e:  # noqa: BLE001 - reported in the table, one line
                    texts[key] = f"error: {type(e).__name__}: {e}"
    return texts


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "generate",
        help="continue a prompt with a character model, greedily (the same text in every client)",
        description=(
            "Greedy decoding as in docs/contract.md (Text generation): the window is the model's max "
            "sequence length, one call per character, argmax with ties to the lowest id. Prints exactly the "
            "prompt and its continuation. Exit 2 for a model without a vocabulary or a prompt character "
            "outside it, 3 for an artifact that does not load."
        ),
    )
    parser.add_argument(
        "--manifest", type=Path, default=Path("models/manifest.json"), help="default: models/manifest.json"
    )
    parser.add_argument(
        "--model", required=True, metavar="ID", help="a character model of the manifest, e.g. chargpt_torch"
    )
    parser.add_argument("--format", metavar="FORMAT", help="the artifact to run (default: the model's first)")
    parser.add_argument("--generate", required=True, metavar="PROMPT", help="the text to continue")
    parser.add_argument("--tokens", required=True, type=int, metavar="N", help=f"characters to add (0 to {MAX_TOKENS})")
    parser.add_argument(
        "--every-runtime",
        action="store_true",
        help="run every runtime of `verify` (Python, C++, Java, Go, Node, Chromium) on every artifact of the model "
        "and print one line each, side by side; exit 1 unless all texts are identical",
    )


def cmd(args: argparse.Namespace) -> int:
    from builder import manifest as manifest_io
    from builder.runtimes import python_loaders

    try:
        doc = manifest_io.read(args.manifest)
    except (OSError, ValueError) as e:
        print(f"error: {args.manifest}: {e}", file=sys.stderr)
        return 2
    model = next((m for m in doc["models"] if m["id"] == args.model), None)
    if model is None:
        print(f"error: --model: no model {args.model!r} in {args.manifest}", file=sys.stderr)
        return 2
    if args.every_runtime:  # loads every artifact itself: loading one here would be wasted
        return _print_every_runtime(args.manifest, model, args.generate, args.tokens)
    artifacts = {a["format"]: a for a in model["artifacts"]}
    artifact = artifacts.get(args.format) if args.format else model["artifacts"][0]
    if artifact is None:
        print(
            f"error: --format: {args.model} has no {args.format} artifact (it has {', '.join(artifacts)})",
            file=sys.stderr,
        )
        return 2
    try:
        char_model(model)
        predict = python_loaders.load(args.manifest.parent / artifact["path"], artifact, model)
    except GenerateError as e:
        print(f"error: --generate: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - any loader failure is the artifact's: exit 3, one line
        print(f"error: {args.model}/{artifact['format']}: {e}", file=sys.stderr)
        return 3
    try:
        text = generate(predict, model, args.generate, args.tokens)
    except GenerateError as e:
        print(f"error: --generate: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def _print_every_runtime(manifest: Path, model: dict, prompt: str, tokens: int) -> int:
    try:
        encode(char_model(model)[0], prompt, model["id"])
    except GenerateError as e:
        print(f"error: --generate: {e}", file=sys.stderr)
        return 2
    texts = across_runtimes(manifest, model, prompt, tokens)
    width = max(len(f"{r} {f}") for r, f in texts)
    for (runtime, fmt), text in texts.items():
        print(f"{f'{runtime} {fmt}':<{width}}  {text!r}")
    same = len(set(texts.values())) == 1 and not next(iter(texts.values())).startswith("error:")
    print(f"{len(texts)} runtime/format pairs: " + ("identical text" if same else "THE TEXTS DIFFER"))
    return 0 if same else 1
