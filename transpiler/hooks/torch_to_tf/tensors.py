"""Hooks for tensor creation and shape functions (rules/torch_to_tf/tensors.toml)."""

from __future__ import annotations

import libcst as cst

from ...engine.build import is_simple
from .._util import Args, Unconvertible, code_of, literal_value


def _kind(text: str) -> str:
    if "bool" in text:
        return "bool"
    if "int" in text:
        return "int"
    if "complex" in text:
        return "complex"
    return "float"


def _literal_kind(value) -> str | None:
    def walk(v):
        if isinstance(v, (list, tuple)):
            kinds = {walk(x) for x in v}
            return "float" if "float" in kinds else ("int" if "int" in kinds else next(iter(kinds), "int"))
        if isinstance(v, bool):
            return "bool"
        if isinstance(v, int):
            return "int"
        return "float"

    return walk(value)


def tensor(args, ctx, original):
    a = Args(args, ctx)
    subs = {"value": a.require("data")}
    dtype = ""
    cast = False
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        dtype = ", dtype={dtype}"
        ok, literal = literal_value(a["data"])
        if ok:
            # torch.tensor converts between kinds (1.7 -> int 1, 3 -> True); tf.constant refuses
            have, want = _literal_kind(literal), _kind(code_of(a["dtype"]))
            cast = (have == "float" and want in ("int", "bool")) or (have == "int" and want == "bool")
    if "requires_grad" in a and a.literal("requires_grad"):
        if cast:
            return ctx.build("tensorflow.Variable(tensorflow.cast({value}, {dtype}))", **subs)
        return ctx.build("tensorflow.Variable({value}" + dtype + ")", **subs)
    if cast:
        return ctx.build("tensorflow.cast({value}, {dtype})", **subs)
    return ctx.build("tensorflow.constant({value}" + dtype + ")", **subs)


def full(args, ctx, original):
    a = Args(args, ctx)
    subs = {"size": a.require("size"), "value": a.require("fill_value")}
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        return ctx.build("tensorflow.fill({size}, tensorflow.cast({value}, {dtype}))", **subs)
    return ctx.build("tensorflow.fill({size}, {value})", **subs)


