"""Running fixtures through verify's recorder and replayer, all cases of a framework
in one process, and judging each pair with transpiler.verify.check (both directions)."""

from __future__ import annotations

import json
from pathlib import Path

from model_util import run_jobs
from transpiler.api import convert_source
from transpiler.verify.check import Verdict, compare

# target framework -> (recorder of the original, replayer of the conversion)
SIDES = {
    "torch": ("transpiler.verify.keras_record", "transpiler.verify.torch_replay"),
    "tf": ("transpiler.verify.torch_record", "transpiler.verify.keras_replay"),
}


def verify_cases(cases: list[tuple], work: Path, to: str = "torch") -> dict[str, Verdict]:
    """cases: (id, original program, converted program or None to convert now, train_rtol or None[, spec dict]).
    Returns each case's verdict."""
    record_jobs, replay_jobs, dirs = [], [], []
    for case_id, original, converted, train_rtol, *rest in cases:
        spec = rest[0] if rest else None
        d = work / case_id.replace("/", "_")
        d.mkdir(parents=True, exist_ok=True)
        result = convert_source(original.read_text(encoding="utf-8"), to=to, filename=str(original))
        (d / "info.json").write_text(json.dumps(result.models))
        if converted is None:
            converted = d / "converted.py"
            converted.write_text(result.code, encoding="utf-8")
        spec_path = ""
        if spec:
            (d / "spec.json").write_text(json.dumps(spec))
            spec_path = str(d / "spec.json")
        record_jobs.append([str(original), str(d / "original"), spec_path or None] + (["cpu"] if to == "tf" else []))
        replay_jobs.append([str(converted), str(d / "info.json"), str(d / "original"), str(d / "conversion"), "cpu"])
        dirs.append((case_id, d, {"train_rtol": train_rtol, "step_rtol": train_rtol} if train_rtol else {}))
    recorder, replayer = SIDES[to]
    run_jobs(recorder, record_jobs, work)
    run_jobs(replayer, replay_jobs, work)
    return {case_id: compare(str(d / "original"), str(d / "conversion"), **tol) for case_id, d, tol in dirs}
