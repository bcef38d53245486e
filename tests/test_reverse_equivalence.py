"""Every PyTorch fixture model computes the same function as its Keras conversion.

For each file in fixtures/torch_to_tf/models (and the seed models): the PyTorch
program runs under ``transpiler verify``'s recorder (torch_record.py), which
gives every module-level model seeded random weights (BatchNorm statistics
included) and random inputs; the conversion runs under its replayer
(keras_replay.py), which loads the same weights into the Keras models through
the converter's weight map and feeds the same inputs; check.py compares the
outputs in inference mode (float32, max relative error under 1e-4, absolute
1e-5 near zero) and the parameter counts. The fixture's first line gives the
input shapes: ``# fixture: models spec={"net": {"input_shapes": [[2, 1, 28, 28]]}}``.
"""

from __future__ import annotations

import json
import re

import pytest

from fixtures_util import FIXTURES
from numeric_util import needs_frameworks
from training_util import verify_cases

pytestmark = [pytest.mark.numeric, needs_frameworks()]

CASES = []
for folder in ("models", "seeds"):
    for path in sorted((FIXTURES / "torch_to_tf" / folder).glob("*.py")):
        if path.name.endswith(".expected.py"):
            continue
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        m = re.search(r"spec=(\{.*\})", first)
        if "fixture: models" not in first or m is None:
            continue
        CASES.append((path.relative_to(FIXTURES).as_posix(), path, json.loads(m.group(1))))


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    return verify_cases([(case_id, path, None, None, spec) for case_id, path, spec in CASES], tmp_path_factory.mktemp("reverse_models"), to="tf")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_outputs(case, verdicts):
    from transpiler.verify.check import describe

    verdict = verdicts[case[0]]
    outputs = [c for c in verdict.checks if c.name.startswith("model ")]
    assert verdict.passed, describe(verdict, verbose=True)
    compared = {c.name.split(":")[0][len("model "):] for c in outputs}
    assert compared >= set(case[2]), f"models not compared: {sorted(set(case[2]) - compared)}\n{describe(verdict)}"
