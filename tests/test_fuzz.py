"""Fuzzing the converter with generated Python programs (hypothesis).

Programs are built as text from a small grammar: imports in their various
spellings, statements (assignments, control flow, nested functions and
classes, decorators, try/with/for), expressions (framework calls such as
``tf.reduce_sum(x, axis=1)`` or ``torch.sum(x, dim=0)``, tensor methods,
operators, lambdas, comprehensions, strings of every kind), comments, blank
lines and odd whitespace. Properties:

* converting never crashes: the only exception is InputError, and only for
  input that Python itself rejects;
* the output always parses;
* a program that imports no framework comes back byte for byte (even if it
  has a variable called ``tf``).

CI runs a fixed, derandomized set of examples; for a longer hunt:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/test_fuzz.py

A failure prints the smallest program found; keep it in docs/reliability.md.
"""

from __future__ import annotations

import ast
import functools
import os
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from transpiler.api import InputError, convert_source

settings.register_profile(
    "transpiler-fuzz-ci", max_examples=200, derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "transpiler-fuzz-long", max_examples=5000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
PROFILE = settings.get_profile(
    "transpiler-fuzz-long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "transpiler-fuzz-ci"
)

# -- the grammar ----------------------------------------------------------------

TF_IMPORTS = [
    "import tensorflow as tf",
    "import tensorflow",
    "import tensorflow as tensorflow_alias",
    "from tensorflow import keras",
    "from tensorflow.keras import layers",
    "import tensorflow.keras.layers as L",
    "from tensorflow import math as tfm",
    "from tensorflow.math import reduce_sum, reduce_mean",
    "from tensorflow.nn import relu",
    "import keras",
    "from keras import layers",
]
TORCH_IMPORTS = [
    "import torch",
    "import torch as T",
    "import torch.nn as nn",
    "import torch.nn.functional as F",
    "from torch import nn",
    "from torch.nn import functional",
    "from torch import sum as torch_sum",
    "import torch.nn.functional",
]
OTHER_IMPORTS = ["import numpy as np", "import os, sys", "from math import *", "import collections.abc"]

NAMES = ["x", "y", "z", "a", "b", "w", "h", "batch", "tf", "torch", "nn", "F", "np", "self", "_", "data", "model"]

# framework calls: (function expression, argument kinds); {a}/{b} are filled with expressions
TF_CALLS = [
    "tf.reduce_sum({a})", "tf.reduce_sum({a}, axis={i})", "tf.reduce_sum({a}, axis={i}, keepdims={bool})",
    "tf.reduce_mean({a}, {i})", "tf.math.reduce_max({a}, axis=-1)", "tf.matmul({a}, {b})",
    "tf.nn.relu({a})", "tf.nn.softmax({a}, axis=-1)", "tf.constant({lit})", "tf.Variable({a})",
    "tf.reshape({a}, [-1, {i}])", "tf.transpose({a})", "tf.concat([{a}, {b}], axis=0)", "tf.stack([{a}, {b}])",
    "tf.squeeze({a})", "tf.expand_dims({a}, {i})", "tf.cast({a}, tf.float32)", "tf.where({a} > 0, {a}, {b})",
    "tf.argmax({a})", "tf.one_hot({a}, {i})", "tf.clip_by_value({a}, 0, 1)", "tf.random.normal([{i}, {i}])",
    "tf.ones([{i}])", "tf.zeros_like({a})", "tf.linalg.expm({a})", "tf.keras.layers.Dense({i})",
    "tf.keras.activations.linear({a})",
    "tf.square({a} - {b})", "tf.math.divide_no_nan({a}, {b})",
    "tf.nn.gelu({a}, approximate={bool})", "tf.shape({a})", "tf.identity({a})", "tf.abs({a})",
    "tf.reduce_sum({a}, name={str})", "keras.layers.Dense({i}, activation='relu')", "layers.Dense({i})",
    "tfm.reduce_sum({a})", "reduce_sum({a})", "relu({a})", "L.Dense({i})", "tensorflow.reduce_sum({a})",
]
TORCH_CALLS = [
    "torch.sum({a})", "torch.sum({a}, dim={i})", "torch.sum({a}, dim={i}, keepdim={bool})", "torch.mean({a}, {i})",
    "torch.amax({a}, dim=-1)", "torch.matmul({a}, {b})", "F.relu({a})", "F.softmax({a}, dim=-1)",
    "torch.tensor({lit})", "nn.Parameter({a})", "torch.reshape({a}, (-1, {i}))", "torch.cat([{a}, {b}], dim=0)",
    "torch.stack([{a}, {b}])", "torch.squeeze({a})", "torch.unsqueeze({a}, {i})", "torch.where({a} > 0, {a}, {b})",
    "torch.argmax({a}, dim=0)", "F.one_hot({a}, {i})", "torch.clamp({a}, 0, 1)", "torch.randn({i}, {i})",
    "torch.ones({i})", "torch.zeros_like({a})", "nn.Linear({i}, {i})", "T.sum({a})", "torch_sum({a})",
    "functional.relu({a})", "torch.nn.functional.gelu({a})", "torch.abs({a})", "torch.linalg.matrix_exp({a})",
]
METHODS = [".numpy()", ".item()", ".sum()", ".sum(dim=0)", ".view(-1)", ".size(0)", ".shape", ".T", ".to(torch.float32)",
           ".float()", ".reshape(2, -1)", ".detach()", ".mean()", ".permute(1, 0)", ".unsqueeze(0)", ".append(1)"]

STRINGS = [
    "'s'", '"double"', "''", "'''triple\nline'''", '"""doc"""', "r'\\d+'", "b'bytes'", "f'{x}'", "f\"{x!r:>{w}}\"",
    "'esc\\n\\t\\''", "'ünïcødé'", "'tf.reduce_sum(x)'", '"# not a comment"', "u'old'", "'a' 'b'", "rb'\\x00'",
]


def _space(draw) -> str:
    return draw(st.sampled_from(["", "", " ", "  "]))


@st.composite
def literal(draw):
    kind = draw(st.sampled_from(["int", "float", "list", "str", "none", "bool", "neg", "nested", "complex", "hex"]))
    return {
        "int": lambda: str(draw(st.integers(0, 1000))),
        "float": lambda: repr(draw(st.floats(-10, 10, allow_nan=False, allow_infinity=False))),
        "list": lambda: "[" + ", ".join(str(draw(st.integers(-3, 9))) for _ in range(draw(st.integers(0, 4)))) + "]",
        "str": lambda: draw(st.sampled_from(STRINGS)),
        "none": lambda: "None",
        "bool": lambda: draw(st.sampled_from(["True", "False"])),
        "neg": lambda: f"-{draw(st.integers(1, 9))}",
        "nested": lambda: "[[1.0, 2.0], [3.0, 4.0]]",
        "complex": lambda: "1j",
        "hex": lambda: "0x_ff",
    }[kind]()


@functools.lru_cache(maxsize=None)
def expression(frameworks: tuple[str, ...]):
    leaves = st.one_of(st.sampled_from(NAMES), literal())

    def extend(inner):
        calls = []
        if "tf" in frameworks:
            calls.append(st.tuples(st.sampled_from(TF_CALLS), inner, inner, literal()))
        if "torch" in frameworks:
            calls.append(st.tuples(st.sampled_from(TORCH_CALLS), inner, inner, literal()))
        plain_calls = st.tuples(st.sampled_from(["f({a})", "g({a}, key={b})", "print({a}, {b})", "max({a}, {b})",
                                                 "f(*{a}, **{b})", "obj.method({a})", "tf.custom({a})", "torch({a})"]),
                                inner, inner, literal())
        options = [
            st.builds(lambda t: t[0].format(a=t[1], b=t[2], i=1, bool="True", lit=t[3], str="'n'"), plain_calls),
            st.builds(lambda a, op, b, s: f"{a}{s}{op}{s}{b}", inner, st.sampled_from(["+", "-", "*", "/", "@", "**", "//", "%", "==", "<"]),
                      inner, st.sampled_from(["", " ", "  "])),
            st.builds(lambda a, op, b: f"{a} {op} {b}", inner, st.sampled_from(["and", "or", "if x else", "in", "is not"]), inner),
            st.builds(lambda op, a: f"{op}{a}", st.sampled_from(["-", "not ", "~", "+"]), inner),
            st.builds(lambda a: f"({a})", inner),
            st.builds(lambda a, m: f"{a}{m}", st.sampled_from(NAMES), st.sampled_from(METHODS)),
            st.builds(lambda a, i: f"{a}[{i}]", inner, st.sampled_from(["0", "-1", "1:", ":, 0", "..., None", "x"])),
            st.builds(lambda a: f"lambda v: {a}", inner),
            st.builds(lambda a, b: f"[{a} for v in {b} if v]", inner, inner),
            st.builds(lambda a, b: f"{{{a}: {b}}}", inner, inner),
            st.builds(lambda a, b: f"({a}, {b})", inner, inner),
            st.builds(lambda a: f"f'{{{a}}}'", st.sampled_from(["x", "y", "tf.reduce_sum(x)", "x + 1"])),
            st.builds(lambda a: f"(v2 := {a})", inner),
        ]
        for call in calls:
            options.append(st.builds(
                lambda t, sp: t[0].format(a=t[1], b=t[2], i=sp[0], bool=sp[1], lit=t[3], str="'name'"),
                call, st.tuples(st.sampled_from(["0", "1", "-1", "2", "(0, 1)", "x"]), st.sampled_from(["True", "False", "flag"])),
            ))
            options.append(st.builds(lambda a, m: f"({a}){m}", call.map(lambda t: t[0].format(a=t[1], b=t[2], i=1, bool="True", lit=t[3], str="'n'")),
                                     st.sampled_from(METHODS)))
        return st.one_of(options)

    return st.recursive(leaves, extend, max_leaves=6)


@st.composite
def statements(draw, frameworks, depth: int, in_function: bool, in_class: bool, indent: str, unit: str):
    """A block of statements, every line already indented by ``indent``."""
    expr = expression(frameworks)
    e = lambda: draw(expr)  # noqa: E731
    inner = indent + unit
    out: list[str] = []

    def block(in_function_=in_function, in_class_=False):
        return draw(statements(frameworks, depth + 1, in_function_, in_class_, inner, unit))

    for _ in range(draw(st.integers(1, 4))):
        kinds = ["assign", "assign", "expr", "aug", "comment", "blank", "multi", "semicolon", "annotated", "del", "assert", "import"]
        if depth < 3:
            kinds += ["if", "for", "def", "class", "with", "try", "while"]
        if in_function:
            kinds += ["return", "global"]
        kind = draw(st.sampled_from(kinds))
        target = draw(st.sampled_from(["x", "y", "z", "w", "out", "self.w" if in_function else "w", "a, b", "d['k']"]))
        sp = _space(draw)
        if kind == "assign":
            trailing = draw(st.sampled_from(["", "", "  # trailing comment", "  # TODO(transpiler): already here", " #no space"]))
            out.append(f"{indent}{target}{sp}={sp or ' '}{e()}{trailing}")
        elif kind == "expr":
            out.append(indent + e())
        elif kind == "aug":
            out.append(f"{indent}{draw(st.sampled_from(['x', 'y', 'w']))} {draw(st.sampled_from(['+=', '-=', '*=', '@=']))} {e()}")
        elif kind == "comment":
            out.append(indent + draw(st.sampled_from(["# a comment", "#tf.reduce_sum(x)", "# -*- coding: utf-8 -*-", "#", "# ünïcødé"])))
        elif kind == "blank":
            out.append(draw(st.sampled_from(["", "   ", "\t"])))
        elif kind == "multi":
            out.append(f"{indent}{target} = f(\n{inner}{e()},\n{inner}key={e()},  # inside\n{indent})")
        elif kind == "semicolon":
            out.append(f"{indent}{target} = {e()}; {e()}")
        elif kind == "annotated":
            out.append(f"{indent}v: {draw(st.sampled_from(['int', 'tf.Tensor', 'torch.Tensor', 'list[int]']))} = {e()}")
        elif kind == "del":
            out.append(f"{indent}del {draw(st.sampled_from(['x', 'y[0]', 'z.attr']))}")
        elif kind == "assert":
            out.append(f"{indent}assert {e()}, {draw(st.sampled_from(STRINGS))}")
        elif kind == "import":
            pool = OTHER_IMPORTS + [i for fw, imports in (("tf", TF_IMPORTS), ("torch", TORCH_IMPORTS)) if fw in frameworks for i in imports]
            out.append(indent + draw(st.sampled_from(pool)))
        elif kind == "return":
            out.append(indent + draw(st.sampled_from(["return", f"return {e()}", f"yield {e()}"])))
        elif kind == "global":
            out.append(indent + draw(st.sampled_from(["global tf", "global torch"])))
        elif kind == "def":
            if in_class:
                decorator = draw(st.sampled_from(["", "@property"]))
                params = "self" + draw(st.sampled_from(["", ", x", ", inputs, training=None", ", *a"]))
            else:
                decorator = draw(st.sampled_from(["", "@tf.function", "@torch.no_grad()", "@decorator(x)"]))
                params = draw(st.sampled_from(["", "x", "x, training=False", "*args, **kwargs", "x: tf.Tensor", "tf"]))
            if decorator:
                out.append(indent + decorator)
            name = draw(st.sampled_from(["call", "forward", "f", "build", "__init__", "helper"]))
            out.append(f"{indent}def {name}({params}):")
            out += block(in_function_=True)
        elif kind == "class":
            base = draw(st.sampled_from(["", "tf.keras.Model", "keras.layers.Layer", "nn.Module", "object", "tf.Module"]))
            out.append(f"{indent}class {draw(st.sampled_from(['Model', 'Block', 'Net']))}({base}):")
            out += block(in_function_=False, in_class_=True)
        elif kind == "try":
            out.append(indent + "try:")
            out += block()
            out.append(indent + draw(st.sampled_from(["except Exception as err:", "except (ValueError, tf.errors.OpError):", "except:"])))
            out += block()
            if draw(st.booleans()):
                out.append(indent + "finally:")
                out += block()
        else:
            out.append(indent + {"if": "if {}:", "for": "for v in {}:", "while": "while {}:", "with": "with {} as ctx:"}[kind].format(e()))
            out += block()
            if kind == "if" and draw(st.booleans()):
                out.append(f"{indent}elif {e()}:")
                out += block()
            if kind in ("if", "for", "while") and draw(st.booleans()):
                out.append(indent + "else:")
                out += block()
    if not any(line.strip() and not line.lstrip().startswith("#") for line in out):
        out.append(indent + "pass")
    return out


@st.composite
def programs(draw, frameworks: tuple[str, ...]):
    unit = draw(st.sampled_from(["    ", "  ", "\t"]))
    header = []
    if draw(st.booleans()):
        header.append(draw(st.sampled_from(['"""Module docstring."""', "#!/usr/bin/env python", "from __future__ import annotations"])))
    imports = []
    pool = list(OTHER_IMPORTS)
    # the usual spelling most of the time, so that most calls resolve; the others too
    if "tf" in frameworks:
        imports.append(draw(st.sampled_from(["import tensorflow as tf"] * 3 + TF_IMPORTS)))
        pool += TF_IMPORTS
    if "torch" in frameworks:
        imports.append(draw(st.sampled_from(["import torch"] * 2 + ["import torch.nn.functional as F"] + TORCH_IMPORTS)))
        pool += TORCH_IMPORTS
    imports += draw(st.lists(st.sampled_from(pool), max_size=3))
    body = draw(statements(frameworks, 0, False, False, "", unit))
    text = "\n".join(header + imports + body)
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = text.replace("\n", newline)
    if draw(st.booleans()):
        text += newline
    assume(_parses(text))
    return text


def _parses(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(text)
            return True
        except SyntaxError:
            return False


def _convert(text: str, to: str):
    try:
        return convert_source(text, to=to, filename="fuzz.py")
    except InputError as exc:  # only input that Python rejects may be refused
        if "too deeply nested" in str(exc):
            return None
        raise AssertionError(f"valid input refused: {exc}") from None


def _check_output(text: str, to: str) -> None:
    result = _convert(text, to)
    if result is None:
        return
    if not _parses(result.code):
        raise AssertionError(f"output does not parse:\n{result.code}")
    assert result.changed == (result.code != text)


@settings(PROFILE)
@given(programs(("tf",)), st.sampled_from(["torch", "auto"]))
def test_tensorflow_programs_convert_to_code_that_parses(text, to):
    _check_output(text, to)


@settings(PROFILE)
@given(programs(("torch",)), st.sampled_from(["tf", "auto"]))
def test_pytorch_programs_convert_to_code_that_parses(text, to):
    _check_output(text, to)


@settings(PROFILE)
@given(programs(("tf", "torch")), st.sampled_from(["tf", "torch"]))
def test_programs_using_both_frameworks(text, to):
    _check_output(text, to)


@settings(PROFILE)
@given(programs(()), st.sampled_from(["tf", "torch", "auto"]))
def test_programs_without_framework_imports_come_back_byte_for_byte(text, to):
    result = convert_source(text, to=to, filename="plain.py")
    assert result.code == text
    assert not result.changed and not result.report.findings


def test_the_generator_makes_varied_programs():
    """The grammar does produce what the properties are about (framework calls, nesting, comments, CRLF...)."""
    seen: list[str] = []

    @settings(max_examples=80, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(programs(("tf",)))
    def collect(text):
        seen.append(text)

    collect()
    for feature in ("tf.reduce_sum(", "def ", "class ", "#", "\r\n", "lambda", "f'", "import tensorflow as tf", "from tensorflow"):
        assert any(feature in text for text in seen), feature
    converted = 0
    for text in seen:
        try:
            converted += convert_source(text, to="torch").changed
        except InputError:
            pass
    assert converted >= len(seen) // 3  # many programs have something to convert


# -- what fuzzing found ---------------------------------------------------------------
# Minimal inputs of engine bugs the tests above found, kept as regression tests now
# that the engine is fixed.

FOUND_ENGINE_BUGS = {
    # a template's result replaces the call with the call's own parentheses and the
    # ones its context needs (template "{x}" of keras.activations.linear)
    "parens-dropped": (
        "import tensorflow as tf\ny = (tf.keras.activations.linear(x + 1)) * 2\n",
        "y = (x + 1) * 2\n",
    ),
    "precedence": (
        "import tensorflow as tf\ny = tf.keras.activations.linear(a + b) * 2\n",
        "y = (a + b) * 2\n",
    ),
    "output-does-not-parse": (
        "import tensorflow as tf\ny = (tf.keras.activations.linear(x + 0)).shape\n",
        "y = (x + 0).shape\n",
    ),
    # a tensor method on a Python literal ("{input}.shape" with 0 once gave 0.shape, which
    # does not parse): the literal is made a tensor first
    "integer-receiver": (
        "import tensorflow as tf\ny = tf.shape(0)\n",
        "import torch\n\ny = torch.tensor(0).shape\n",
    ),
    # a literal cast builds the tensor (it once became the method call 0.to(...), which does not parse)
    "literal-cast": (
        "import tensorflow as tf\nx= tf.cast(0, tf.float32)\n",
        "import torch\n\nx = torch.tensor(0, dtype=torch.float32)\n",
    ),
}


@pytest.mark.parametrize("case", sorted(FOUND_ENGINE_BUGS))
def test_found_engine_bugs_stay_fixed(case):
    source, expected = FOUND_ENGINE_BUGS[case]
    assert convert_source(source, to="torch").code == expected

