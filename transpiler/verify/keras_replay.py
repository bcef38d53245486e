"""Run the converted Keras program against a recording of the PyTorch original.

``python -m transpiler.verify.keras_replay PROGRAM INFO_JSON RECORD_DIR OUT_DIR [DEVICE]``
(needs TensorFlow/Keras, not PyTorch); the counterpart of torch_replay.py.
INFO_JSON is ConversionResult.models: for each converted model, its weight map
(transpiler/weights/torch_to_keras.py). RECORD_DIR is what torch_record.py wrote.
While the program runs:

* the first time a converted model is called (or, once it is built, the first
  time any layer runs) it gets the PyTorch model's *initial* state_dict
  through the weight map; a model whose weights Keras makes on the first call
  is built first by calling it on that call's inputs in inference mode. Both
  programs then train from the same point;
* dropout is off, ``fit`` and tf.data do not shuffle, tf.functions run eagerly
  and the loss of every ``tape.gradient`` is recorded (deterministic.py).

A recorded model is found by its module-level name; a model the conversion
builds from a factory (``make()``) by its class and state_dict keys.
Afterwards each model runs the recorded inputs in inference mode, and where
the PyTorch model was trained its final weights are compared with the Keras
ones (reported as a note). Writes OUT_DIR/run.npz, OUT_DIR/run.json and
OUT_DIR/program.{npz,json}, in the format torch_replay.py writes.
"""

from __future__ import annotations

import json
import os
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


def _call(model, inputs, call=None):
    import keras

    call = call or type(model).__call__
    try:
        return call(model, *inputs, training=False)
    except TypeError:
        if isinstance(model, keras.Model):
            raise
        return call(model, *inputs)


def match_info(infos: dict, cls: str, keys: list[str]) -> dict | None:
    """The weight map for a PyTorch model of class ``cls`` with these state_dict keys
    (a model the conversion names by the factory that builds it)."""
    from ..weights.torch_to_keras import expand

    present = set(keys)
    for info in infos.values():
        if info.get("class") not in (cls, None) or (info.get("class") is None and cls != "Sequential"):
            continue
        wanted = {name for entry in expand(info["weights"], present) for name in entry["torch"]}
        if wanted and wanted <= present and not {k for k in present - wanted if not k.endswith("num_batches_tracked")}:
            return info
    return None


def _built(model) -> bool:
    return bool(model.built) and all(layer.built for layer in model._flatten_layers(include_self=False, recursive=True))


# weight transforms that add two PyTorch tensors into one Keras weight (b_ih + b_hh -> bias)
_MERGED = {"rnn_bias"}


def _count(model, info: dict, keys: list[str]) -> int:
    """The Keras model's weight count in PyTorch's terms: what the state_dict holds
    (a recurrent layer's one bias stands for PyTorch's two)."""
    from ..weights.torch_to_keras import expand, find_weight

    unmapped = set(info.get("unmapped", ()))
    total = sum(int(np.prod(w.shape)) for w in model.weights if w.name not in unmapped)
    for entry in expand(info["weights"], set(keys)):
        if entry["transform"] in _MERGED:
            extra = len(entry["torch"]) - 1
            total += extra * int(np.prod(find_weight(model, entry["layer"], entry["weight"]).shape))
    return int(total)


