"""Run a TensorFlow/Keras program and record what the converted program must reproduce.

``python -m transpiler.verify.keras_record PROGRAM OUT_DIR [SPEC_JSON]`` (needs
TensorFlow/Keras). While the program runs:

* every weight a Keras layer creates gets a value from one seeded generator (so
  biases and statistics are non-trivial) and its initial value is kept, with
  where in the program its layer was created;
* dropout is off and ``fit`` does not shuffle, so that a few training steps
  can be compared step for step (deterministic.py);
* what it prints and leaves in module-level variables is recorded (capture.py).

Afterwards, for each module-level keras.Model: random inputs (shapes from the
model or SPEC_JSON ``{"model": {"input_shapes": [[2, 28, 28, 1]]}}``), its
outputs in inference mode, and its initial and final weights. Everything goes to
``OUT_DIR/record.npz`` (no pickle), ``OUT_DIR/record.json`` and
``OUT_DIR/program.{npz,json}``: the recording torch_replay.py replays without TensorFlow.
"""

from __future__ import annotations

import json
import os
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


def _random_value(name: str, shape, rng) -> np.ndarray:
    """A weight's value: random, so that biases and moving statistics are tested too."""
    if "variance" in name:
        return rng.uniform(0.5, 1.5, size=shape)
    return rng.standard_normal(shape) * 0.3


def _randomize(model, rng) -> None:
    for w in model.weights:
        value = _random_value(w.name, tuple(w.shape), rng)
        w.assign(value.astype(w.dtype if isinstance(w.dtype, str) else "float32"))


_SEEDED: dict = {}  # the generator of the program running now, and initial values by variable


def _seed_weights() -> None:
    """Every weight a layer creates starts from the seeded generator; its value is kept."""
    import keras

    if "original" in _SEEDED:
        return
    original = _SEEDED["original"] = keras.layers.Layer.add_weight

    def add_weight(self, *args, **kwargs):
        rng = _SEEDED.get("rng")
        if rng is None:
            return original(self, *args, **kwargs)
        names = ["shape", "initializer", "dtype", "trainable", "autocast", "regularizer", "constraint", "aggregation"]
        bound = dict(zip(names, args))
        bound.update(kwargs)
        shape = tuple(bound.get("shape") or ())
        label = str(bound.get("name") or "")
        dtype = bound.get("dtype") or "float32"
        if not str(dtype).startswith("float") and "float" not in str(getattr(dtype, "name", dtype)):
            return original(self, *args, **kwargs)
        value = _random_value(label, shape, rng).astype("float32")

        def initializer(shape=None, dtype=None):
            return value

        bound["initializer"] = initializer
        variable = original(self, **bound)
        _SEEDED["initial"][id(variable)] = (variable, value)
        return variable

    keras.layers.Layer.add_weight = add_weight

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
            maker = None  # a layer of Keras's own whose build() makes this one: its weights are that layer's
            while frame is not None and (
                frame.f_locals.get("self") is self or os.path.realpath(frame.f_code.co_filename) != _TRACKED["target"]
            ):
                owner = frame.f_locals.get("self")
                if (
                    maker is None and owner is not self and frame.f_code.co_name == "build"
                    and isinstance(owner, keras.layers.Layer) and type(owner).__module__.startswith("keras.")
                ):
                    maker = owner  # MultiHeadAttention's projections, made when it is first called
                frame = frame.f_back
            origin = getattr(maker, "_transpiler_origin", None)
            if origin is None and frame is not None:
                info = inspect.getframeinfo(frame)
                positions = getattr(info, "positions", None)
                col = positions.col_offset + 1 if positions and positions.col_offset is not None else 0
                here = [info.lineno if not positions else positions.lineno, col]
                parent = _building_parent(frame, self)
                if parent is not None:
                    here = numbered_place(parent, here)
                parent_origin = getattr(parent, "_transpiler_origin", None) if parent is not None else None
                if parent_origin and here != parent_origin[-1]:
                    origin = parent_origin + [here]
                else:
                    origin = parent_origin or [here]
            object.__setattr__(self, "_transpiler_origin", origin)
        original(self, *args, **kwargs)

    keras.layers.Layer.__init__ = init


def numbered_place(parent, here: list) -> list:
    """The k-th layer ``parent`` makes at the same place ``here`` (the elements of a list
    comprehension, or of a loop's appends): (line, col, k) for k > 0, as "*" in a weight map
    expects (weights/transforms.origin_key)."""
    counts = parent.__dict__.setdefault("_transpiler_made", {})
    k = counts.get(tuple(here), 0)
    counts[tuple(here)] = k + 1
    return here + [k] if k else here


def _building_parent(frame, layer):
    """The layer whose __init__ (or, in the program, build(), which makes layers too) is
    running further up (the new layer belongs to it)."""
    import keras

    while frame is not None:
        owner = frame.f_locals.get("self")
        name = frame.f_code.co_name
        if owner is not layer and isinstance(owner, keras.layers.Layer) and (
            name == "__init__" or (name == "build" and os.path.realpath(frame.f_code.co_filename) == _TRACKED["target"])
        ):
            return owner
        frame = frame.f_back
    return None


def _own_weights(layer) -> list:
    own = list(getattr(layer, "_trainable_variables", [])) + list(getattr(layer, "_non_trainable_variables", []))
    if own or not hasattr(layer, "_trainable_variables"):
        order = {id(w): i for i, w in enumerate(layer.weights)}
        return sorted(own, key=lambda w: order.get(id(w), 0))
    return []


def main(program: str, out_dir: str, spec_path: str | None = None, echo: bool = False) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from . import capture, deterministic

    _track_origins(program)
    _seed_weights()
    deterministic.keras_patches()
    spec = json.load(open(spec_path)) if spec_path else {}
    keras.utils.set_random_seed(0)
    _SEEDED["rng"] = np.random.default_rng(0)
    _SEEDED["initial"] = {}
    deterministic.reset()
    try:
        namespace, program_meta, program_arrays = capture.execute(program, echo=echo)
    finally:
        _SEEDED["rng"] = None
    os.makedirs(out_dir, exist_ok=True)
    capture.save(program_meta, program_arrays, os.path.join(out_dir, "program"))
    rng = np.random.default_rng(1)
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"framework": "keras", "models": {}, "program_error": program_meta.get("error"), "step_losses": list(deterministic.STEP_LOSSES)}
    for name, value in namespace.items():
        if name.startswith("_") or not isinstance(value, keras.Model):
            continue
        model_spec = spec.get(name, {})
        try:
            inputs = _inputs_for(value, model_spec, rng)
            if not value.built:
                value(inputs if len(inputs) > 1 else inputs[0], training=False)
        except Exception as exc:  # a model the program leaves unbuilt: nothing to compare
            meta["models"][name] = {"error": f"cannot build {name}: {type(exc).__name__}: {exc}"}
            continue
        seeded = all(id(w) in _SEEDED["initial"] for w in value.weights)
        if not seeded:  # built outside this run's seeding: give it fresh values now
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
                start = _SEEDED["initial"].get(id(w)) if seeded else None
                arrays[f"{name}/init/{li}/{wi}"] = start[1] if start is not None else arrays[key]
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
            "trained": seeded and any(
                not np.array_equal(np.asarray(w.numpy()), _SEEDED["initial"][id(w)][1])
                for w in value.trainable_weights if id(w) in _SEEDED["initial"]
            ),
        }
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
        main(argv[0], argv[1], argv[2] if len(argv) > 2 and argv[2] else None)
