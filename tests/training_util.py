"""Running training fixtures through verify's recorder and replayer, all cases of a
framework in one process, and judging each pair with transpiler.verify.check."""

from __future__ import annotations

import json
from pathlib import Path

from model_util import run_jobs
from transpiler.api import convert_source
from transpiler.verify.check import Verdict, compare


def verify_cases(cases: list[tuple], work: Path) -> dict[str, Verdict]:
    """cases: (id, original program, converted program, train_rtol or None). Returns each case's verdict."""
    record_jobs, replay_jobs, dirs = [], [], []
    for case_id, original, converted, train_rtol in cases:
        d = work / case_id.replace("/", "_")
        d.mkdir(parents=True, exist_ok=True)
        result = convert_source(original.read_text(encoding="utf-8"), to="torch", filename=str(original))
        (d / "info.json").write_text(json.dumps(result.models))
        record_jobs.append([str(original), str(d / "original")])
        replay_jobs.append([str(converted), str(d / "info.json"), str(d / "original"), str(d / "conversion"), "cpu"])
        dirs.append((case_id, d, {"train_rtol": train_rtol, "step_rtol": train_rtol} if train_rtol else {}))
    run_jobs("transpiler.verify.keras_record", record_jobs, work)
    run_jobs("transpiler.verify.torch_replay", replay_jobs, work)
    return {case_id: compare(str(d / "original"), str(d / "conversion"), **tol) for case_id, d, tol in dirs}
