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
    # (x.view(shape): a call that does not itself prove x a tensor, as x.view(-1) would)
    code = _convert("x = torch.ones(2, 3)\nx = helper(x)\ny = x.view(shape)\n")
    assert "y = x.view(shape)" in code
    assert "TODO(transpiler): tensor.view: cannot tell whether 'x' is a tensor" in code


def test_rebinding_in_a_loop():
    code = _convert("h = torch.zeros(4)\nfor _ in range(3):\n    h = torch.tanh(h.view(2, 2)).view(-1)\n")
    assert "h = tf.reshape(tf.math.tanh(tf.reshape(h, [2, 2])), [-1])" in code


def test_a_use_sees_only_the_bindings_that_reach_it():
    code = _convert(
        "def f(x, n, m):\n"
        "    y = torch.relu(x)\n"
        "    z = y.view(n, m)\n"
        "    y = y.tolist()\n"
        "    return z, y.view(n, m)\n"
    )
    assert "z = tf.reshape(y, [n, m])" in code
    assert "return z, y.view(n, m)" in code  # a list there: left, and reported


def test_bindings_in_a_loop_reach_its_head_and_after_a_break():
    code = _convert(
        "def f(x, n, m, items):\n"
        "    y = torch.relu(x)\n"
        "    for item in items:\n"
        "        a = y.view(n, m)\n"
        "        if item:\n"
        "            y = item.tolist()\n"
        "            break\n"
        "    return a, y.view(n, m)\n"
        "\n"
        "def g(x, n, m, items):\n"
        "    y = torch.relu(x)\n"
        "    for item in items:\n"
        "        b = y.view(n, m)\n"
        "        y = item.tolist()\n"
        "    return b\n"
    )
    assert "a = tf.reshape(y, [n, m])" in code  # the list leaves the loop at once
    assert "return a, y.view(n, m)" in code  # ...and reaches the use after it
    assert "b = y.view(n, m)" in code  # the list comes round to the next iteration


def test_every_point_of_a_try_body_reaches_its_handler():
    code = _convert(
        "def f(x, n, m):\n"
        "    try:\n"
        "        y = x.tolist()\n"
        "        y = torch.tensor(y)\n"
        "    except ValueError:\n"
        "        return y.view(n, m)\n"
        "    finally:\n"
        "        pass\n"
        "    return y.view(n, m)\n"
    )
    assert "        return y.view(n, m)" in code  # the list may reach the handler
    assert "    return tf.reshape(y, [n, m])" in code
