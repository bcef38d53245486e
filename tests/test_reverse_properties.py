"""Random PyTorch module stacks, converted to Keras and checked against PyTorch (hypothesis).

Each example is a batch of nn.Sequential models written as source (layer kinds,
channels, kernels, strides, paddings, activations drawn at random), converted,
and run through verify's recorder (PyTorch) and replayer (the Keras conversion)
with the same weights and inputs: outputs must agree at 1e-4 and parameter
counts must be equal. A batch per example keeps the cost at two framework
processes per example; hypothesis still shrinks a failing batch to its culprit.
A failing case, once shrunk, belongs in fixtures/torch_to_tf/models/.
Run longer with HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numeric_util import needs_frameworks
from training_util import verify_cases
from transpiler.verify.check import describe

pytestmark = [pytest.mark.numeric, needs_frameworks()]

settings.register_profile("reverse-ci", max_examples=2, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("reverse-long", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PROFILE = "reverse-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "reverse-ci"

ACTIVATIONS = ["nn.ReLU()", "nn.Tanh()", "nn.Sigmoid()", "nn.ELU()", "nn.GELU()", "nn.SiLU()", "nn.LeakyReLU(0.2)"]


@st.composite
def image_stack(draw):
    size = draw(st.integers(6, 12))
    channels = draw(st.integers(1, 4))
    shape = [2, channels, size, size]
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "conv", "pool", "bn", "act", "dropout"]))
        if kind == "conv":
            out = draw(st.integers(1, 6))
            kernel = draw(st.integers(1, 3))
            stride = draw(st.integers(1, 2))
            padding = draw(st.sampled_from([0, 1, "same"])) if stride == 1 else draw(st.integers(0, 1))
            if padding == "same":
                layers.append(f"nn.Conv2d({channels}, {out}, {kernel}, padding='same')")
            else:
                if size + 2 * padding < kernel:
                    continue
                layers.append(f"nn.Conv2d({channels}, {out}, {kernel}, stride={stride}, padding={padding})")
                size = (size + 2 * padding - kernel) // stride + 1
            channels = out
        elif kind == "pool" and size >= 2:
            layers.append(draw(st.sampled_from(["nn.MaxPool2d(2)", "nn.AvgPool2d(2)"])))
            size //= 2
        elif kind == "bn":
            layers.append(f"nn.BatchNorm2d({channels})")
        elif kind == "act":
            layers.append(draw(st.sampled_from(ACTIVATIONS)))
        elif kind == "dropout":
            layers.append("nn.Dropout(0.3)")
    if draw(st.booleans()):
        layers += ["nn.Flatten()", f"nn.Linear({channels * size * size}, {draw(st.integers(1, 5))})"]
    else:
        layers += ["nn.AdaptiveAvgPool2d(1)", "nn.Flatten()", f"nn.Linear({channels}, {draw(st.integers(1, 5))})"]
    return shape, layers


@st.composite
def dense_stack(draw):
    features = draw(st.integers(1, 12))
    shape = [3, features]
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["linear", "linear", "bn", "ln", "act", "dropout"]))
        if kind == "linear":
            out = draw(st.integers(1, 10))
            layers.append(f"nn.Linear({features}, {out}, bias={draw(st.booleans())})")
            features = out
        elif kind == "bn":
            layers.append(f"nn.BatchNorm1d({features}, momentum={draw(st.sampled_from([0.1, 0.01]))})")
        elif kind == "ln":
            layers.append(f"nn.LayerNorm({features})")
        elif kind == "act":
            layers.append(draw(st.sampled_from(ACTIVATIONS)))
        else:
            layers.append("nn.Dropout(0.5)")
    if not any(layer.startswith("nn.Linear") for layer in layers):
        layers.append(f"nn.Linear({features}, 2)")
    return shape, layers


def render(layers: list[str]) -> str:
    body = ",\n    ".join(layers)
    return f"import torch\nfrom torch import nn\n\nnet = nn.Sequential(\n    {body},\n)\n"


@settings(settings.get_profile(PROFILE))
@given(stacks=st.lists(st.one_of(image_stack(), dense_stack()), min_size=6, max_size=6))
def test_random_torch_stacks_match_pytorch(tmp_path_factory, stacks):
    work = tmp_path_factory.mktemp("torch_stacks")
    cases = []
    for i, (shape, layers) in enumerate(stacks):
        program = work / f"stack{i}.py"
        program.write_text(render(layers))
        cases.append((f"stack{i}", program, None, None, {"net": {"input_shapes": [shape]}}))
    verdicts = verify_cases(cases, work / "runs", to="tf")
    failed = {}
    for case_id, program, *_ in cases:
        verdict = verdicts[case_id]
        compared = [c for c in verdict.checks if c.name.startswith("model net")]
        if not verdict.passed or not compared:
            failed[case_id] = program.read_text() + describe(verdict, verbose=True)
    assert not failed, "\n\n".join(failed.values())
