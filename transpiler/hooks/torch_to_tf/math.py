"""Hooks for math functions (rules/torch_to_tf/math.toml)."""

from __future__ import annotations

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