def flatten(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("input")
    start = a.literal("start_dim", 0)
    end = a.literal("end_dim", -1)
    if end != -1:
        raise Unconvertible("flatten with end_dim other than -1: reshape with the explicit shape")
    if start == 0:
        return ctx.build("tensorflow.reshape({x}, [-1])", x=x)
    if start == 1:
        if not is_simple(x):
            # one evaluation of x: a lambda binds it (tf.reshape needs its batch size)
            return ctx.build("(lambda t: tensorflow.reshape(t, [tensorflow.shape(t)[0], -1]))({x})", x=x)
        return ctx.build("tensorflow.reshape({x}, [tensorflow.shape({x})[0], -1])", x=x)
    if isinstance(start, int) and start > 1:
        return ctx.build(
            "tensorflow.reshape({x}, tensorflow.concat([tensorflow.shape({x})[:" + str(start) + "], [-1]], axis=0))", x=x
        )
    raise Unconvertible("flatten with a negative start_dim")


def where(args, ctx, original):
    a = Args(args, ctx)
    cond = a.require("condition")
    if "input" in a and "other" in a:
        return ctx.build("tensorflow.where({c}, {x}, {y})", c=cond, x=a["input"], y=a["other"])
    raise Unconvertible("torch.where(condition) returns a tuple of index tensors; tf.where(condition) returns one (N, rank) tensor: rewrite the caller")


def clamp(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("input")
    lo, hi = a.get("min"), a.get("max")
    if lo is not None and hi is not None:
        return ctx.build("tensorflow.clip_by_value({x}, {lo}, {hi})", x=x, lo=lo, hi=hi)
    if lo is not None:
        return ctx.build("tensorflow.maximum({x}, {lo})", x=x, lo=lo)
    if hi is not None:
        return ctx.build("tensorflow.minimum({x}, {hi})", x=x, hi=hi)
    raise Unconvertible("clamp needs min or max")


def _unpacked_into(ctx, call) -> int | None:
    """How many names the statement around ``call`` unpacks it into (``a, b = call``)."""
    stmt = ctx.statement_stack[-1] if ctx.statement_stack else None
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
        return None
    assign = stmt.body[0]
    if len(assign.targets) != 1 or assign.value is not call:
        return None
    target = assign.targets[0].target
    if not isinstance(target, (cst.Tuple, cst.List)) or any(isinstance(e, cst.StarredElement) for e in target.elements):
        return None
    return len(target.elements)


def split(args, ctx, original):
    """torch.split / x.split: a list of sizes is tf.split's too. An int is the size of each
    piece (the last may be shorter), where tf.split takes a number of equal pieces: unpacked
    into k names, the pieces are k - 1 of that size and the rest (tf.split's -1); otherwise
    the number of pieces is the axis's size over it, which tf.split checks divides evenly."""
    a = Args(args, ctx)
    x = a.require("tensor")
    key = "split_size_or_sections" if "split_size_or_sections" in a else "split_size"
    sizes = a.require(key)
    ok, literal = literal_value(sizes)
    subs = {"x": x, "sizes": sizes}
    axis = ""
    if "dim" in a:
        subs["dim"] = a["dim"]
        axis = ", axis={dim}"
    if ok and isinstance(literal, (list, tuple)):
        return ctx.build("tensorflow.split({x}, {sizes}" + axis + ")", **subs)
    call = ctx.method_call if args.rule.receiver else original
    literal_int = ok and isinstance(literal, int) and not isinstance(literal, bool) and literal > 0
    if not literal_int:
        raise Unconvertible(
            f"cannot tell whether '{code_of(sizes).strip()}' is the size of each piece (an int) or a list of sizes: "
            "torch.split with an int gives pieces of that size, tf.split with an int that number of pieces"
        )
    count = _unpacked_into(ctx, call)
    if count is not None:
        if literal_int and literal == 1:  # k pieces of size 1: the axis has exactly k
            return ctx.build("tensorflow.split({x}, " + str(count) + axis + ")", **subs)
        pieces = "[" + ", ".join(["{sizes}"] * (count - 1) + ["-1"]) + "]"
        return ctx.build("tensorflow.split({x}, " + pieces + axis + ")", **subs)
    ctx.warn(call, "tensor.split" if args.rule.receiver else "torch.split",
             "torch.split gives a shorter last piece where the size does not divide the axis; tf.split raises there")
    index = "{dim}" if "dim" in a else "0"
    return ctx.build("tensorflow.split({x}, {x}.shape[" + index + "] // {sizes}" + axis + ")", **subs)


def topk(args, ctx, original):
    a = Args(args, ctx)
    if a.literal("dim", -1) != -1:
        raise Unconvertible("tf.math.top_k works on the last dimension only")
    if a.literal("largest", True) is not True:
        raise Unconvertible("smallest-k: negate the input, take top_k, negate the values")
    subs = {"x": a.require("input"), "k": a.require("k")}
    text = "tensorflow.math.top_k({x}, k={k}"
    if "sorted" in a:
        subs["sorted"] = a["sorted"]
        text += ", sorted={sorted}"
    return ctx.build(text + ")", **subs)


def _direction(a) -> str:
    return "'DESCENDING'" if a.literal("descending", False) else "'ASCENDING'"


def sort(args, ctx, original):
    a = Args(args, ctx)
    subs = {"x": a.require("input"), "dim": a.get("dim") or cst.parse_expression("-1")}
    d = _direction(a)
    stable = ", stable=True" if a.literal("stable", False) else ""
    return ctx.build(
        "(tensorflow.sort({x}, axis={dim}, direction=" + d + "), tensorflow.argsort({x}, axis={dim}, direction=" + d + stable + "))",
        **subs,
    )


def argsort(args, ctx, original):
    a = Args(args, ctx)
    subs = {"x": a.require("input"), "dim": a.get("dim") or cst.parse_expression("-1")}
    stable = ", stable=True" if a.literal("stable", False) else ""
    return ctx.build("tensorflow.argsort({x}, axis={dim}, direction=" + _direction(a) + stable + ")", **subs)


_PAD_MODES = {"constant": "CONSTANT", "reflect": "REFLECT"}


def pad(args, ctx, original):
    """F.pad(x, (left, right, top, bottom, ...), mode, value) -> tf.pad(x, paddings, ...).

    PyTorch lists (before, after) pairs from the last dimension backwards and pads only
    the dimensions it names; tf.pad takes one pair per dimension, first to last. The
    dimensions in front get [0, 0]: as many as x has beyond the pairs (len(x.shape) - k)."""
    a = Args(args, ctx)
    x = a.require("input")
    pairs_node = a.require("pad")
    times = 1
    if (  # (padding,) * 4
        isinstance(pairs_node, cst.BinaryOperation) and isinstance(pairs_node.operator, cst.Multiply)
        and isinstance(pairs_node.left, (cst.List, cst.Tuple)) and isinstance(pairs_node.right, cst.Integer)
    ):
        times = int(pairs_node.right.value)
        pairs_node = pairs_node.left
    if not isinstance(pairs_node, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in pairs_node.elements):
        raise Unconvertible(f"the pad sizes ({code_of(pairs_node).strip()}) must be written out: tf.pad takes them per dimension, first to last")
    items = [e.value for e in pairs_node.elements] * times
    if times > 1 and not all(is_simple(e) for e in items):
        raise Unconvertible("the repeated pad sizes would be computed once per dimension: assign them to a variable first")
    if not is_simple(x):
        raise Unconvertible(
            f"the dimensions in front of the padded ones are counted from the input's rank, so the input is read twice: "
            f"assign '{code_of(x).strip()}' to a variable first"
        )
    if not items or len(items) % 2:
        raise Unconvertible("pad needs (before, after) pairs")
    mode = a.literal("mode", "constant")
    if mode not in _PAD_MODES:
        raise Unconvertible(
            f"mode={mode!r}: tf.pad has CONSTANT, REFLECT (as PyTorch's reflect) and SYMMETRIC (which repeats the edge and mirrors, unlike {mode!r})"
        )
    k = len(items) // 2
    subs = {"x": x}
    pairs = []
    for i in range(k - 1, -1, -1):  # the last pair in PyTorch's list is the first dimension it pads
        subs[f"b{i}"], subs[f"a{i}"] = items[2 * i], items[2 * i + 1]
        pairs.append(f"[{{b{i}}}, {{a{i}}}]")
    lead = f"[[0, 0]] * (len({{x}}.shape) - {k}) + "
    extra = ""
    if mode != "constant":
        extra += f", mode={_PAD_MODES[mode]!r}"
    value = a.get("value")
    if value is not None and mode == "constant" and code_of(value).strip() not in ("0", "0.0", "None"):
        subs["value"] = value
        extra += ", constant_values={value}"
    return ctx.build("tensorflow.pad({x}, " + lead + "[" + ", ".join(pairs) + "]" + extra + ")", **subs)


def _is_sequence(node, ctx) -> bool:
    """A size that is a sequence: a literal tuple/list, or a slice of a shape (x.shape[-2:],
    x.size()[2:])."""
    if isinstance(node, (cst.List, cst.Tuple)):
        return True
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
        base = node.value
        if isinstance(base, cst.Attribute) and base.attr.value == "shape":
            return True
        if isinstance(base, cst.Call) and isinstance(base.func, cst.Attribute) and base.func.attr.value == "size" and not base.args:
            return True
    return False


def _resized(ctx, x, size, orig_size, method: str):
    """tf.image.resize of a channels-first image to ``size`` (an int: square)."""
    ok, literal = literal_value(size)
    if ok and isinstance(literal, int):
        size = cst.Tuple([cst.Element(size), cst.Element(size)])
    elif not _is_sequence(orig_size, ctx):
        raise Unconvertible(f"cannot tell whether size={code_of(orig_size).strip()} is one int or (height, width)")
    return ctx.build(
        "tensorflow.transpose(tensorflow.image.resize(tensorflow.transpose({x}, [0, 2, 3, 1]), {size}, "
        f"method='{method}'), [0, 3, 1, 2])",
        x=x, size=size,
    )


def interpolate(args, ctx, original):
    """F.interpolate on (N, C, H, W): tf.image.resize works channels-last, between two
    transposes. Only where the results are the same: bilinear without align_corners or
    antialias (the same half-pixel sampling, up and down), and nearest by whole-number
    scale factors (each pixel repeated: tf.repeat along the spatial axes)."""
    a = Args(args, ctx)
    x = a.require("input")
    mode = a.literal("mode", "nearest")
    if a.literal("antialias", False):
        raise Unconvertible("antialias=True: PyTorch's and TensorFlow's antialiasing kernels differ")
    size, scale = a.get("size"), a.get("scale_factor")
    bound = {b.name: b for b in args.bound}
    orig_size = bound["size"].original.value if "size" in bound and bound["size"].original is not None else size
    if mode == "bilinear":
        if a.literal("align_corners", None):
            raise Unconvertible("align_corners=True: tf.image.resize samples pixel centres (align_corners=False) only")
        if size is None:
            raise Unconvertible("bilinear by scale_factor: PyTorch maps coordinates by the factor, tf.image.resize by the sizes; give size=")
        return _resized(ctx, x, size, orig_size, "bilinear")
    if mode == "nearest-exact" and size is not None:  # pixel centres, as TensorFlow's nearest
        return _resized(ctx, x, size, orig_size, "nearest")
    if mode == "nearest":
        if size is not None:
            raise Unconvertible("nearest to a size: PyTorch takes the pixel at floor(i * in / out), TensorFlow the one nearest the centre (PyTorch's 'nearest-exact'); the same only for whole-number enlargements (give scale_factor=)")
        ok, factors = literal_value(scale) if scale is not None else (False, None)
        if not (ok and isinstance(factors, (tuple, list)) and all(isinstance(f, int) and not isinstance(f, bool) and f > 0 for f in factors)):
            raise Unconvertible("nearest: only whole-number scale factors written per spatial dimension (scale_factor=(2, 2)) convert (each pixel repeated)")
        n = len(factors)
        expr = "{x}"
        for axis, f in zip(range(-n, 0), factors):
            if f != 1:
                expr = f"tensorflow.repeat({expr}, {f}, axis={axis})"
        return ctx.build(expr, x=x)
    raise Unconvertible(f"mode={mode!r}: the TensorFlow kernels differ (bicubic's coefficient, linear/trilinear layouts); only bilinear, nearest-exact and whole-number nearest convert")
