"""Run a Keras program and record, for each model it builds: inputs, outputs, weights.

``python -m transpiler.verify.models_keras PROGRAM OUT_DIR [SPEC_JSON]`` (needs
TensorFlow/Keras). Models are the module-level variables holding a keras.Model.
Input shapes come from the model (a built model knows them) or from SPEC_JSON
(``{"model": {"input_shapes": [[2, 28, 28, 1]]}}``). Everything is stored in
``OUT_DIR/record.npz`` (no pickle) and ``OUT_DIR/record.json``.
"""

from __future__ import annotations

import json
import os
import runpy
import sys

import numpy as np


def _inputs_for(model, spec: dict, rng) -> list[np.ndarray]:
    shapes = spec.get("input_shapes")
    dtypes = spec.get("input_dtypes")
    if shapes is None:
        shapes = [[2 if d is None else d for d in tuple(t.shape)] for t in model.inputs]
    arrays = []
    for i, shape in enumerate(shapes):
        first = model.layers[0] if model.layers else None
        kind = (dtypes or [None] * len(shapes))[i]
        if kind is None and first is not None and type(first).__name__ == "Embedding" and len(shapes) == 1:
            kind = f"int:{first.input_dim}"
        if kind and kind.startswith("int"):
            high = int(kind.split(":")[1]) if ":" in kind else 10
            arrays.append(rng.integers(0, high, size=shape).astype("int64"))
        else:
            arrays.append(rng.standard_normal(shape).astype("float32"))
    return arrays


def _randomize(model, rng) -> None:
    """Fresh random values for every weight, so that biases and moving statistics are tested too."""
    for w in model.weights:
        shape = tuple(w.shape)
        if "variance" in w.name:
            value = rng.uniform(0.5, 1.5, size=shape)
        else:
            value = rng.standard_normal(shape) * 0.3
        w.assign(value.astype(w.dtype if isinstance(w.dtype, str) else "float32"))


_TRACKED: dict = {}


def _track_origins(program: str) -> None:
    """Remember where in the program each Keras layer was created (line, column).

    The converter knows the position of every layer constructor it converts;
    matching on it pairs each Keras layer with its PyTorch module whatever order
    Keras lists layers in (functional and subclassed models do not keep source order).
    """
    import inspect

    import keras

    _TRACKED["target"] = os.path.realpath(program)
    if "original" in _TRACKED:  # patched already (several programs in one process)
        return
    original = _TRACKED["original"] = keras.layers.Layer.__init__
    def init(self, *args, **kwargs):
        if not hasattr(self, "_transpiler_origin"):
            frame = inspect.currentframe().f_back
            # skip the object's own __init__ chain (a subclass calling super().__init__)
            while frame is not None and (
                frame.f_locals.get("self") is self or os.path.realpath(frame.f_code.co_filename) != _TRACKED["target"]
            ):
                frame = frame.f_back
            origin = None
            if frame is not None:
                info = inspect.getframeinfo(frame)
                positions = getattr(info, "positions", None)
                col = positions.col_offset + 1 if positions and positions.col_offset is not None else 0
                here = [info.lineno if not positions else positions.lineno, col]
                parent = _building_parent(frame, self)
                parent_origin = getattr(parent, "_transpiler_origin", None) if parent is not None else None
                if parent_origin and here != parent_origin[-1]:
                    origin = parent_origin + [here]
                else:
                    origin = parent_origin or [here]
            object.__setattr__(self, "_transpiler_origin", origin)
        original(self, *args, **kwargs)

    keras.layers.Layer.__init__ = init


def _building_parent(frame, layer):
    """The layer whose __init__ is running further up (the new layer belongs to it)."""
    import keras

    while frame is not None:
        owner = frame.f_locals.get("self")
        if owner is not layer and isinstance(owner, keras.layers.Layer) and frame.f_code.co_name == "__init__":
            return owner
        frame = frame.f_back
    return None


def _own_weights(layer) -> list:
    own = list(getattr(layer, "_trainable_variables", [])) + list(getattr(layer, "_non_trainable_variables", []))
    if own or not hasattr(layer, "_trainable_variables"):
        order = {id(w): i for i, w in enumerate(layer.weights)}
        return sorted(own, key=lambda w: order.get(id(w), 0))
    return []


def main(program: str, out_dir: str, spec_path: str | None = None) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    _track_origins(program)
    spec = json.load(open(spec_path)) if spec_path else {}
    namespace = runpy.run_path(program, run_name="__main__")
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"models": {}}
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, keras.Model):
            continue
        model_spec = spec.get(name, {})
        inputs = _inputs_for(value, model_spec, rng)
        if not value.built:
            value(inputs if len(inputs) > 1 else inputs[0], training=False)
        if model_spec.get("randomize", True):
            _randomize(value, rng)
        outputs = value(inputs if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        layers = []
        rank = {id(w): i for i, w in enumerate(value.weights)}  # the model's own, canonical order
        for li, layer in enumerate(value._flatten_layers(include_self=True, recursive=True)):
            names, ranks = [], []
            for wi, w in enumerate(_own_weights(layer)):
                key = f"{name}/w/{li}/{wi}"
                arrays[key] = np.asarray(w.numpy())
                names.append(w.name)
                ranks.append(rank.get(id(w), 10**9))
            layers.append({"class": type(layer).__name__, "weights": names, "ranks": ranks, "origin": getattr(layer, "_transpiler_origin", None), "index": li})
        for i, x in enumerate(inputs):
            arrays[f"{name}/in/{i}"] = x
        for i, y in enumerate(outputs):
            arrays[f"{name}/out/{i}"] = np.asarray(y)
        meta["models"][name] = {
            "layers": layers,
            "inputs": len(inputs),
            "outputs": len(outputs),
            "count_params": int(value.count_params()),
        }
    os.makedirs(out_dir, exist_ok=True)
    np.savez(os.path.join(out_dir, "record.npz"), **arrays)
    with open(os.path.join(out_dir, "record.json"), "w") as handle:
        json.dump(meta, handle, indent=1)


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
        main(*sys.argv[1:])
