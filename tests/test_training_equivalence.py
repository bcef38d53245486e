"""Training fixtures train the same way before and after conversion.

Every fixture whose first line says ``# fixture: verify`` runs under Keras and,
converted (its .expected.py), under PyTorch, through the same recorder and
replayer as ``transpiler verify``: same initial weights, dropout off, no
shuffling. The loss of every training step, every printed value and
module-level result, and each model's outputs afterwards must agree
(transpiler.verify.check's default tolerances, or the fixture's ``train_rtol=``
where a documented difference such as RMSprop's epsilon needs more). A fixture that trains must
train: at least one step is compared.
"""

from __future__ import annotations

import pytest

from fixtures_util import FIXTURES, cases
from numeric_util import needs_frameworks
from training_util import verify_cases

pytestmark = [pytest.mark.numeric, needs_frameworks()]

VERIFY = [c for c in cases("tf_to_torch") if c.verify]


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    return verify_cases([(c.id, c.path, c.expected, c.train_rtol) for c in VERIFY], tmp_path_factory.mktemp("training"))


@pytest.mark.parametrize("case", VERIFY, ids=lambda c: c.id)
def test_trains_the_same(case, verdicts):
    from transpiler.verify.check import describe

    verdict = verdicts[case.id]
    assert verdict.passed, describe(verdict)
    text = case.path.read_text(encoding="utf-8")
    if "fit(" in text or "GradientTape" in text:
        assert verdict.steps > 0, "the fixture trains, but no training step was recorded"
