"""Run Python programs and record the values they print and leave behind.

Used as ``python -m transpiler.verify.capture OUT_DIR PROGRAM...``: each program
runs as ``__main__`` in its own namespace (one framework import for all of
them). ``print`` is wrapped so that tensors, arrays and numbers it is given are
recorded as arrays; after the program ends, module-level tensors are recorded
by name. Results go to ``OUT_DIR/<n>.npz`` (arrays, loadable without pickle) and
``OUT_DIR/<n>.json`` (the order of printed items, strings, errors).
"""

from __future__ import annotations

import builtins
import io
import json
import os
import sys
import traceback
from contextlib import redirect_stdout

import numpy as np


def to_array(value):
    """An ndarray for a tensor-like value, else None."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (np.generic,)):
        return np.asarray(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return np.asarray(value)
    module = type(value).__module__ or ""
    if module.startswith("torch"):
        try:
            import torch

            if isinstance(value, torch.Tensor):
                return value.detach().cpu().numpy()
            if isinstance(value, torch.Size):
                return np.asarray(tuple(value))
        except Exception:
            return None
    if module.startswith(("tensorflow", "keras", "tf_keras")):
        try:
            if hasattr(value, "numpy"):
                return np.asarray(value.numpy())
            if type(value).__name__ == "TensorShape":
                return np.asarray(value.as_list())
        except Exception:
            return None
    return None


def _describe(value) -> str:
    if isinstance(value, str):
        return value
    return repr(type(value).__name__)


def execute(path: str, namespace: dict | None = None, echo: bool = True) -> tuple[dict, dict, dict[str, np.ndarray]]:
    """Run a program as __main__ in ``namespace`` (the caller may watch it fill):
    (namespace, meta with printed items/variables/error, arrays)."""
    printed: list[dict] = []
    arrays: dict[str, np.ndarray] = {}
    real_print = builtins.print

    def recording_print(*args, **kwargs):
        for item in args:
            arr = to_array(item)
            if arr is not None:
                key = f"print_{len(printed)}"
                arrays[key] = np.asarray(arr)
                printed.append({"array": key})
            elif isinstance(item, (tuple, list)) and item and all(to_array(v) is not None for v in item):
                for v in item:
                    key = f"print_{len(printed)}"
                    arrays[key] = np.asarray(to_array(v))
                    printed.append({"array": key})
            elif isinstance(item, str):
                printed.append({"text": item})
            else:
                printed.append({"object": _describe(item)})
        if echo:
            real_print(*args, **kwargs)

    meta: dict = {"program": path, "error": None}
    if namespace is None:
        namespace = {}
    namespace.update({"__name__": "__main__", "__file__": os.path.abspath(path), "__builtins__": builtins})
    builtins.print = recording_print
    stdout = io.StringIO()
    cwd = os.getcwd()
    try:
        code = compile(open(path, encoding="utf-8").read(), os.path.abspath(path), "exec")
        os.chdir(os.path.dirname(os.path.abspath(path)) or ".")
        with redirect_stdout(stdout):
            exec(code, namespace)
    except BaseException as exc:  # a failing program is a result, not a crash of the runner
        meta["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        meta["traceback"] = traceback.format_exc()[-4000:]
    finally:
        builtins.print = real_print
        os.chdir(cwd)
    names = []
    for name, value in namespace.items():
        if name.startswith("_"):
            continue
        arr = to_array(value)
        if arr is not None and not isinstance(value, int):  # counters differ; results do not
            arrays[f"var_{name}"] = np.asarray(arr)
            names.append(name)
    meta["printed"] = printed
    meta["variables"] = sorted(names)
    meta["stdout"] = stdout.getvalue()[-20000:]
    return namespace, meta, arrays


def save(meta: dict, arrays: dict[str, np.ndarray], out_prefix: str) -> None:
    safe = {}
    for key, arr in arrays.items():
        if arr.dtype == object or arr.dtype.kind in "OUS":
            continue
        safe[key] = arr
    np.savez(out_prefix + ".npz", **safe)
    with open(out_prefix + ".json", "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=1)


def run_program(path: str, out_prefix: str) -> None:
    _namespace, meta, arrays = execute(path)
    save(meta, arrays, out_prefix)


def main(argv: list[str]) -> int:
    out_dir, programs = argv[0], argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    for index, program in enumerate(programs):
        run_program(program, os.path.join(out_dir, str(index)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
