"""bench/verify_fixtures.py on a subset: `transpiler verify` passes on fixture programs
that need verify's determinism (the script runs all runnable fixtures, both directions).

* random tensors drawn by the program: the same numbers on both sides (a shared
  stream), shuffles the identity, torch.empty zeros;
* a DataLoader with shuffle=True against its tf.data / generator conversion;
* a value with a NaN put there on purpose.
"""

from __future__ import annotations

import sys

import pytest

from fixtures_util import ROOT
from numeric_util import needs_frameworks

pytestmark = [pytest.mark.numeric, needs_frameworks()]

sys.path.insert(0, str(ROOT / "bench"))
import verify_fixtures  # noqa: E402

SUBSET = ["torch_to_tf/random/tensors.py", "tf_to_torch/random/tensors.py", "torch_to_tf/data/loaders.py", "tf_to_torch/math/compare.py"]
CASES = {case_id: (path, options) for case_id, path, options in verify_fixtures.runnable()}


def test_the_subset_is_runnable():
    assert set(SUBSET) <= set(CASES)
    assert any(c.startswith("torch_to_tf/training/") for c in CASES) and any(c.startswith("tf_to_torch/training/") for c in CASES)


@pytest.mark.parametrize("case_id", SUBSET)
def test_verify_passes(case_id):
    path, options = CASES[case_id]
    result = verify_fixtures.verify(path, options, "cpu", 600)
    assert result["result"] == "MATCH", result.get("why") or result.get("stderr")
