"""Atomic replacement of an output folder.

The export writes everything into a hidden staging sibling (`.<name>.tmp-<pid>`) and, only when
every artifact and the manifest are written, swaps it into place. On Linux the swap is one
`renameat2(RENAME_EXCHANGE)` call, so readers see either the old tree or the new one, never a mix
or nothing; elsewhere it falls back to two renames. A run killed half-way leaves only its staging
folder, which the next run removes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 1 << 1
# Files in the destination the export does not produce but must keep (the tracked README).
CARRY_OVER = ("README.md",)


def _staging_prefix(dest: Path) -> str:
    return f".{dest.name}.tmp-"


def remove_stale_staging(dest: Path) -> None:
    """Removes staging folders left by runs that were killed (their pid no longer exists)."""
    for path in dest.parent.glob(_staging_prefix(dest) + "*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """Yields an empty staging folder beside `dest`; on normal exit it replaces `dest`.

    On any exception (or KeyboardInterrupt) the staging folder is deleted and `dest` is untouched.
    """
    dest = dest.absolute()
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"{dest} exists and is not a folder")
    remove_stale_staging(dest)
    staging = dest.parent / f"{_staging_prefix(dest)}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        for name in CARRY_OVER:
            if (dest / name).is_file() and not (staging / name).exists():
                shutil.copy2(dest / name, staging / name)
        replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after a swap this holds the old tree


def replace(staging: Path, dest: Path) -> None:
    """Moves `staging` to `dest`; afterwards `staging` holds the previous `dest`, if there was one."""
    if not dest.exists():
        os.rename(staging, dest)
        return
    if _exchange(staging, dest):
        return
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    os.rename(dest, old)
    os.rename(staging, dest)
    os.rename(old, staging)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swaps two paths with renameat2; False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
