"""Hooks for functional pooling (rules/torch_to_tf/pooling.toml).

TensorFlow pools channels-last tensors on the CPU. Inside a converted
``forward`` the tracer (forward.py) moves the input to that layout and follows
the result; elsewhere the input is PyTorch's channels-first tensor, so the op is
wrapped in transposes to and from it.
"""

from __future__ import annotations

from .._util import Args, Unconvertible
from .torch_layers import to_keras_perm, to_torch_perm


def _sizes(a: Args, name: str, n: int, default=None):
    value = a.literal(name, default)
    if isinstance(value, int) and not isinstance(value, bool):
        return [value] * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(isinstance(v, int) for v in value):
        return list(value)
    raise Unconvertible(f"argument '{name}={value!r}' must be an int or {n} ints")


def _wrap(ctx, original, text: str, x, rank: int):
    """``text`` over a channels-last ``{x}``; transposed around when the caller holds PyTorch's layout."""
    if id(original) in ctx.facts.get("keras_layout_calls", set()):
        return ctx.build(text, x=x)
    to_keras = list(to_keras_perm(rank))
    to_torch = list(to_torch_perm(rank))
    inner = ctx.build("tensorflow.transpose({x}, " + repr(to_keras) + ")", x=x)
    return ctx.build("tensorflow.transpose(" + text + ", " + repr(to_torch) + ")", x=inner)


def pool(args, ctx, original):
    a = Args(args, ctx)
    data = args.rule.data
    n = data["rank"]
    kernel = _sizes(a, "kernel_size", n)
    stride = _sizes(a, "stride", n) if "stride" in a and a.literal("stride") is not None else kernel
    if any(_sizes(a, "padding", n, 0)):
        raise Unconvertible("pooling with padding: use the nn.MaxPool/AvgPool module (or tf.pad first)")
    for name in ("ceil_mode", "return_indices"):
        if a.literal(name, False):
            raise Unconvertible(f"argument '{name}=True' is not supported")
    if a.literal("dilation", 1) not in (1, [1] * n, (1,) * n):
        raise Unconvertible("dilated pooling is not supported")
    a.unsupported_unless("divisor_override", None)
    op = f"tensorflow.nn.{data['op']}_pool{n}d"
    k = kernel[0] if len(set(kernel)) == 1 else kernel
    s = stride[0] if len(set(stride)) == 1 else stride
    return _wrap(ctx, original, op + "({x}, " + repr(k) + ", " + repr(s) + ", 'VALID')", a.require("input"), n)


def adaptive(args, ctx, original):
    a = Args(args, ctx)
    data = args.rule.data
    n = data["rank"]
    size = a.literal("output_size")
    sizes = size if isinstance(size, (tuple, list)) else [size] * n
    if list(sizes) != [1] * n:
        raise Unconvertible("adaptive pooling to a size other than 1")
    if a.literal("return_indices", False):
        raise Unconvertible("return_indices=True is not supported")
    axes = list(range(1, n + 1))
    op = "tensorflow.reduce_mean" if data["op"] == "mean" else "tensorflow.reduce_max"
    return _wrap(ctx, original, op + "({x}, axis=" + repr(axes) + ", keepdims=True)", a.require("input"), n)
