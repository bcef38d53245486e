"""Hooks for functional activations (rules/torch_to_tf/activations.toml)."""

from __future__ import annotations

from .._util import Args, Unconvertible, code_of


def dropout(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("input")
    rate = a.get("p")
    training = a.get("training")
    if training is not None:
        text = code_of(training).strip()
        if text == "False":
            return x
        if text == "self.training":
            # inside a module: the call() argument `training` (a rate of 0 keeps every value)
            return ctx.build("tensorflow.nn.dropout({x}, rate={p} if self.training else 0.0)", x=x, p=rate if rate is not None else ctx.build("0.5"))
        if text != "True":
            raise Unconvertible(
                "dropout that depends on the training flag: use a keras.layers.Dropout layer, called with training="
            )
    if rate is None:
        return ctx.build("tensorflow.nn.dropout({x}, rate=0.5)", x=x)
    return ctx.build("tensorflow.nn.dropout({x}, rate={p})", x=x, p=rate)


def normalize(args, ctx, original):
    a = Args(args, ctx)
    if a.literal("p", 2.0) not in (2, 2.0):
        raise Unconvertible("only the L2 norm (p=2) has a TensorFlow function")
    eps = a.literal("eps", 1e-12)
    if not isinstance(eps, (int, float)):
        raise Unconvertible("eps must be a number")
    # F.normalize clamps the norm at eps; tf.math.l2_normalize clamps the squared norm.
    return ctx.build(
        "tensorflow.math.l2_normalize({x}, axis={dim}, epsilon=" + repr(float(eps) ** 2) + ")",
        x=a.require("input"),
        dim=a.get("dim") or ctx.build("1"),
    )


def softmax(args, ctx, original):
    """F.softmax(x, dim, dtype=d) / log_softmax: PyTorch casts the input to d first."""
    a = Args(args, ctx)
    x = a.require("input")
    if a.get("dtype") is not None:
        x = ctx.build("tensorflow.cast({x}, {dtype})", x=x, dtype=a["dtype"])
    return ctx.build(args.rule.data["template"], input=x, dim=a.require("dim"))
