"""Every fixture model computes the same function as the Keras original.

For each file in fixtures/tf_to_torch/models: build the Keras model(s) it defines,
convert the source, load the Keras weights into the generated modules through
the converter's weight map, feed the same random inputs (transposed where the
PyTorch model is channels-first) and compare outputs (float32, eval mode:
max relative error under 1e-4) and parameter counts.
A first line `# fixture: ... spec={...}` gives input shapes for models that do
not know theirs (subclassed models).
"""

from __future__ import annotations

import json
import re

import pytest

from fixtures_util import FIXTURES
from model_util import check_models
from numeric_util import needs_frameworks

pytestmark = [pytest.mark.numeric, needs_frameworks()]

CASES = []
for path in sorted((FIXTURES / "tf_to_torch" / "models").glob("*.py")):
    if path.name.endswith(".expected.py"):
        continue
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    if "no-equivalence" in first:
        continue
    m = re.search(r"spec=(\{.*\})", first)
    CASES.append((path.relative_to(FIXTURES).as_posix(), path, json.loads(m.group(1)) if m else {}))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return check_models(CASES, tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_same_outputs_and_parameter_count(case, results):
    models = results[case[0]]
    assert models, "the fixture builds no Keras model"
    problems = [f"{m.name}: {e}" for m in models for e in m.errors]
    assert not problems, "\n".join(problems)
