"""The project index: files converted together know what the other files' Keras classes
became (transpiler/project.py, runner.run_many)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from numeric_util import needs_frameworks
from test_cli import run
from transpiler.project import absolute_module, module_name
from transpiler.runner import Options, run_many

NORM = '''\
import keras


class RMSNorm(keras.layers.Layer):
    """Reads its size from the input shape: its PyTorch form takes it as dim=."""

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        dim = input_shape[-1]
        self.scale = self.add_weight(name="scale", shape=(dim,), initializer="ones")

    def call(self, x):
        var = keras.ops.mean(keras.ops.square(x), axis=-1, keepdims=True)
        return x * keras.ops.rsqrt(var + self.epsilon) * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape


class Kept(keras.layers.Layer):
    def build(self, input_shape):
        for i in range(input_shape[1]):
            pass

    def call(self, x):
        return x
'''

BLOCK = '''\
import keras

from pkg.norm import Kept, RMSNorm


class Block(keras.layers.Layer):
    def __init__(self, hidden, **kwargs):
        super().__init__(**kwargs)
        self.hidden = hidden
        self.dense = keras.layers.Dense(hidden)
        self.norm = RMSNorm(name="norm")

    def build(self, input_shape):
        self.dense.build([None, None, self.hidden])
        self.norm.build([None, None, self.hidden])

    def call(self, x):
        return self.norm(self.dense(x))


class Holder(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kept = Kept()

    def call(self, x):
        return self.kept(x)
'''

# a chain: Stack (top.py) builds Block (block.py) with a shape, Block builds RMSNorm (norm.py)
TOP = '''\
import keras

from .block import Block


class Stack(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = Block(8, name="block")

    def build(self, input_shape):
        self.block.build([None, None, 8])

    def call(self, x):
        return self.block(x)
'''


def package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (pkg / name).write_text(text)
    return pkg


def test_module_names_follow_the_packages(tmp_path):
    pkg = package(tmp_path, {"norm.py": NORM})
    (pkg / "sub").mkdir()
    (pkg / "sub" / "__init__.py").write_text("")
    assert module_name(str(pkg / "norm.py")) == "pkg.norm"
    assert module_name(str(pkg / "sub" / "__init__.py")) == "pkg.sub"
    assert module_name(str(tmp_path / "loose.py")) is None
    inner = str(pkg / "sub" / "x.py")
    assert absolute_module(inner, "norm", 2) == "pkg.norm"
    assert absolute_module(inner, None, 1) == "pkg.sub"
    assert absolute_module(inner, "y", 3) is None  # above the top package: unknown
    assert absolute_module(inner, "keras", 0) == "keras"


def test_a_class_of_another_file_gets_its_size_where_it_is_made(tmp_path):
    pkg = package(tmp_path, {"norm.py": NORM, "block.py": BLOCK})
    out = tmp_path / "out"
    proc = run("convert", pkg, "--to", "torch", "-o", out, "--report", "json")
    assert proc.returncode == 0, proc.stderr
    block = (out / "block.py").read_text()
    assert "class Block(nn.Module)" in block
    assert 'self.norm = RMSNorm(name="norm", dim=hidden)' in block
    assert "def __init__(self, epsilon=1e-6, *, dim, **kwargs)" in (out / "norm.py").read_text()
    # Kept stays Keras in its file, so the class that holds it does too, and says why
    assert "class Holder(keras.layers.Layer)" in block
    findings = {f["line"]: f for r in json.loads(proc.stdout)["files"] if r["path"].endswith("block.py") for f in r["findings"]}
    assert findings[21]["kind"] == "unconverted"
    assert findings[21]["message"] == "self.kept (Kept, from pkg.norm) stays Keras"


def test_a_file_converted_alone_does_not_know_the_other_files(tmp_path):
    pkg = package(tmp_path, {"norm.py": NORM, "block.py": BLOCK})
    proc = run("convert", pkg / "block.py", "--to", "torch")
    assert proc.returncode == 0, proc.stderr
    assert "class Block(keras.layers.Layer)" in proc.stdout
    assert "a class imported from another module" in proc.stdout  # the TODO says what it would need
    assert "class Holder(nn.Module)" in proc.stdout  # assumed to convert with its own file, as before


def test_a_chain_of_files_settles(tmp_path):
    block = BLOCK.replace("from pkg.norm import", "from .norm import")
    pkg = package(tmp_path, {"norm.py": NORM, "block.py": block, "top.py": TOP})
    paths = [str(pkg / n) for n in ("top.py", "block.py", "norm.py")]  # users first: passes needed
    outcomes = {Path(o.path).name: o for o in run_many(paths, Options(to="torch"), jobs=1)}
    assert "class Stack(nn.Module)" in outcomes["top.py"].converted
    assert 'self.block = Block(8, name="block")' in outcomes["top.py"].converted
    summaries = {s.name: s for o in outcomes.values() for s in o.classes}
    assert summaries["RMSNorm"].size_params == ("dim",) and summaries["RMSNorm"].keeps_shape
    assert summaries["Block"].converts and summaries["Block"].size_params == ()
    assert summaries["Stack"].converts and not summaries["Kept"].converts
    # converting again with the same index changes nothing: the outputs are the same
    again = {Path(o.path).name: o for o in run_many(paths, Options(to="torch"), jobs=2)}
    assert {k: o.converted for k, o in again.items()} == {k: o.converted for k, o in outcomes.items()}


KERAS_SIDE = '''
import numpy as np, keras, sys
sys.path.insert(0, sys.argv[1])
from pkg.block import Block
x = np.random.default_rng(0).normal(size=(2, 3, 8)).astype("float32")
layer = Block(8)
layer.build((None, None, 8))
layer.norm.scale.assign(np.linspace(0.5, 1.5, 8).astype("float32"))
y = np.asarray(layer(x))
np.savez(sys.argv[2], x=x, y=y, kernel=np.asarray(layer.dense.kernel), bias=np.asarray(layer.dense.bias),
         scale=np.asarray(layer.norm.scale))
'''

TORCH_SIDE = '''
import numpy as np, torch, sys
sys.path.insert(0, sys.argv[1])
from pkg.block import Block
d = np.load(sys.argv[2])
layer = Block(8)
with torch.no_grad():
    layer.dense.weight.copy_(torch.from_numpy(d["kernel"].T))
    layer.dense.bias.copy_(torch.from_numpy(d["bias"]))
    layer.norm.scale.copy_(torch.from_numpy(d["scale"]))
y = layer(torch.from_numpy(d["x"])).detach().numpy()
print(float(np.abs(y - d["y"]).max()))
'''


def converted_difference(tmp_path, files: dict[str, str], keras_side: str, torch_side: str) -> float:
    """Convert the package ``files`` to PyTorch, run ``keras_side`` on the original (it saves its
    data) and ``torch_side`` on the converted one (it prints a difference); that difference."""
    source = tmp_path / "tf"
    package(source, files)
    converted = tmp_path / "torch"
    proc = run("convert", source / "pkg", "--to", "torch", "-o", converted / "pkg")
    assert proc.returncode == 0, proc.stderr
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="", KERAS_BACKEND="tensorflow")
    data = tmp_path / "data.npz"
    for script, root in ((keras_side, source), (torch_side, converted)):
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(script), str(root), str(data)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    return float(done.stdout.strip().splitlines()[-1])


@needs_frameworks()
def test_the_converted_pair_computes_what_keras_does(tmp_path):
    assert converted_difference(tmp_path, {"norm.py": NORM, "block.py": BLOCK}, KERAS_SIDE, TORCH_SIDE) < 1e-5


CHILDREN = '''\
import keras

from pkg.norm import Kept, RMSNorm


class Shifted(RMSNorm):
    def call(self, x):
        return keras.ops.add(super().call(x), 1.0)


class KeptChild(Kept):
    def call(self, x):
        return keras.ops.add(x, 1.0)
'''


def test_a_subclass_of_another_files_class_is_reported_once(tmp_path):
    pkg = package(tmp_path, {"norm.py": NORM, "children.py": CHILDREN})
    out = tmp_path / "out"
    proc = run("convert", pkg, "--to", "torch", "-o", out, "--report", "json")
    assert proc.returncode == 0, proc.stderr
    text = (out / "children.py").read_text()
    report = next(r for r in json.loads(proc.stdout)["files"] if r["path"].endswith("children.py"))
    unconverted = {f["line"]: f["message"] for f in report["findings"] if f["kind"] == "unconverted"}
    # on a base that becomes a module its code converts, and the class is left to finish by hand
    assert unconverted[6].startswith("it derives from RMSNorm, a class of pkg.norm that becomes a PyTorch module")
    assert "return torch.add(super().call(x), 1.0)" in text
    # on a base that stays Keras it stays whole: one finding, its Keras code as it was
    assert unconverted[11] == "it derives from Kept (a Keras class of pkg.norm, which stays Keras), whose methods it overrides or extends"
    assert "return keras.ops.add(x, 1.0)" in text
    assert len(unconverted) == 2


# transformers' heads: a Keras model on its framework base and a loss mixin of another file
LOSSES = '''\
import keras
import tensorflow as tf


class SequenceLoss:
    """A plain mixin: methods only, no framework base."""

    def sequence_loss(self, labels, logits):
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return loss_fn(labels, logits)


class ScaledSequenceLoss(SequenceLoss):
    def scaled_loss(self, labels, logits):
        return tf.multiply(self.sequence_loss(labels, logits), 2.0)
'''

HEAD = '''\
import keras

from pkg.losses import ScaledSequenceLoss


class Classifier(keras.Model, ScaledSequenceLoss):
    def __init__(self, classes, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(classes)

    def build(self, input_shape):
        self.dense.build([None, 6])

    def call(self, x, labels=None):
        logits = self.dense(x)
        loss = None if labels is None else self.scaled_loss(labels, logits)
        return logits, loss
'''


def test_a_plain_mixin_of_another_file_stays_a_base(tmp_path):
    pkg = package(tmp_path, {"losses.py": LOSSES, "head.py": HEAD})
    out = tmp_path / "out"
    proc = run("convert", pkg, "--to", "torch", "-o", out, "--report", "json")
    assert proc.returncode == 0, proc.stderr
    head = (out / "head.py").read_text()
    assert "class Classifier(nn.Module, ScaledSequenceLoss):" in head
    assert "self.dense = nn.Linear(6, classes)" in head
    assert "class SequenceLoss:" in (out / "losses.py").read_text()
    report = {Path(r["path"]).name: r for r in json.loads(proc.stdout)["files"]}
    findings = [f for r in report.values() for f in r["findings"]]
    assert not [f for f in findings if f["kind"] == "unconverted"]
    assert not [f for f in findings if "keeps its base" in f["message"]]
    # the index says which classes are plain mixins
    outcomes = {Path(o.path).name: o for o in run_many([str(pkg / "head.py"), str(pkg / "losses.py")], Options(to="torch"), jobs=1)}
    plain = {s.name for s in outcomes["losses.py"].classes if s.plain}
    assert plain == {"SequenceLoss", "ScaledSequenceLoss"}


def test_a_mixin_the_run_does_not_know_is_kept_and_said(tmp_path):
    pkg = package(tmp_path, {"losses.py": LOSSES, "head.py": HEAD})
    proc = run("convert", pkg / "head.py", "--to", "torch", "--report", "json")
    assert proc.returncode == 0, proc.stderr
    assert "class Classifier(nn.Module, ScaledSequenceLoss):" in proc.stdout
    # a mixin with __init__ is not plain: it would run in the module's constructor chain
    with_init = LOSSES.replace('    def sequence_loss', '    def __init__(self):\n        self.weight = 1.0\n\n    def sequence_loss', 1)
    pkg2 = package(tmp_path / "b", {"losses.py": with_init, "head.py": HEAD})
    proc = run("convert", pkg2, "--to", "torch", "-o", tmp_path / "out2", "--report", "json")
    findings = [f for r in json.loads(proc.stdout)["files"] if r["path"].endswith("head.py") for f in r["findings"]]
    assert any(f["kind"] == "warning" and "keeps its base ScaledSequenceLoss" in f["message"] for f in findings)


KERAS_HEAD = '''
import numpy as np, sys
sys.path.insert(0, sys.argv[1])
from pkg.head import Classifier
rng = np.random.default_rng(0)
x = rng.normal(size=(5, 6)).astype("float32")
labels = rng.integers(0, 3, size=(5,))
model = Classifier(3)
model.build((None, 6))
logits, loss = model(x, labels)
np.savez(sys.argv[2], x=x, labels=labels, loss=np.asarray(loss), kernel=np.asarray(model.dense.kernel),
         bias=np.asarray(model.dense.bias))
'''

TORCH_HEAD = '''
import numpy as np, torch, sys
sys.path.insert(0, sys.argv[1])
from pkg.head import Classifier
d = np.load(sys.argv[2])
model = Classifier(3)
with torch.no_grad():
    model.dense.weight.copy_(torch.from_numpy(d["kernel"].T))
    model.dense.bias.copy_(torch.from_numpy(d["bias"]))
logits, loss = model(torch.from_numpy(d["x"]), torch.from_numpy(d["labels"]))
print(abs(float(loss) - float(d["loss"])))
'''


@needs_frameworks()
def test_the_mixins_loss_computes_what_keras_does(tmp_path):
    assert converted_difference(tmp_path, {"losses.py": LOSSES, "head.py": HEAD}, KERAS_HEAD, TORCH_HEAD) < 1e-5
