"""sha256 of an artifact: a file's bytes, or a folder's tree hash.

Folder hash (the contract every client implements): for each regular file under the folder, sorted
by its relative path ('/'-separated, compared as UTF-8 bytes), take the line
`<sha256 hex of the file>  <relative path>\\n` (two spaces, as `sha256sum` prints it); the folder's
hash is the sha256 of those lines concatenated. Empty folders do not count; symlinks and other
non-regular files are refused. The shell equivalent, run inside the folder:

    find . -type f -printf '%P\\n' | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: Path) -> list[str]:
    """Relative paths of the regular files under `folder`, in the contract's sort order."""
    paths = []
    for p in folder.rglob("*"):
        if p.is_symlink() or not (p.is_file() or p.is_dir()):
            raise ValueError(f"{p}: only regular files and folders may be in an artifact")
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            if "\n" in rel:
                raise ValueError(f"{p}: file names with newlines cannot be hashed")
            paths.append(rel)
    return sorted(paths, key=lambda s: s.encode("utf-8"))


def folder_sha256(folder: Path) -> str:
    lines = "".join(f"{file_sha256(folder / rel)}  {rel}\n" for rel in folder_files(folder))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def artifact_sha256(path: Path) -> str:
    return folder_sha256(path) if path.is_dir() else file_sha256(path)


def artifact_bytes(path: Path) -> int:
    if path.is_dir():
        return sum((path / rel).stat().st_size for rel in folder_files(path))
    return path.stat().st_size
