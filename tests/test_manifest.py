"""Hashing rules and manifest reading errors (no export needed)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import jsonschema
import pytest

from builder import hashing, manifest

CONFORMANCE = Path(__file__).resolve().parents[1] / "testdata" / "conformance"


def test_folder_hash_sorts_by_utf8_bytes_and_covers_names_and_contents(tmp_path):
    (tmp_path / "a").write_bytes(b"1")
    (tmp_path / "B").write_bytes(b"2")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c").write_bytes(b"3")
    (tmp_path / "empty").mkdir()
    assert hashing.folder_files(tmp_path) == ["B", "a", "sub/c"]
    lines = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in [("B", b"2"), ("a", b"1"), ("sub/c", b"3")])
    assert hashing.folder_sha256(tmp_path) == hashlib.sha256(lines.encode()).hexdigest()
    before = hashing.folder_sha256(tmp_path)
    (tmp_path / "a").rename(tmp_path / "a2")
    assert hashing.folder_sha256(tmp_path) != before, "renaming a file changes the hash"
    assert hashing.artifact_bytes(tmp_path) == 3


def test_folder_hash_refuses_symlinks(tmp_path):
    (tmp_path / "real").write_bytes(b"x")
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(ValueError, match="only regular files"):
        hashing.folder_sha256(tmp_path)


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such manifest"),
        ("{not json", "not valid JSON"),
        ('{"schema_version": 1, "created": "x", "producer": {}, "models": []}', "schema_version 1 is not supported"),
        (
            '{"schema_version": 2, "producer": {"builder": "0", "python": "3"}, "models": []}',
            "'created' is a required property",
        ),
    ],
)
def test_read_reports_one_clear_line(tmp_path, content, message):
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        manifest.read(path)
    assert "\n" not in str(info.value)


def test_write_refuses_an_invalid_manifest(tmp_path):
    doc = manifest.build([], {"builder": "0.1.0", "python": "3.11"}, {"seed": 0})
    manifest.write(doc, tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text()) == doc
    assert (tmp_path / "manifest.schema.json").exists()
    doc["producer"] = {"builder": 1, "python": "3.11"}
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        manifest.write(doc, tmp_path / "other")


def _manifest_verdicts() -> list[dict]:
    return json.loads((CONFORMANCE / "verdicts.json").read_text())["manifests"]


@pytest.mark.parametrize("verdict", _manifest_verdicts(), ids=lambda v: v["file"])
def test_reader_agrees_with_the_conformance_verdicts(verdict):
    """The builder validates what it writes by the same rules every client reads by."""
    path = CONFORMANCE / verdict["file"]
    if verdict["valid"]:
        doc = manifest.read(path)
        assert [m["id"] for m in doc["models"]] == [m["id"] for m in verdict["models"]]
        return
    expected = manifest.VersionError if verdict["exit"] == 3 else ValueError
    with pytest.raises(expected) as info:
        manifest.read(path)
    assert "\n" not in str(info.value)
    if verdict["exit"] == 2:
        assert not isinstance(info.value, manifest.VersionError), str(info.value)


def test_the_committed_conformance_fixtures_are_what_the_command_writes(tmp_path):
    """testdata/conformance is generated, never edited: regenerating gives the same bytes."""
    from builder import conformance

    conformance.write(tmp_path / "c")
    written = sorted(p.relative_to(tmp_path / "c").as_posix() for p in (tmp_path / "c").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(CONFORMANCE).as_posix() for p in CONFORMANCE.rglob("*") if p.is_file())
    assert written == committed
    for rel in written:
        assert (tmp_path / "c" / rel).read_bytes() == (CONFORMANCE / rel).read_bytes(), rel
