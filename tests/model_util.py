"""Running converted Keras models against the originals with the same weights and inputs."""

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
    keras_params: int = 0
    torch_params: int = 0
    passed: bool = False


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_jobs(module: str, jobs: list, work: Path) -> None:
    jobs_file = work / f"{module.rsplit('.', 1)[-1]}-jobs.json"
    jobs_file.write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, "-m", module, "--jobs", str(jobs_file)], capture_output=True, text=True, env=_env(), timeout=1200)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])


def check_models(cases: list[tuple[str, Path, dict]], work: Path, *, rtol: float = 1e-4, atol: float = 1e-5) -> dict[str, list[ModelResult]]:
    """cases: (id, source path, spec). Returns per case the result of every model it builds."""
    keras_jobs, torch_jobs, prepared = [], [], []
    for case_id, path, spec in cases:
        d = work / case_id.replace("/", "_")
        d.mkdir(parents=True, exist_ok=True)
        result = convert_source(path.read_text(encoding="utf-8"), to="torch", filename=str(path))
        converted = d / "converted.py"
        converted.write_text(result.code, encoding="utf-8")
        (d / "info.json").write_text(json.dumps(result.models))
        (d / "spec.json").write_text(json.dumps(spec))
        keras_jobs.append([str(path), str(d / "keras"), str(d / "spec.json")])
        torch_jobs.append([str(converted), str(d / "info.json"), str(d / "keras"), str(d / "torch")])
        prepared.append((case_id, d))
    run_jobs("transpiler.verify.keras_record", keras_jobs, work)
    run_jobs("transpiler.verify.torch_replay", torch_jobs, work)
    out = {}
    for case_id, d in prepared:
        out[case_id] = compare_dir(d, rtol, atol)
    return out


def compare_dir(d: Path, rtol: float, atol: float) -> list[ModelResult]:
    for side in ("keras", "torch"):
        failure = d / side / "failure.txt"
        if failure.exists():
            return [ModelResult("<program>", [f"{side} side failed: {failure.read_text()[:3000]}"])]
    k_meta = json.loads((d / "keras" / "record.json").read_text())
    t_meta = json.loads((d / "torch" / "run.json").read_text())
    k_arr = np.load(d / "keras" / "record.npz")
    t_arr = np.load(d / "torch" / "run.npz")
    results = []
    for name, km in k_meta["models"].items():
        r = ModelResult(name, keras_params=km["count_params"])
        tm = t_meta["models"].get(name, {})
        if "error" in tm:
            r.errors.append(tm["error"])
            results.append(r)
            continue
        r.torch_params = tm["count_params"]
        ok = True
        for i in range(km["outputs"]):
            check = compare_arrays(f"{name}/out/{i}", k_arr[f"{name}/out/{i}"], t_arr[f"{name}/out/{i}"], rtol, atol)
            r.max_rel = max(r.max_rel, check.max_rel)
            r.max_abs = max(r.max_abs, check.max_abs)
            if not check.passed:
                ok = False
                r.errors.append(f"output {i}: max abs {check.max_abs:.3g}, max rel {check.max_rel:.3g} {check.detail}")
        if r.keras_params != r.torch_params:
            ok = False
            r.errors.append(f"parameter count: Keras {r.keras_params}, PyTorch {r.torch_params}")
        r.passed = ok
        results.append(r)
    return results
