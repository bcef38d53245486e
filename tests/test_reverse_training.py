"""Training a converted model gives the same losses, step by step.

For each fixture in fixtures/torch_to_tf/training: the PyTorch program runs under
``transpiler verify``'s recorder (torch_record.py: seeded initial weights,
dropout off, DataLoaders in order, the loss of every ``loss.backward()``); its
Keras conversion runs under the replayer (keras_replay.py), which gives each
model those initial weights before its first call and records the loss of
every ``tape.gradient``. check.py compares: the loss of every step (1e-4),
printed values and module-level tensors, and each model's outputs afterwards
(2e-3 after training, relative to the largest magnitude), or the fixture's
first line's ``rtol=`` where it documents a larger difference, with the reason
beside it. A fixture that trains must train: at least one step is compared.
"""

from __future__ import annotations

import pytest

from fixtures_util import cases
from numeric_util import needs_frameworks
from training_util import verify_cases

pytestmark = [pytest.mark.numeric, needs_frameworks()]

TRAINING = [c for c in cases("torch_to_tf") if "fixture: training" in c.path.read_text(encoding="utf-8").split("\n", 1)[0]]


def _tolerance(case) -> float | None:
    return case.tolerance if case.tolerance != 1e-5 else None


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    work = tmp_path_factory.mktemp("reverse_training")
    return verify_cases([(c.id, c.path, None, _tolerance(c)) for c in TRAINING], work, to="tf")


@pytest.mark.parametrize("case", TRAINING, ids=lambda c: c.id)
def test_same_losses(case, verdicts):
    from transpiler.verify.check import describe

    verdict = verdicts[case.id]
    assert verdict.passed, describe(verdict, verbose=True)
    assert verdict.steps > 0, "the fixture trains, but no training step was recorded"
    assert any(c.name.startswith("print") for c in verdict.checks), "the fixture printed nothing to compare"
