"""Where verify and bench find the client launchers (builder.verify.clients): --clients DIR, then
DEPLOYKIT_CLIENTS, then PATH, then the checkout's bin/; a configured folder is the only place."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder import cli
from builder.verify import clients
from builder.verify.runners import RUNNERS, CliRunner


def _launcher(folder: Path, name: str = "deploykit-go") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\necho deploykit-go 9.9.9\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def places(tmp_path):
    """Four folders holding a deploykit-go each, one per place in the lookup order."""
    return {place: _launcher(tmp_path / place) for place in ("flag", "env", "path", "checkout")}


def _find(places, flag=True, env=True, path=True, checkout=True, name="deploykit-go"):
    environ = {"PATH": str(places["path"].parent) if path else ""}
    if env:
        environ[clients.ENV] = str(places["env"].parent)
    return clients.find(
        name,
        clients_dir=places["flag"].parent if flag else None,
        environ=environ,
        checkout_bin=places["checkout"].parent if checkout else None,
    )


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        ({"flag", "env", "path", "checkout"}, "flag"),
        ({"env", "path", "checkout"}, "env"),
        ({"path", "checkout"}, "path"),
        ({"checkout"}, "checkout"),
    ],
)
def test_the_first_configured_place_wins(places, present, expected):
    found = _find(places, **{p: p in present for p in ("flag", "env", "path", "checkout")})
    assert found.path == places[expected]


def test_a_configured_folder_is_the_only_place_looked_in(places, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    found = clients.find("deploykit-go", clients_dir=empty, environ={"PATH": str(places["path"].parent)})
    assert found.path is None and found.looked == (f"--clients {empty}",)
    environ = {clients.ENV: f"{empty}{os.pathsep}{places['env'].parent}", "PATH": str(places["path"].parent)}
    found = clients.find("deploykit-go", environ=environ, checkout_bin=places["checkout"].parent)
    assert found.path == places["env"], "DEPLOYKIT_CLIENTS may list several folders, searched in order"
    found = clients.find("deploykit-go", environ={clients.ENV: str(empty), "PATH": str(places["path"].parent)})
    assert found.path is None and found.where() == f"{clients.ENV}={empty}"


def test_not_found_names_every_place_looked_in(tmp_path):
    found = clients.find("deploykit-go", environ={"PATH": str(tmp_path)}, checkout_bin=tmp_path / "bin")
    assert found.path is None and found.looked == ("PATH", f"{tmp_path / 'bin'} (the checkout)")
    found = clients.find("deploykit-go", environ={"PATH": ""}, checkout_bin=None)
    assert found.path is None and found.where() == "PATH", "an installed builder has no checkout to fall back on"


def test_a_file_that_is_not_executable_is_not_a_launcher(tmp_path):
    _launcher(tmp_path / "bin").chmod(0o644)
    assert clients.find("deploykit-go", clients_dir=tmp_path / "bin").path is None


def test_an_absolute_launcher_is_used_as_it_is(places, tmp_path):
    assert clients.find(str(places["path"]), clients_dir=tmp_path / "none").path == places["path"]
    assert clients.find(str(tmp_path / "none" / "deploykit-go")).looked == (str(tmp_path / "none" / "deploykit-go"),)


def test_this_checkout_is_the_default(monkeypatch):
    assert Path(__file__).resolve().parents[1] / "bin" == clients.CHECKOUT_BIN
    monkeypatch.delenv(clients.ENV, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert RUNNERS["go"].path() == clients.CHECKOUT_BIN / "deploykit-go"


def test_runners_report_where_they_looked(monkeypatch, tmp_path):
    monkeypatch.setenv(clients.ENV, str(tmp_path))
    reason = RUNNERS["java"].unavailable()
    assert reason.startswith(f"deploykit-java not found in {clients.ENV}={tmp_path} (")
    _launcher(tmp_path, "deploykit-java")
    assert RUNNERS["java"].unavailable() is None and RUNNERS["java"].path() == tmp_path / "deploykit-java"
    assert CliRunner("x", ("onnx",), "deploykit-java").version() == "deploykit-go 9.9.9"


def test_verify_clients_flag(places, tmp_path, monkeypatch, capsys):
    """--clients reaches the runners; a folder that does not exist is a usage error (exit 2)."""
    monkeypatch.setattr(clients, "_clients_dir", None)
    with pytest.raises(SystemExit) as info:
        cli.build_parser().parse_args(["verify", "--clients", str(tmp_path / "none")])
    assert info.value.code == 2 and "--clients" in capsys.readouterr().err
    args = cli.build_parser().parse_args(["verify", "--clients", str(places["flag"].parent)])
    assert args.clients == places["flag"].parent
    monkeypatch.setenv(clients.ENV, str(places["env"].parent))
    assert RUNNERS["go"].path() == places["flag"].resolve()
    cli.build_parser().parse_args(["bench", "--clients", str(places["env"].parent)])
    assert RUNNERS["go"].path() == places["env"].resolve()
