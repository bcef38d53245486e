"""Comparing a recording of the original program with the run of its conversion.

What is compared, in order:

* whether each program ran to the end (a failing original is reported as such:
  there is then nothing to compare it with);
* the loss of every training step (``tape.gradient`` / ``loss.backward()``),
  count and values;
* every value printed, and every module-level tensor, array or float the two
  programs share by name;
* each model's outputs on the same random inputs, in inference mode, and its
  parameter count;
* after training, how far each weight tensor ended apart (reported, not judged:
  Adam's epsilon placement moves near-zero-gradient weights apart without
  changing what the model computes).

Values computed before any training step must agree to ``rtol``, and the loss
of every training step to ``step_rtol`` (1e-4: the same batches from the same
weights give the same loss, step after step). Values computed after training
(final metrics, a trained model's outputs) carry the float differences of every
step before them and of documented optimizer differences (Adam's epsilon
placement), so ``train_rtol`` applies to them, relative to each tensor's
largest magnitude (a model's outputs, printed and module-level arrays: the
near-zero logits of a trained model carry the absolute error of the whole
tensor).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .compare import Check, compare_arrays, compare_runs


@dataclass
class Verdict:
    checks: list[Check] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trained: bool = False
    steps: int = 0

    @property
    def passed(self) -> bool:
        return not self.errors and all(c.passed for c in self.checks)

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "compared": len(self.checks),
            "trained": self.trained,
            "training_steps": self.steps,
            "errors": self.errors,
            "notes": self.notes,
            "checks": [
                {"name": c.name, "passed": c.passed, "max_abs": _num(c.max_abs), "max_rel": _num(c.max_rel), "tolerance": c.tolerance, "detail": c.detail}
                for c in self.checks
            ],
        }


_LABEL = {"torch": "PyTorch", "keras": "Keras"}  # the "framework" a recording or run names


def _num(x: float):
    return None if x != x or x in (float("inf"), float("-inf")) else x


def compare(
    record_dir: str, run_dir: str, *, rtol: float = 1e-4, atol: float = 1e-5, train_rtol: float = 2e-3, step_rtol: float = 1e-4
) -> Verdict:
    v = Verdict()
    for side, d in (("original", record_dir), ("conversion", run_dir)):
        failure = os.path.join(d, "failure.txt")
        if os.path.exists(failure):
            v.errors.append(f"the {side}'s runner failed: {open(failure).read()[:2000]}")
    if v.errors:
        return v
    record = json.load(open(os.path.join(record_dir, "record.json")))
    run = json.load(open(os.path.join(run_dir, "run.json")))
    k_steps, t_steps = record.get("step_losses", []), run.get("step_losses", [])
    v.trained = bool(k_steps or t_steps)
    v.steps = len(k_steps)
    tol = train_rtol if v.trained else rtol
    tol_abs = max(atol, train_rtol * 1e-2) if v.trained else atol

    # a NaN the program put in a value on purpose (x = [1.0, nan]) passes where both runs have it;
    # NaN on one side only, a value that is NaN everywhere, a NaN loss or model output never passes
    program = compare_runs(
        os.path.join(record_dir, "program"), os.path.join(run_dir, "program"), rtol=tol, atol=tol_abs, allow_nan=True,
        scale_rtol=train_rtol if v.trained else None,
    )
    v.errors.extend(program.errors)
    v.checks.extend(program.checks)

    if len(k_steps) != len(t_steps):
        v.errors.append(f"{len(k_steps)} training step(s) in the original, {len(t_steps)} in the conversion")
    if k_steps and t_steps:
        n = min(len(k_steps), len(t_steps))
        check = compare_arrays(f"loss of training steps 1-{n}", np.asarray(k_steps[:n]), np.asarray(t_steps[:n]), step_rtol, atol, allow_nan=False)
        v.checks.append(check)
        if not check.passed and not any(m.get("trained") for m in record["models"].values() if "error" not in m):
            v.notes.append(
                "no module-level model trained: if the program trains a model made inside a function, the two runs "
                "started it from different weights (verify gives the same initial weights to module-level models only)"
            )

    k_arr = np.load(os.path.join(record_dir, "record.npz"))
    t_arr = np.load(os.path.join(run_dir, "run.npz"))
    for name, km in record["models"].items():
        tm = run["models"].get(name, {})
        if "error" in km:
            v.notes.append(f"model {name}: not compared ({km['error']})")
            continue
        if "error" in tm:
            v.errors.append(f"model {name}: {tm['error']}")
            continue
        model_tol = train_rtol if km.get("trained") else rtol
        for i in range(km["outputs"]):
            key = f"{name}/out/{i}"
            if key not in t_arr:
                v.errors.append(f"model {name}: output {i} missing in the conversion")
                continue
            expected = k_arr[key]
            # after training, near-zero outputs carry the training's float differences: scale-relative
            scale_atol = max(atol, model_tol * float(np.abs(expected).max())) if km.get("trained") and expected.size else atol
            v.checks.append(compare_arrays(f"model {name}: output {i}", expected, t_arr[key], model_tol, scale_atol, allow_nan=False))
        if km.get("structure") and tm.get("structure") and km["structure"] != tm["structure"]:
            v.errors.append(f"model {name}: outputs differ in structure: original {km['structure']}, conversion {tm['structure']}")
        if km["count_params"] != tm.get("count_params"):
            original, conversion = _LABEL.get(record.get("framework"), "original"), _LABEL.get(run.get("framework"), "conversion")
            v.checks.append(Check(f"model {name}: parameter count", 0.0, 0.0, 0.0, False, f"{original} {km['count_params']}, {conversion} {tm.get('count_params')}"))
        if km.get("trained") and not tm.get("loaded_before_first_call"):
            v.notes.append(f"model {name}: its initial weights were loaded after its first call (a lazy module?): training is not comparable")
        if tm.get("weights"):
            worst = max(tm["weights"], key=lambda w: w["max_abs"])
            v.notes.append(f"model {name}: after training, weights differ by at most {worst['max_abs']:.2g} ({worst['name']})")
    return v


def describe(v: Verdict, *, verbose: bool = False) -> str:
    """A table of the checks (all of them; failures first unless verbose), then notes and the verdict."""
    lines = [f"error: {error}" for error in v.errors]
    checks = v.checks if verbose else sorted(v.checks, key=lambda c: c.passed)
    if checks:
        width = min(max(len(c.name) for c in checks), 60)
        lines.append(f"{'check':<{width}}  {'max abs':>9}  {'max rel':>9}  {'tolerance':>9}  result")
        for c in checks:
            name = c.name if len(c.name) <= width else c.name[: width - 1] + "…"
            result = "ok" if c.passed else "FAIL" + (f" ({c.detail})" if c.detail else "")
            lines.append(f"{name:<{width}}  {c.max_abs:>9.3g}  {c.max_rel:>9.3g}  {c.tolerance:>9g}  {result}")
    for note in v.notes:
        lines.append(f"note: {note}")
    passed = sum(c.passed for c in v.checks)
    what = f"{passed}/{len(v.checks)} checks passed"
    if v.trained:
        what += f", {v.steps} training step(s) compared"
    if v.passed and not v.checks:
        lines.append("NOTHING COMPARED: the program printed nothing and left no module-level value or model; see docs/verify.md, 'Finding what to run'")
    else:
        lines.append(("MATCH: " if v.passed else "MISMATCH: ") + what)
    return "\n".join(lines)
