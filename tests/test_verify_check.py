"""check.compare on hand-made recordings (NumPy only, no framework): the verdict rules
both directions share.

* a recording of either framework (keras_record.py's or torch_record.py's
  format) compares with a run of the other;
* NaN the program put in a value passes where both runs have it; NaN on one side
  only, NaN everywhere, a NaN loss or model output fails;
* after training, arrays compare relative to their largest magnitude;
* a model's output structure and parameter count must agree, and the failing
  count names both frameworks.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from transpiler.verify.check import compare, describe


def _write(d: Path, name: str, meta: dict, arrays: dict, program: dict | None = None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{name}.json").write_text(json.dumps(meta))
    np.savez(d / f"{name}.npz", **arrays)
    values = program or {}
    (d / "program.json").write_text(json.dumps({"error": None, "printed": [], "variables": sorted(values)}))
    np.savez(d / "program.npz", **{f"var_{k}": np.asarray(v) for k, v in values.items()})


def _pair(tmp_path, *, original: dict, conversion: dict, steps=((), ()), models=None, outputs=None, counts=(10, 10), structures=("t", "t")):
    record, run = tmp_path / "original", tmp_path / "conversion"
    models = models if models is not None else ["net"]
    outputs = outputs or (np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))
    _write(record, "record", {
        "framework": "torch", "step_losses": list(steps[0]),
        "models": {m: {"outputs": 1, "count_params": counts[0], "structure": structures[0], "trained": bool(steps[0])} for m in models},
    }, {f"{m}/out/0": outputs[0] for m in models}, original)
    _write(run, "run", {
        "framework": "keras", "step_losses": list(steps[1]),
        "models": {m: {"outputs": 1, "count_params": counts[1], "structure": structures[1], "loaded_before_first_call": True} for m in models},
    }, {f"{m}/out/0": outputs[1] for m in models}, conversion)
    return str(record), str(run)


def test_a_match(tmp_path):
    x = np.arange(6.0).reshape(2, 3)
    v = compare(*_pair(tmp_path, original={"x": x}, conversion={"x": x + 1e-7}))
    assert v.passed, describe(v)
    assert [c.name for c in v.checks] == ["x", "model net: output 0"]


def test_nan_the_program_put_there_passes_where_both_have_it(tmp_path):
    x = np.array([1.0, 2.0, np.nan])
    assert compare(*_pair(tmp_path / "a", original={"x": x}, conversion={"x": x.copy()})).passed
    one_side = compare(*_pair(tmp_path / "b", original={"x": x}, conversion={"x": np.array([1.0, 2.0, 3.0])}))
    assert not one_side.passed and "NaN in one run only" in describe(one_side)
    everywhere = compare(*_pair(tmp_path / "c", original={"x": np.full(3, np.nan)}, conversion={"x": np.full(3, np.nan)}))
    assert not everywhere.passed and "all NaN" in describe(everywhere)


def test_a_nan_loss_or_output_never_passes(tmp_path):
    losses = compare(*_pair(tmp_path / "a", original={}, conversion={}, steps=([1.0, np.nan], [1.0, np.nan])))
    assert not losses.passed and any(c.name.startswith("loss of training steps") and not c.passed for c in losses.checks)
    nan = np.full((2, 3), np.nan, "float32")
    outputs = compare(*_pair(tmp_path / "b", original={}, conversion={}, outputs=(nan, nan)))
    assert not outputs.passed


def test_after_training_arrays_compare_relative_to_their_largest_magnitude(tmp_path):
    logits = np.array([20.0, -15.0, 1e-3])
    drifted = logits + np.array([0.0, 0.0, 4e-4])  # 40% of a near-zero entry, 2e-5 of the tensor
    trained = compare(*_pair(tmp_path / "a", original={"logits": logits}, conversion={"logits": drifted}, steps=([1.0], [1.0])))
    assert trained.passed, describe(trained)
    untrained = compare(*_pair(tmp_path / "b", original={"logits": logits}, conversion={"logits": drifted}))
    assert not untrained.passed  # before training, every entry to 1e-4


def test_structure_and_parameter_count(tmp_path):
    structure = compare(*_pair(tmp_path / "a", original={}, conversion={}, structures=("(t,(t,t))", "(t,t,t)")))
    assert not structure.passed and "outputs differ in structure" in describe(structure)
    count = compare(*_pair(tmp_path / "b", original={}, conversion={}, counts=(498, 466)))
    assert not count.passed and "PyTorch 498, Keras 466" in describe(count)
