"""Numeric equivalence: each runnable fixture computes the same values before and after.

The inputs run under their own framework and the expected outputs under the
other (all of one framework in one subprocess), and every printed value and
module-level tensor is compared.
"""

from __future__ import annotations

import pytest

from fixtures_util import cases
from numeric_util import needs_frameworks, run_programs
from transpiler.verify.compare import compare_runs

pytestmark = [pytest.mark.numeric, needs_frameworks()]

NUMERIC = [c for c in cases() if c.numeric]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("numeric")
    originals = run_programs([c.path for c in NUMERIC], base / "original")
    converted = run_programs([c.expected for c in NUMERIC], base / "converted")
    return {c.id: (o, v) for c, o, v in zip(NUMERIC, originals, converted)}


@pytest.mark.parametrize("case", NUMERIC, ids=lambda c: c.id)
def test_same_values(case, runs):
    original, converted = runs[case.id]
    result = compare_runs(original, converted, rtol=case.tolerance, atol=case.tolerance, shape_only=case.shapes)
    assert not result.errors, result.errors
    assert result.checks, "the fixture produced nothing to compare"
    failed = [c for c in result.checks if not c.passed]
    assert not failed, "\n".join(f"{c.name}: max abs {c.max_abs:.3g}, max rel {c.max_rel:.3g} {c.detail}" for c in failed)
