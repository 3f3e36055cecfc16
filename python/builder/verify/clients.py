"""Where `verify`, `bench` and `generate` find the client launchers.

A launcher is one executable per client (`deploykit-cpp`, `deploykit-java`, `deploykit-go`,
`deploykit-node`, `deploykit-browser`) speaking the command line of docs/contract.md. The first
configured place wins, and a configured folder is the only place looked in, so a run never mixes
the clients a user named with others found elsewhere:

1. `--clients DIR` (verify, bench);
2. the environment variable `DEPLOYKIT_CLIENTS`: a folder, or several joined with `:`;
3. otherwise PATH, then the checkout's `bin/` when the builder runs from a source tree
   (`make setup` builds the clients behind those launchers).

This module imports nothing heavy: the CLI's parser uses it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

ENV = "DEPLOYKIT_CLIENTS"
# python/builder/verify/clients.py -> the repository root, when this file lives in a checkout.
_ROOT = Path(__file__).resolve().parents[3]
CHECKOUT_BIN: Path | None = _ROOT / "bin" if (_ROOT / "python" / "builder" / "cli.py").is_file() else None

_clients_dir: Path | None = None  # set by --clients for this process


@dataclasses.dataclass(frozen=True)
class Lookup:
    """A launcher's path, or None, and every place looked in (in order) for the reason."""

    path: Path | None
    looked: tuple[str, ...]

    def where(self) -> str:
        return ", ".join(self.looked)


def use_clients_dir(folder: Path | None) -> None:
    """Makes `folder` the only place launchers are looked up in this process (None: the default)."""
    global _clients_dir
    _clients_dir = folder


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find(
    launcher: str,
    clients_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    checkout_bin: Path | None = CHECKOUT_BIN,
) -> Lookup:
    """Finds `launcher`: a bare name (`deploykit-go`) through the order in the module docstring, an
    absolute path as it is.

    Args:
        clients_dir: the `--clients` folder; defaults to the one `use_clients_dir` set.
        environ: the environment to read DEPLOYKIT_CLIENTS and PATH from (default os.environ).
        checkout_bin: the source tree's `bin/`, None when not running from a checkout.
    """
    if Path(launcher).is_absolute():
        path = Path(launcher)
        return Lookup(path if _executable(path) else None, (str(path),))
    name = Path(launcher).name
    environ = os.environ if environ is None else environ
    clients_dir = clients_dir or _clients_dir
    looked: list[str] = []
    if clients_dir is not None:
        folders = [(Path(clients_dir), f"--clients {clients_dir}")]
    elif environ.get(ENV):
        folders = [(Path(folder), f"{ENV}={folder}") for folder in environ[ENV].split(os.pathsep) if folder]
    else:
        looked.append("PATH")
        found = shutil.which(name, path=environ.get("PATH", ""))
        if found:
            return Lookup(Path(found), tuple(looked))
        folders = [(checkout_bin, f"{checkout_bin} (the checkout)")] if checkout_bin is not None else []
    looked += [label for _, label in folders]
    path = next((folder / name for folder, _ in folders if _executable(folder / name)), None)
    return Lookup(path, tuple(looked))


class ClientsDirAction(argparse.Action):
    """`--clients DIR`: checks that DIR is a folder and makes it the launchers' only place."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        folder = Path(values)
        if not folder.is_dir():
            parser.error(f"{option_string} {folder}: not a folder")
        use_clients_dir(folder.resolve())
        setattr(namespace, self.dest, folder)
