"""Functional models built in a subclass' ``__init__`` (keras-hub's backbones) with dict
inputs and outputs: the converted module, given the Keras model's weights through the
converter's weight map, computes the same dict from the same dict.

test_model_equivalence.py's recorder calls every model with a list of tensors; these take a
dict (as the Keras model is called), so both sides run here, each in a process of its own
(TensorFlow and PyTorch are never imported together). The list-input forms of the pattern
are in fixtures/tf_to_torch/models/subclass_functional.py, checked by test_model_equivalence.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures_util import FIXTURES
from numeric_util import needs_frameworks
from transpiler.api import convert_source

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = FIXTURES / "tf_to_torch" / "models" / "subclass_functional_dict.py"
# model -> input key -> (shape, integer range)
SPEC = {
    "backbone": {"token_ids": ([2, 6], 50), "segment_ids": ([2, 6], 2)},
    "tagger": {"token_ids": ([3, 4], 20)},
}

KERAS_SIDE = r"""
import json, os, runpy, sys
import numpy as np
import keras
from transpiler.verify import keras_record as kr

program, out_dir, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
kr._track_origins(program)  # where each layer is made: the weight map's keys
keras.utils.set_random_seed(0)
namespace = runpy.run_path(program)
rng = np.random.default_rng(1)
meta, arrays = {}, {}
for name, inputs_spec in spec.items():
    model = namespace[name]
    kr._randomize(model, rng)  # LayerNormalization's ones and zeros would hide a swapped weight
    inputs = {k: rng.integers(0, high, size=shape).astype("int64") for k, (shape, high) in inputs_spec.items()}
    outputs = model(inputs, training=False)
    rank = {id(w): i for i, w in enumerate(model.weights)}
    layers = []
    for li, layer in enumerate(model._flatten_layers(include_self=True, recursive=True)):
        names, ranks = [], []
        for wi, w in enumerate(kr._own_weights(layer)):
            arrays[f"{name}/w/{li}/{wi}"] = np.asarray(w.numpy())
            names.append(w.name)
            ranks.append(rank.get(id(w), 10**9))
        layers.append({"class": type(layer).__name__, "weights": names, "ranks": ranks,
                       "origin": getattr(layer, "_transpiler_origin", None), "index": li})
    for k, v in inputs.items():
        arrays[f"{name}/in/{k}"] = v
    for k, v in outputs.items():
        arrays[f"{name}/out/{k}"] = np.asarray(v)
    meta[name] = {"layers": layers, "inputs": list(inputs), "outputs": sorted(outputs), "count_params": int(model.count_params())}
np.savez(os.path.join(out_dir, "keras.npz"), **arrays)
json.dump(meta, open(os.path.join(out_dir, "keras.json"), "w"))
"""

TORCH_SIDE = r"""
import json, os, runpy, sys
import numpy as np
import torch
from transpiler.verify.torch_replay import keras_state, load_state

program, info_path, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
infos = json.load(open(info_path))
record = np.load(os.path.join(out_dir, "keras.npz"))
meta = json.load(open(os.path.join(out_dir, "keras.json")))
namespace = runpy.run_path(program)
arrays, counts = {}, {}
for name, keras_meta in meta.items():
    module = namespace[name]
    load_state(module, keras_state(infos[name], keras_meta, record, name, "w"))
    module.eval()
    with torch.no_grad():
        outputs = module({k: torch.from_numpy(record[f"{name}/in/{k}"]) for k in keras_meta["inputs"]})
    assert isinstance(outputs, dict), type(outputs)
    for k, v in outputs.items():
        arrays[f"{name}/out/{k}"] = v.numpy()
    counts[name] = sum(p.numel() for p in module.parameters())
np.savez(os.path.join(out_dir, "torch.npz"), **arrays)
json.dump(counts, open(os.path.join(out_dir, "torch.json"), "w"))
"""


def _run(code: str, *args: str) -> None:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise AssertionError(f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def test_dict_models_are_converted_with_their_weight_maps():
    result = convert_source(FIXTURE.read_text(encoding="utf-8"), to="torch", filename=str(FIXTURE))
    assert "keras" not in result.code.split("class TinyBertBackbone")[1]
    for name in SPEC:
        info = result.models[name]
        assert info["kind"] == "functional"
        assert info["layers"] and all(entry["origin"] != [0, 0] for entry in info["layers"])
    assert result.models["backbone"]["input_keys"] == ["token_ids", "segment_ids"]


@pytest.mark.numeric
@needs_frameworks()
def test_dict_models_compute_what_keras_computes(tmp_path):
    from transpiler.verify.compare import compare_arrays

    result = convert_source(FIXTURE.read_text(encoding="utf-8"), to="torch", filename=str(FIXTURE))
    converted = tmp_path / "converted.py"
    converted.write_text(result.code, encoding="utf-8")
    (tmp_path / "info.json").write_text(json.dumps(result.models))
    _run(KERAS_SIDE, str(FIXTURE), str(tmp_path), json.dumps(SPEC))
    _run(TORCH_SIDE, str(converted), str(tmp_path / "info.json"), str(tmp_path))
    keras_meta = json.loads((tmp_path / "keras.json").read_text())
    torch_counts = json.loads((tmp_path / "torch.json").read_text())
    expected = np.load(tmp_path / "keras.npz")
    got = np.load(tmp_path / "torch.npz")
    problems = []
    for name, meta in keras_meta.items():
        if meta["count_params"] != torch_counts[name]:
            problems.append(f"{name}: parameters Keras {meta['count_params']}, PyTorch {torch_counts[name]}")
        for key in meta["outputs"]:
            check = compare_arrays(f"{name}/{key}", expected[f"{name}/out/{key}"], got[f"{name}/out/{key}"], 1e-4, 1e-5)
            if not check.passed:
                problems.append(f"{name}/{key}: max abs {check.max_abs:.3g}, max rel {check.max_rel:.3g} {check.detail}")
    assert not problems, "\n".join(problems)
