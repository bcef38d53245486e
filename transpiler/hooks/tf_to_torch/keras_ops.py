"""Hooks for Keras 3 ``keras.ops`` / ``keras.random`` (rules/tf_to_torch/keras_ops.toml).

Keras ops follow NumPy: ``axis=None`` means every axis (or the flattened tensor),
``split`` takes section counts or split *indices*, ``pad`` takes (before, after)
pairs from the first axis on. Each hook writes the PyTorch form that computes
the same values, or raises Unconvertible where none does.
"""

from __future__ import annotations

import libcst as cst

from ...engine.build import is_simple, parenthesize
from .._util import Args, Unconvertible, code_of, literal_value
from .data_format import bound_names


def _number(node: cst.BaseExpression) -> bool:
    """A numeric literal (``0.0``, ``-1e9``, ``2``), not a bool."""
    ok, value = literal_value(node)
    return ok and isinstance(value, (int, float)) and not isinstance(value, bool)


def _none(a: Args, name: str) -> bool:
    """The argument is absent or written as ``None``."""
    return name not in a or code_of(a[name]).strip() == "None"


def _literal_sequence(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.List, cst.Tuple))


def _elements(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    return [e.value for e in node.elements if isinstance(e, cst.Element)]


def _pure(node: cst.BaseExpression) -> bool:
    """Names, attributes, numbers and arithmetic of them: writing one twice computes nothing twice that matters."""
    if is_simple(node):
        return True
    if isinstance(node, cst.UnaryOperation):
        return _pure(node.expression)
    if isinstance(node, cst.BinaryOperation):
        return _pure(node.left) and _pure(node.right)
    return False


def _int_or_none(node: cst.BaseExpression):
    ok, value = literal_value(node)
    if ok and isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


# -- shapes ------------------------------------------------------------------


def cast(args, ctx, original):
    a = Args(args, ctx)
    x, dtype = a.require("x"), a.require("dtype")
    if literal_value(x)[0] or _literal_sequence(x) or _python_number(x):
        # a Python number or list (x.shape[-1] included): Keras makes a tensor of it
        return ctx.build("torch.tensor({x}, dtype={dtype})", x=x, dtype=dtype)
    bound = args.get("x")
    original_x = bound.original.value if bound is not None and bound.original is not None else None
    from .._util import known_tensor

    if original_x is not None and not known_tensor(ctx, original_x, original):
        # not known to be a tensor (1 / self.max_wavelength, a size read from a shape): maybe a
        # Python number, which has no .to(); torch.as_tensor takes both, as Keras does (tf.cast too)
        return ctx.build("torch.as_tensor({x}, dtype={dtype})", x=x, dtype=dtype)
    return ctx.build("{x}.to({dtype})", x=x, dtype=dtype)


def expand_dims(args, ctx, original):
    a = Args(args, ctx)
    x, axis = a.require("x"), a.require("axis")
    if not _literal_sequence(axis):
        return ctx.build("torch.unsqueeze({x}, {axis})", x=x, axis=axis)
    # several new axes: a subscript with None at each (x[:, None, None])
    axes = [_int_or_none(v) for v in _elements(axis)]
    if not axes or None in axes or len(set(axes)) != len(axes):
        raise Unconvertible("several new axes at once: give them as distinct integer literals")
    if all(v >= 0 for v in axes):
        parts = ["None" if p in axes else ":" for p in range(max(axes) + 1)]
    elif all(v < 0 for v in axes):
        parts = ["..."] + ["None" if p in axes else ":" for p in range(min(axes), 0)]
    else:
        raise Unconvertible("new axes counted from both ends: the result's rank is needed to place them")
    return ctx.build("{x}[" + ", ".join(parts) + "]", x=x)


def transpose(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("x")
    if _none(a, "axes"):
        # NumPy/Keras reverse every axis; so does Tensor.T (exact for any rank;
        # PyTorch warns that .T on other than 2-D tensors is deprecated)
        return ctx.build("{x}.T", x=x)
    return ctx.build("torch.permute({x}, {axes})", x=x, axes=a["axes"])


def squeeze(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("x")
    if _none(a, "axis"):
        return ctx.build("torch.squeeze({x})", x=x)
    return ctx.build("torch.squeeze({x}, {axis})", x=x, axis=a["axis"])


def _bound_sequence(ctx, node, call) -> cst.BaseExpression | None:
    """``start`` where every binding of it that reaches this call is one list or tuple display of
    names and numbers (``start = (cache_update_index, 0)``): that display, which means the same
    here (its names are not rebound in between: the bindings are those that reach the call)."""
    if not isinstance(node, cst.Name) or ctx.types is None:
        return None
    anchor = call.func
    while isinstance(anchor, cst.Attribute):
        anchor = anchor.value
    hit = ctx.resolver.hit_of.get(id(anchor))
    found = ctx.types.bindings(node, ctx.resolver.chain_of(hit.stack)) if hit is not None else None
    if not found or len(found) != 1 or found[0][0] != "value":
        return None
    value = found[0][1]
    if not (_literal_sequence(value) and all(isinstance(e, cst.Element) and isinstance(e.value, (cst.Name, cst.Integer)) for e in value.elements)):
        return None
    # its names must mean at the call what they meant there: none is assigned in the function
    function = next((n for n in reversed(hit.stack) if isinstance(n, cst.FunctionDef)), None)
    names = {e.value.value for e in value.elements if isinstance(e.value, cst.Name)}
    if function is None or names & bound_names(function.body, nested=True):
        return None
    return value


def slice(args, ctx, original):  # noqa: A001 - the Keras name
    a = Args(args, ctx)
    x, starts, sizes = a.require("inputs"), a.require("start_indices"), a.require("shape")
    starts = _bound_sequence(ctx, starts, original) or starts
    sizes = _bound_sequence(ctx, sizes, original) or sizes
    if _literal_sequence(starts) and not _literal_sequence(sizes) and is_simple(sizes):
        # ops.slice(cache, start, ops.shape(update)): one size per start index, read from it
        sizes = cst.Tuple([cst.Element(cst.Subscript(sizes.deep_clone(), [cst.SubscriptElement(cst.Index(cst.Integer(str(i))))]))
                           for i in range(len(starts.elements))])
    if not (_literal_sequence(starts) and _literal_sequence(sizes)):
        raise Unconvertible("start_indices and shape must be written out as lists, one entry per axis, to become a subscript")
    starts, sizes = _elements(starts), _elements(sizes)
    if len(starts) != len(sizes) or not starts:
        raise Unconvertible("start_indices and shape must have one entry per axis")
    parts: list[str] = []
    subs: dict[str, cst.BaseExpression] = {"x": x}
    for i, (start, size) in enumerate(zip(starts, sizes)):
        s, n = _int_or_none(start), _int_or_none(size)
        if n == -1:  # tf.slice: everything from start on
            parts.append(":" if s == 0 else f"{{s{i}}}:")
        elif s == 0:
            parts.append(f":{{n{i}}}")
        elif s is not None and n is not None:
            parts.append(f"{s}:{s + n}")
        else:
            if not _pure(start):
                raise Unconvertible(f"start index {code_of(start).strip()!r} would be computed twice (start:start + size); name it first")
            parts.append(f"{{s{i}}}:{{e{i}}}")
            # start + size; the start is pure, so writing it twice computes the same value
            subs[f"e{i}"] = cst.BinaryOperation(
                left=start.deep_clone(), operator=cst.Add(), right=parenthesize(size)
            )
        subs[f"s{i}"] = start
        subs[f"n{i}"] = size
    while len(parts) > 1 and parts[-1] == ":":
        parts.pop()
    text = "{x}[" + ", ".join(parts) + "]"
    used = {k: v for k, v in subs.items() if "{" + k + "}" in text}
    return ctx.build(text, **used)


def split(args, ctx, original):
    a = Args(args, ctx)
    x, sections = a.require("x"), a.require("indices_or_sections")
    subs = {"x": x, "sections": sections}
    dim = ""
    if "axis" in a:
        subs["axis"] = a["axis"]
        dim = ", dim={axis}"
    if _int_or_none(sections) is not None:
        # equal sections (Keras fails when they are not): torch.chunk
        return ctx.build("torch.chunk({x}, {sections}" + dim + ")", **subs)
    # split *indices* (NumPy), or a count known only at run time: tensor_split takes both
    return ctx.build("torch.tensor_split({x}, {sections}" + dim + ")", **subs)


def tile(args, ctx, original):
    a = Args(args, ctx)
    x, repeats = a.require("x"), a.require("repeats")
    if _int_or_none(repeats) is not None:
        return ctx.build("torch.tile({x}, ({repeats},))", x=x, repeats=repeats)
    return ctx.build("torch.tile({x}, {repeats})", x=x, repeats=repeats)


def flip(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("x")
    if _none(a, "axis"):
        if not is_simple(x):
            raise Unconvertible("flip over every axis: name the tensor first (torch.flip(x, tuple(range(x.ndim))))")
        return ctx.build("torch.flip({x}, tuple(range({x}.ndim)))", x=x)
    axis = a["axis"]
    if _int_or_none(axis) is not None:
        return ctx.build("torch.flip({x}, ({axis},))", x=x, axis=axis)
    return ctx.build("torch.flip({x}, {axis})", x=x, axis=axis)


def take(args, ctx, original):
    a = Args(args, ctx)
    x, indices = a.require("x"), a.require("indices")
    if _none(a, "axis"):
        # NumPy take without axis indexes the flattened tensor
        if _literal_sequence(indices):
            indices = ctx.build("torch.tensor({i})", i=indices)
        return ctx.build("torch.take({x}, {i})", x=x, i=indices)
    axis = _int_or_none(a["axis"])
    if axis is None:
        raise Unconvertible("axis must be an integer literal to become a subscript")
    if axis >= 0:
        index = ":, " * axis + "{i}"
    else:
        index = "..., {i}" + ", :" * (-axis - 1)
    return ctx.build("{x}[" + index + "]", x=x, i=indices)


def pad(args, ctx, original):
    a = Args(args, ctx)
    x, widths = a.require("x"), a.require("pad_width")
    mode = a.literal("mode", "constant")
    if mode != "constant":
        raise Unconvertible(
            f"mode {mode!r}: F.pad's reflect/replicate/circular modes pad only the last 1-3 axes of a batched tensor; convert by hand"
        )
    if not _literal_sequence(widths) and not literal_value(widths)[0]:
        # pairs known at run time: a helper that checks there is one per axis
        from .tensors import pad_pairs_call

        return pad_pairs_call(ctx, x, widths, None if _none(a, "constant_values") else a["constant_values"])
    if not _literal_sequence(widths) or not all(_literal_sequence(p) and len(_elements(p)) == 2 for p in _elements(widths)):
        raise Unconvertible("pad_width must be written out as (before, after) pairs, one per axis")
    pairs = [_elements(p) for p in _elements(widths)]
    while pairs and all(_int_or_none(v) == 0 for v in pairs[0]):
        pairs.pop(0)  # F.pad pads from the last axis; leading unpadded axes need no entry
    subs: dict[str, cst.BaseExpression] = {"x": x}
    flat: list[str] = []
    for i, (before, after) in enumerate(reversed(pairs)):
        subs[f"b{i}"], subs[f"a{i}"] = before, after
        flat += [f"{{b{i}}}", f"{{a{i}}}"]
    if not flat:
        return ctx.build("{x}", x=x)
    text = "torch.nn.functional.pad({x}, (" + ", ".join(flat) + ")"
    if not _none(a, "constant_values"):
        value = a["constant_values"]
        if _number(value) and literal_value(value)[1] == 0:
            return ctx.build(text + ")", **subs)
        subs["value"] = value
        text += ", value={value}"
    return ctx.build(text + ")", **subs)


# -- math and reductions -----------------------------------------------------


def _cumulative(func: str, args, ctx):
    a = Args(args, ctx)
    subs = {"x": a.require("x")}
    extra = ""
    if not _none(a, "dtype"):
        subs["dtype"] = a["dtype"]
        extra = ", dtype={dtype}"
    if _none(a, "axis"):
        # NumPy: without an axis, over the flattened tensor
        return ctx.build(func + "({x}.flatten(), dim=0" + extra + ")", **subs)
    subs["axis"] = a["axis"]
    return ctx.build(func + "({x}, dim={axis}" + extra + ")", **subs)


def cumsum(args, ctx, original):
    return _cumulative("torch.cumsum", args, ctx)


def cumprod(args, ctx, original):
    return _cumulative("torch.cumprod", args, ctx)


_INT_METHODS = {"numel", "dim", "size"}
_INT_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Modulo)


def _python_number(node: cst.BaseExpression) -> bool:
    """An expression that is a Python number in PyTorch code: a literal, a shape entry
    (x.shape[0], once keras.ops.shape is converted), len(), x.ndim, x.size(0), and
    integer arithmetic of those."""
    if _number(node):
        return True
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return _python_number(node.expression)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, _INT_OPERATORS):
        return _python_number(node.left) and _python_number(node.right)
    if isinstance(node, cst.Subscript):
        return (
            isinstance(node.value, cst.Attribute)
            and node.value.attr.value == "shape"
            and len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
        )
    if isinstance(node, cst.Attribute):
        return node.attr.value == "ndim"
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Name):
            return func.value == "len"
        return isinstance(func, cst.Attribute) and func.attr.value in _INT_METHODS and (func.attr.value != "size" or bool(node.args))
    return False


def _bound(func: str, clamp: str, args, ctx):
    a = Args(args, ctx)
    x1, x2 = a.require("x1"), a.require("x2")
    if _python_number(x1) and _python_number(x2):
        # shape arithmetic: Python numbers in PyTorch, so Python's max/min
        return ctx.build(("max" if clamp == "min" else "min") + "({x1}, {x2})", x1=x1, x2=x2)
    # torch.maximum needs two tensors; a number bound is torch.clamp's
    if _python_number(x2):
        return ctx.build("torch.clamp({x}, " + clamp + "={b})", x=x1, b=x2)
    if _python_number(x1):
        return ctx.build("torch.clamp({x}, " + clamp + "={b})", x=x2, b=x1)
    return ctx.build(func + "({x1}, {x2})", x1=x1, x2=x2)


def maximum(args, ctx, original):
    return _bound("torch.maximum", "min", args, ctx)


def minimum(args, ctx, original):
    return _bound("torch.minimum", "max", args, ctx)


def compare(args, ctx, original):
    a = Args(args, ctx)
    x1, x2 = a.require("x1"), a.require("x2")
    if _python_number(x1):
        # torch.eq(0, x) and torch.eq(n, 0) fail on the Python number: the operator takes both
        return ctx.build("{x1} " + args.rule.data["operator"] + " {x2}", x1=x1, x2=x2)
    if isinstance(x1, (cst.List, cst.Tuple)):
        x1 = ctx.build("torch.tensor({x})", x=x1)
    if isinstance(x2, (cst.List, cst.Tuple)):
        x2 = ctx.build("torch.tensor({x})", x=x2)
    return ctx.build(args.rule.data["target"] + "({x1}, {x2})", x1=x1, x2=x2)


def prod(args, ctx, original):
    a = Args(args, ctx)
    subs = {"x": a.require("x")}
    extra = ""
    if not _none(a, "dtype"):
        subs["dtype"] = a["dtype"]
        extra = ", dtype={dtype}"
    if _none(a, "axis"):
        if a.literal("keepdims", False):
            raise Unconvertible("prod over every axis with keepdims=True: torch.prod reduces one axis at a time")
        return ctx.build("torch.prod({x}" + extra + ")", **subs)
    axis = a["axis"]
    if _literal_sequence(axis):
        items = _elements(axis)
        if len(items) != 1:
            raise Unconvertible("torch.prod reduces one axis at a time; reduce each axis in turn")
        axis = items[0]
    subs["axis"] = axis
    if "keepdims" in a:
        subs["keepdims"] = a["keepdims"]
        extra = ", keepdim={keepdims}" + extra
    return ctx.build("torch.prod({x}, {axis}" + extra + ")", **subs)


def logsumexp(args, ctx, original):
    a = Args(args, ctx)
    subs = {"x": a.require("x")}
    if _none(a, "axis"):
        if a.literal("keepdims", False):
            raise Unconvertible("logsumexp over every axis with keepdims=True: give the axes")
        return ctx.build("torch.logsumexp({x}.flatten(), dim=0)", **subs)
    subs["axis"] = a["axis"]
    text = "torch.logsumexp({x}, dim={axis}"
    if "keepdims" in a:
        subs["keepdims"] = a["keepdims"]
        text += ", keepdim={keepdims}"
    return ctx.build(text + ")", **subs)


# -- creation ----------------------------------------------------------------


def full(args, ctx, original):
    a = Args(args, ctx)
    subs = {"shape": a.require("shape"), "value": a.require("fill_value")}
    if not _none(a, "dtype"):
        subs["dtype"] = a["dtype"]
        return ctx.build("torch.full({shape}, {value}, dtype={dtype})", **subs)
    ok, value = literal_value(subs["value"])
    if ok and isinstance(value, float):
        return ctx.build("torch.full({shape}, {value})", **subs)
    # Keras fills with floatx (float32) whatever the value; torch.full would take an int's int64
    return ctx.build("torch.full({shape}, {value}, dtype=torch.float32)", **subs)


def one_hot(args, ctx, original):
    a = Args(args, ctx)
    x, depth = a.require("x"), a.require("num_classes")
    if a.literal("axis", -1) not in (-1, None):
        raise Unconvertible("one_hot with axis other than -1: move the new axis with torch.movedim")
    if a.literal("sparse", False):
        raise Unconvertible("sparse one-hot tensors have no direct PyTorch equivalent")
    if _literal_sequence(x):
        base = "torch.nn.functional.one_hot(torch.tensor({x}), {depth})"
    else:
        base = "torch.nn.functional.one_hot({x}.long(), {depth})"
    subs = {"x": x, "depth": depth}
    if not _none(a, "dtype"):
        subs["dtype"] = a["dtype"]
        return ctx.build(base + ".to({dtype})", **subs)
    return ctx.build(base + ".float()", **subs)


# -- keras.random --------------------------------------------------------------


def randint(args, ctx, original):
    a = Args(args, ctx)
    subs = {"shape": a.require("shape"), "low": a.require("minval"), "high": a.require("maxval")}
    if not _none(a, "dtype"):
        subs["dtype"] = a["dtype"]
        return ctx.build("torch.randint({low}, {high}, {shape}, dtype={dtype})", **subs)
    # Keras draws int32 by default; torch.randint would give int64
    return ctx.build("torch.randint({low}, {high}, {shape}, dtype=torch.int32)", **subs)


def array(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("x")
    # a literal is written out as one (torch.tensor); anything else is converted without a copy, as Keras does
    ok, _ = literal_value(x)
    func = "torch.tensor" if ok or _literal_sequence(x) else "torch.as_tensor"
    if not _none(a, "dtype"):
        return ctx.build(func + "({x}, dtype={dtype})", x=x, dtype=a["dtype"])
    return ctx.build(func + "({x})", x=x)


def meshgrid(args, ctx, original):
    a = Args(args, ctx)
    tensors = a.require("x")
    items = _elements(tensors) if isinstance(tensors, cst.List) else [tensors]
    subs: dict[str, cst.BaseExpression] = {f"t{i}": v for i, v in enumerate(items)}
    subs["indexing"] = a.get("indexing") or cst.parse_expression('"xy"')
    names = ", ".join("{" + k + "}" for k in subs if k != "indexing")
    return ctx.build("torch.meshgrid(" + names + ", indexing={indexing})", **subs)


def _branch(fn: cst.BaseExpression, ctx) -> cst.BaseExpression:
    """What calling a branch gives: a lambda's body, else fn()."""
    params = fn.params if isinstance(fn, cst.Lambda) else None
    if params is not None and not (
        params.params or params.posonly_params or params.kwonly_params
        or isinstance(params.star_arg, cst.Param) or params.star_kwarg is not None
    ):
        return _guard(fn.body)
    return ctx.build("{fn}()", fn=fn)


def _guard(node: cst.BaseExpression) -> cst.BaseExpression:
    """Parentheses for what cannot stand unparenthesised in a conditional expression."""
    if isinstance(node, (cst.IfExp, cst.Lambda, cst.NamedExpr)) and not node.lpar:
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node


def cond(args, ctx, original):
    a = Args(args, ctx)
    pred = _guard(a.require("pred"))
    yes, no = _branch(a.require("true_fn"), ctx), _branch(a.require("false_fn"), ctx)
    return ctx.build("{yes} if {pred} else {no}", yes=yes, pred=pred, no=no)


def dot_product_attention(args, ctx, original):
    """keras.ops.dot_product_attention on (batch, seq, heads, dim) -> F.scaled_dot_product_attention
    on (batch, heads, seq, dim), between transposes."""
    a = Args(args, ctx)
    if not _none(a, "attn_logits_soft_cap"):
        raise Unconvertible("attn_logits_soft_cap: F.scaled_dot_product_attention has no logit soft cap; write the attention out")
    bias = None if _none(a, "bias") else a["bias"]
    mask = None if _none(a, "mask") else a["mask"]
    if bias is not None and mask is not None:
        raise Unconvertible(
            "a bias and a mask together: F.scaled_dot_product_attention takes one attn_mask"
            " (combine them: bias.masked_fill(~mask, float('-inf')))"
        )
    causal = a.literal("is_causal", False)
    if not isinstance(causal, bool):
        raise Unconvertible("is_causal must be True or False")
    subs = {k: a.require(k) for k in ("query", "key", "value")}
    text = "torch.nn.functional.scaled_dot_product_attention({query}.transpose(1, 2), {key}.transpose(1, 2), {value}.transpose(1, 2)"
    if bias is not None or mask is not None:
        if causal:
            raise Unconvertible("is_causal=True with a mask: F.scaled_dot_product_attention takes one of them (fold the causal mask into it)")
        subs["attn_mask"] = bias if bias is not None else mask
        text += ", attn_mask={attn_mask}"
    if causal:
        text += ", is_causal=True"
    if not _none(a, "scale"):
        subs["scale"] = a["scale"]
        text += ", scale={scale}"
    ctx.warn(
        original, "keras.ops.dot_product_attention",
        "a fully masked query row gives zeros where Keras gives the mean of the values; key and value"
        " with fewer heads than the query (grouped attention) need enable_gqa=True",
    )
    return ctx.build(text + ").transpose(1, 2)", **subs)


# -- keras.layers merge functions ----------------------------------------------

# keras.layers.add([a, b]) and friends outside a functional model (where the graph
# converter takes them): Keras folds the list with the op, left to right
_MERGE_OPS = {
    "keras.layers.add": "{a} + {b}",
    "keras.layers.subtract": "{a} - {b}",
    "keras.layers.multiply": "{a} * {b}",
    "keras.layers.maximum": "torch.maximum({a}, {b})",
    "keras.layers.minimum": "torch.minimum({a}, {b})",
    "keras.layers.average": "{a} + {b}",
}


def merge_function(args, ctx, original):
    """keras.layers.add([a, b, c]) -> a + b + c: element by element, so the same whatever
    the layout the tensors are held in; the list must be written out."""
    a = Args(args, ctx)
    inputs = a.require("inputs")
    if not _literal_sequence(inputs) or any(isinstance(e, cst.StarredElement) for e in inputs.elements):
        raise Unconvertible("the inputs are not a list written out: write the op between them by hand (a + b)")
    tensors = _elements(inputs)
    source = args.rule.source
    if source == "keras.layers.subtract" and len(tensors) != 2:
        raise Unconvertible(f"keras.layers.subtract of {len(tensors)} tensors (Keras takes exactly two)")
    if len(tensors) < 2:
        raise Unconvertible("a merge of fewer than two tensors (Keras 2 rejects it, Keras 3 passes one tensor on): write it by hand")
    code = "{t0}"
    for i in range(1, len(tensors)):
        code = _MERGE_OPS[source].format(a=code, b="{t%d}" % i)
    if source == "keras.layers.average":
        code = f"({code}) / {len(tensors)}"
    return ctx.build(code, **{f"t{i}": t for i, t in enumerate(tensors)})


def crossentropy(args, ctx, original):
    """keras.ops.*_crossentropy: the loss of each element (binary) or each sample (sparse), no
    reduction; the rule's data holds the form for logits and, where it is exact, for
    probabilities."""
    a = Args(args, ctx)
    key = "logits" if a.literal("from_logits", False) else "probabilities"
    if key not in args.rule.data:
        raise Unconvertible(
            "from_logits=False: Keras clips the probabilities and takes their log as logits; pass logits (from_logits=True) or write it by hand"
        )
    if a.literal("axis", -1) != -1:
        raise Unconvertible("a class axis other than the last: move it last first")
    return ctx.build(args.rule.data[key], target=a.require("target"), output=a.require("output"))


def map_(args, ctx, original):
    """keras.ops.map(f, xs) -> torch.stack([f(x) for x in xs]): f on each slice along the first
    axis; a tuple of tensors written out gives f a tuple of slices (zip), as Keras does."""
    from .._util import known_tensor
    from .training import _free_name

    a = Args(args, ctx)
    f, xs = a.require("f"), a.require("xs")
    bound = args.get("xs")
    original_xs = bound.original.value if bound is not None and bound.original is not None else None
    if isinstance(xs, cst.Tuple) and not any(isinstance(e, cst.StarredElement) for e in xs.elements):
        items = ctx.build("zip(" + ", ".join("{x%d}" % i for i in range(len(xs.elements))) + ")",
                          **{f"x{i}": e for i, e in enumerate(_elements(xs))})
    elif original_xs is not None and known_tensor(ctx, original_xs, original):
        items = xs
    else:
        raise Unconvertible("xs is not known to be a tensor or a tuple of tensors written out (Keras also maps over lists and dicts of them)")
    element = _free_name(ctx, "element")
    ctx.warn(original, "keras.ops.map", "f must give one tensor per element: Keras also stacks the tensors of a tuple or dict f returns, torch.stack does not")
    return ctx.build("torch.stack([{f}(" + element + ") for " + element + " in {items}])", f=f, items=items)


def fft(args, ctx, original):
    """keras.ops.fft((real, imag)) -> the (real, imag) pair of torch.fft.fft on the complex tensor."""
    a = Args(args, ctx)
    x = a.require("x")
    function = args.rule.data["function"]
    if isinstance(x, (cst.Tuple, cst.List)) and len(x.elements) == 2 and not any(isinstance(e, cst.StarredElement) for e in x.elements):
        real, imag = _elements(x)
        return ctx.build(f"torch.view_as_real({function}(torch.complex({{real}}, {{imag}}))).unbind(-1)", real=real, imag=imag)
    return ctx.build(f"torch.view_as_real({function}(torch.complex(*{{x}}))).unbind(-1)", x=x)
