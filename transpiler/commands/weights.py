"""``transpiler weights``: trained Keras weights -> a state_dict file for the converted model.

The weight map comes from converting the program that defines the model (it
records where each layer is created, and how each weight changes layout); the
Keras side runs in its own process (it needs TensorFlow/Keras), then the arrays
are saved with ``torch.save`` (or as ``.npz`` when the output name says so).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "weights",
        help="convert a trained Keras weights file to a PyTorch state_dict for the converted model",
        description=(
            "Convert WEIGHTS (a Keras .weights.h5 or .keras file) to the state_dict of the PyTorch model that "
            "`transpiler convert` makes from PROGRAM, so that converted code can load the original's trained "
            "weights: model.load_state_dict(torch.load(OUT)). Exit 0 on success, 2 when it cannot."
        ),
    )
    p.add_argument("weights", help="the Keras weights file (.weights.h5, .keras)")
    p.add_argument("--program", required=True, help="the Keras source that builds the model")
    p.add_argument("--model", default="model", help="the module-level variable holding the model (default: model)")
    p.add_argument("--to", choices=["torch"], default="torch", help="target framework (torch; the reverse direction: see README)")
    p.add_argument("-o", "--output", required=True, help="the state_dict file to write (.pt, or .npz for plain arrays)")
    p.add_argument("--spec", metavar="JSON", help='input shapes when the model does not know them: {"model": {"input_shapes": [[1, 28, 28, 1]]}}')
    p.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"transpiler weights: {message}", file=sys.stderr)
    return 2


def run(args) -> int:
    from ..api import InputError, convert_source

    program = Path(args.program)
    weights = Path(args.weights)
    for path in (program, weights):
        if not path.is_file():
            return _fail(f"{path}: no such file")
    if importlib.util.find_spec("tensorflow") is None and importlib.util.find_spec("keras") is None:
        return _fail("reading Keras weights needs TensorFlow/Keras installed")
    try:
        result = convert_source(program.read_text(encoding="utf-8"), to="torch", filename=str(program))
    except InputError as exc:
        return _fail(f"{program}: {exc}")
    if args.model not in result.models:
        known = ", ".join(sorted(result.models)) or "none"
        return _fail(f"{program}: no converted model named {args.model!r} (converted models: {known})")
    with tempfile.TemporaryDirectory(prefix="transpiler-weights-") as work:
        info = Path(work) / "models.json"
        info.write_text(json.dumps(result.models))
        arrays = Path(work) / "state.npz"
        argv = [str(program.resolve()), args.model, str(weights.resolve()), str(info), str(arrays)]
        if args.spec:
            spec = Path(work) / "spec.json"
            spec.write_text(Path(args.spec).read_text() if os.path.exists(args.spec) else args.spec)
            argv.append(str(spec))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
        proc = subprocess.run([sys.executable, "-m", "transpiler.weights.keras_export", *argv], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = [line for line in proc.stderr.splitlines() if not line.startswith(("I0000", "W0000", "WARNING: All log"))]
            return _fail("\n".join(lines[-15:]) or f"the Keras side failed ({proc.returncode})")
        synthetic = json.loads(proc.stdout.strip().splitlines()[-1]).get("synthetic", [])
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        import numpy as np

        with np.load(arrays) as data:
            state = {k: data[k] for k in data.files}
        tmp = out.with_name(out.name + ".tmp")
        if out.suffix == ".npz":
            with open(tmp, "wb") as handle:
                np.savez(handle, **state)
        else:
            import torch

            torch.save({k: torch.from_numpy(np.require(v, requirements="C")) for k, v in state.items()}, tmp)
        os.replace(tmp, out)  # never a half-written file
    print(f"wrote {out}: {len(state)} tensors for {args.model} ({result.models[args.model].get('form')})")
    if synthetic:
        print(f"  zero-filled (PyTorch has them, Keras does not): {', '.join(synthetic)}")
    return 0
