"""Snapshot tests: every fixture input converts to exactly its expected file.

Set TRANSPILER_UPDATE_FIXTURES=1 to (re)write the expected files, then review
the diff as you would review code.
"""

from __future__ import annotations

import os

import pytest

from fixtures_util import cases
from transpiler.api import convert_source

UPDATE = os.environ.get("TRANSPILER_UPDATE_FIXTURES") == "1"


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.id)
def test_fixture(case):
    source = case.path.read_text(encoding="utf-8")
    result = convert_source(source, to=case.to, filename=str(case.path), **case.options)
    if UPDATE or not case.expected.exists():
        case.expected.write_text(result.code, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote missing snapshot {case.expected.name}; review it")
    assert result.code == case.expected.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.id)
def test_fixture_is_idempotent(case):
    """Converting the output again changes nothing."""
    expected = case.expected.read_text(encoding="utf-8")
    again = convert_source(expected, to=case.to, filename=str(case.expected), **case.options)
    assert again.code == expected
