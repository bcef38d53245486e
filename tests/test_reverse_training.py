"""Training a converted model gives the same losses, step by step.

For each fixture in fixtures/torch_to_tf/training: the PyTorch program runs and
records what it prints (the loss of every step) and the weights each model has
when it is first called; its Keras conversion runs with those weights given to
the matching model (in call order) before its first step, and prints its own
losses. Printed values and module-level tensors are compared with a relative
tolerance of 1e-4 (an absolute one of a fifth of it near zero) unless the fixture's first line says
otherwise (``rtol=``), with the reason beside it.
"""

from __future__ import annotations

import json

import pytest

from fixtures_util import cases
from numeric_util import needs_frameworks
from reverse_model_util import convert, run_jobs
from transpiler.verify.compare import compare_runs

pytestmark = [pytest.mark.numeric, needs_frameworks()]

TRAINING = [c for c in cases("torch_to_tf") if "fixture: training" in c.path.read_text(encoding="utf-8").split("\n", 1)[0]]


def _tolerance(case) -> float:
    return case.tolerance if case.tolerance != 1e-5 else 1e-4


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("reverse_training")
    torch_jobs, keras_jobs, prefixes = [], [], {}
    for case in TRAINING:
        d = work / case.id.replace("/", "_")
        converted = convert(case.path, d)
        torch_jobs.append(["--training", str(case.path), str(d / "torch")])
        keras_jobs.append(["--training", str(converted), str(d / "info.json"), str(d / "torch"), str(d / "keras")])
        prefixes[case.id] = d
    run_jobs("transpiler.verify.torch_record", torch_jobs, work, "-training")
    run_jobs("transpiler.verify.keras_replay", keras_jobs, work, "-training")
    return prefixes


@pytest.mark.parametrize("case", TRAINING, ids=lambda c: c.id)
def test_same_losses(case, runs):
    d = runs[case.id]
    for side in ("torch", "keras"):
        failure = d / f"{side}.failure.txt"
        assert not failure.exists(), failure.read_text()[:3000]
    replay = json.loads((d / "keras.weights.json").read_text())
    assert not replay["problems"], replay["problems"]
    rtol = _tolerance(case)
    result = compare_runs(str(d / "torch"), str(d / "keras"), rtol=rtol, atol=rtol / 5)
    assert not result.errors, result.errors
    assert result.checks, "the fixture printed nothing to compare"
    failed = [c for c in result.checks if not c.passed]
    assert not failed, "\n".join(f"{c.name}: max abs {c.max_abs:.3g}, max rel {c.max_rel:.3g} {c.detail}" for c in failed)
