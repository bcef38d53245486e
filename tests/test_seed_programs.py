"""Seed programs that are not valid Python are refused clearly, and nothing is written."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from fixtures_util import FIXTURES

UNPARSEABLE = sorted((FIXTURES / "unparseable").glob("*.py"))


@pytest.mark.parametrize("path", UNPARSEABLE, ids=lambda p: p.name)
def test_unparseable_seed_is_refused(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    before = copy.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "transpiler", "convert", str(copy), "--to", "torch", "-i"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2  # an input error (README: exit codes)
    assert "does not parse: line" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    assert copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary or partial files left
