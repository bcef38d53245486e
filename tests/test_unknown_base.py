"""A Keras class on a base the run does not know (fixture models/subclass_unknown_base) converts as
a module with its base left as it was: given a PyTorch base that takes the same arguments (what the
report asks the user for), it computes what the Keras class does with the same weights."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from numeric_util import needs_frameworks
from transpiler.api import convert_source

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tf_to_torch" / "models" / "subclass_unknown_base.py"

# the base each side is given: transformers.modeling_tf_utils stands in for the real one
KERAS_BASE = '''
import keras
class TFPreTrainedModel(keras.Model):
    def __init__(self, config, *inputs, **kwargs):
        super().__init__(**kwargs)
'''
TORCH_BASE = '''
import torch
class TFPreTrainedModel(torch.nn.Module):
    def __init__(self, config, *inputs, **kwargs):
        super().__init__()
'''

KERAS_SIDE = '''
import sys, types, numpy as np
sys.path.insert(0, sys.argv[1])
from source import TFTinyForSequenceClassification
config = types.SimpleNamespace(num_labels=3, hidden_size=4)
model = TFTinyForSequenceClassification(config)
x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype("float32")
y = np.asarray(model(x))
np.savez(sys.argv[2], x=x, y=y, kernel=np.asarray(model.classifier.kernel), bias=np.asarray(model.classifier.bias))
'''

TORCH_SIDE = '''
import sys, types, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from converted import TFTinyForSequenceClassification
d = np.load(sys.argv[2])
config = types.SimpleNamespace(num_labels=3, hidden_size=4)
model = TFTinyForSequenceClassification(config)
assert not any(isinstance(p, torch.nn.parameter.UninitializedParameter) for p in model.parameters())
with torch.no_grad():
    model.classifier.weight.copy_(torch.from_numpy(d["kernel"].T))
    model.classifier.bias.copy_(torch.from_numpy(d["bias"]))
y = model(torch.from_numpy(d["x"])).detach().numpy()
print(float(np.abs(y - d["y"]).max()))
'''


def test_it_converts_as_a_module_and_is_reported_once():
    result = convert_source(FIXTURE.read_text(), to="torch", filename=str(FIXTURE))
    assert "class TFTinyForSequenceClassification(TFTinyPreTrainedModel):" in result.code
    assert "super().__init__(config, *inputs, **kwargs)" in result.code
    assert "self.classifier = nn.Linear(config.hidden_size, config.num_labels)" in result.code
    assert "def forward(self, hidden_states):" in result.code and "def build(" not in result.code
    kept = [f for f in result.report.findings if f.kind == "unconverted"]
    assert [f.line for f in kept] == [16, 34]
    assert kept[0].message.startswith("it derives from TFPreTrainedModel (from transformers.modeling_tf_utils)")
    assert "(through TFTinyForSequenceClassification)" in kept[1].message


@needs_frameworks()
def test_with_a_pytorch_base_it_computes_what_keras_does(tmp_path):
    source = FIXTURE.read_text()
    code = convert_source(source, to="torch", filename=str(FIXTURE)).code
    keras_dir, torch_dir = tmp_path / "keras", tmp_path / "torch"
    for folder, base in ((keras_dir, KERAS_BASE), (torch_dir, TORCH_BASE)):
        (folder / "transformers").mkdir(parents=True)
        (folder / "transformers" / "__init__.py").write_text("")
        (folder / "transformers" / "modeling_tf_utils.py").write_text(base)
    (keras_dir / "source.py").write_text(source)
    (torch_dir / "converted.py").write_text(code)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    data = tmp_path / "data.npz"
    for script, folder in ((KERAS_SIDE, keras_dir), (TORCH_SIDE, torch_dir)):
        done = subprocess.run([sys.executable, "-c", script, str(folder), str(data)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    assert float(done.stdout.split()[-1]) < 1e-6


def test_a_plain_class_with_a_call_method_is_left_alone():
    # no build(), no Keras layer or weight: a method named call() alone says nothing
    source = (
        "import tensorflow as tf\n"
        "from mypkg.runners import BaseRunner\n\n\n"
        "class Runner(BaseRunner):\n"
        "    def call(self, x):\n"
        "        return tf.reduce_sum(x)\n"
    )
    result = convert_source(source, to="torch", filename="runner.py")
    assert "def call(self, x):" in result.code and "torch.sum(x)" in result.code
    assert not [f for f in result.report.findings if f.kind == "unconverted"]
