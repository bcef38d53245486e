"""Hooks for tensor creation and shape functions (rules/tf_to_torch/tensors.toml)."""

from __future__ import annotations

import libcst as cst

from ...engine.calls import Deferred
from ...frameworks import canonical, framework_of
from .._util import Args, Unconvertible, code_of, int_literal, known_tensor, literal_value


def constant(args, ctx, original):
    a = Args(args, ctx)
    value = a.require("value")
    dtype = a.get("dtype")
    if "shape" in a:
        ok, scalar = literal_value(value)
        if not ok or isinstance(scalar, (list, tuple)):
            raise Unconvertible("tf.constant with shape= broadcasts its value; only a scalar literal value can be converted")
        subs = {"shape": a["shape"], "value": value}
        text = "torch.full({shape}, {value}" + (", dtype={dtype})" if dtype is not None else ")")
        if dtype is not None:
            subs["dtype"] = dtype
        return ctx.build(text, **subs)
    is_literal = literal_value(value)[0] or isinstance(value, (cst.List, cst.Tuple))
    func = "torch.tensor" if is_literal else "torch.as_tensor"
    if dtype is not None:
        return ctx.build(func + "({value}, dtype={dtype})", value=value, dtype=dtype)
    return ctx.build(func + "({value})", value=value)


def tensor_shape(args, ctx, original):
    """tf.TensorShape(dims) -> torch.Size(dims) for literal sizes; TensorShape(None), the shape
    of unknown rank a traced graph may have, -> None, which a PyTorch shape (always of known
    rank) never equals, as a tensor's TensorShape does not equal it once its rank is known."""
    a = Args(args, ctx)
    dims = a.require("dims")
    ok, value = literal_value(dims)
    if ok and value is None:
        ctx.warn(original, "tensorflow.TensorShape", "TensorShape(None), a shape of unknown rank: no PyTorch tensor has one, so it becomes None (x.shape == None is False)")
        return cst.Name("None")
    if ok and isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return ctx.build("torch.Size({dims})", dims=dims)
    raise Unconvertible("tf.TensorShape(dims) may hold unknown (None) sizes, which torch.Size cannot: use a tuple or list of the sizes")


def cast(args, ctx, original):
    """tf.cast(x, dtype): ``x.to(dtype)`` where x is known to be a tensor; a literal becomes
    ``torch.tensor(x, dtype=...)``; anything else (a Python number kept in an attribute,
    ``math.pi``, a list, an array) ``torch.as_tensor(x, dtype=...)``, which, like tf.cast,
    takes any of these and converts a tensor as ``.to`` does (keeping its gradient)."""
    a = Args(args, ctx)
    x, dtype = a.require("x"), a.require("dtype")
    bound = args.get("x")
    original_x = bound.original.value if bound is not None and bound.original is not None else None
    if literal_value(x)[0] or isinstance(x, (cst.List, cst.Tuple)):
        return ctx.build("torch.tensor({x}, dtype={dtype})", x=x, dtype=dtype)
    if original_x is not None and known_tensor(ctx, original_x, original):
        return ctx.build("{x}.to({dtype})", x=x, dtype=dtype)
    return ctx.build("torch.as_tensor({x}, dtype={dtype})", x=x, dtype=dtype)


def _is_integer(value: cst.BaseExpression, dtype: cst.BaseExpression | None, ctx, original_value) -> bool:
    if dtype is not None:
        text = code_of(dtype)
        return "int" in text or "bool" in text
    if int_literal(value):
        return True
    if isinstance(original_value, cst.Name):
        return original_value.value in ctx.facts.get("int_tensor_names", set())
    return False