def main(program: str, info_path: str, record_dir: str, out_dir: str, device: str = "cpu", echo: bool = False) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from . import capture, deterministic
    from ..weights.torch_to_keras import assign, find_weight, keras_arrays

    deterministic.keras_patches()
    keras.utils.set_random_seed(0)
    infos = json.load(open(info_path))
    record = np.load(os.path.join(record_dir, "record.npz"), allow_pickle=False)
    meta = json.load(open(os.path.join(record_dir, "record.json")))
    try:
        import tensorflow as tf

        ran_on = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    except Exception:
        ran_on = "cpu"
    result: dict = {"framework": "keras", "models": {}, "device": ran_on}
    entries = {name: result["models"].setdefault(name, {}) for name in meta["models"]}
    maps = {}
    for name, torch_meta in meta["models"].items():
        if "error" in torch_meta:
            continue
        info = infos.get(name) or match_info(infos, torch_meta["class"], torch_meta["state_dict"])
        if info is None and not torch_meta["state_dict"]:
            info = {"weights": []}  # a module without weights (an activation, a padding)
        if info is None:
            entries[name]["error"] = f"the conversion has no weight map for {name!r} ({torch_meta['class']})"
        else:
            maps[name] = info
    namespace: dict = {}
    loaded: dict[str, int] = {}  # model name -> id of the Keras model that got the initial weights

    def state(name: str, which: str) -> dict[str, np.ndarray]:
        return {key: record[f"{name}/{which}/{key}"] for key in meta["models"][name]["state_dict"]}

    def load_initial(name: str, model) -> None:
        loaded[name] = id(model)
        try:
            problems = assign(model, maps[name], state(name, "init"))
        except Exception as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            entries[name]["error"] = "initial weights: " + "; ".join(problems[:6])

    pending = [name for name in maps]
    busy = [False]
    original_call = keras.layers.Layer.__call__

    def call(self, *args, **kwargs):
        if pending and not busy[0]:
            busy[0] = True
            try:
                for name in list(pending):
                    model = namespace.get(name)
                    if not isinstance(model, keras.layers.Layer):
                        continue
                    if model is self and not _built(model):
                        try:
                            original_call(model, *args, **dict(kwargs, training=False))  # Keras makes weights on a first call
                        except Exception:
                            pass
                    if model is self or _built(model):
                        pending.remove(name)
                        load_initial(name, model)
                        entries[name]["loaded_before_first_call"] = True
            finally:
                busy[0] = False
        return original_call(self, *args, **kwargs)

    keras.layers.Layer.__call__ = call
    deterministic.reset()
    try:
        namespace, program_meta, program_arrays = capture.execute(program, namespace, echo=echo)
    finally:
        keras.layers.Layer.__call__ = original_call
    result["step_losses"] = list(deterministic.STEP_LOSSES)
    os.makedirs(out_dir, exist_ok=True)
    capture.save(program_meta, program_arrays, os.path.join(out_dir, "program"))
    arrays: dict[str, np.ndarray] = {}
    for name, torch_meta in meta["models"].items():
        entry = entries[name]
        if "error" in torch_meta:
            entry["error"] = torch_meta["error"]
            continue
        if "error" in entry:
            continue
        model = namespace.get(name)
        info = maps[name]
        if not isinstance(model, keras.layers.Layer) and not (callable(model) and not info["weights"]):
            entry["error"] = f"no converted model named {name!r}"
            continue
        inputs = [record[f"{name}/in/{i}"] for i in range(torch_meta["inputs"])]
        layer = isinstance(model, keras.layers.Layer)
        try:
            if layer and loaded.get(name) != id(model):  # the program never ran it
                if not _built(model):
                    _call(model, inputs, original_call)
                load_initial(name, model)
                if "error" in entry:
                    continue
            if torch_meta.get("trained"):
                expected = keras_arrays(info, state(name, "w"), reshape=set())
                checks = []
                for (layer, weight), value in expected.items():
                    variable = find_weight(model, layer, weight)
                    own = np.asarray(variable.numpy())
                    if own.size != value.size:
                        continue
                    diff = np.abs(own.reshape(value.shape).astype(np.float64) - value)
                    label = f"{layer}.{weight}" if layer else weight
                    checks.append({"name": label, "max_abs": float(diff.max()) if diff.size else 0.0})
                entry["weights"] = checks
            outputs = _call(model, inputs, original_call) if layer else model(*inputs)
        except Exception as exc:  # a failing model is a result, reported by name
            entry["error"] = f"{type(exc).__name__}: {exc}"
            continue
        leaves: list = []
        entry["structure"] = _flatten(outputs, leaves)
        for i, y in enumerate(leaves):
            arrays[f"{name}/out/{i}"] = y
        entry["outputs"] = len(leaves)
        entry["count_params"] = _count(model, info, torch_meta["state_dict"]) if layer else 0
    np.savez(os.path.join(out_dir, "run.npz"), **arrays)
    with open(os.path.join(out_dir, "run.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result


def main_jobs(path: str) -> None:
    """Several programs in one process (the framework is imported once): a JSON list of argument lists."""
    import traceback

    for args in json.load(open(path)):
        try:
            main(*args)
        except BaseException as exc:  # one failing program must not hide the others
            out_dir = args[3]
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "failure.txt"), "w") as handle:
                handle.write(f"{type(exc).__name__}: {exc}\n" + traceback.format_exc())


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--jobs":
        main_jobs(sys.argv[2])
    else:
        main(*sys.argv[1:])
