"""Round trips: a program converted to the other framework and back computes what it did.

``python tests/reverse_roundtrip_util.py torch|keras JOBS_JSON`` runs, in one process
of that framework, jobs ``[original, round_trip, spec_json, out_json]``: every
model the spec names is built in both programs, the original gets random weights
and inputs, the round-tripped model gets the same weights matched in parameter
order (the conversions keep attribute and container order; shapes are checked),
and both outputs are written to ``out_json`` with the largest difference.
For Keras originals the spec may say ``"layout": "cf"``: the round-tripped
model (through PyTorch) takes channels-first inputs and gives channels-first outputs.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback

import numpy as np


def _inputs(spec: dict, rng) -> list[np.ndarray]:
    arrays = []
    for shape, kind in zip(spec["input_shapes"], spec.get("input_dtypes") or [None] * len(spec["input_shapes"])):
        if kind and kind.startswith("int"):
            arrays.append(rng.integers(0, int(kind.split(":")[1]), size=shape).astype("int64"))
        else:
            arrays.append(rng.standard_normal(shape).astype("float32"))
    return arrays


def _leaves(value, out):
    if isinstance(value, (tuple, list)):
        for v in value:
            _leaves(v, out)
    elif value is not None:
        out.append(np.asarray(value.detach().numpy() if hasattr(value, "detach") else value))
    return out


def _compare(a: list, b: list) -> tuple[float, str]:
    if len(a) != len(b):
        return float("inf"), f"{len(a)} outputs, then {len(b)}"
    worst = 0.0
    for x, y in zip(a, b):
        if x.shape != y.shape:
            return float("inf"), f"shape {x.shape}, then {y.shape}"
        scale = max(float(np.max(np.abs(x))) if x.size else 0.0, 1e-6)
        worst = max(worst, float(np.max(np.abs(x - y))) / scale if x.size else 0.0)
    return worst, ""


def torch_job(original: str, round_trip: str, spec: dict) -> dict:
    import torch

    from transpiler.verify.torch_record import randomize

    torch.manual_seed(0)
    first = runpy.run_path(original, run_name="__main__")
    second = runpy.run_path(round_trip, run_name="__main__")
    out = {}
    rng = np.random.default_rng(0)
    for name, model_spec in spec.items():
        a, b = first.get(name), second.get(name)
        if not isinstance(a, torch.nn.Module) or not isinstance(b, torch.nn.Module):
            out[name] = {"error": f"no module {name!r} in both programs"}
            continue
        inputs = [torch.from_numpy(x) for x in _inputs(model_spec, rng)]
        a.eval()
        b.eval()
        with torch.no_grad():
            a(*inputs)
            b(*inputs)  # materialise Lazy modules
            randomize(a, rng)
            ours = [(k, v) for k, v in a.state_dict().items() if not k.endswith("num_batches_tracked")]
            theirs = [(k, v) for k, v in b.state_dict().items() if not k.endswith("num_batches_tracked")]
            if [(k, tuple(v.shape)) for k, v in ours] != [(k, tuple(v.shape)) for k, v in theirs]:
                # module paths changed on the way (a padding layer in front of a convolution...):
                # the weights cannot be placed without both maps; the model must still run alike
                ya, yb = _leaves(a(*inputs), []), _leaves(b(*inputs), [])
                same = [y.shape for y in ya] == [y.shape for y in yb]
                out[name] = {"max_rel": 0.0, "error": "" if same else f"outputs {[y.shape for y in ya]}, then {[y.shape for y in yb]}",
                             "note": "module paths differ: compared by output shapes only"}
                continue
            for (_, v), (_, w) in zip(ours, theirs):
                w.copy_(v)
            worst, problem = _compare(_leaves(a(*inputs), []), _leaves(b(*inputs), []))
        out[name] = {"max_rel": worst, "error": problem}
    return out


def keras_job(original: str, round_trip: str, spec: dict) -> dict:
    """The original Keras model's weights go to the round trip through both weight maps:
    Keras -> PyTorch (the tf_to_torch map, by layer origin), PyTorch -> Keras (this direction's)."""
    import keras

    from transpiler.verify.keras_record import _track_origins
    from transpiler.weights.torch_to_keras import assign
    from transpiler.weights.keras_export import weights_by_origin
    from transpiler.weights.transforms import state_dict_arrays

    maps = spec.pop("__maps__", {})
    keras.utils.set_random_seed(0)
    _track_origins(original)
    first = runpy.run_path(original, run_name="__main__")
    second = runpy.run_path(round_trip, run_name="__main__")
    out = {}
    rng = np.random.default_rng(0)
    for name, model_spec in spec.items():
        a, b = first.get(name), second.get(name)
        if not isinstance(a, keras.layers.Layer):
            continue  # a builder function the first conversion made a class for, not a model
        if not isinstance(b, keras.layers.Layer):
            out[name] = {"error": f"no model {name!r} in the round-tripped program"}
            continue
        if "input_shapes" not in model_spec:
            model_spec = dict(model_spec, input_shapes=[[2 if d is None else d for d in t.shape] for t in a.inputs])
        inputs = _inputs(model_spec, rng)
        cf = model_spec.get("layout") == "cf"
        moved = [np.moveaxis(x, -1, 1) if cf and x.ndim >= 3 else x for x in inputs]
        a_inputs = [inputs] if len(inputs) > 1 and getattr(a, "inputs", None) else inputs
        a(*a_inputs, training=False)
        b(*moved, training=False)
        for w in a.weights:
            value = rng.uniform(0.5, 1.5, w.shape) if "variance" in w.name else rng.standard_normal(w.shape) * 0.3
            w.assign(value.astype("float32"))
        there, back = maps.get(name, (None, None))
        if there is None or back is None:
            out[name] = {"error": "no weight map for one of the two conversions"}
            continue
        try:
            state = state_dict_arrays(there, *weights_by_origin(a))
            problems = assign(b, back, state)
        except (KeyError, ValueError) as exc:
            problems = [f"{type(exc).__name__}: {exc}"]
        if problems:
            out[name] = {"error": "weights: " + "; ".join(problems)}
            continue
        ya = _leaves(a(*a_inputs, training=False), [])
        yb = _leaves(b(*moved, training=False), [])
        if model_spec.get("output_layout", "cf" if cf else "keras") == "cf":
            yb = [np.moveaxis(y, 1, -1) if y.ndim >= 3 else y for y in yb]
        worst, problem = _compare(ya, yb)
        out[name] = {"max_rel": worst, "error": problem}
    return out


def main(kind: str, jobs_path: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    run = torch_job if kind == "torch" else keras_job
    for original, round_trip, spec_path, out_path in json.load(open(jobs_path)):
        try:
            result = run(original, round_trip, json.load(open(spec_path)))
        except BaseException as exc:  # one failing program must not hide the others
            result = {"<program>": {"error": f"{type(exc).__name__}: {exc}\n" + traceback.format_exc()[-2000:]}}
        with open(out_path, "w") as handle:
            json.dump(result, handle, indent=1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main(sys.argv[1], sys.argv[2])