def range_(args, ctx, original):
    """tf.range(start, limit, delta), keras.ops.arange(start, stop, step): torch.arange takes
    (end), (start, end) or (start, end, step), so tf.range(n, delta=d), which counts from 0 to
    n, is torch.arange(0, n, d)."""
    a = Args(args, ctx)
    start, dtype = a.require("start"), a.get("dtype")
    limit = a.get("limit") if "limit" in a else a.get("stop")
    delta = a.get("delta") if "delta" in a else a.get("step")
    subs = {"start": start}
    if limit is None and delta is None:
        text = "torch.arange({start}"
    else:
        text = "torch.arange({start}, {limit}" if limit is not None else "torch.arange(0, {start}"
        if limit is not None:
            subs["limit"] = limit
        if delta is not None:
            text += ", {delta}"
            subs["delta"] = delta
    if dtype is not None:
        text += ", dtype={dtype}"
        subs["dtype"] = dtype
    return ctx.build(text + ")", **subs)


def variable(args, ctx, original):
    a = Args(args, ctx)
    value = a.require("initial_value")
    dtype = a.get("dtype")
    trainable = a.literal("trainable", True) if "trainable" in a else True
    original_value = args.get("initial_value").original.value if args.get("initial_value").original else None
    literal = literal_value(value)[0]
    produced_by_framework = (
        isinstance(original_value, cst.Call)
        and isinstance(original_value.func, (cst.Name, cst.Attribute))
        and framework_of(ctx.resolver.resolve_chain(original_value.func) or "") == ctx.source_framework
    )
    if literal:
        tensor = "torch.tensor({value}" + (", dtype={dtype})" if dtype is not None else ")")
    elif produced_by_framework and dtype is None:
        tensor = "{value}"
    else:
        tensor = "torch.as_tensor({value}" + (", dtype={dtype})" if dtype is not None else ")")
    subs = {"value": value}
    if dtype is not None:
        subs["dtype"] = dtype
    if trainable is False or _is_integer(value, dtype, ctx, original_value):
        if not literal and isinstance(original_value, cst.Name) and dtype is None:
            # tf.Variable copies its initial value
            return ctx.build("{value}.clone()", value=value)
        return ctx.build(tensor, **subs)
    return ctx.build("torch.nn.Parameter(" + tensor + ")", **subs)


