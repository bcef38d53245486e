"""Give the converted Keras models a PyTorch program's weights and replay what was recorded.

The counterpart of torch_record.py (needs TensorFlow/Keras, not PyTorch). The
weight map is ``ConversionResult.models`` of the conversion (INFO_JSON); the
arrays go through transpiler/weights/torch_to_keras.py.

* models: ``replay_models(program, infos, record_dir, out_dir)`` runs the
  converted program, builds each recorded model by calling it on the recorded
  inputs, sets its weights from the recorded state_dict, runs the inputs again in
  inference mode and writes ``out_dir/run.npz`` (outputs, leaves in order) and
  ``out_dir/run.json`` (per model: outputs, weight count, problems).
* training: ``replay_training(program, infos, record_prefix, out_prefix)`` runs the
  converted program, recording what it prints; the first time each top-level
  Keras model is called it is built and given the weights the PyTorch model had
  at its first call (matched in call order), so both start from the same point.

``python -m transpiler.verify.keras_replay PROGRAM INFO_JSON RECORD_DIR OUT_DIR``,
``... --training PROGRAM INFO_JSON RECORD_PREFIX OUT_PREFIX``, or ``... --jobs JOBS_JSON``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

import numpy as np


def _flatten(value, out: list) -> str:
    if value is None:
        return "n"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_flatten(v, out) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:" + _flatten(value[k], out) for k in sorted(value)) + "}"
    out.append(np.asarray(value))
    return "t"


def _call(model, inputs):
    import keras

    try:
        return model(*inputs, training=False)
    except TypeError:
        if isinstance(model, keras.Model):
            raise
        return model(*inputs)


def replay_models(program: str, infos: dict, record_dir: str, out_dir: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from ..weights.torch_to_keras import assign

    keras.utils.set_random_seed(0)
    record = np.load(os.path.join(record_dir, "record.npz"), allow_pickle=False)
    meta = json.load(open(os.path.join(record_dir, "record.json")))
    namespace = runpy.run_path(program, run_name="__main__")
    arrays: dict[str, np.ndarray] = {}
    result: dict = {"models": {}}
    for name, torch_meta in meta["models"].items():
        entry: dict = {}
        result["models"][name] = entry
        if "error" in torch_meta:
            entry["error"] = "the PyTorch model failed: " + torch_meta["error"]
            continue
        model = namespace.get(name)
        info = infos.get(name)
        if not isinstance(model, keras.layers.Layer) or info is None:
            entry["error"] = f"no converted Keras model named {name!r}"
            continue
        inputs = [record[f"{name}/in/{i}"] for i in range(torch_meta["inputs"])]
        state = {key: record[f"{name}/sd/{key}"] for key in torch_meta["state_dict"]}
        try:
            _call(model, inputs)  # build: Keras makes its weights on the first call
            problems = assign(model, info, state)
            if problems:
                entry["error"] = "weight map: " + "; ".join(problems)
                continue
            outputs = _call(model, inputs)
        except Exception as exc:  # a failing model is a result, reported by name
            entry["error"] = f"{type(exc).__name__}: {exc}"
            continue
        leaves: list = []
        entry["structure"] = _flatten(outputs, leaves)
        for i, y in enumerate(leaves):
            arrays[f"{name}/out/{i}"] = y
        entry["outputs"] = len(leaves)
        entry["weights"] = int(sum(int(np.prod(w.shape)) for w in model.weights))
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, "run.npz"), **arrays)
    with open(os.path.join(out_dir, "run.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result


def replay_training(program: str, infos: dict, record_prefix: str, out_prefix: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from ..weights.torch_to_keras import assign
    from .capture import run_program

    weights = np.load(record_prefix + ".weights.npz", allow_pickle=False)
    models = json.load(open(record_prefix + ".weights.json"))["models"]
    problems: list[str] = []
    seen: set[int] = set()
    depth = [0]
    original_call = keras.Model.__call__

    def call(self, *args, **kwargs):
        if depth[0] == 0 and id(self) not in seen:
            seen.add(id(self))
            k = len(seen) - 1
            depth[0] += 1
            try:
                if k < len(models):
                    meta = models[k]
                    info = match_info(infos, meta["class"], meta["state_dict"])
                    if info is None:
                        problems.append(f"model {k} ({meta['class']}): no weight map")
                    else:
                        build = dict(kwargs, training=False)
                        original_call(self, *args, **build)
                        state = {key: weights[f"{k}/{key}"] for key in meta["state_dict"]}
                        problems.extend(assign(self, info, state))
            finally:
                depth[0] -= 1
        depth[0] += 1
        try:
            return original_call(self, *args, **kwargs)
        finally:
            depth[0] -= 1

    keras.utils.set_random_seed(0)
    keras.Model.__call__ = call
    try:
        run_program(program, out_prefix)
    finally:
        keras.Model.__call__ = original_call
    with open(out_prefix + ".weights.json", "w") as handle:
        json.dump({"models": len(seen), "problems": problems}, handle, indent=1)


def match_info(infos: dict, cls: str, keys: list[str]) -> dict | None:
    """The weight map for a PyTorch model of class ``cls`` with these state_dict keys."""
    from ..weights.torch_to_keras import expand

    present = set(keys)
    for info in infos.values():
        if info.get("class") not in (cls, None) or (info.get("class") is None and cls != "Sequential"):
            continue
        wanted = {name for entry in expand(info["weights"], present) for name in entry["torch"]}
        if wanted and wanted <= present and not {k for k in present - wanted if not k.endswith("num_batches_tracked")}:
            return info
    return None


def main_jobs(path: str) -> None:
    import traceback

    for args in json.load(open(path)):
        try:
            if args[0] == "--training":
                replay_training(args[1], json.load(open(args[2])), args[3], args[4])
            else:
                replay_models(args[0], json.load(open(args[1])), args[2], args[3])
        except BaseException as exc:  # one failing program must not hide the others
            out = args[4] if args[0] == "--training" else args[3]
            target = out + ".failure.txt" if args[0] == "--training" else os.path.join(out, "failure.txt")
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            with open(target, "w") as handle:
                handle.write(f"{type(exc).__name__}: {exc}\n" + traceback.format_exc())


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) == 2 and argv[0] == "--jobs":
        main_jobs(argv[1])
    elif argv and argv[0] == "--training":
        replay_training(argv[1], json.load(open(argv[2])), argv[3], argv[4])
    else:
        replay_models(argv[0], json.load(open(argv[1])), argv[2], argv[3])
