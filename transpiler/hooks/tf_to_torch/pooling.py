"""Hooks for tf.nn's pooling, convolutions and depth_to_space on channels-last data (rules/tf_to_torch/math.toml).

TensorFlow's default layouts are channels-last (NWC, NHWC); PyTorch's functional pools take
channels-first, so the data is permuted in and out where the call says channels-last."""

from __future__ import annotations

import libcst as cst

from .._util import Args, Unconvertible, code_of, literal_value

# data_format -> channels-last?
_LAYOUTS = {1: {"NWC": True, "NCW": False}, 2: {"NHWC": True, "NCHW": False}}
_TO_FIRST = {1: ".transpose(1, 2)", 2: ".permute(0, 3, 1, 2)"}
_TO_LAST = {1: ".transpose(1, 2)", 2: ".permute(0, 2, 3, 1)"}
_POOLS = {
    ("max", 1): "torch.nn.functional.max_pool1d", ("max", 2): "torch.nn.functional.max_pool2d",
    ("avg", 1): "torch.nn.functional.avg_pool1d", ("avg", 2): "torch.nn.functional.avg_pool2d",
}


def _channels_last(a, n: int) -> bool:
    if "data_format" in a and not a.is_literal("data_format"):
        raise Unconvertible("data_format is known only at run time: the layout decides whether the data is permuted")
    layout = a.literal("data_format", next(iter(_LAYOUTS[n])))
    if layout not in _LAYOUTS[n]:
        raise Unconvertible(f"data_format={layout!r}: expected one of {', '.join(_LAYOUTS[n])}")
    return _LAYOUTS[n][layout]


def _window(a, name: str, n: int, last: bool):
    """ksize/strides as PyTorch takes them: an int or a tuple of the spatial sizes. A literal
    list may also give the batch and channel entries (which must be 1); a value known only at
    run time is passed on (an int or the spatial sizes work alike, any other list fails in torch)."""
    ok, value = literal_value(a.require(name))
    if not ok:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) for v in value):
        if len(value) == 1:
            return value[0]
        if len(value) == n + 2:
            outer = (value[0], value[-1]) if last else value[:2]
            if any(v != 1 for v in outer):
                raise Unconvertible(f"{name} pools over the batch or channel axis")
            value = value[1:-1] if last else value[2:]
        if len(value) == n:
            return value[0] if n == 1 else tuple(value)
    raise Unconvertible(f"{name}={value!r}: expected an int or one size per spatial axis")


def pool(args, ctx, original):
    """tf.nn.max_pool2d / avg_pool2d / max_pool1d / avg_pool1d -> F.max_poolNd / F.avg_poolNd.
    'VALID' pads nothing, as PyTorch's default. 'SAME' pads each axis so that it gives
    ceil(size / stride) outputs, the odd pixel after; neither the max nor the mean counts the
    pad. Where the stride is 1 and the window odd, that is PyTorch's padding=(k - 1) // 2 (with
    count_include_pad=False for the mean); elsewhere the pad depends on the input's size, and a
    small helper (pool_same) computes it."""
    a = Args(args, ctx)
    n, kind = args.rule.data["rank"], args.rule.data["kind"]
    last = _channels_last(a, n)
    padding = a.literal("padding")
    if not isinstance(padding, str) or padding.upper() not in ("VALID", "SAME"):
        raise Unconvertible(f"padding={padding!r}: only 'VALID' and 'SAME' convert")
    k, s = _window(a, "ksize", n, last), _window(a, "strides", n, last)
    subs = {"x": a.require("input"), "k": a.require("ksize") if k is None else _expr(k), "s": a.require("strides") if s is None else _expr(s)}
    x = "{x}" + _TO_FIRST[n] if last else "{x}"
    if padding.upper() == "VALID":
        text = f"{_POOLS[kind, n]}({x}, {{k}}, {{s}})"
    elif _all(s, lambda v: v == 1) and _all(k, lambda v: v % 2 == 1):
        pad = k // 2 if isinstance(k, int) else tuple(v // 2 for v in k)
        extra = ", count_include_pad=False" if kind == "avg" else ""
        text = f"{_POOLS[kind, n]}({x}, {{k}}, {{s}}, padding={pad!r}{extra})"
    else:
        from .training import need_snippet

        need_snippet(ctx, "pool_same")
        text = f"pool_same({x}, {{k}}, {{s}}, {kind!r})"
    if last:
        text += _TO_LAST[n]
    return ctx.build(text, **subs)


def _all(value, test) -> bool:
    if value is None:
        return False
    return all(test(v) for v in (value if isinstance(value, tuple) else (value,)))


def _expr(value):
    return cst.parse_expression(repr(value))


