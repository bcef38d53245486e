"""Hooks for random tensors (rules/torch_to_tf/random.toml)."""

from __future__ import annotations

from .._util import Args, Unconvertible


def randint(args, ctx, original):
    a = Args(args, ctx)
    # torch.randint(high, size) or torch.randint(low, high, size)
    low, high, size = a.get("low"), a.get("high"), a.get("size")
    if size is None and high is not None and low is not None:
        low, high, size = None, low, high
    if size is None or high is None:
        raise Unconvertible("randint needs high and size")
    subs = {"size": size, "high": high, "low": low or ctx.build("0")}
    dtype = "tensorflow.int64"
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        dtype = "{dtype}"
    return ctx.build(
        "tensorflow.random.uniform({size}, minval={low}, maxval={high}, dtype=" + dtype + ")", **subs
    )
