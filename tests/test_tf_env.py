"""TensorFlow's oneDNN rewrites: off by default before TensorFlow is imported, the user's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys

from builder import tf_env

PROBE = (
    "from builder import tf_env; tf_env.set_before_import(); import os; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'))"
)


def _probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != tf_env.ONEDNN} | env
    return subprocess.run([sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, check=True).stdout


def test_off_unless_the_user_set_it():
    assert _probe().strip() == "0"
    assert _probe(TF_ENABLE_ONEDNN_OPTS="1").strip() == "1"


def test_no_change_once_tensorflow_is_imported():
    code = "import sys; sys.modules['tensorflow'] = object(); " + PROBE
    clean = {k: v for k, v in os.environ.items() if k != tf_env.ONEDNN}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "None"


def test_the_converter_error_says_what_to_do():
    hint = tf_env.onednn_hint("Unsupported Ops in the model after optimization\n_MklLayerNorm")
    assert "TF_ENABLE_ONEDNN_OPTS=0" in hint
    assert tf_env.onednn_hint("Unsupported Ops in the model before optimization RandomStandardNormal") == ""
