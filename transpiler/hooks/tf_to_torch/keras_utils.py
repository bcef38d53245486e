"""Hooks for Keras's utilities (rules/tf_to_torch/keras_utils.toml)."""

from __future__ import annotations

from .training import need_snippet


def helper_call(args, ctx, original):
    """A pure-Python Keras utility -> the same small function written once in the output
    (snippets.py)."""
    from ..snippet_writer import helper_call as call_helper
    from .snippets import REGISTRY

    return call_helper(ctx, REGISTRY, args)


def helper_value(rule, ctx, original, stack):
    """The function passed on as a value (TAPAS's ``_segment_reduce(values, index,
    tf.math.unsorted_segment_mean)``): the helper ``data.snippet`` itself, which takes the
    function's arguments in their order."""
    name = rule.data["snippet"]
    need_snippet(ctx, name)
    return ctx.build(name)


_DTYPE_NAMES = {
    "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
    "uint8", "uint16", "uint32", "uint64", "bool", "complex64", "complex128",
}


def standardize_dtype(args, ctx, original):
    """keras.backend.standardize_dtype(d): Keras's name of a dtype. A torch dtype's name without
    'torch.' is the same name ('float32', 'bool'); a string stays as it is."""
    from .._util import Args, Unconvertible, literal_value

    a = Args(args, ctx)
    dtype = a.require("dtype")
    ok, value = literal_value(dtype)
    if ok and isinstance(value, str):
        if value not in _DTYPE_NAMES:  # an alias ('float', 'double'): Keras's own table decides
            raise Unconvertible(f"standardize_dtype({value!r}): write Keras's name for it (float32, int64...)")
        return dtype
    return ctx.build("str({dtype}).removeprefix('torch.')", dtype=dtype)


_BOX_FORMATS = ("xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw")


def convert_boxes(args, ctx, original):
    """keras.utils.bounding_boxes.convert_format between absolute formats -> the helper
    convert_boxes (snippets.py); the relative formats (rel_*) need the image size: reported."""
    from .._util import Args, Unconvertible, code_of, literal_value

    a = Args(args, ctx)
    for name in ("source", "target"):
        ok, value = literal_value(a.require(name))
        if not ok or value not in _BOX_FORMATS:
            raise Unconvertible(f"{name} must be one of {', '.join(_BOX_FORMATS)}, written out")
    for name in ("height", "width"):
        if name in a and code_of(a[name]).strip() != "None":
            raise Unconvertible(f"{name}= is for the relative formats (rel_*), not converted")
    need_snippet(ctx, "convert_boxes")
    subs = {"boxes": a.require("boxes"), "source": a["source"], "target": a["target"]}
    text = "convert_boxes({boxes}, {source}, {target}"
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        text += ", dtype={dtype}"
    return ctx.build(text + ")", **subs)
