"""`transpiler verify` on every runnable fixture program, both directions: a pass table.

A fixture is runnable when its first line marks it for running (``# fixture:
numeric``, ``verify``, ``models``, ``training``) or it is a seed program made
runnable (``*_synthetic.py``). Each one goes through the command as a user runs
it (``python -m transpiler verify FIXTURE --format json``), with what its first
line states: ``spec=`` becomes ``--spec``, ``train_rtol=`` (TensorFlow
fixtures) and ``rtol=`` (PyTorch training fixtures) ``--train-rtol``, each with
the documented reason beside it in the fixture. Programs run with --device cpu
unless --device says otherwise.

    python bench/verify_fixtures.py                 # all, 2 at a time
    python bench/verify_fixtures.py -j 1 torch_to_tf/training   # a subset (substring of the id)
    python bench/verify_fixtures.py --json out.json # every report too

Prints one line per fixture (MATCH, MISMATCH with the failing checks, or ERROR
with the reason verify could not run) and a summary; exits 1 when any fixture
did not match.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
TARGET = {"tf_to_torch": "torch", "torch_to_tf": "tf"}
MARKS = ("numeric", "verify", "models", "training")


def runnable() -> list[tuple[str, Path, list[str]]]:
    """(id, path, extra verify options) of every runnable fixture, both directions."""
    found = []
    for direction, to in TARGET.items():
        for path in sorted((FIXTURES / direction).rglob("*.py")):
            if path.name.endswith(".expected.py"):
                continue
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
            header = re.match(r"#\s*fixture:\s*(.*)", first)
            words = header.group(1) if header else ""
            if not any(re.search(rf"\b{m}\b", words) for m in MARKS) and not path.stem.endswith("_synthetic"):
                continue
            options = ["--to", to]
            spec = re.search(r"spec=(\{.*\})", words)
            if spec:
                options += ["--spec", spec.group(1)]
            rtol = re.search(r"\b(?:train_rtol|rtol)=([0-9.e-]+)", words)
            if rtol and ("train_rtol" in words or "training" in words):
                options += ["--train-rtol", rtol.group(1)]
            found.append((path.relative_to(FIXTURES).as_posix(), path, options))
    return found


def verify(path: Path, options: list[str], device: str, timeout: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    start = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "transpiler", "verify", str(path), "--format", "json", "--device", device, *options],
            capture_output=True, text=True, env=env, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"result": "ERROR", "why": f"ran longer than {timeout} s", "seconds": time.monotonic() - start}
    seconds = time.monotonic() - start
    if proc.returncode == 2 or not proc.stdout.strip().startswith("{"):
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        why = next((line for line in reversed(lines) if re.match(r"\w+(Error|Exception)\b", line.strip())), lines[-1] if lines else "")
        return {"result": "ERROR", "why": why.strip()[:300], "seconds": seconds, "stderr": proc.stderr[-4000:]}
    report = json.loads(proc.stdout)
    failed = [c for c in report["checks"] if not c["passed"]]
    why = "; ".join(report["errors"][:2] + [f"{c['name']} ({c['detail'] or 'max rel %.2g' % c['max_rel']})" for c in failed[:3]])
    return {
        "result": "MATCH" if report["passed"] else "MISMATCH", "why": why[:300], "seconds": seconds,
        "checks": f"{sum(c['passed'] for c in report['checks'])}/{len(report['checks'])}", "steps": report["training_steps"],
        "notes": report["notes"], "report": report,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="substrings of fixture ids (fixtures/<direction>/<family>/<case>.py) to run")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="fixtures verified at a time (default 2)")
    parser.add_argument("--device", default="cpu", help="verify --device (default cpu)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per fixture (default 900)")
    parser.add_argument("--json", metavar="FILE", help="write every result, verify's reports included")
    args = parser.parse_args(argv)
    cases = [c for c in runnable() if not args.only or any(s in c[0] for s in args.only)]
    start = time.monotonic()
    width = max((len(c[0]) for c in cases), default=10)
    print(f"{'fixture':<{width}}  {'result':<8}  {'checks':>7}  {'steps':>5}  {'s':>5}  why", flush=True)
    results = []
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for (case_id, _, _), r in zip(cases, pool.map(lambda c: verify(c[1], c[2], args.device, args.timeout), cases)):
            results.append(r)
            print(f"{case_id:<{width}}  {r['result']:<8}  {r.get('checks', '-'):>7}  {r.get('steps', '-'):>5}  {r['seconds']:>5.0f}  {r['why']}", flush=True)
    for direction in TARGET:
        mine = [r for (case_id, _, _), r in zip(cases, results) if case_id.startswith(direction)]
        if mine:
            counts = {k: sum(r["result"] == k for r in mine) for k in ("MATCH", "MISMATCH", "ERROR")}
            steps = sum(r.get("steps", 0) or 0 for r in mine)
            print(f"{direction}: {counts['MATCH']}/{len(mine)} match, {counts['MISMATCH']} mismatch, {counts['ERROR']} error; {steps} training steps compared")
    print(f"{len(cases)} fixtures in {time.monotonic() - start:.0f} s ({args.jobs} at a time, --device {args.device})")
    if args.json:
        Path(args.json).write_text(json.dumps({c[0]: dict(r, options=c[2]) for c, r in zip(cases, results)}, indent=1))
    return 0 if all(r["result"] == "MATCH" for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
