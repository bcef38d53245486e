"""Hooks for reductions whose PyTorch forms do several things (rules/torch_to_tf/math.toml)."""

from __future__ import annotations

import libcst as cst

from .._util import Args, Unconvertible, known_tensor, literal_value


def _arg(name, args, ctx):
    a = Args(args, ctx)
    x = a.require("input")
    keep = a.literal("keepdim", False)
    if "dim" not in a or literal_value(a["dim"]) == (True, None):
        if keep:
            raise Unconvertible("keepdim=True without dim")
        return ctx.build("tensorflow.math." + name + "(tensorflow.reshape({x}, [-1]))", x=x)
    text = "tensorflow.math." + name + "({x}, axis={dim})"
    if keep:
        text = "tensorflow.expand_dims(" + text + ", axis={dim})"
    return ctx.build(text, x=x, dim=a["dim"])


def argmax(args, ctx, original):
    return _arg("argmax", args, ctx)


def argmin(args, ctx, original):
    return _arg("argmin", args, ctx)


def _extreme(kind, args, ctx):
    """torch.max(x) / torch.max(x, dim) -> (values, indices) / torch.max(x, other)."""
    a = Args(args, ctx)
    x = a.require("input")
    reduce, arg, elementwise = {
        "max": ("reduce_max", "argmax", "maximum"),
        "min": ("reduce_min", "argmin", "minimum"),
    }[kind]
    if "other" in a:
        return ctx.build("tensorflow.math." + elementwise + "({x}, {y})", x=x, y=a["other"])
    if "dim" not in a:
        return ctx.build("tensorflow.math." + reduce + "({x})", x=x)
    dim = a["dim"]
    ok, value = literal_value(dim)
    bound = next(b for b in args.bound if b.name == "dim")
    if not ok and bound.original is not None and known_tensor(ctx, bound.original.value, args.original or args.call):
        # torch.min(x, torch.zeros_like(x)): the second argument is a tensor, so elementwise
        return ctx.build("tensorflow.math." + elementwise + "({x}, {y})", x=x, y=dim)
    if not ok or not isinstance(value, int):
        raise Unconvertible(
            f"torch.{kind}(x, y): cannot tell whether the second argument is a dimension or a tensor; "
            f"write dim= or use torch.{elementwise}"
        )
    keep = ", keepdims=True" if a.literal("keepdim", False) else ""
    index = "tensorflow.math." + arg + "({x}, axis={dim})"
    if keep:
        index = "tensorflow.expand_dims(" + index + ", axis={dim})"
    return ctx.build(
        "(tensorflow.math." + reduce + "({x}, axis={dim}" + keep + "), " + index + ")", x=x, dim=dim
    )


def max(args, ctx, original):  # noqa: A001 - named after the rule
    return _extreme("max", args, ctx)


def min(args, ctx, original):  # noqa: A001
    return _extreme("min", args, ctx)


def _spread(kind, args, ctx):
    a = Args(args, ctx)
    x = a.require("input")
    unbiased = a.literal("unbiased", None)
    correction = a.literal("correction", None)
    if unbiased is not None and correction is not None:
        raise Unconvertible("both unbiased and correction given")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if correction not in (0, 1):
        raise Unconvertible("only correction 0 or 1 is supported")
    func = "tensorflow.math.reduce_std" if kind == "std" else "tensorflow.math.reduce_variance"
    subs = {"x": x}
    text = func + "({x}"
    if "dim" in a:
        subs["dim"] = a["dim"]
        text += ", axis={dim}"
    if a.literal("keepdim", False):
        text += ", keepdims=True"
    text += ")"
    if correction == 0:
        return ctx.build(text, **subs)
    # PyTorch divides by n - 1 by default (Bessel's correction); TensorFlow by n.
    if "dim" in a:
        ok, dim = literal_value(a["dim"])
        if not ok or not isinstance(dim, int):
            raise Unconvertible("the unbiased estimate over several dims: give dim as one int, or correction=0")
        n = "tensorflow.cast(tensorflow.shape({x})[{dim}], {x}.dtype)"
    else:
        n = "tensorflow.cast(tensorflow.size({x}), {x}.dtype)"
    factor = f"{n} / ({n} - 1)"
    if kind == "std":
        return ctx.build(text + " * tensorflow.sqrt(" + factor + ")", **subs)
    return ctx.build(text + " * (" + factor + ")", **subs)


def std(args, ctx, original):
    return _spread("std", args, ctx)


def var(args, ctx, original):
    return _spread("var", args, ctx)


_BOOL_CALLS = {
    "eq", "ne", "gt", "lt", "ge", "le", "isnan", "isinf", "isfinite", "logical_and", "logical_or",
    "logical_not", "logical_xor", "greater", "less", "equal", "not_equal", "bool",
}


def _boolean(node) -> bool:
    """A comparison or a call that gives booleans (x == y, x.eq(y), torch.isnan(x))."""
    if isinstance(node, cst.Comparison):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, (cst.Attribute, cst.Name)):
        name = node.func.attr.value if isinstance(node.func, cst.Attribute) else node.func.value
        return name in _BOOL_CALLS
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.BitInvert):
        return _boolean(node.expression)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.BitAnd, cst.BitOr, cst.BitXor)):
        return _boolean(node.left) and _boolean(node.right)
    return False


def sum(args, ctx, original):  # noqa: A001 - named after the rule
    """x.sum(dim) / torch.sum(x, dim): a sum of booleans counts them (int64, as PyTorch)."""
    a = Args(args, ctx)
    name = "self" if "self" in a else "input"
    x = a.require(name)
    bound = args.get(name)
    source = bound.original.value if bound is not None and bound.original is not None else x
    x = x.with_changes(lpar=[], rpar=[]) if getattr(x, "lpar", None) else x
    if _boolean(source):
        x = ctx.build("tensorflow.cast({x}, tensorflow.int64)", x=x)
    text = "tensorflow.math.reduce_sum({x}"
    subs = {"x": x}
    if "dim" in a:
        subs["dim"] = a["dim"]
        positional = bound is not None and args.get("dim") is not None and args.get("dim").positional
        text += ", {dim}" if positional else ", axis={dim}"
    if a.literal("keepdim", False):
        text += ", keepdims=True"
    return ctx.build(text + ")", **subs)
