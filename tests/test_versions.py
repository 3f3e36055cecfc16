"""One project version: the VERSION file, every package's metadata and every client's `--version`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import builder

REPO = Path(__file__).resolve().parents[1]
VERSION = (REPO / "VERSION").read_text().strip()
CLIENTS = ("cpp", "go", "java", "node", "browser")


def test_the_version_file_holds_one_semantic_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION


def test_every_package_declares_the_project_version_and_license():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert (pyproject["version"], pyproject["license"]) == (VERSION, "Apache-2.0")
    assert builder.__version__ == VERSION
    package = json.loads((REPO / "js" / "package.json").read_text())
    assert (package["version"], package["license"]) == (VERSION, "Apache-2.0")
    pom = ET.parse(REPO / "java" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    assert pom.findtext("m:version", namespaces=ns) == VERSION
    assert pom.findtext("m:licenses/m:license/m:name", namespaces=ns) == "Apache-2.0"
    assert "Apache License" in (REPO / "LICENSE").read_text()[:200]


def test_the_builder_prints_the_project_version():
    result = subprocess.run([sys.executable, "-m", "builder", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"deploykit-builder {VERSION}"


@pytest.mark.parametrize("client", CLIENTS)
def test_every_client_prints_its_name_version_and_runtimes(client):
    result = subprocess.run(
        [str(REPO / "bin" / f"deploykit-{client}"), "--version"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"deploykit-{client} --version: exit {result.returncode}: {result.stderr.strip()}"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(rf"deploykit-{client} {re.escape(VERSION)} \(.+\)", lines[0]), result.stdout
