"""Keras weights file -> the state_dict arrays of the converted PyTorch model (needs Keras).

``python -m transpiler.weights.keras_export PROGRAM MODEL WEIGHTS INFO_JSON OUT_NPZ [SPEC_JSON]``:
runs PROGRAM (the original Keras source) with layer origins tracked, takes the
module-level model MODEL, builds it if needed (input shapes from the model or
SPEC_JSON), loads WEIGHTS into it (``.weights.h5``, ``.keras``: Keras's own
``load_weights``), and writes the arrays of the converted model's state_dict,
through the converter's weight map (INFO_JSON, ConversionResult.models), to
OUT_NPZ. Used by ``transpiler weights``.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np


def weights_by_origin(model) -> tuple[dict, dict]:
    """A built Keras model's weights by where each layer was created (origins tracked by
    keras_record._track_origins), each [(name, array)] in the model's weight order, and the
    Keras class made at each place: what transforms.state_dict_arrays reads."""
    from ..verify.keras_record import _own_weights
    from .transforms import origin_key

    rank = {id(w): i for i, w in enumerate(model.weights)}
    by_origin: dict = {}
    classes: dict = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        origin = getattr(layer, "_transpiler_origin", None)
        own = _own_weights(layer)
        if origin is None or not own:
            continue
        classes[origin_key(origin)] = type(layer).__name__
        by_origin.setdefault(origin_key(origin), []).extend((rank.get(id(w), 10**9), w.name, np.asarray(w.numpy())) for w in own)
    return {k: [(n, a) for _, n, a in sorted(v, key=lambda t: t[0])] for k, v in by_origin.items()}, classes


def export(program: str, model_name: str, weights: str, info_path: str, out: str, spec_path: str | None = None) -> list[str]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from ..verify.capture import execute
    from ..verify.keras_record import _inputs_for, _track_origins
    from .transforms import SYNTHETIC, state_dict_arrays

    _track_origins(program)
    namespace, meta, _ = execute(program, echo=False)
    model = namespace.get(model_name)
    if not isinstance(model, keras.Model):
        problem = f"; the program failed: {meta['error']}" if meta.get("error") else ""
        raise SystemExit(f"{program} leaves no Keras model named {model_name!r} at module level{problem}")
    spec = json.load(open(spec_path)).get(model_name, {}) if spec_path else {}
    if not model.built:
        inputs = _inputs_for(model, spec, np.random.default_rng(0))
        model(inputs if len(inputs) > 1 else inputs[0], training=False)
    model.load_weights(weights)
    by_origin, classes = weights_by_origin(model)
    info = json.load(open(info_path))[model_name]
    state = state_dict_arrays(info, by_origin, classes)
    np.savez(out, **state)
    return sorted(SYNTHETIC)


if __name__ == "__main__":
    synthetic = export(*sys.argv[1:])
    print(json.dumps({"synthetic": synthetic}))
