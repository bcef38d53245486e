"""Random Keras layer stacks, converted and checked against Keras (hypothesis).

Each example is a Sequential model written as source (layer kinds, sizes,
kernels, strides, paddings, activations drawn at random), converted, and run
under both frameworks with the same weights and inputs. A persistent worker
process holds both frameworks so that shrinking stays affordable. A failing
case, once shrunk, belongs in fixtures/tf_to_torch/models/ as a regression.
Run longer with HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_util import ROOT, compare_dir
from numeric_util import needs_frameworks
from transpiler.api import convert_source

pytestmark = [pytest.mark.numeric, needs_frameworks()]

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

ACTIVATIONS = [None, "relu", "tanh", "sigmoid", "elu", "gelu", "swish", "softplus"]


@st.composite
def image_stack(draw):
    size = draw(st.integers(6, 14))
    channels = draw(st.integers(1, 4))
    layers = [f"keras.Input(shape=({size}, {size}, {channels}))"]
    n = draw(st.integers(1, 4))
    for _ in range(n):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "bn", "dropout", "depthwise", "upsample"]))
        if kind == "conv":
            filters = draw(st.integers(1, 6))
            kernel = draw(st.integers(1, 3))
            stride = draw(st.integers(1, 2))
            padding = draw(st.sampled_from(["valid", "same"]))
            if padding == "valid" and size < kernel:
                padding = "same"
            act = draw(st.sampled_from(ACTIVATIONS))
            layers.append(f"layers.Conv2D({filters}, {kernel}, strides={stride}, padding={padding!r}, activation={act!r})")
            size = (size - kernel) // stride + 1 if padding == "valid" else -(-size // stride)
        elif kind == "pool" and size >= 2:
            pool = draw(st.sampled_from(["MaxPooling2D", "AveragePooling2D"]))
            layers.append(f"layers.{pool}(2)")
            size //= 2
        elif kind == "bn":
            layers.append("layers.BatchNormalization()")
        elif kind == "dropout":
            layers.append("layers.Dropout(0.3)")
        elif kind == "depthwise":
            layers.append("layers.DepthwiseConv2D(3, padding='same')")
        elif kind == "upsample":
            layers.append("layers.UpSampling2D(2)")
            size *= 2
        if size < 1:
            break
    end = draw(st.sampled_from(["flatten", "gap"]))
    layers.append("layers.Flatten()" if end == "flatten" else "layers.GlobalAveragePooling2D()")
    layers.append(f"layers.Dense({draw(st.integers(1, 5))})")
    return layers


@st.composite
def dense_stack(draw):
    features = draw(st.integers(1, 12))
    layers = [f"keras.Input(shape=({features},))"]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["dense", "dense", "bn", "ln", "dropout"]))
        if kind == "dense":
            act = draw(st.sampled_from(ACTIVATIONS))
            use_bias = draw(st.booleans())
            layers.append(f"layers.Dense({draw(st.integers(1, 10))}, activation={act!r}, use_bias={use_bias})")
        elif kind == "bn":
            layers.append(f"layers.BatchNormalization(momentum={draw(st.sampled_from([0.9, 0.99]))})")
        elif kind == "ln":
            layers.append("layers.LayerNormalization()")
        else:
            layers.append("layers.Dropout(0.5)")
    return layers


def render(layers: list[str]) -> str:
    body = ",\n    ".join(layers)
    return f"import keras\nfrom keras import layers\n\nmodel = keras.Sequential([\n    {body},\n])\n"


@pytest.fixture(scope="module")
def worker():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("numeric_worker.py"))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


def render_listed(layers: list[str]) -> tuple[str, dict]:
    """The same stack as a list of layers written out in a subclass's __init__ and applied in
    order by a loop in call() (transformers' form: subclass_sequence.py), build() giving the
    first layer its input shape; and the input shapes of the model (batch of 2)."""
    dims = [int(d) for d in re.search(r"shape=\(([^)]*)\)", layers[0]).group(1).split(",") if d.strip()]
    body = ",\n            ".join(layers[1:])
    source = (
        "import keras\nfrom keras import layers\n\n\n"
        "class Net(keras.Model):\n"
        "    def __init__(self, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        f"        self.stack = [\n            {body},\n        ]\n\n"
        "    def call(self, x):\n"
        "        for layer in self.stack:\n"
        "            x = layer(x)\n"
        "        return x\n\n"
        "    def build(self, input_shape=None):\n"
        "        if self.built:\n"
        "            return\n"
        "        self.built = True\n"
        f"        self.stack[0].build((None, {', '.join(map(str, dims))}))\n\n\n"
        "model = Net()\n"
    )
    return source, {"model": {"input_shapes": [[2, *dims]]}}


def check(worker, source: str, work: Path, spec: dict | None = None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    original = work / "original.py"
    original.write_text(source)
    result = convert_source(source, to="torch", filename=str(original))
    assert result.report.unconverted == 0, [f.message for f in result.report.findings if f.kind == "unconverted"]
    (work / "converted.py").write_text(result.code)
    (work / "info.json").write_text(json.dumps(result.models))
    keras_job = [str(original), str(work / "keras")]
    if spec is not None:
        (work / "spec.json").write_text(json.dumps(spec))
        keras_job.append(str(work / "spec.json"))
    job = [keras_job, [str(work / "converted.py"), str(work / "info.json"), str(work / "keras"), str(work / "torch")]]
    worker.stdin.write(json.dumps(job) + "\n")
    worker.stdin.flush()
    answer = json.loads(worker.stdout.readline())
    assert answer["ok"], answer.get("trace") or answer.get("error")
    models = compare_dir(work, rtol=1e-4, atol=1e-5)
    problems = [f"{m.name}: {e}" for m in models for e in m.errors]
    assert not problems, "\n".join(problems) + "\n" + source


@settings(settings.get_profile(PROFILE))
@given(layers=st.one_of(image_stack(), dense_stack()))
def test_random_sequential_stacks_match_keras(worker, tmp_path_factory, layers):
    check(worker, render(layers), tmp_path_factory.mktemp("stack"))


@settings(settings.get_profile(PROFILE))
@given(layers=st.one_of(image_stack(), dense_stack()))
def test_random_listed_stacks_in_a_subclass_match_keras(worker, tmp_path_factory, layers):
    source, spec = render_listed(layers)
    check(worker, source, tmp_path_factory.mktemp("listed"), spec)
