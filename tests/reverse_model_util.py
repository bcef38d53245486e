"""Running PyTorch models against their Keras conversions with the same weights and inputs.

The mirror of model_util.py: torch_record runs the PyTorch programs (one process
for all), keras_replay the converted ones (another), and the outputs are compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from transpiler.api import convert_source
from transpiler.verify.compare import compare_arrays

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ModelResult:
    name: str
    errors: list[str] = field(default_factory=list)
    max_rel: float = 0.0
    max_abs: float = 0.0
    passed: bool = False


def env() -> dict:
    out = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    out["PYTHONPATH"] = str(ROOT) + os.pathsep + out.get("PYTHONPATH", "")
    return out


def run_jobs(module: str, jobs: list, work: Path, tag: str = "") -> None:
    jobs_file = work / f"{module.rsplit('.', 1)[-1]}{tag}-jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, "-m", module, "--jobs", str(jobs_file)], capture_output=True, text=True, env=env(), timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])


def convert(path: Path, d: Path) -> Path:
    """The Keras conversion of a fixture, with its weight maps (info.json)."""
    d.mkdir(parents=True, exist_ok=True)
    result = convert_source(path.read_text(encoding="utf-8"), to="tf", filename=str(path))
    converted = d / "converted.py"
    converted.write_text(result.code, encoding="utf-8")
    (d / "info.json").write_text(json.dumps(result.models))
    return converted


def check_models(cases: list[tuple[str, Path, dict]], work: Path, *, rtol: float = 1e-4, atol: float = 1e-5) -> dict[str, list[ModelResult]]:
    """cases: (id, source path, spec). Returns per case the result of every model it builds."""
    torch_jobs, keras_jobs, prepared = [], [], []
    for case_id, path, spec in cases:
        d = work / case_id.replace("/", "_")
        converted = convert(path, d)
        (d / "spec.json").write_text(json.dumps(spec))
        torch_jobs.append([str(path), str(d / "torch"), str(d / "spec.json")])
        keras_jobs.append([str(converted), str(d / "info.json"), str(d / "torch"), str(d / "keras")])
        prepared.append((case_id, d))
    run_jobs("transpiler.verify.torch_record", torch_jobs, work)
    run_jobs("transpiler.verify.keras_replay", keras_jobs, work)
    return {case_id: compare_dir(d, rtol, atol) for case_id, d in prepared}


def compare_dir(d: Path, rtol: float, atol: float) -> list[ModelResult]:
    for side, name in (("torch", "record"), ("keras", "run")):
        failure = d / side / "failure.txt"
        if failure.exists():
            return [ModelResult("<program>", [f"{side} side failed: {failure.read_text()[:3000]}"])]
    t_meta = json.loads((d / "torch" / "record.json").read_text())
    k_meta = json.loads((d / "keras" / "run.json").read_text())
    t_arr = np.load(d / "torch" / "record.npz")
    k_arr = np.load(d / "keras" / "run.npz")
    results = []
    for name, tm in t_meta["models"].items():
        r = ModelResult(name)
        km = k_meta["models"].get(name, {})
        for source in (tm, km):
            if "error" in source:
                r.errors.append(source["error"])
        if r.errors:
            results.append(r)
            continue
        if tm["structure"] != km["structure"]:
            r.errors.append(f"outputs differ in structure: PyTorch {tm['structure']}, Keras {km['structure']}")
        for i in range(min(tm["outputs"], km["outputs"])):
            check = compare_arrays(f"{name}/out/{i}", t_arr[f"{name}/out/{i}"], k_arr[f"{name}/out/{i}"], rtol, atol)
            r.max_rel = max(r.max_rel, check.max_rel)
            r.max_abs = max(r.max_abs, check.max_abs)
            if not check.passed:
                r.errors.append(f"output {i}: max abs {check.max_abs:.3g}, max rel {check.max_rel:.3g} {check.detail}")
        r.passed = not r.errors
        results.append(r)
    return results
