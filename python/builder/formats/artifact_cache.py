"""A content-addressed cache of slow-to-build artifacts (AOTInductor `.pt2` packages).

An AOTInductor compile costs 12-35 s of g++ per network on 2 cores, and a re-export of the same
trained weights compiles the same program again. The key of an entry is the sha256 of everything
the compile reads: the bytes of the saved `torch.export` program (graph and weights; torch
serializes it deterministically) and the toolchain that compiles it (torch, Python, the C++
compiler's own `--version`, the machine, every `TORCHINDUCTOR_*` setting). Any change to any of
them is a different key, so a hit is the artifact the compile would have written.

A hit is still an artifact like any other: the export reloads it and compares every output with
the eager reference before the manifest names it. An entry is stored only after that check has
passed, with its own sha256 beside it; a fetch whose bytes do not match is dropped and compiled
again. Writes are atomic (a temporary file renamed into place), so concurrent exports share one
cache safely. The cache keeps its newest entries up to `MAX_BYTES`.

Where it lives: `--cache-dir DIR`, else `$DEPLOYKIT_CACHE_DIR`, else `$XDG_CACHE_HOME/deploykit`
(`~/.cache/deploykit`); `--no-cache` (or `DEPLOYKIT_CACHE_DIR=off`) turns it off.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from builder.hashing import file_sha256

ENV = "DEPLOYKIT_CACHE_DIR"
MAX_BYTES = 2 << 30


def default_root() -> Path | None:
    """The cache folder the environment names, or None when it turns the cache off."""
    configured = os.environ.get(ENV)
    if configured is not None:
        return None if configured.strip().lower() in ("", "off", "0", "none") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deploykit"


class ArtifactCache:
    """Single-file artifacts of one kind (`kind` names the subfolder, e.g. "aoti")."""

    def __init__(self, root: Path, kind: str, suffix: str, max_bytes: int = MAX_BYTES) -> None:
        self.folder = Path(root) / kind
        self.suffix = suffix
        self.max_bytes = max_bytes

    @staticmethod
    def key(inputs: Iterable[Path], toolchain: Iterable[str]) -> str:
        """The key of an artifact built from these files by this toolchain."""
        digest = hashlib.sha256()
        for path in inputs:
            digest.update(file_sha256(path).encode() + b"\0")
        for part in toolchain:
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def _entry(self, key: str) -> tuple[Path, Path]:
        entry = self.folder / f"{key}{self.suffix}"
        return entry, entry.with_name(entry.name + ".sha256")

    def fetch(self, key: str, dest: Path) -> bool:
        """Copies the entry to `dest` and returns True, or returns False on a miss or a damaged entry."""
        entry, checksum = self._entry(key)
        try:
            expected = checksum.read_text().strip()
        except OSError:
            return False
        tmp = dest.with_name(dest.name + ".cached")
        try:
            shutil.copyfile(entry, tmp)
            if file_sha256(tmp) != expected:
                for damaged in (entry, checksum):
                    damaged.unlink(missing_ok=True)
                tmp.unlink()
                return False
            os.replace(tmp, dest)
            os.utime(entry)  # recently used: pruned last
        except OSError:
            tmp.unlink(missing_ok=True)
            return False
        return True

    def store(self, key: str, artifact: Path) -> None:
        """Adds a checked artifact under `key`. A cache that cannot be written is skipped, not an error."""
        entry, checksum = self._entry(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._replace(entry, lambda tmp: shutil.copyfile(artifact, tmp))
            self._replace(checksum, lambda tmp: Path(tmp).write_text(file_sha256(artifact) + "\n"))
            self.prune()
        except OSError:
            pass

    def _replace(self, target: Path, write) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise

    def prune(self) -> None:
        """Drops the least recently used entries until the folder holds at most `max_bytes`."""
        entries = sorted(self.folder.glob(f"*{self.suffix}"), key=lambda p: p.stat().st_mtime, reverse=True)
        total = 0
        for entry in entries:
            total += entry.stat().st_size
            if total > self.max_bytes:
                entry.unlink(missing_ok=True)
                entry.with_name(entry.name + ".sha256").unlink(missing_ok=True)
