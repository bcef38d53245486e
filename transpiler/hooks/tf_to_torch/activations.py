"""Hooks for activation functions (rules/tf_to_torch/activations.toml)."""

from __future__ import annotations

from .._util import Args, Unconvertible


def keras_relu(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("x")
    slope = a.literal("negative_slope", 0.0) or a.literal("alpha", 0.0) or 0.0
    max_value = a.literal("max_value", None)
    threshold = a.literal("threshold", 0.0)
    if threshold:
        raise Unconvertible("relu with a threshold has no PyTorch function; write torch.where(x > t, x, slope * (x - t))")
    if slope and max_value is not None:
        raise Unconvertible("relu with both negative_slope and max_value")
    if slope:
        return ctx.build("torch.nn.functional.leaky_relu({x}, " + repr(float(slope)) + ")", x=x)
    if max_value is not None:
        return ctx.build("torch.clamp({x}, min=0, max=" + repr(max_value) + ")", x=x)
    return ctx.build("torch.nn.functional.relu({x})", x=x)
