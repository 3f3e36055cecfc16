"""The cache of compiled AOTInductor packages: keys, damaged entries, pruning, and a real re-export."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from builder import pipeline
from builder.config import ExportConfig
from builder.formats import artifact_cache
from builder.formats.artifact_cache import ArtifactCache
from builder.hashing import file_sha256


def _file(path, data: bytes):
    path.write_bytes(data)
    return path


def test_a_stored_artifact_comes_back_byte_for_byte(tmp_path):
    cache = ArtifactCache(tmp_path / "cache", "aoti", ".pt2")
    key = cache.key([_file(tmp_path / "program", b"graph+weights")], ["torch 2.13", "g++ 12"])
    assert not cache.fetch(key, tmp_path / "miss.pt2") and not (tmp_path / "miss.pt2").exists()
    cache.store(key, _file(tmp_path / "built.pt2", b"package bytes"))
    assert cache.fetch(key, tmp_path / "hit.pt2")
    assert (tmp_path / "hit.pt2").read_bytes() == b"package bytes"


def test_the_key_follows_every_input_and_toolchain_part(tmp_path):
    program = _file(tmp_path / "program", b"weights 1.0")
    base = ArtifactCache.key([program], ["torch 2.13", "g++ 12"])
    assert ArtifactCache.key([program], ["torch 2.13", "g++ 12"]) == base
    assert ArtifactCache.key([program], ["torch 2.14", "g++ 12"]) != base
    assert ArtifactCache.key([program], ["torch 2.13", "g++ 13"]) != base
    assert ArtifactCache.key([program], ["torch 2.13g", "++ 12"]) != base  # parts are delimited
    assert ArtifactCache.key([_file(tmp_path / "program", b"weights 1.001")], ["torch 2.13", "g++ 12"]) != base


def test_a_damaged_entry_is_a_miss_and_is_dropped(tmp_path):
    cache = ArtifactCache(tmp_path / "cache", "aoti", ".pt2")
    cache.store("k", _file(tmp_path / "built.pt2", b"package bytes"))
    entry = tmp_path / "cache" / "aoti" / "k.pt2"
    entry.write_bytes(b"package byteZ")
    assert not cache.fetch("k", tmp_path / "out.pt2")
    assert not entry.exists() and not (tmp_path / "out.pt2").exists()
    assert list((tmp_path / "cache" / "aoti").iterdir()) == []


def test_an_entry_without_its_checksum_is_a_miss(tmp_path):
    cache = ArtifactCache(tmp_path / "cache", "aoti", ".pt2")
    cache.store("k", _file(tmp_path / "built.pt2", b"package bytes"))
    (tmp_path / "cache" / "aoti" / "k.pt2.sha256").unlink()  # e.g. a store killed between its two renames
    assert not cache.fetch("k", tmp_path / "out.pt2")


def test_prune_keeps_the_most_recently_used_entries(tmp_path):
    cache = ArtifactCache(tmp_path / "cache", "aoti", ".pt2")
    for i, name in enumerate("abc"):
        cache.store(name, _file(tmp_path / f"{name}.pt2", bytes(100)))
        os.utime(tmp_path / "cache" / "aoti" / f"{name}.pt2", (1000 + i, 1000 + i))
    assert cache.fetch("a", tmp_path / "used.pt2")  # a is now the most recent
    cache.max_bytes = 250
    cache.prune()
    kept = sorted(p.name for p in (tmp_path / "cache" / "aoti").iterdir())
    assert kept == ["a.pt2", "a.pt2.sha256", "c.pt2", "c.pt2.sha256"]


def test_an_unwritable_cache_is_skipped(tmp_path):
    blocker = _file(tmp_path / "cache", b"a file where the folder should be")
    cache = ArtifactCache(blocker, "aoti", ".pt2")
    cache.store("k", _file(tmp_path / "built.pt2", b"x"))  # no error: the export goes on without it
    assert not cache.fetch("k", tmp_path / "out.pt2")


@pytest.mark.parametrize(
    "value, expected", [("/somewhere/else", "/somewhere/else"), ("off", None), ("", None), ("NONE", None)]
)
def test_the_environment_names_or_disables_the_cache(monkeypatch, value, expected):
    monkeypatch.setenv(artifact_cache.ENV, value)
    root = artifact_cache.default_root()
    assert (None if root is None else str(root)) == expected


def test_the_default_cache_is_in_the_user_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(artifact_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert artifact_cache.default_root() == tmp_path / "deploykit"


def test_cache_flags_exclude_each_other(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder",
            "export",
            "--out",
            str(tmp_path / "m"),
            "--no-cache",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr and "Traceback" not in result.stderr


def test_a_re_export_reuses_the_checked_package_and_checks_it_again(tmp_path):
    """One real compile: the second export of the same weights copies the package, and a cache
    entry that does not load fails the export like a bad compile would."""
    cache_dir = tmp_path / "cache"

    def run(name: str):
        cfg = ExportConfig(out=tmp_path / name, models=("mlp_torch",), formats=("aoti",), epochs=1, cache_dir=cache_dir)
        return pipeline.run(cfg)

    _, first = run("first")
    assert [r.cached for r in first] == [False]
    entries = sorted((cache_dir / "aoti").glob("*.pt2"))
    assert len(entries) == 1
    _, second = run("second")
    assert [r.cached for r in second] == [True]
    package = "mlp_torch/aoti/model.pt2"
    assert (tmp_path / "second" / package).read_bytes() == (tmp_path / "first" / package).read_bytes()

    # A consistent entry (its checksum matches) that is not a working package: the check catches it.
    entries[0].write_bytes(b"not a package")
    entries[0].with_name(entries[0].name + ".sha256").write_text(file_sha256(entries[0]) + "\n")
    with pytest.raises(pipeline.ExportError, match=r"mlp_torch/aoti: the written artifact does not reload"):
        run("third")
    assert not (tmp_path / "third").exists()
