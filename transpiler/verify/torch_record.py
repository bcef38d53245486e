"""Run a PyTorch program and record what its Keras conversion must reproduce.

``python -m transpiler.verify.torch_record PROGRAM OUT_DIR [SPEC_JSON] [DEVICE]``
(needs PyTorch, not TensorFlow); the counterpart of keras_record.py, writing the
same kind of recording. While the program runs:

* the first time any module runs, every module-level ``nn.Module`` (losses
  aside) gets fresh values from one seeded generator (kernels and biases
  ~ N(0, 0.3²), running variances U(0.5, 1.5): the same draw as the Keras
  recorder), so that biases and statistics are tested too, and that initial
  state is kept. A Lazy module is run once in evaluation mode on its first
  input to make its weights first; a module whose ``load_state_dict`` the
  program called keeps what it loaded;
* dropout is off and DataLoaders do not shuffle; the loss of every
  ``loss.backward()`` is recorded (deterministic.py);
* what it prints and leaves in module-level variables is recorded (capture.py).

Afterwards, for each of those models: random inputs of the shapes it was first
called with (or SPEC_JSON's ``{"model": {"input_shapes": [[2, 1, 28, 28]],
"input_dtypes": ["int:100"]}}``), its outputs in evaluation mode (a tuple's
leaves in order), its initial and final state_dict. Everything goes to
``OUT_DIR/record.npz`` (no pickle; ``<model>/in/<i>``, ``<model>/out/<i>``,
``<model>/init/<state_dict key>``, ``<model>/w/<state_dict key>``),
``OUT_DIR/record.json`` and ``OUT_DIR/program.{npz,json}``: what keras_replay.py
replays without PyTorch, and check.py compares.
"""

from __future__ import annotations

import json
import os
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


def randomize(module, rng, done: set | None = None) -> None:
    """Fresh values for every parameter and saved float buffer (BatchNorm statistics
    included); buffers outside the state_dict keep the values the module made.
    ``done``: ids of tensors given values before (a model inside another keeps its own)."""
    import torch

    saved = set(module.state_dict(keep_vars=False))
    with torch.no_grad():
        for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
            if not tensor.is_floating_point() or name not in saved:
                continue
            if done is not None:
                if id(tensor) in done:
                    continue
                done.add(id(tensor))
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
            body = kind.split(":", 1)[1] if ":" in kind else "10"
            low, high = (int(v) for v in body.split(",")) if "," in body else (0, int(body))
            arrays.append(rng.integers(low, high, size=shape).astype("int64"))
        elif kind == "bool":
            arrays.append(rng.random(size=shape) < 0.5)
        else:
            arrays.append(rng.standard_normal(shape).astype("float32"))
    return arrays


