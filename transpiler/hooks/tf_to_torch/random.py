"""Hooks for random tensors (rules/tf_to_torch/random.toml)."""

from __future__ import annotations

from .._util import Args, Unconvertible, code_of


def _dtype(a, subs):
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        return ", dtype={dtype}"
    return ""


def normal(args, ctx, original):
    a = Args(args, ctx)
    subs = {"shape": a.require("shape")}
    dtype = _dtype(a, subs)
    if "mean" not in a and "stddev" not in a:
        return ctx.build("torch.randn({shape}" + dtype + ")", **subs)
    subs["mean"] = a.get("mean") or ctx.build("0.0")
    subs["std"] = a.get("stddev") or ctx.build("1.0")
    return ctx.build("torch.normal({mean}, {std}, size={shape}" + dtype + ")", **subs)


def uniform(args, ctx, original):
    a = Args(args, ctx)
    subs = {"shape": a.require("shape")}
    is_int = "dtype" in a and "int" in code_of(a["dtype"])
    if is_int:
        if "maxval" not in a:
            raise Unconvertible("integer uniform needs maxval")
        subs.update(low=a.get("minval") or ctx.build("0"), high=a["maxval"])
        dtype = _dtype(a, subs)
        return ctx.build("torch.randint({low}, {high}, {shape}" + dtype + ")", **subs)
    dtype = _dtype(a, subs)
    if "minval" not in a and "maxval" not in a:
        return ctx.build("torch.rand({shape}" + dtype + ")", **subs)
    subs["low"] = a.get("minval") or ctx.build("0.0")
    subs["high"] = a.get("maxval") or ctx.build("1.0")
    return ctx.build("torch.empty({shape}" + dtype + ").uniform_({low}, {high})", **subs)


def truncated_normal(args, ctx, original):
    a = Args(args, ctx)
    mean = a.literal("mean", 0.0)
    std = a.literal("stddev", 1.0)
    if not all(isinstance(v, (int, float)) for v in (mean, std)):
        raise Unconvertible("mean and stddev must be number literals")
    subs = {"shape": a.require("shape")}
    dtype = _dtype(a, subs)
    lo, hi = mean - 2 * std, mean + 2 * std
    return ctx.build(
        "torch.nn.init.trunc_normal_(torch.empty({shape}" + dtype + f"), mean={mean!r}, std={std!r}, a={lo!r}, b={hi!r})",
        **subs,
    )


def seed_generator(args, ctx, original):
    """keras.random.SeedGenerator(seed) -> the seed itself: the keras.random calls it is
    given to draw from PyTorch's global generator once converted (their seed is dropped,
    with a warning), so what is left of the generator is the number it was made from."""
    a = Args(args, ctx)
    ctx.warn(
        original, "keras.random.SeedGenerator",
        "PyTorch's random functions draw from the global generator, not from a generator per layer: "
        "the seed is kept as a number; seed PyTorch with torch.manual_seed",
    )
    return a.get("seed") or ctx.build("None")
