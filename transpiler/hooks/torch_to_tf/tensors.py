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


def as_tensor(args, ctx, original):
    """torch.as_tensor(data, dtype=d) converts what it is given, a tensor of another dtype included
    (float64 -> float32); tf.convert_to_tensor refuses a tensor of another dtype, so with a dtype
    it is tf.cast (which converts lists and arrays first)."""
    a = Args(args, ctx)
    subs = {"value": a.require("data")}
    if "dtype" in a and literal_value(a["dtype"]) != (True, None):
        subs["dtype"] = a["dtype"]
        return ctx.build("tensorflow.cast({value}, {dtype})", **subs)
    return ctx.build("tensorflow.convert_to_tensor({value})", **subs)


def full(args, ctx, original):
    a = Args(args, ctx)
    subs = {"size": a.require("size"), "value": a.require("fill_value")}
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        return ctx.build("tensorflow.fill({size}, tensorflow.cast({value}, {dtype}))", **subs)
    return ctx.build("tensorflow.fill({size}, {value})", **subs)


def flatten(args, ctx, original):
    """torch.flatten(x, start, end) / x.flatten(...): tf.reshape with the kept sizes read from
    tf.shape(x); where x is an expression (read once) a lambda binds it."""
    a = Args(args, ctx)
    x = a.require("input")
    start = a.literal("start_dim", 0)
    end = a.literal("end_dim", -1)
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
        raise Unconvertible("start_dim and end_dim must be written out as ints")
    if start == 0 and end == -1:
        return ctx.build("tensorflow.reshape({x}, [-1])", x=x)
    if end == -1 and start == 1:
        shape = "[tensorflow.shape({x})[0], -1]"
    elif end == -1:
        shape = "tensorflow.concat([tensorflow.shape({x})[:" + str(start) + "], [-1]], axis=0)"
    elif start == 0 and end < -1:
        shape = "tensorflow.concat([[-1], tensorflow.shape({x})[" + str(end + 1) + ":]], axis=0)"
    else:
        raise Unconvertible("flatten of dimensions in the middle (end_dim other than -1): reshape with the explicit shape")
    if not is_simple(x):
        # one evaluation of x: a lambda binds it (the new shape reads its sizes)
        return ctx.build("(lambda t: tensorflow.reshape(t, " + shape.replace("{x}", "t") + "))({x})", x=x)
    return ctx.build("tensorflow.reshape({x}, " + shape + ")", x=x)


def where(args, ctx, original):
    a = Args(args, ctx)
    cond = a.require("condition")
    if "input" in a and "other" in a:
        return ctx.build("tensorflow.where({c}, {x}, {y})", c=cond, x=a["input"], y=a["other"])
    if "input" in a or "other" in a:
        raise Unconvertible("torch.where with only one of input and other")
    # torch.where(c) is c.nonzero(as_tuple=True): one int64 index tensor per dimension; tf.where(c)
    # gives the same indices, in the same (row-major) order, as the columns of one (N, rank) tensor
    return ctx.build("tensorflow.unstack(tensorflow.where({c}), axis=1)", c=cond)


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
    call = ctx.method_call if args.rule.receiver else original
    bound = next(b for b in args.bound if b.name == key)
    if ok and isinstance(literal, (list, tuple)) or _is_list(bound.original.value if bound.original is not None else sizes, ctx, call):
        return ctx.build("tensorflow.split({x}, {sizes}" + axis + ")", **subs)
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


_LIST_DISPLAYS = (cst.List, cst.ListComp, cst.Tuple)