def state_arrays(module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def _lazy(module) -> bool:
    from torch.nn.parameter import UninitializedBuffer, UninitializedParameter

    return any(isinstance(t, (UninitializedParameter, UninitializedBuffer)) for t in list(module.parameters()) + list(module.buffers()))


def _first_call_spec(args) -> dict | None:
    """input_shapes/input_dtypes of a model's first call, when every argument is a tensor."""
    import torch

    if not args or not all(isinstance(a, torch.Tensor) for a in args):
        return None
    shapes, dtypes = [], []
    for a in args:
        shapes.append(list(a.shape))
        if a.dtype == torch.bool:
            dtypes.append("bool")
        elif a.is_floating_point() or a.is_complex():
            dtypes.append(None)
        else:
            values = a.detach().cpu()
            low = int(values.min()) if values.numel() else 0
            high = int(values.max()) + 1 if values.numel() else 10
            dtypes.append(f"int:{min(low, 0)},{max(high, 1)}")
    return {"input_shapes": shapes, "input_dtypes": dtypes}


def _in_eval(module, fn):
    """fn() with every submodule in evaluation mode and no gradient; training flags restored."""
    import torch

    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            return fn()
    finally:
        for m, flag in flags:
            m.training = flag


def main(program: str, out_dir: str, spec_path: str | None = None, device: str = "cpu", echo: bool = False) -> dict:
    import torch

    from . import capture, deterministic

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    deterministic.torch_patches()
    spec = json.load(open(spec_path)) if spec_path else {}
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    namespace: dict = {}
    models: dict[str, dict] = {}  # name -> {"module", "init", "first_call", "seeded_before_first_call"}
    by_id: dict[int, str] = {}
    loaded: set[int] = set()  # modules the program gave a state_dict (kept as loaded)
    busy = [False]
    randomized: set[int] = set()  # tensors given seeded values (a module-level model inside another)
    ran: set[int] = set()  # modules that ran (a model bound to a module-level name only afterwards)

    def seed(name: str, module) -> None:
        keep = id(module) in loaded or spec.get(name, {}).get("randomize", True) is False
        if not keep:
            randomize(module, rng, randomized)
        models[name]["init"] = state_arrays(module)

    def candidates():
        for name, value in list(namespace.items()):
            if name.startswith("_") or not isinstance(value, torch.nn.Module) or isinstance(value, torch.nn.modules.loss._Loss):
                continue
            if id(value) in by_id:
                continue
            yield name, value

    def before_forward(module, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            for name, value in candidates():
                by_id[id(value)] = name
                models[name] = {"module": value, "first_call": None, "init": None}
            for name, entry in models.items():
                value = entry["module"]
                if value is module and not entry.get("called"):
                    entry["called"] = True
                    entry["first_call"] = _first_call_spec(args)
                if entry["init"] is not None:
                    continue
                if _lazy(value):
                    if value is not module:
                        continue
                    try:
                        _in_eval(value, lambda: value(*args))  # Lazy modules make their weights on a first call
                    except Exception:
                        continue
                entry["seeded_before_first_call"] = True
                seed(name, value)
            ran.add(id(module))
        finally:
            busy[0] = False

    load_state_dict = torch.nn.Module.load_state_dict

    def loading(self, *args, **kwargs):
        loaded.update(id(m) for m in self.modules())
        return load_state_dict(self, *args, **kwargs)

    torch.nn.Module.load_state_dict = loading
    hook = torch.nn.modules.module.register_module_forward_pre_hook(before_forward)
    deterministic.reset()
    try:
        with deterministic.torch_device(torch, device):
            namespace, program_meta, program_arrays = capture.execute(program, namespace, echo=echo)
    finally:
        hook.remove()
        torch.nn.Module.load_state_dict = load_state_dict
    os.makedirs(out_dir, exist_ok=True)
    capture.save(program_meta, program_arrays, os.path.join(out_dir, "program"))
    late: dict[str, str] = {}
    for name, value in candidates():  # models the program never ran, or ran before they had this name
        by_id[id(value)] = name
        models[name] = {"module": value, "first_call": None, "init": None}
        if id(value) in ran:
            late[name] = (
                "it ran before it was a module-level variable (a model made inside a function): verify gives "
                "the same initial weights to module-level models only"
            )

    arrays: dict[str, np.ndarray] = {}
    meta: dict = {
        "framework": "torch", "device": device, "models": {}, "program_error": program_meta.get("error"),
        "step_losses": list(deterministic.STEP_LOSSES),
    }
    out_rng = np.random.default_rng(1)
    for name, entry in models.items():
        module = entry["module"]
        model_spec = spec.get(name) or entry["first_call"]
        record: dict = {"class": type(module).__name__}
        meta["models"][name] = record
        if name in late:
            record["error"] = late[name]
            continue
        if not model_spec or not model_spec.get("input_shapes"):
            why = "its first call was not with tensors only" if entry.get("called") else "the program never calls it"
            record["error"] = f"{why}: give its input shapes with --spec '{{\"{name}\": {{\"input_shapes\": [[2, ...]]}}}}'"
            continue
        try:
            inputs = make_inputs(model_spec, out_rng)
            tensors = [torch.from_numpy(x).to(device) for x in inputs]
            if entry["init"] is None:
                if _lazy(module):
                    _in_eval(module, lambda: module(*tensors))
                seed(name, module)
            result = _in_eval(module, lambda: module(*tensors))
        except Exception as exc:  # a model the program leaves unusable: nothing to compare
            record["error"] = f"cannot run {name}: {type(exc).__name__}: {exc}"
            continue
        leaves: list = []
        record["structure"] = _flatten(result, leaves)
        final = state_arrays(module)
        for i, x in enumerate(inputs):
            arrays[f"{name}/in/{i}"] = x
        for i, y in enumerate(leaves):
            arrays[f"{name}/out/{i}"] = y
        for key, value in entry["init"].items():
            arrays[f"{name}/init/{key}"] = value
        for key, value in final.items():
            arrays[f"{name}/w/{key}"] = value
        record.update({
            "inputs": len(inputs),
            "input_dtypes": [str(x.dtype) for x in inputs],
            "outputs": len(leaves),
            "state_dict": list(final),
            "count_params": int(sum(v.size for k, v in final.items() if not k.endswith("num_batches_tracked"))),
            "trained": any(
                not np.array_equal(value, entry["init"][key]) for key, value in final.items()
                if key in entry["init"] and np.issubdtype(value.dtype, np.floating)
            ),
            "seeded_before_first_call": bool(entry.get("seeded_before_first_call")),
        })
    np.savez(os.path.join(out_dir, "record.npz"), **arrays)
    with open(os.path.join(out_dir, "record.json"), "w") as handle:
        json.dump(meta, handle, indent=1)
    return meta


def main_jobs(path: str) -> None:
    """Several programs in one process (the framework is imported once): a JSON list of argument lists."""
    import traceback

    for args in json.load(open(path)):
        try:
            main(*args)
        except BaseException as exc:  # one failing program must not hide the others
            out_dir = args[1]
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "failure.txt"), "w") as handle:
                handle.write(f"{type(exc).__name__}: {exc}\n" + traceback.format_exc())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--jobs":
        main_jobs(sys.argv[2])
    else:
        argv = sys.argv[1:]
        main(argv[0], argv[1], argv[2] if len(argv) > 2 and argv[2] else None, *argv[3:4])
