"""Every PyTorch fixture model computes the same function as its Keras conversion.

For each file in fixtures/torch_to_tf/models (and the seed models): run the
PyTorch program, give every module-level model random weights (BatchNorm
statistics included) and random inputs, convert the source, load the same
weights into the Keras models through the converter's weight map, feed the same
inputs and compare outputs in inference mode (float32, max relative error under
1e-4, absolute 1e-5 near zero). The fixture's first line gives the input shapes:
``# fixture: models spec={"net": {"input_shapes": [[2, 1, 28, 28]]}}``.
"""

from __future__ import annotations

import json
import re

import pytest

from fixtures_util import FIXTURES
from numeric_util import needs_frameworks
from reverse_model_util import check_models

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
def results(tmp_path_factory):
    return check_models(CASES, tmp_path_factory.mktemp("reverse_models"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_outputs(case, results):
    models = results[case[0]]
    assert models, "the fixture builds no PyTorch model"
    problems = [f"{m.name}: {e}" for m in models for e in m.errors]
    assert not problems, "\n".join(problems)