def transpose(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("a")
    if "perm" in a:
        return ctx.build("torch.permute({a}, {perm})", a=x, perm=a["perm"])
    return ctx.build("{a}.T", a=x)


def where(args, ctx, original):
    a = Args(args, ctx)
    cond = a.require("condition")
    if "x" in a and "y" in a:
        return ctx.build("torch.where({c}, {x}, {y})", c=cond, x=a["x"], y=a["y"])
    if "x" not in a and "y" not in a:
        return ctx.build("torch.argwhere({c})", c=cond)
    raise Unconvertible("tf.where needs both x and y, or neither")


def one_hot(args, ctx, original):
    a = Args(args, ctx)
    indices, depth = a.require("indices"), a.require("depth")
    on, off = a.literal("on_value", 1), a.literal("off_value", 0)
    axis = a.literal("axis", -1)
    if axis not in (-1, None):
        raise Unconvertible("one_hot with axis other than -1: move the new axis with torch.movedim")
    base = "torch.nn.functional.one_hot({indices}.long(), {depth})"
    if isinstance(indices, (cst.List, cst.Tuple)):
        base = "torch.nn.functional.one_hot(torch.tensor({indices}), {depth})"
    subs = {"indices": indices, "depth": depth}
    if (on, off) != (1, 0):
        base = f"({base} * {on - off!r} + {off!r})"
    if "dtype" in a:
        subs["dtype"] = a["dtype"]
        return ctx.build(base + ".to({dtype})", **subs)
    if isinstance(on, float) or isinstance(off, float) or (on, off) == (1, 0):
        return ctx.build(base + ".float()", **subs)
    return ctx.build(base, **subs)


def split(args, ctx, original):
    a = Args(args, ctx)
    value, splits = a.require("value"), a.require("num_or_size_splits")
    ok, literal = literal_value(splits)
    subs = {"value": value, "splits": splits}
    axis = ""
    if "axis" in a:
        subs["axis"] = a["axis"]
        axis = ", dim={axis}"
    if ok and isinstance(literal, int):
        return ctx.build("torch.chunk({value}, {splits}" + axis + ")", **subs)
    if (ok and isinstance(literal, (list, tuple))) or isinstance(splits, (cst.List, cst.Tuple)):
        # a list written out is the piece sizes, whatever its elements
        return ctx.build("torch.split({value}, {splits}" + axis + ")", **subs)
    # an int (that many pieces) or a list (the sizes), known at run time: a helper tells them apart
    from .training import need_snippet

    need_snippet(ctx, "split_pieces")
    return ctx.build("split_pieces({value}, {splits}" + axis + ")", **subs)


def gather(args, ctx, original):
    a = Args(args, ctx)
    params, indices = a.require("params"), a.require("indices")
    batch_dims = a.literal("batch_dims", 0)
    if batch_dims is None:
        batch_dims = 0
    if not isinstance(batch_dims, int) or isinstance(batch_dims, bool):
        raise Unconvertible("batch_dims must be an integer literal")
    if batch_dims != 0:
        return _gather_batched(a, ctx, params, indices, batch_dims)
    axis = a.literal("axis", 0)
    if axis is None:
        axis = 0
    if not isinstance(axis, int):
        raise Unconvertible("axis must be an integer literal")
    if axis >= 0:
        index = ":, " * axis + "{indices}"
    elif axis == -1:
        index = "..., {indices}"
    else:
        index = "..., {indices}" + ", :" * (-axis - 1)
    return ctx.build("{params}[" + index + "]", params=params, indices=indices)


def _gather_batched(a, ctx, params, indices, batch_dims: int):
    """tf.gather(params, indices, batch_dims=b): for each index of the first b axes,
    params[i] gathered with indices[i]. The helper gather_batched (snippets.py) indexes
    params with aranges over those axes, broadcast against indices."""
    from .training import need_snippet

    axis = a.literal("axis", None)
    if axis is not None and (not isinstance(axis, int) or isinstance(axis, bool)):
        raise Unconvertible("axis must be an integer literal")
    need_snippet(ctx, "gather_batched")
    extra = "" if axis is None else f", axis={axis}"
    return ctx.build(f"gather_batched({{params}}, {{indices}}, batch_dims={batch_dims}{extra})", params=params, indices=indices)


def _index_tuple(ctx, indices) -> cst.BaseExpression:
    """TensorFlow's [..., k] index tensor as the k index tensors PyTorch's indexing takes."""
    if isinstance(indices, (cst.List, cst.Tuple)):
        return ctx.build("tuple(torch.tensor({i}).unbind(-1))", i=indices)
    return ctx.build("tuple({i}.unbind(-1))", i=indices)


def gather_nd(args, ctx, original):
    """tf.gather_nd(params, indices): the last axis of indices holds coordinates into params's
    first axes, so params[tuple(indices.unbind(-1))] (advanced indexing) gathers the same."""
    a = Args(args, ctx)
    if a.literal("batch_dims", 0) not in (0, None):
        raise Unconvertible("batch_dims != 0: gather_nd per batch entry has no direct PyTorch form")
    return ctx.build("{params}[{index}]", params=a.require("params"), index=_index_tuple(ctx, a.require("indices")))


def scatter_nd(args, ctx, original):
    """tf.scatter_nd(indices, updates, shape): zeros of updates's dtype, with updates added at
    the coordinates (duplicates are summed, as TensorFlow does): index_put(accumulate=True)."""
    a = Args(args, ctx)
    updates = a.require("updates")
    if not isinstance(updates, (cst.Name, cst.Attribute)):
        # computed there (wav2vec2's tf.reshape(values, [-1])): a helper reads it once
        from .training import need_snippet

        need_snippet(ctx, "scatter_nd")
        return ctx.build(
            "scatter_nd({indices}, {updates}, {shape})", indices=a.require("indices"), updates=updates, shape=a.require("shape"),
        )
    return ctx.build(
        "{updates}.new_zeros({shape}).index_put({index}, {updates}, accumulate=True)",
        updates=updates, shape=a.require("shape"), index=_index_tuple(ctx, a.require("indices")),
    )


def tensor_scatter_nd_update(args, ctx, original):
    """tf.tensor_scatter_nd_update(tensor, indices, updates) -> tensor.index_put(...): a new tensor,
    the input unchanged, as in TensorFlow (also keras.ops.scatter_update, whose tensor is `inputs`)."""
    a = Args(args, ctx)
    accumulate = ", accumulate=True" if args.rule.data.get("accumulate") else ""
    return ctx.build(
        "{tensor}.index_put({index}, {updates}" + accumulate + ")",
        tensor=a.require(args.rule.data.get("tensor", "tensor")), index=_index_tuple(ctx, a.require("indices")), updates=a.require("updates"),
    )


def boolean_mask(args, ctx, original):
    """tf.boolean_mask(tensor, mask, axis) -> tensor[mask] (after `axis` full slices): a k-D
    boolean index takes k axes and keeps the selected entries, in order, as TensorFlow does."""
    a = Args(args, ctx)
    axis = a.literal("axis", 0)
    if axis is None:
        axis = 0
    if not isinstance(axis, int) or isinstance(axis, bool) or axis < 0:
        raise Unconvertible("axis must be a non-negative integer literal")
    mask = a.require("mask")
    if isinstance(mask, (cst.List, cst.Tuple)):
        mask = ctx.build("torch.tensor({m})", m=mask)
    return ctx.build("{tensor}[" + ":, " * axis + "{mask}]", tensor=a.require("tensor"), mask=mask)


def band_part(args, ctx, original):
    """tf.linalg.band_part(x, num_lower, num_upper): keeps num_lower diagonals below the main one
    and num_upper above (a negative number keeps the whole triangle): torch.tril/torch.triu."""
    a = Args(args, ctx)
    x = a.require("input")
    if not (a.is_literal("num_lower") and a.is_literal("num_upper")):
        # a count known only at run time: tril/triu read a negative one differently, so a
        # small helper builds TensorFlow's band mask
        from .training import need_snippet

        need_snippet(ctx, "band_part")
        return ctx.build("band_part({x}, {lower}, {upper})", x=x, lower=a.require("num_lower"), upper=a.require("num_upper"))
    lower, upper = a.literal("num_lower"), a.literal("num_upper")
    for name, value in (("num_lower", lower), ("num_upper", upper)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise Unconvertible(f"{name} must be an integer")
    if lower < 0 and upper < 0:
        return ctx.build("{x}.clone()", x=x)
    if lower < 0:
        return ctx.build(f"torch.tril({{x}}, {upper})" if upper else "torch.tril({x})", x=x)
    triu = ctx.build(f"torch.triu({{x}}, {-lower})" if lower else "torch.triu({x})", x=x)
    if upper < 0:
        return triu
    return ctx.build(f"torch.tril({{t}}, {upper})" if upper else "torch.tril({t})", t=triu)


def _padding_pairs(node):
    """[(before, after)] nodes of tf.pad's paddings, and whether dimensions in front are
    left as they are: a literal list of pairs, or ``[[0, 0]] * (n) + [pairs]`` (the form
    the PyTorch converter writes for F.pad, whose input rank it does not know)."""
    open_front = False
    if (
        isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add)
        and isinstance(node.left, cst.BinaryOperation) and isinstance(node.left.operator, cst.Multiply)
        and literal_value(node.left.left) == (True, [[0, 0]])
    ):
        open_front = True
        node = node.right
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None, False
    pairs = []
    for element in node.elements:
        pair = element.value
        if isinstance(element, cst.StarredElement) or not isinstance(pair, (cst.List, cst.Tuple)) or len(pair.elements) != 2:
            return None, False
        pairs.append((pair.elements[0].value, pair.elements[1].value))
    return pairs, open_front


def _is_zero(node) -> bool:
    ok, value = literal_value(node)
    return ok and value == 0


def pad(args, ctx, original):
    a = Args(args, ctx)
    tensor = a.require("tensor")
    pairs, _ = _padding_pairs(a.require("paddings"))
    mode = str(a.literal("mode", "CONSTANT")).upper()
    if pairs is None:
        if mode != "CONSTANT":
            raise Unconvertible("paddings must be a list of [before, after] pairs written out (a mode other than CONSTANT)")
        return pad_pairs_call(ctx, tensor, a["paddings"], a.get("constant_values"))
    while pairs and _is_zero(pairs[0][0]) and _is_zero(pairs[0][1]):
        pairs.pop(0)
    subs = {"tensor": tensor}
    flat = []
    for i, (before, after) in enumerate(reversed(pairs)):
        subs[f"b{i}"], subs[f"a{i}"] = before, after
        flat += [f"{{b{i}}}", f"{{a{i}}}"]
    torch_mode = {"CONSTANT": "constant", "REFLECT": "reflect"}.get(mode)
    if torch_mode is None:
        raise Unconvertible(f"padding mode {mode!r} has no torch equivalent (F.pad supports constant, reflect, replicate, circular)")
    text = "torch.nn.functional.pad({tensor}, (" + ", ".join(flat) + ("," if len(flat) == 1 else "") + ")"
    if torch_mode == "reflect":
        text += ", mode='reflect'"
    elif "constant_values" in a and not _is_zero(a["constant_values"]):
        subs["value"] = a["constant_values"]
        text += ", value={value}"
    return ctx.build(text + ")", **subs)


def pad_pairs_call(ctx, x, paddings, value):
    """Constant padding whose (before, after) pairs are known only at run time: the helper
    pad_pairs (snippets.py), which flattens them from the last axis back for F.pad."""
    from .training import need_snippet

    need_snippet(ctx, "pad_pairs")
    if value is None or _is_zero(value):
        return ctx.build("pad_pairs({x}, {paddings})", x=x, paddings=paddings)
    return ctx.build("pad_pairs({x}, {paddings}, value={value})", x=x, paddings=paddings, value=value)


_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact"}


def image_resize(args, ctx, original):
    """tf.image.resize(images, size, method) on (N, H, W, C) -> F.interpolate on (N, C, H, W),
    between two permutes. TensorFlow samples pixel centres: bilinear is PyTorch's bilinear
    with align_corners=False, nearest its 'nearest-exact' (both checked, up and down)."""
    a = Args(args, ctx)
    method = str(a.literal("method", "bilinear")).lower()
    if method not in _RESIZE_MODES:
        raise Unconvertible(f"method {method!r}: PyTorch's kernel differs (only bilinear and nearest convert)")
    if a.literal("antialias", False):
        raise Unconvertible("antialias=True: PyTorch's and TensorFlow's antialiasing kernels differ")
    if a.literal("preserve_aspect_ratio", False):
        raise Unconvertible("preserve_aspect_ratio=True: compute the size first")
    mode = _RESIZE_MODES[method]
    corners = ", align_corners=False" if mode == "bilinear" else ""
    return ctx.build(
        "torch.nn.functional.interpolate({x}.permute(0, 3, 1, 2), size={size}, mode='" + mode + "'" + corners + ").permute(0, 2, 3, 1)",
        x=a.require("images"), size=a.require("size"),
    )


def _direction(a) -> bool:
    direction = str(a.literal("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise Unconvertible(f"unknown direction {direction!r}")
    return direction == "DESCENDING"


def sort(args, ctx, original):
    a = Args(args, ctx)
    subs = {"values": a.require("values"), "axis": a.get("axis") or cst.parse_expression("-1")}
    text = "torch.sort({values}, dim={axis}" + (", descending=True" if _direction(a) else "") + ").values"
    return ctx.build(text, **subs)


def argsort(args, ctx, original):
    a = Args(args, ctx)
    subs = {"values": a.require("values"), "axis": a.get("axis") or cst.parse_expression("-1")}
    text = "torch.argsort({values}, dim={axis}"
    if _direction(a):
        text += ", descending=True"
    if a.literal("stable", False):
        text += ", stable=True"
    return ctx.build(text + ")", **subs)


def matrix_transpose(args, ctx, original):
    a = Args(args, ctx)
    adjoint = a.literal("conjugate", False)
    if not isinstance(adjoint, bool):
        raise Unconvertible("conjugate must be True or False literally")
    return ctx.build("{a}.mH" if adjoint else "{a}.mT", a=a.require("a"))


def meshgrid(args, ctx, original):
    """tf.meshgrid(*tensors, indexing="xy") -> torch.meshgrid(..., indexing="xy"): TensorFlow's
    default is "xy", PyTorch's "ij", so it is written out. Python ranges and lists become
    tensors (torch.meshgrid takes tensors only)."""
    a = Args(args, ctx)
    indexing = a.literal("indexing", "xy")
    if indexing not in ("xy", "ij"):
        raise Unconvertible("indexing must be 'xy' or 'ij'")
    items = []
    node = a.require("args")
    elements = node.elements if isinstance(node, (cst.List, cst.Tuple)) else None
    if elements is None or any(isinstance(e, cst.StarredElement) for e in elements):
        raise Unconvertible("the tensors must be written out as arguments")
    subs = {}
    for i, e in enumerate(elements):
        value = e.value
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "range" and ctx.resolver.resolve_chain(value.func) is None:
            value = value.with_changes(func=ctx.name("torch.arange"))
        elif isinstance(value, (cst.List, cst.Tuple)):
            value = ctx.build("torch.tensor({v})", v=value)
        subs[f"t{i}"] = value
        items.append(f"{{t{i}}}")
    return ctx.build(f"torch.meshgrid({', '.join(items)}, indexing={indexing!r})", **subs)


def sequence_mask(args, ctx, original):
    """tf.sequence_mask(lengths, maxlen, dtype): position j of row i is j < lengths[i]."""
    a = Args(args, ctx)
    lengths = a.require("lengths")
    subs = {"lengths": lengths}
    if "maxlen" in a and code_of(a["maxlen"]).strip() != "None":
        subs["maxlen"] = a["maxlen"]
        text = "torch.arange({maxlen}, device={lengths}.device) < {lengths}.unsqueeze(-1)"
    else:
        text = "torch.arange({lengths}.max(), device={lengths}.device) < {lengths}.unsqueeze(-1)"
    if "dtype" in a and code_of(a["dtype"]).strip() not in ("None", "torch.bool"):
        subs["dtype"] = a["dtype"]
        text = "(" + text + ").to({dtype})"
    return ctx.build(text, **subs)


def signal_frame(args, ctx, original):
    """tf.signal.frame(signal, frame_length, frame_step) along the last axis -> Tensor.unfold:
    both give (..., frames, frame_length), the last incomplete frame dropped."""
    a = Args(args, ctx)
    if a.literal("pad_end", False):
        raise Unconvertible("pad_end=True: pad the signal first (F.pad), then unfold")
    axis = a.literal("axis", -1)
    if axis != -1:
        raise Unconvertible("axis other than -1: TensorFlow puts the frames at that axis, unfold appends the frame axis last")
    return ctx.build(
        "{signal}.unfold(-1, {frame_length}, {frame_step})",
        signal=a.require("signal"), frame_length=a.require("frame_length"), frame_step=a.require("frame_step"),
    )


def keras_image_resize(args, ctx, original):
    """keras.ops.image.resize(images, size, interpolation, ..., data_format) -> F.interpolate.
    Keras's data_format default is channels_last (the keras.json default): images are
    permuted to (N, C, H, W) and back; channels_first needs no permute. Modes as
    tf.image.resize (pixel centres). Only 4-D batches: F.interpolate needs the batch axis."""
    a = Args(args, ctx)
    method = str(a.literal("interpolation", "bilinear")).lower()
    if method not in _RESIZE_MODES:
        raise Unconvertible(f"interpolation {method!r}: PyTorch's kernel differs (only bilinear and nearest convert)")
    if a.literal("antialias", False) is not False:
        raise Unconvertible("antialias must be False literally: PyTorch's and Keras's antialiasing kernels differ")
    for name in ("crop_to_aspect_ratio", "pad_to_aspect_ratio"):
        if a.literal(name, False) is not False:
            raise Unconvertible(f"{name}=True: crop or pad the images first")
    data_format = a.literal("data_format", None)
    if data_format not in (None, "channels_last", "channels_first"):
        raise Unconvertible("data_format must be 'channels_last' or 'channels_first' literally")
    mode = _RESIZE_MODES[method]
    corners = ", align_corners=False" if mode == "bilinear" else ""
    call = "torch.nn.functional.interpolate({x}, size={size}, mode='" + mode + "'" + corners + ")"
    if data_format == "channels_first":
        return ctx.build(call, x=a.require("images"), size=a.require("size"))
    call = call.replace("{x}", "{x}.permute(0, 3, 1, 2)", 1) + ".permute(0, 2, 3, 1)"
    return ctx.build(call, x=a.require("images"), size=a.require("size"))


def dtype_limit(rule, ctx, original, stack):
    """tf.float32.min (a number, not called) -> torch.finfo(torch.float32).min; integer
    dtypes read torch.iinfo. The same numbers: both are the dtype's finite extremes."""
    dtype_name, limit = rule.source.rsplit(".", 1)
    dtype = ctx.ruleset.lookup(dtype_name).target
    info = "torch.iinfo" if "int" in dtype else "torch.finfo"
    return ctx.build(f"{info}({dtype}).{limit}")


def dtype_limit_call(args, ctx, original):
    raise Unconvertible("a dtype's min/max is a number; it is not called")


def as_dtype(args, ctx, original):
    """tf.dtypes.as_dtype of a dtype or a dtype's name written out: that torch dtype. A value
    known only at run time may be a string or a NumPy dtype, which torch does not take."""
    bound = args.get("type_value")
    value = bound.original.value if bound is not None and bound.original is not None else None
    if isinstance(value, cst.SimpleString) or (
        isinstance(value, (cst.Name, cst.Attribute)) and _dtype_rule(ctx, value) is not None
    ):
        return Args(args, ctx).require("type_value")
    raise Unconvertible(
        "as_dtype of a value known only at run time (a dtype, its name or a NumPy dtype): torch has no such"
        " function; where it is a torch dtype already, use it as it is (torch.finfo(dtype).min for its smallest value)"
    )


def _dtype_rule(ctx, node):
    qual = ctx.resolver.resolve_chain(node)
    rule = ctx.ruleset.lookup(qual) if qual else None
    return rule if rule is not None and (rule.target or "").startswith("torch.") and rule.target[6:] in _TORCH_DTYPES else None


_TORCH_DTYPES = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "complex64", "complex128"}


def dtype_info_attr(args, ctx, original):
    """as_dtype(...).min / .max on a dtype the conversion wrote out: torch.finfo / torch.iinfo."""
    a = Args(args, ctx)
    dtype = a.require("self")
    name = code_of(dtype).strip().rsplit(".", 1)[-1]
    if isinstance(dtype, cst.Call):
        raise Deferred()  # as_dtype left as it was: its finding says what to write
    if name not in _TORCH_DTYPES or name in ("bool", "complex64", "complex128"):
        raise Unconvertible("the dtype is known only at run time: torch.finfo(dtype) for a float dtype, torch.iinfo for an integer one")
    info = "torch.iinfo" if "int" in name else "torch.finfo"
    return ctx.build(info + "({d})." + args.rule.source.rsplit(".", 1)[-1], d=dtype)


def image_resize_v1(args, ctx, original):
    """tf.compat.v1.image.resize: bilinear with align_corners=True maps the corner pixels onto
    each other, as F.interpolate's align_corners=True does. Its default (align_corners=False)
    samples without TensorFlow 2's half-pixel centres, which no F.interpolate mode does."""
    a = Args(args, ctx)
    method = str(a.literal("method", "bilinear")).lower()
    corners = a.literal("align_corners", False)
    if method != "bilinear" or corners is not True:
        raise Unconvertible(
            "only method='bilinear' with align_corners=True converts (F.interpolate(..., align_corners=True));"
            " TensorFlow 1's other resizes sample without half-pixel centres, which PyTorch has no mode for"
        )
    if a.literal("preserve_aspect_ratio", False):
        raise Unconvertible("preserve_aspect_ratio=True: compute the size first")
    return ctx.build(
        "torch.nn.functional.interpolate({x}.permute(0, 3, 1, 2), size={size}, mode='bilinear', align_corners=True).permute(0, 2, 3, 1)",
        x=a.require("images"), size=a.require("size"),
    )


def ensure_shape(args, ctx, original):
    """tf.ensure_shape(x, shape): x, after a run-time check of its shape (None matches any
    size), kept by a small helper rather than dropped: the check is what the call does."""
    from .training import need_snippet

    a = Args(args, ctx)
    need_snippet(ctx, "ensure_shape")
    return ctx.build("ensure_shape({x}, {shape})", x=a.require("x"), shape=a.require("shape"))


SHAPE_APIS = {"tensorflow.shape", "keras.ops.shape"}


def _shape_part(ctx, node) -> bool:
    """``tf.shape(x)``, ``tf.shape(x)[:2]`` or a written-out list of ints: a part of a shape."""
    if isinstance(node, (cst.List, cst.Tuple)):
        ok, value = literal_value(node)
        return ok and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
        node = node.value
    return (
        isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute))
        and canonical(ctx.resolver.resolve_chain(node.func) or "") in SHAPE_APIS
    )