def _is_list(node, ctx, call) -> bool:
    """A list of sizes: a list or tuple display, a list comprehension, or a name every binding
    of which (that reaches this use) is one (``boxes_per_image = [len(b) for b in boxes]``)."""
    if isinstance(node, _LIST_DISPLAYS):
        return True
    if not isinstance(node, cst.Name) or ctx.types is None or call is None:
        return False
    anchor = call.func
    while isinstance(anchor, cst.Attribute):
        anchor = anchor.value
    hit = ctx.resolver.hit_of.get(id(anchor)) or ctx.resolver.hit_of.get(id(call.func.attr) if isinstance(call.func, cst.Attribute) else None)
    if hit is None:
        return False
    found = ctx.types.bindings(node, ctx.resolver.chain_of(hit.stack))
    return bool(found) and all(item[0] == "value" and isinstance(item[1], _LIST_DISPLAYS) for item in found)


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
    count = _displayed_length(a, pairs_node, ctx, original) if isinstance(pairs_node, cst.Name) else None
    if count is not None:
        # pad_values = (0, 0, 0, pad_right, 0, pad_bottom); F.pad(x, pad_values): its elements by index
        items = [ctx.build("{p}[" + str(i) + "]", p=pairs_node.deep_clone()) for i in range(count)]
    elif not isinstance(pairs_node, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in pairs_node.elements):
        raise Unconvertible(f"the pad sizes ({code_of(pairs_node).strip()}) must be written out: tf.pad takes them per dimension, first to last")
    else:
        items = [e.value for e in pairs_node.elements] * times
    if times > 1 and not all(is_simple(e) for e in items):
        raise Unconvertible("the repeated pad sizes would be computed once per dimension: assign them to a variable first")
    plain = isinstance(x, cst.Subscript) and is_simple(x.value) and all(
        isinstance(el.slice, cst.Index) and is_simple(el.slice.value)
        or isinstance(el.slice, cst.Slice) and all(p is None or is_simple(p) for p in (el.slice.lower, el.slice.upper, el.slice.step))
        for el in x.slice
    )
    if not is_simple(x) and not plain:
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
    if plain:  # inputs_embeds[:, 1:]: its rank read from a second copy (harmless to compute twice)
        subs["rank_of"] = x.deep_clone()
        lead = f"[[0, 0]] * (len({{rank_of}}.shape) - {k}) + "
    extra = ""
    if mode != "constant":
        extra += f", mode={_PAD_MODES[mode]!r}"
    value = a.get("value")
    if value is not None and mode == "constant" and code_of(value).strip() not in ("0", "0.0", "None"):
        subs["value"] = value
        extra += ", constant_values={value}"
    return ctx.build("tensorflow.pad({x}, " + lead + "[" + ", ".join(pairs) + "]" + extra + ")", **subs)


def _displayed_length(a, node, ctx, call) -> int | None:
    """The number of elements of the tuple or list every binding of the name ``node`` (as the
    call's original wrote it) writes out, where they all write out the same number; else None."""
    bound = next((b for b in a.raw.bound if b.name == "pad"), None)
    orig = bound.original.value if bound is not None and bound.original is not None else node
    if not isinstance(orig, cst.Name) or ctx.types is None or not isinstance(call.func, (cst.Name, cst.Attribute)):
        return None
    anchor = call.func
    while isinstance(anchor, cst.Attribute):
        anchor = anchor.value
    hit = ctx.resolver.hit_of.get(id(anchor))
    if hit is None:
        return None
    found = ctx.types.bindings(orig, ctx.resolver.chain_of(hit.stack))
    lengths = set()
    for item in found or ():
        if item[0] != "value" or not isinstance(item[1], (cst.Tuple, cst.List)):
            return None
        if any(isinstance(e, cst.StarredElement) for e in item[1].elements):
            return None
        lengths.add(len(item[1].elements))
    return lengths.pop() if len(lengths) == 1 else None


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


