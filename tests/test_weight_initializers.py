"""The first values of weights build() makes with initializer objects and constant lambdas
(fixture models/subclass_weight_initializers): the same in the converted nn.Parameters as in
the Keras weights, for the initializers that give fixed values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from numeric_util import needs_frameworks
from transpiler.api import convert_source

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tf_to_torch" / "models" / "subclass_weight_initializers.py"

KERAS_SIDE = '''
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from source import net
net(np.ones((2, 6), "float32"))
h = net.head
values = {"head.logit_scale": h.logit_scale, "head.scale.gamma": h.scale.gamma, "head.scale.weight": h.scale.weight,
          "head.scale.bias": h.scale.bias, "head.query": h.query}
np.savez(sys.argv[2], **{k: np.asarray(v) for k, v in values.items()})
'''

TORCH_SIDE = '''
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
from converted import net
d = np.load(sys.argv[2])
params = {k: v.detach().numpy() for k, v in net.named_parameters()}
for name in ("head.logit_scale", "head.scale.gamma", "head.scale.weight", "head.scale.bias"):
    print(name, float(np.abs(params[name] - d[name]).max()))
print("query-shape", int(params["head.query"].shape != d["head.query"].shape))
'''


@needs_frameworks()
def test_first_values_match_keras(tmp_path):
    source = FIXTURE.read_text()
    result = convert_source(source, to="torch", filename=str(FIXTURE))
    assert not [f for f in result.report.findings if f.kind == "unconverted"]
    (tmp_path / "source.py").write_text(source)
    (tmp_path / "converted.py").write_text(result.code)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    data = tmp_path / "data.npz"
    for script in (KERAS_SIDE, TORCH_SIDE):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(data)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    errors = dict(line.split() for line in done.stdout.splitlines())
    assert set(errors) == {"head.logit_scale", "head.scale.gamma", "head.scale.weight", "head.scale.bias", "query-shape"}
    assert all(float(v) < 1e-6 for v in errors.values()), errors


GLOROT_KERAS = '''
import sys, json, numpy as np, keras
shapes = json.loads(sys.argv[1])
init = keras.initializers.GlorotUniform(seed=0)
print(json.dumps([float(np.abs(np.asarray(init(tuple(s)))).max()) for s in shapes]))
'''


@needs_frameworks()
def test_glorot_fallback_takes_keras_fans():
    """A weight whose initializer has no conversion starts as Keras's default, Glorot uniform:
    the bound the converted code draws within is Keras's for one, two and three axes (PyTorch's
    xavier_uniform_ raises for one axis and takes other fans for three)."""
    import json

    import torch

    from transpiler.hooks.tf_to_torch.initializers import glorot_uniform_value

    shapes = [[20000], [300, 200], [64, 30, 50]]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    done = subprocess.run([sys.executable, "-c", GLOROT_KERAS, json.dumps(shapes)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    keras_max = json.loads(done.stdout.splitlines()[-1])
    torch.manual_seed(0)
    for shape, expected in zip(shapes, keras_max):
        value = eval(glorot_uniform_value([str(n) for n in shape]), {"torch": torch})
        assert tuple(value.shape) == tuple(shape)
        # many draws: both maxima are within a fraction of a percent of the same bound
        assert abs(float(value.abs().max()) - expected) / expected < 0.01, (shape, float(value.abs().max()), expected)