def concat(args, ctx, original):
    """tf.concat(values, axis) -> torch.cat(values, dim=axis); a new shape put together from
    shapes (``tf.concat([tf.shape(x)[:2], [-1]], axis=0)``, for a reshape) is a tuple of ints in
    PyTorch, where tf.shape(x) is x.shape (a torch.Size): ``(*x.shape[:2], -1)``."""
    a = Args(args, ctx)
    values = a.require("values")
    given = args.get("values").original.value if args.get("values").original is not None else None
    axis = a.literal("axis", None) if a.is_literal("axis") else "computed"
    if (
        isinstance(given, (cst.List, cst.Tuple)) and given.elements and axis in (0, -1)
        and isinstance(values, (cst.List, cst.Tuple)) and len(values.elements) == len(given.elements)
        and all(not isinstance(e, cst.StarredElement) and _shape_part(ctx, e.value) for e in given.elements)
    ):
        parts, subs = [], {}
        for i, (source, element) in enumerate(zip(given.elements, values.elements)):
            if isinstance(source.value, (cst.List, cst.Tuple)):
                parts.extend(repr(v) for v in literal_value(source.value)[1])
            else:
                subs[f"p{i}"] = element.value
                parts.append(f"*{{p{i}}}")
        return ctx.build("(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")", **subs)
    if "axis" not in a:
        return ctx.build("torch.cat({values})", values=values)
    positional = any(arg.keyword is None for arg in original.args[1:2])  # tf.concat(values, -1): torch.cat(values, -1)
    return ctx.build("torch.cat({values}, " + ("{axis})" if positional else "dim={axis})"), values=values, axis=a["axis"])