def _numpy_call(node, ctx) -> bool:
    """A call of a NumPy function (``np.sin(a)``, ``np.array(x)``): it gives an array."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
        return False
    head = node.func
    while isinstance(head, cst.Attribute):
        head = head.value
    return isinstance(head, cst.Name) and head.value in _numpy_aliases(ctx)


def _numpy_aliases(ctx) -> set:
    """The names a module-level ``import numpy [as np]`` binds."""
    found = ctx.facts.get("numpy_aliases")
    if found is None:
        found = ctx.facts["numpy_aliases"] = set()
        for stmt in ctx.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Import):
                        for alias in small.names:
                            if code_of(alias.name).strip() == "numpy":
                                found.add(alias.asname.name.value if alias.asname else "numpy")
    return found


def legacy_tensor(args, ctx, original):
    """torch.FloatTensor(...), torch.LongTensor(...): PyTorch's legacy constructors. Given data
    (a list or tuple written out, a NumPy array) they copy it in their dtype: tf.constant(data,
    dtype); given sizes (two or more arguments, or an int written out) they make an uninitialised
    tensor, for which tf.zeros is one possible value (warned). One argument of unknown kind (a name:
    a size or a list?) is reported."""
    dtype = args.rule.data["dtype"]
    reason = args.rule.data["reason"]
    if any(arg.keyword is not None or arg.star for arg in original.args):
        raise Unconvertible(reason)
    values = [ctx.updated(arg.value) for arg in original.args]
    originals = [arg.value for arg in original.args]
    if len(originals) == 1:
        only = originals[0]
        ok, literal = literal_value(only)
        if _numpy_call(only, ctx) or _is_list(only, ctx, original):
            # a list or tuple (written out, or a name bound to one) is data: torch.FloatTensor((2, 3))
            # is tensor([2., 3.]); only a torch.Size or separate ints are sizes
            if ok and _literal_kind(literal) == "float" and _kind(dtype) in ("int", "bool"):
                return ctx.build("tensorflow.cast({v}, " + dtype + ")", v=values[0])
            return ctx.build("tensorflow.constant({v}, dtype=" + dtype + ")", v=values[0])
        if not (isinstance(only, cst.Integer)):
            shown = code_of(only).strip()
            spelled = dtype.replace("tensorflow.", "tf.")
            raise Unconvertible(
                f"legacy constructor: cannot tell whether '{shown}' is a size (an uninitialised tensor) or data "
                f"to copy; write tf.zeros([{shown}], dtype={spelled}) or tf.constant({shown}, dtype={spelled})"
            )
    elif not originals:
        raise Unconvertible(reason)
    elif any(isinstance(o, (cst.List, cst.Tuple, cst.ListComp, cst.Float, cst.SimpleString)) for o in originals):
        raise Unconvertible(reason)
    ctx.warn(original, args.rule.source, "the legacy constructor makes an uninitialised tensor: tf.zeros gives it zeros")
    subs = {f"s{i}": v for i, v in enumerate(values)}
    return ctx.build("tensorflow.zeros([" + ", ".join(f"{{s{i}}}" for i in range(len(values))) + "], dtype=" + dtype + ")", **subs)


def meshgrid(args, ctx, original):
    """torch.meshgrid(a, b, indexing=...) / torch.meshgrid([a, b], ...): tf.meshgrid(a, b, ...)
    with indexing='ij' written out (PyTorch's default; TensorFlow's is 'xy')."""
    a = Args(args, ctx)
    positional = [arg for arg in original.args if arg.keyword is None]
    if any(arg.star for arg in positional):
        raise Unconvertible("tensors given with *: write them out")
    values = [ctx.updated(arg.value) for arg in positional]
    if len(values) == 1 and isinstance(values[0], (cst.List, cst.Tuple)):
        values = [el.value for el in values[0].elements]
        if any(isinstance(el, cst.StarredElement) for el in ctx.updated(positional[0].value).elements):
            raise Unconvertible("tensors given with *: write them out")
    elif len(values) == 1:
        raise Unconvertible("one argument: a list of tensors or one tensor? Write the tensors out")
    subs = {f"t{i}": v for i, v in enumerate(values)}
    subs["indexing"] = a["indexing"] if "indexing" in a else ctx.build("'ij'")
    return ctx.build(
        "tensorflow.meshgrid(" + "".join(f"{{t{i}}}, " for i in range(len(values))) + "indexing={indexing})", **subs
    )


def scalar_tensor(args, ctx, original):
    """torch.scalar_tensor(s, dtype=d): a 0-d tensor of s, float32 by default."""
    a = Args(args, ctx)
    dtype = a["dtype"] if "dtype" in a else ctx.build("tensorflow.float32")
    return ctx.build("tensorflow.cast({s}, {dtype})", s=a.require("s"), dtype=dtype)
