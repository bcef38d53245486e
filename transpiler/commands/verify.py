"""``transpiler verify``: run a program and its conversion with the same weights and inputs.

The original runs first and is recorded (keras_record.py for TensorFlow/Keras,
torch_record.py for PyTorch); the conversion then runs against the recording
(torch_replay.py, keras_replay.py). Both directions write the same kind of
recording and run, which check.py compares. The PyTorch side runs on the GPU
when there is one. ``--record DIR`` keeps a recording, ``--replay DIR`` uses one
made before (on a machine with the original's framework), so the replaying
machine needs only the target framework. Each side runs in its own process:
converting never imports either.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# direction -> (framework the original needs, recorder, framework the conversion needs, replayer)
SIDES = {
    "torch": ("tensorflow", "transpiler.verify.keras_record", "torch", "transpiler.verify.torch_replay"),
    "tf": ("torch", "transpiler.verify.torch_record", "keras", "transpiler.verify.keras_replay"),
}
MANIFEST = "recording.json"


def add_parser(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="run a program and its conversion with the same weights and inputs, and compare",
        description=(
            "Run PROGRAM and its conversion with the same initial weights and inputs, dropout off and data "
            "unshuffled, and compare what they print and leave behind, the loss of every training step, "
            "and each model's outputs. Exit 0 when everything matches, 1 when something differs, 2 when "
            "verification could not run."
        ),
    )
    p.add_argument("program", help="the original program (TensorFlow/Keras or PyTorch)")
    p.add_argument("--to", choices=["torch", "tf"], help="target framework (default: the other one)")
    p.add_argument("--converted", metavar="FILE", help="a conversion made before (default: convert now)")
    p.add_argument("--record", metavar="DIR", help="only run the original and keep its recording in DIR")
    p.add_argument("--replay", metavar="DIR", help="use the recording in DIR instead of running the original")
    p.add_argument("--keep", metavar="DIR", help="keep the converted program and both runs in DIR")
    p.add_argument("--device", default="auto", help="where the PyTorch side runs: auto (cuda when available), cpu, cuda, cuda:1")
    p.add_argument("--spec", metavar="JSON", help='input shapes for models that do not know theirs: {"model": {"input_shapes": [[2, 28, 28, 1]]}} (inline or a file)')
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance before any training step (default 1e-4)")
    p.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance (default 1e-5)")
    p.add_argument("--step-rtol", type=float, default=1e-4, help="relative tolerance for the loss of each training step (default 1e-4)")
    p.add_argument("--train-rtol", type=float, default=2e-3, help="relative tolerance for values computed after training (default 2e-3)")
    p.add_argument("--timeout", type=int, default=900, help="seconds each side may run (default 900)")
    p.add_argument("--strict", action="store_true", help="no allowance for documented optimizer differences (Adam's epsilon...)")
    p.add_argument("--format", "--report", dest="format", choices=["text", "json"], default="text", help="text table (default) or json")
    p.add_argument("-v", "--verbose", action="store_true", help="list every check, not only failures")
    p.add_argument("--show-output", action="store_true", help="show what the programs print")
    p.set_defaults(func=run)


class VerifyError(Exception):
    """Verification could not run (exit code 2)."""


def run(args) -> int:
    try:
        return _run(args)
    except VerifyError as exc:
        print(f"transpiler verify: {exc}", file=sys.stderr)
        return 2


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _spec_file(spec: str | None, work: Path) -> str | None:
    if not spec:
        return None
    text = Path(spec).read_text(encoding="utf-8") if os.path.exists(spec) else spec
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerifyError(f"--spec is not JSON: {exc}") from None
    path = work / "spec.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _need(module: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise VerifyError(f"{why} needs {module}, which is not installed here")


def _side(module: str, argv: list[str], timeout: int, show: bool) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    try:
        proc = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VerifyError(f"{module.rsplit('.', 1)[-1]} ran longer than {timeout} s (--timeout)") from None
    if show and proc.stdout:
        sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith(("I0000", "W0000", "WARNING: All log")))[-3000:]
        raise VerifyError(f"{module.rsplit('.', 1)[-1]} failed:\n{tail}")


def _allowances(result, to: str, args) -> tuple[float, list[str]]:
    """The per-step tolerance, widened where the conversion uses an optimizer whose rule
    documents a difference from the original (data.verify_step_rtol), unless --strict."""
    from ..frameworks import DIRECTION_TO
    from ..rules import load_ruleset

    step_rtol = args.step_rtol
    notes = []
    if args.strict:
        return step_rtol, notes
    ruleset = load_ruleset(DIRECTION_TO[to])
    for finding in result.report.findings:
        rule = ruleset.lookup(finding.api)
        allowed = rule.data.get("verify_step_rtol") if rule is not None and rule.data else None
        if allowed and allowed > step_rtol:
            step_rtol = float(allowed)
            notes.append(f"training steps compared to {allowed:g}: {rule.source} ({rule.warn or rule.note}); --strict for {args.step_rtol:g}")
    return step_rtol, notes


def _run(args) -> int:
    from ..api import convert_source
    from ..frameworks import SOURCE_OF
    from ..verify.check import compare, describe

    program = Path(args.program)
    if not program.is_file():
        raise VerifyError(f"{program}: no such file")
    source = program.read_text(encoding="utf-8")
    from ..api import InputError

    try:
        result = convert_source(source, to=args.to or "auto", filename=str(program))
    except InputError as exc:
        raise VerifyError(f"{program}: {exc}") from None
    to = result.target_framework or args.to
    if to not in SIDES:
        raise VerifyError(f"{program}: neither TensorFlow/Keras nor PyTorch code, nothing to verify")
    record_fw, recorder, replay_fw, replayer = SIDES[to]
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="transpiler-verify-"))
    work.mkdir(parents=True, exist_ok=True)
    spec = _spec_file(args.spec, work)

    if args.record and args.replay:
        raise VerifyError("--record and --replay exclude each other")
    record_dir = Path(args.replay or args.record or work / "original")
    if args.replay:
        manifest_path = record_dir / MANIFEST
        if not manifest_path.is_file():
            raise VerifyError(f"{record_dir}: not a recording (no {MANIFEST}); make one with --record")
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("source_sha256") != _digest(source):
            raise VerifyError(f"{record_dir} records another version of {program.name}; record it again")
        if manifest.get("framework") not in (None, SOURCE_OF.get(to)):
            raise VerifyError(f"{record_dir} records a {manifest['framework']} run; --to {to} replays a {SOURCE_OF.get(to)} one")
    else:
        _need(record_fw, "running the original")
        record_dir.mkdir(parents=True, exist_ok=True)
        # the PyTorch side runs where --device says, whichever side it is
        device = [args.device] if record_fw == "torch" else []
        _side(recorder, [str(program.resolve()), str(record_dir.resolve()), spec or "", *device], args.timeout, args.show_output)
        (record_dir / MANIFEST).write_text(json.dumps({
            "program": str(program), "source_sha256": _digest(source), "framework": SOURCE_OF.get(to),
        }, indent=1))
        if args.record:
            print(f"recorded {program} in {record_dir}")
            return 0

    _need(replay_fw, "running the conversion")
    if args.converted:
        converted = Path(args.converted)
        if not converted.is_file():
            raise VerifyError(f"{converted}: no such file")
    else:
        converted = work / f"{program.stem}_converted.py"
        converted.write_text(result.code, encoding="utf-8")
    info = work / "models.json"
    info.write_text(json.dumps(result.models))
    run_dir = work / "conversion"
    _side(replayer, [str(converted.resolve()), str(info.resolve()), str(record_dir.resolve()), str(run_dir.resolve()), args.device], args.timeout, args.show_output)

    step_rtol, allowances = _allowances(result, to, args)
    verdict = compare(str(record_dir), str(run_dir), rtol=args.rtol, atol=args.atol, train_rtol=args.train_rtol, step_rtol=step_rtol)
    verdict.notes.extend(allowances)
    torch_side = run_dir / "run.json" if replay_fw == "torch" else record_dir / "record.json"
    device = json.loads(torch_side.read_text()).get("device", "cpu")
    where = f"conversion run on {device}" if replay_fw == "torch" else f"original run on {device}"
    warnings = [f"{f.line}:{f.col}: {f.api}: {f.message}" for f in result.report.findings if f.kind == "warning"]
    unconverted = [f"{f.line}:{f.col}: {f.api}: {f.message}" for f in result.report.findings if f.kind == "unconverted"]
    if args.format == "json":
        out = verdict.to_json()
        out.update({"program": str(program), "converted": str(converted), "device": device, "conversion_warnings": warnings, "unconverted": unconverted})
        print(json.dumps(out, indent=1))
    else:
        print(f"{program} -> {converted} ({where})")
        if unconverted:
            print(f"{len(unconverted)} use(s) left unconverted; see `transpiler convert --report text`")
        print(describe(verdict, verbose=args.verbose))
        if not verdict.passed and warnings:
            print("the conversion warned about differences that may explain this:")
            for w in warnings:
                print(f"  {w}")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    if verdict.passed and not verdict.checks:
        return 2  # nothing exercised: not a match
    return 0 if verdict.passed else 1
