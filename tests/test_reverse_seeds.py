"""The seed articles' PyTorch programs, with synthetic data, run after conversion.

fixtures/torch_to_tf/seeds/*_synthetic.py are the articles' blocks made runnable
(synthetic data instead of downloads, the slips that make them fail in PyTorch too
fixed and listed in their first lines; see fixtures/seeds.md). Each one runs under
PyTorch, and its snapshot (the converted program) runs under TensorFlow; both must
finish without an error. Their models are compared numerically by
test_reverse_equivalence.py where the file says so.
"""

from __future__ import annotations

import json

import pytest

from fixtures_util import FIXTURES
from numeric_util import needs_frameworks, run_programs

pytestmark = [pytest.mark.numeric, needs_frameworks()]

SYNTHETIC = sorted((FIXTURES / "torch_to_tf" / "seeds").glob("*_synthetic.py"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("seeds")
    originals = run_programs(SYNTHETIC, base / "torch")
    converted = run_programs([p.with_name(p.stem + ".expected.py") for p in SYNTHETIC], base / "tf")
    return {p.name: (o, c) for p, o, c in zip(SYNTHETIC, originals, converted)}


@pytest.mark.parametrize("path", SYNTHETIC, ids=lambda p: p.name)
def test_runs_in_both_frameworks(path, runs):
    for prefix, label in zip(runs[path.name], ("PyTorch original", "converted program")):
        meta = json.loads(open(prefix + ".json", encoding="utf-8").read())
        assert meta["error"] is None, f"{label}: {meta['error']}\n{meta.get('traceback', '')[-2000:]}"
        assert meta["stdout"].strip(), f"{label} printed nothing"
