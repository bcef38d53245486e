"""Hooks for math functions (rules/torch_to_tf/math.toml)."""

from __future__ import annotations

import libcst as cst

from .._util import Args, Unconvertible


def _alpha(a, name, ctx):
    x, y = a.require("input"), a.require("other")
    if "alpha" in a:
        return ctx.build("tensorflow.math." + name + "({x}, {alpha} * {y})", x=x, y=y, alpha=a["alpha"])
    return ctx.build("tensorflow.math." + name + "({x}, {y})", x=x, y=y)


def add(args, ctx, original):
    return _alpha(Args(args, ctx), "add", ctx)


def sub(args, ctx, original):
    return _alpha(Args(args, ctx), "subtract", ctx)


def div(args, ctx, original):
    a = Args(args, ctx)
    x, y = a.require("input"), a.require("other")
    mode = a.literal("rounding_mode", None)
    func = {None: "math.divide", "floor": "math.floordiv", "trunc": "truncatediv"}.get(mode)
    if func is None:
        raise Unconvertible(f"unknown rounding_mode {mode!r}")
    return ctx.build("tensorflow." + func + "({x}, {y})", x=x, y=y)


def norm(args, ctx, original):
    """x.norm(p, dim, keepdim) / torch.norm: p = 2 or 'fro' (the default) is the square root of
    the sum of squares over dim (all of x without it): tf.norm's Euclidean norm, also over a
    tuple of dimensions. p = 1 over one dimension (written out) is ord=1; other p are reported
    (over two dimensions tf.norm reads ord as a matrix norm)."""
    a = Args(args, ctx)
    x = a.require("input")
    p = a.literal("p", "fro")
    dim = a.get("dim")
    subs = {"x": x}
    parts = ["{x}"]
    if p in (None, "fro", 2, 2.0):
        pass
    elif p in (1, 1.0) and dim is not None and a.is_literal("dim") and isinstance(a.literal("dim"), int):
        parts.append("ord=1")
    else:
        raise Unconvertible(f"p={p!r}: only p=2 / 'fro', and p=1 over one dimension written out, convert")
    return _tf_norm(ctx, a, parts, subs, dim)


def vector_norm(args, ctx, original):
    """torch.linalg.vector_norm(x, ord, dim, keepdim): tf.norm reads one axis or none as a vector
    norm of any positive order, as PyTorch does; over a pair of axes it takes a matrix norm,
    which is the same only for ord=2 (Frobenius: the square root of the sum of squares)."""
    a = Args(args, ctx)
    order = a.literal("ord", 2)
    dim = a.get("dim")
    parts, subs = ["{x}"], {"x": a.require("x")}
    if not isinstance(order, (int, float)) or isinstance(order, bool) or order <= 0:
        raise Unconvertible(f"ord={order!r}: only a positive number converts (tf.norm's vector orders)")
    if order != 2:
        one_axis = dim is None or (a.is_literal("dim") and isinstance(a.literal("dim"), int))
        if not one_axis:
            raise Unconvertible(f"ord={order!r} over several dimensions: tf.norm takes a matrix norm there")
        parts.append(f"ord={order!r}")
    return _tf_norm(ctx, a, parts, subs, dim)


def linalg_norm(args, ctx, original):
    """torch.linalg.norm(A, ord, dim, keepdim): with ord None it is the 2-norm of a vector
    (one dimension), Frobenius over two dimensions and the 2-norm of all values without dim,
    which tf.norm's default ('euclidean') is in each case; a numeric ord over one dimension is
    a vector norm in both. Other orders are matrix norms (nuclear, spectral...)."""
    a = Args(args, ctx)
    order = a.literal("ord", None)
    dim = a.get("dim")
    parts, subs = ["{x}"], {"x": a.require("A")}
    if order is not None:
        one_axis = dim is not None and a.is_literal("dim") and isinstance(a.literal("dim"), int)
        numeric = isinstance(order, (int, float)) and not isinstance(order, bool) and order > 0
        if not (one_axis and numeric):
            raise Unconvertible(f"ord={order!r}: only a positive number over one dimension written out converts (a vector norm); matrix norms do not")
        if order != 2:
            parts.append(f"ord={order!r}")
    return _tf_norm(ctx, a, parts, subs, dim)


def _tf_norm(ctx, a, parts: list[str], subs: dict, dim) -> cst.BaseExpression:
    """tf.norm with the order already in ``parts``, the dimension and keepdim added."""
    if dim is not None:
        subs["dim"] = dim
        parts.append("axis={dim}")
    if "keepdim" in a:
        subs["keepdim"] = a["keepdim"]
        parts.append("keepdims={keepdim}")
    return ctx.build("tensorflow.norm(" + ", ".join(parts) + ")", **subs)


def linear(args, ctx, original):
    """F.linear(x, weight, bias): x @ weight^T + bias, weight laid out (out, in) as PyTorch keeps
    it: tf.matmul(x, weight, transpose_b=True) (batch axes of x broadcast against the 2-D weight)."""
    a = Args(args, ctx)
    x, weight = a.require("input"), a.require("weight")
    bias = a.get("bias")
    product = ctx.build("tensorflow.matmul({x}, {w}, transpose_b=True)", x=x, w=weight)
    if bias is None or isinstance(bias, cst.Name) and bias.value == "None":
        return product
    return ctx.build("{p} + {b}", p=product, b=bias)
