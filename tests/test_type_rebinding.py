"""Type inference: a name rebound from itself keeps the kind its other bindings give."""

from __future__ import annotations

from transpiler.api import convert_source


def _convert(body: str) -> str:
    return convert_source("import torch\n\n" + body, to="tf").code


def test_rebinding_from_itself_keeps_the_kind():
    code = _convert("x = torch.ones(2, 3)\nx = x.view(3, 2)\ny = x.view(-1)\n")
    assert "y = tf.reshape(x, [-1])" in code
    assert "x = tf.reshape(x, [3, 2])" in code


def test_rebinding_through_an_unknown_call_stays_unknown():
    code = _convert("x = torch.ones(2, 3)\nx = helper(x)\ny = x.view(-1)\n")
    assert "y = x.view(-1)" in code
    assert "TODO(transpiler): tensor.view: cannot tell whether 'x' is a tensor" in code


def test_rebinding_in_a_loop():
    code = _convert("h = torch.zeros(4)\nfor _ in range(3):\n    h = torch.tanh(h.view(2, 2)).view(-1)\n")
    assert "h = tf.reshape(tf.math.tanh(tf.reshape(h, [2, 2])), [-1])" in code
