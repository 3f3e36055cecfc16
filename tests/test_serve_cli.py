"""`python -m builder serve` as a user runs it: usage errors are one line with exit 2; a server
starts, prints its table, answers, and Ctrl-C stops it with exit 0 and no process left behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from builder import compare
from builder.serve import engine, protocol, servables
from builder.verify.inputs import input_sets


@pytest.mark.parametrize(
    "args,message",
    [
        (["--models", "nope"], "error: serve: no model nope in"),
        (["--format", "tflite"], "error: serve: cannot serve format tflite"),
        (["--autoscale", "1:2"], "error: serve: --autoscale and --address need --engine ray"),
        (["--engine", "ray", "--autoscale", "3:1"], "argument --autoscale: give MIN:MAX"),
        (["--replicas", "0"], "argument --replicas: replicas must be a whole number of at least 1"),
        (["--replicas", "2", "--autoscale", "1:2"], "not allowed with argument"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(manifest_path, capsys, args, message):
    from builder.cli import main

    try:
        code = main(["serve", "--manifest", str(manifest_path), *args])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_serve_answers_then_ctrl_c_stops_everything(manifest_path):
    port = engine.free_ports(1)[0]
    command = [sys.executable, "-m", "builder", "serve", "--manifest", str(manifest_path), "--models", "mlp_torch"]
    # Ctrl-C as in a terminal: a shell without job control (`make test &`, nohup) starts its
    # background jobs with SIGINT ignored, a child inherits that through exec, and Python keeps an
    # inherited ignored SIGINT ignored. A handled signal is reset to the default by exec, so serve
    # starts with SIGINT handled. (Not preexec_fn: a fork after JAX's import warns, an error here.)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    with proc:
        try:
            header = proc.stdout.readline()  # the table comes once the server is ready
            row = proc.stdout.readline()
            assert header.split() == ["engine", "model", "format", "replicas", "URL"], header
            url = f"http://127.0.0.1:{port}/v2/models/mlp_torch/infer"
            assert row.split() == ["triton", "mlp_torch", "onnx", "1", url], row
            children = psutil.Process(proc.pid).children(recursive=True)
            assert children, "the Triton child and its server run under serve"
            (s,) = servables.choose(manifest_path, ["mlp_torch"])
            golden = next(st for st in input_sets(manifest_path.parent, s.model) if st.name == "golden")
            request = urllib.request.Request(url, data=protocol.request_body(s.model, golden.inputs), method="POST")
            with urllib.request.urlopen(request, timeout=30) as r:
                got = protocol.response_arrays(s.model, json.loads(r.read()))
            results = compare.compare_outputs(golden.expected, got, s.artifact["tolerance"])
            assert all(res.passed for res in results.values())
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "serve: ready in" in err and err.rstrip().endswith("serve: stopped"), err
    deadline = time.monotonic() + 10
    while (
        left := [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, left