def depth_to_space(args, ctx, original):
    """tf.nn.depth_to_space(x, b) on NHWC: channel c of the output pixel (i, j) in block (di, dj)
    is input channel (di * b + dj) * C + c. F.pixel_shuffle (NCHW) takes channel c * b * b +
    di * b + dj instead, so the reshape is written out: (N, H, W, b * b * C) -> (N, H, W, b, b, C) ->
    (N, H, b, W, b, C) -> (N, H * b, W * b, C)."""
    a = Args(args, ctx)
    if not _channels_last_d2s(a):
        raise Unconvertible("data_format='NCHW' (TensorFlow runs it on GPU only): convert the NHWC form")
    x, b = a.require("input"), a.require("block_size")
    return ctx.build("{x}.unflatten(-1, ({b}, {b}, -1)).permute(0, 1, 3, 2, 4, 5).flatten(3, 4).flatten(1, 2)", x=x, b=b)


def _channels_last_d2s(a) -> bool:
    layout = a.literal("data_format", "NHWC")
    if layout not in ("NHWC", "NCHW", "NCHW_VECT_C"):
        raise Unconvertible(f"data_format={layout!r}")
    return layout == "NHWC"


_CONVS = {1: "torch.nn.functional.conv1d", 2: "torch.nn.functional.conv2d"}
# TensorFlow's filters are (*kernel, in, out); PyTorch's weights (out, in, *kernel)
_FILTERS = {1: ".permute(2, 1, 0)", 2: ".permute(3, 2, 0, 1)"}


def conv(args, ctx, original):
    """tf.nn.conv1d / conv2d -> F.conv1d / F.conv2d, the data permuted in and out where it is
    channels-last and the filters from (*kernel, in, out) to (out, in, *kernel). 'VALID' pads
    nothing; 'SAME' with stride 1 is PyTorch's padding='same' (the odd pixel after, as
    TensorFlow); explicit paddings ([[0, 0], [t, b], [l, r], [0, 0]]) convert where each axis is
    padded alike on both sides. 'SAME' with a stride above 1 pads by the input's size: reported."""
    a = Args(args, ctx)
    n = args.rule.data["rank"]
    last = _channels_last(a, n)
    stride_name = "stride" if n == 1 else "strides"
    s = _window(a, stride_name, n, last)
    d = _window(a, "dilations", n, last) if "dilations" in a and literal_value(a["dilations"]) != (True, None) else 1
    if d is None:
        raise Unconvertible("dilations known only at run time")
    subs = {"x": a.require("input"), "w": a.require("filters"), "s": a.require(stride_name) if s is None else _expr(s)}
    extra = ""
    padding_node = a.require("padding")
    ok, padding = literal_value(padding_node)
    if ok and isinstance(padding, str) and padding.upper() == "VALID":
        pass
    elif ok and isinstance(padding, str) and padding.upper() == "SAME":
        if not _all(s, lambda v: v == 1):
            raise Unconvertible("padding='SAME' with a stride above 1 pads by the input's size: write the padding out")
        extra = ", padding='same'"
    elif isinstance(padding_node, (cst.List, cst.Tuple)) and len(padding_node.elements) == n + 2:
        pairs = []
        for e in padding_node.elements:
            if not isinstance(e.value, (cst.List, cst.Tuple)) or len(e.value.elements) != 2:
                raise Unconvertible("explicit paddings must be written out as [before, after] pairs, one per axis")
            pairs.append(tuple(x.value for x in e.value.elements))
        outer = (pairs[0], pairs[-1]) if last else pairs[:2]
        spatial = pairs[1:-1] if last else pairs[2:]
        if any(code_of(v).strip() != "0" for pair in outer for v in pair):
            raise Unconvertible("explicit paddings pad the batch or channel axis")
        if any(code_of(before).strip() != code_of(after).strip() for before, after in spatial):
            raise Unconvertible("explicit paddings pad an axis unevenly; PyTorch's convolution pads both sides alike")
        for i, (before, _after) in enumerate(spatial):
            subs[f"p{i}"] = before
        pads = ", ".join(f"{{p{i}}}" for i in range(len(spatial)))
        extra = f", padding=({pads},)" if n == 1 else f", padding=({pads})"
    else:
        raise Unconvertible(f"padding={' '.join(code_of(padding_node).split())}: only 'VALID', 'SAME' and written-out pairs convert")
    if d != 1:
        extra += f", dilation={d!r}"
    x = "{x}" + _TO_FIRST[n] if last else "{x}"
    text = f"{_CONVS[n]}({x}, {{w}}{_FILTERS[n]}, stride={{s}}{extra})"
    if last:
        text += _TO_LAST[n]
    return ctx.build(text, **subs)
