"""Run a PyTorch program and record, for each model it builds: inputs, outputs, state_dict.

Two modes, both usable from Python or the command line (needs PyTorch, not TensorFlow):

* models: ``record_models(program, out_dir, spec)`` runs the program, then for every
  module-level ``nn.Module`` gives its parameters and buffers fresh random values,
  feeds random inputs (shapes from ``spec``: ``{"model": {"input_shapes": [[2, 1, 28, 28]],
  "input_dtypes": ["int:100"]}}``) in evaluation mode and stores inputs, outputs (a
  tuple's leaves in order) and the state_dict, keyed by module path
  (``net/sd/features.0.weight``), in ``out_dir/record.npz`` (no pickle) and
  ``out_dir/record.json``.
* training: ``record_training(program, out_prefix)`` runs the program as it is and
  records what it prints (transpiler.verify.capture), plus the state_dict each
  top-level module has when it is first called (before any training step), in
  call order: ``out_prefix.weights.npz`` (``<k>/<path>``) and ``.weights.json``.
  keras_replay.replay_training gives the converted models those weights.

``python -m transpiler.verify.torch_record PROGRAM OUT_DIR [SPEC_JSON]``,
``... --training PROGRAM OUT_PREFIX``, or ``... --jobs JOBS_JSON`` (a JSON list of
argument lists, one process for all).
"""

from __future__ import annotations

import json
import os
import runpy
import sys

import numpy as np


def _flatten(value, out: list) -> str:
    """Leaves of nested tuples/lists/dicts of tensors, in order; returns their structure."""
    import torch

    if isinstance(value, torch.Tensor):
        out.append(value.detach().cpu().numpy())
        return "t"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_flatten(v, out) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:" + _flatten(value[k], out) for k in sorted(value)) + "}"
    if value is None:
        return "n"
    out.append(np.asarray(value))
    return "t"


def randomize(module, rng) -> None:
    """Fresh values for every parameter and saved float buffer (BatchNorm statistics
    included); buffers outside the state_dict keep the values the module made."""
    import torch

    saved = set(module.state_dict(keep_vars=False))
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point() or name not in saved:
                continue
            if name.endswith("running_var"):
                value = rng.uniform(0.5, 1.5, size=tuple(tensor.shape))
            else:
                value = rng.standard_normal(tuple(tensor.shape)) * 0.3
            tensor.copy_(torch.from_numpy(value.astype(np.float32)))


def make_inputs(spec: dict, rng) -> list[np.ndarray]:
    shapes = spec.get("input_shapes")
    if not shapes:
        raise ValueError("the spec gives no input_shapes for this model")
    dtypes = spec.get("input_dtypes") or [None] * len(shapes)
    arrays = []
    for shape, kind in zip(shapes, dtypes):
        if kind and kind.startswith("int"):
            high = int(kind.split(":")[1]) if ":" in kind else 10
            arrays.append(rng.integers(0, high, size=shape).astype("int64"))
        else:
            arrays.append(rng.standard_normal(shape).astype("float32"))
    return arrays


def state_arrays(module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def record_models(program: str, out_dir: str, spec: dict | None = None) -> dict:
    import torch

    torch.manual_seed(0)
    spec = spec or {}
    namespace = runpy.run_path(program, run_name="__main__")
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"models": {}}
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, torch.nn.Module):
            continue
        model_spec = spec.get(name, {})
        entry: dict = {"class": type(value).__name__}
        meta["models"][name] = entry
        try:
            inputs = make_inputs(model_spec, rng)
            value.eval()
            with torch.no_grad():
                value(*[torch.from_numpy(x) for x in inputs])  # materialise Lazy modules
            if model_spec.get("randomize", True):
                randomize(value, rng)
            value.eval()
            with torch.no_grad():
                result = value(*[torch.from_numpy(x) for x in inputs])
        except Exception as exc:  # a failing model is a result
            entry["error"] = f"{type(exc).__name__}: {exc}"
            continue
        leaves: list = []
        entry["structure"] = _flatten(result, leaves)
        for i, x in enumerate(inputs):
            arrays[f"{name}/in/{i}"] = x
        for i, y in enumerate(leaves):
            arrays[f"{name}/out/{i}"] = y
        state = state_arrays(value)
        for key, array in state.items():
            arrays[f"{name}/sd/{key}"] = array
        entry.update({
            "inputs": len(inputs), "outputs": len(leaves), "state_dict": sorted(state),
            "parameters": int(sum(p.numel() for p in value.parameters())),
        })
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, "record.npz"), **arrays)
    with open(os.path.join(out_dir, "record.json"), "w") as handle:
        json.dump(meta, handle, indent=1)
    return meta


def record_training(program: str, out_prefix: str) -> None:
    """Run the program, recording what it prints and each top-level model's first weights."""
    import torch

    from .capture import run_program

    snapshots: list[tuple[str, dict]] = []
    seen: set[int] = set()
    depth = [0]
    original_call = torch.nn.Module.__call__

    def call(self, *args, **kwargs):
        if depth[0] == 0 and id(self) not in seen and not isinstance(self, torch.nn.modules.loss._Loss):
            seen.add(id(self))
            snapshots.append((type(self).__name__, state_arrays(self)))
        depth[0] += 1
        try:
            return original_call(self, *args, **kwargs)
        finally:
            depth[0] -= 1

    torch.manual_seed(0)
    torch.nn.Module.__call__ = call
    try:
        run_program(program, out_prefix)
    finally:
        torch.nn.Module.__call__ = original_call
    arrays = {f"{k}/{key}": value for k, (_, state) in enumerate(snapshots) for key, value in state.items()}
    np.savez(out_prefix + ".weights.npz", **arrays)
    with open(out_prefix + ".weights.json", "w") as handle:
        json.dump({"models": [{"class": cls, "state_dict": sorted(state)} for cls, state in snapshots]}, handle, indent=1)


def main_jobs(path: str) -> None:
    import traceback

    for args in json.load(open(path)):
        try:
            if args and args[0] == "--training":
                record_training(*args[1:])
            else:
                program, out_dir = args[0], args[1]
                spec = json.load(open(args[2])) if len(args) > 2 else {}
                record_models(program, out_dir, spec)
        except BaseException as exc:  # one failing program must not hide the others
            out = args[2] if args and args[0] == "--training" else args[1]
            target = out + ".failure.txt" if args[0] == "--training" else os.path.join(out, "failure.txt")
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(target, "w") as handle:
                handle.write(f"{type(exc).__name__}: {exc}\n" + traceback.format_exc())


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) == 2 and argv[0] == "--jobs":
        main_jobs(argv[1])
    elif argv and argv[0] == "--training":
        record_training(*argv[1:])
    else:
        record_models(argv[0], argv[1], json.load(open(argv[2])) if len(argv) > 2 else {})
