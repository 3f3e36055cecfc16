"""Greedy text generation (docs/contract.md, "Text generation"): chargpt_torch continues one prompt
with the same text, character for character, in every runtime of every format it is exported to:
Python (TorchScript, AOTInductor, onnxruntime, TensorFlow, TFLite), LibTorch through the extension,
and the C++, Java, Go, Node (cpu, wasm) and Chromium clients."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from builder import generate
from builder.verify.runners import RUNNERS
from builder.verify.serve_runner import ServeRunner

ROOT = Path(__file__).resolve().parents[1]
MODEL = "chargpt_torch"
# 20 characters + 40 generated: longer than the 48-character window, so the window slides.
PROMPT = "def __init__(self, a"
TOKENS = 40


@pytest.fixture(scope="module")
def chargpt(smoke_export, smoke_manifest):
    return smoke_export / "manifest.json", next(m for m in smoke_manifest["models"] if m["id"] == MODEL)


def test_every_runtime_of_every_format_continues_the_prompt_with_the_same_text(chargpt):
    manifest, model = chargpt
    unavailable = {r.name: r.unavailable() for r in RUNNERS.values() if r.unavailable()}
    assert not unavailable, f"runtimes not built (run `make setup`): {unavailable}"
    texts = generate.across_runtimes(manifest, model, PROMPT, TOKENS)
    reference = texts[("torch-python", "torchscript-script")]
    assert reference.startswith(PROMPT) and len(reference) == len(PROMPT) + TOKENS, reference
    assert set(reference) <= set(model["vocabulary"])
    different = {key: text for key, text in texts.items() if text != reference}
    assert not different, f"reference {reference!r}; different: {different}"
    clients = {name for name, r in RUNNERS.items() if not isinstance(r, ServeRunner)}  # a server is not a client
    assert {runtime for runtime, _ in texts} == clients, "every runtime generated"
    assert {fmt for _, fmt in texts} == {a["format"] for a in model["artifacts"]}, "from every artifact"


def test_the_python_command_prints_exactly_the_text(chargpt):
    manifest, _ = chargpt
    command = [str(ROOT / ".venv/bin/python"), "-m", "builder", "generate", "--manifest", str(manifest)]
    command += ["--model", MODEL, "--format", "onnx", "--generate", PROMPT, "--tokens", "5"]
    result = subprocess.run(command, capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith(PROMPT) and len(result.stdout.decode()) == len(PROMPT) + 5
    zero = subprocess.run([*command[:-1], "0"], capture_output=True, timeout=300, check=False)
    assert zero.stdout.decode() == PROMPT


@pytest.mark.parametrize(
    ("model_id", "prompt", "tokens", "message"),
    [
        ("mlp_torch", "abc", 3, "model mlp_torch is not a character model (no vocabulary)"),
        (MODEL, "tab\there", 3, "character U+0009 at position 3 is not in the vocabulary of chargpt_torch"),
        (MODEL, "", 3, "the prompt is empty"),
        (MODEL, "abc", -1, "--tokens must be from 0 to 10000, got -1"),
        (MODEL, "abc", 10001, "--tokens must be from 0 to 10000, got 10001"),
    ],
)
def test_bad_requests_get_one_line_and_exit_2(chargpt, model_id, prompt, tokens, message):
    manifest, _ = chargpt
    command = [str(ROOT / ".venv/bin/python"), "-m", "builder", "generate", "--manifest", str(manifest)]
    command += ["--model", model_id, "--generate", prompt, "--tokens", str(tokens)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"error: --generate: {message}\n"


def test_greedy_keeps_the_lowest_id_on_ties_and_never_picks_nan():
    assert generate.greedy(np.array([1.0, 3.0, 3.0, 2.0])) == 1
    assert generate.greedy(np.array([np.nan, 1.0, 5.0])) == 0, "comparisons with NaN are false: a NaN at 0 stays"
    assert generate.greedy(np.array([0.0, np.nan, -1.0, 0.5])) == 3
    assert generate.greedy(np.array([-np.inf, -np.inf])) == 0
