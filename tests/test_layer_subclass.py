"""Subclasses of a Keras layer with a PyTorch class (layer_subclass.py), run under both
frameworks with the same weights: fixture models/layer_subclass_embedding."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from numeric_util import needs_frameworks
from transpiler.api import convert_source

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tf_to_torch" / "models" / "layer_subclass_embedding.py"

KERAS_SIDE = '''
import sys, numpy as np, tensorflow as tf
sys.path.insert(0, sys.argv[1])
from source import Decoder
layer = Decoder()
layer.build(None)
layer.embed_positions.build(None)
layer.embed_positions.embeddings.assign(np.random.default_rng(0).normal(size=(12, 4)).astype("float32"))
shape = tf.constant([2, 5])  # Keras 3 takes tensors only as positional arguments
y = np.asarray(layer(shape))
y2 = np.asarray(layer.embed_positions(shape, past_key_values_length=3))
np.savez(sys.argv[2], y=y, y2=y2, table=np.asarray(layer.embed_positions.embeddings),
         kernel=np.asarray(layer.proj.kernel), bias=np.asarray(layer.proj.bias))
'''

TORCH_SIDE = '''
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[1])
from converted import Decoder
d = np.load(sys.argv[2])
layer = Decoder()
with torch.no_grad():
    layer.embed_positions.weight.copy_(torch.from_numpy(d["table"]))
    layer.proj.weight.copy_(torch.from_numpy(d["kernel"].T))
    layer.proj.bias.copy_(torch.from_numpy(d["bias"]))
shape = torch.tensor([2, 5])
y = layer(shape).detach().numpy()
y2 = layer.embed_positions(shape, past_key_values_length=3).detach().numpy()
print(float(np.abs(y - d["y"]).max()), float(np.abs(y2 - d["y2"]).max()))
'''


def test_the_subclass_becomes_one_of_the_pytorch_class():
    result = convert_source(FIXTURE.read_text(), to="torch", filename=str(FIXTURE))
    assert "class LearnedPositionalEmbedding(nn.Embedding):" in result.code
    assert "super().__init__(num_embeddings + self.offset, embedding_dim)" in result.code
    assert "return super().forward(" in result.code
    kept = [f for f in result.report.findings if f.kind == "unconverted"]
    assert [f.message for f in kept] == ["it overrides Embedding.compute_mask(), which its PyTorch class does not have"]


@needs_frameworks()
def test_it_computes_what_keras_does(tmp_path):
    (tmp_path / "source.py").write_text(FIXTURE.read_text())
    (tmp_path / "converted.py").write_text(convert_source(FIXTURE.read_text(), to="torch").code)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    data = tmp_path / "data.npz"
    for script in (KERAS_SIDE, TORCH_SIDE):
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(data)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    errors = [float(v) for v in done.stdout.split()]
    assert max(errors) < 1e-6, errors
