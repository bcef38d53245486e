"""Hooks for math functions (rules/tf_to_torch/math.toml)."""

from __future__ import annotations

import libcst as cst

from .._util import Args, Unconvertible, literal_value
from ...engine.build import code_of


def matmul(args, ctx, original):
    a = Args(args, ctx)
    left, right = a.require("a"), a.require("b")
    def side(x, t, adj):
        if a.literal(t, False):
            return ctx.build("{x}.mT", x=x)
        if a.literal(adj, False):
            return ctx.build("{x}.mH", x=x)
        return x
    return ctx.build(
        "torch.matmul({a}, {b})",
        a=side(left, "transpose_a", "adjoint_a"),
        b=side(right, "transpose_b", "adjoint_b"),
    )


def _keepdim(a, text, subs):
    if "keepdims" in a:
        subs["keepdims"] = a["keepdims"]
        return text + ", keepdim={keepdims}"
    return text


def reduce_prod(args, ctx, original):
    a = Args(args, ctx)
    subs = {"x": a.require("input_tensor")}
    if "axis" not in a:
        if a.literal("keepdims", False):
            raise Unconvertible("reduce_prod over all axes with keepdims=True")
        return ctx.build("torch.prod({x})", **subs)
    ok, axis = literal_value(a["axis"])
    if ok and isinstance(axis, (list, tuple)):
        if len(axis) != 1:
            raise Unconvertible("torch.prod reduces one dimension at a time; reduce each axis in turn")
        subs["axis"] = cst.parse_expression(str(axis[0]))
    else:
        subs["axis"] = a["axis"]
    return ctx.build(_keepdim(a, "torch.prod({x}, {axis}", subs) + ")", **subs)


def reduce_logsumexp(args, ctx, original):
    a = Args(args, ctx)
    subs = {"x": a.require("input_tensor")}
    if "axis" not in a:
        if a.literal("keepdims", False):
            raise Unconvertible("reduce_logsumexp over all axes with keepdims=True")
        return ctx.build("torch.logsumexp({x}.reshape(-1), dim=0)", **subs)
    subs["axis"] = a["axis"]
    return ctx.build(_keepdim(a, "torch.logsumexp({x}, dim={axis}", subs) + ")", **subs)


def norm(args, ctx, original):
    """tf.norm: a vector norm unless axis is a pair (then a matrix norm), over every value for
    axis=None. 'euclidean' (and 'fro') is torch.linalg.norm's default for one axis, a pair and
    no axis alike; a numeric ord is a vector norm (torch.linalg.vector_norm, which flattens for
    dim=None where torch.linalg.norm would take a 2-D input's matrix norm) where the axis is
    known to be one axis or none."""
    a = Args(args, ctx)
    order = a.literal("ord", "euclidean")
    axis = a.get("axis")
    subs = {"x": a.require("tensor")}
    if axis is not None:
        subs["axis"] = axis
    dim = ", dim={axis}" if axis is not None else ""
    if order in ("euclidean", "fro"):
        if order == "fro" and not isinstance(axis, (cst.Tuple, cst.List)):
            raise Unconvertible("ord='fro' needs the two axes written out (axis=[-2, -1])")
        text = "torch.linalg.norm({x}" + (", ord='fro'" if order == "fro" else "") + dim
    elif isinstance(order, (int, float)) and not isinstance(order, bool) and order > 0:
        known, value = literal_value(axis) if axis is not None else (True, -1)  # no axis: every value
        if not (known and isinstance(value, int)):  # one axis, or none
            raise Unconvertible(f"ord={order!r} over this axis: a pair of axes is a matrix norm (torch.linalg.matrix_norm), which converts only with 'fro'/'euclidean'")
        text = "torch.linalg.vector_norm({x}, ord=" + repr(order) + dim
    else:
        raise Unconvertible(f"ord={order!r} has no conversion (a positive number, 'euclidean' or 'fro')")
    return ctx.build(_keepdim(a, text, subs) + ")", **subs)


def l2_normalize(args, ctx, original):
    a = Args(args, ctx)
    axis = a.get("axis") or a.get("dim")
    if axis is None:
        raise Unconvertible("l2_normalize over all axes: give axis= explicitly")
    eps = a.literal("epsilon", 1e-12)
    if not isinstance(eps, (int, float)):
        raise Unconvertible("epsilon must be a number")
    # TensorFlow clamps the squared norm at epsilon; F.normalize clamps the norm.
    torch_eps = repr(float(eps) ** 0.5)
    return ctx.build(
        "torch.nn.functional.normalize({x}, dim={axis}, eps=" + torch_eps + ")",
        x=a.require("x"),
        axis=axis,
    )


def tf_print(args, ctx, original):
    """tf.print(*inputs, output_stream=sys.stderr, sep=" ", end="\\n") -> print(*inputs,
    file=sys.stderr): the same stream (TensorFlow's default is standard error), separator and
    ending. A stream other than sys.stdout or sys.stderr (a "file://" path, a logging
    function) is reported."""
    from ...engine.spelling import ImportNeed

    a = Args(args, ctx)
    inputs = a.get("inputs")
    given = [arg for arg in original.args if arg.keyword is None]
    if inputs is None:
        items = []
    elif isinstance(inputs, cst.List) and not (len(given) == 1 and isinstance(given[0].value, cst.List)):
        items = [e.value for e in inputs.elements]  # the inputs, one by one (one number is bound as a list)
    else:
        items = [inputs]  # one input, a list literal included
    subs: dict[str, cst.BaseExpression] = {f"v{i}": v for i, v in enumerate(items)}
    parts = ["{" + k + "}" for k in subs]
    for name in ("sep", "end"):
        if name in a:
            subs[name] = a[name]
            parts.append(f"{name}={{{name}}}")
    stream = a.get("output_stream")
    spelled = code_of(stream).strip() if stream is not None else "sys.stderr"
    if spelled not in ("sys.stderr", "sys.stdout"):
        raise Unconvertible(f"output_stream={spelled}: only sys.stdout and sys.stderr have a print() counterpart")
    if spelled == "sys.stderr":
        ctx.speller.needs.add(ImportNeed("sys"))
        parts.append("file=sys.stderr")
    return ctx.build("print(" + ", ".join(parts) + ")", **subs)


def assert_compare(args, ctx, original):
    """tf.debugging.assert_equal(x, y, message) -> torch._assert(torch.all(x == y), message).

    TensorFlow compares elementwise with broadcasting, on tensors or Python lists
    (often a shape against a list), so both sides become tensors first.
    torch._assert is what PyTorch's own models use for such checks (it also
    survives torch.jit/fx tracing, which a bare `assert` does not)."""
    a = Args(args, ctx)
    op = args.rule.data["op"]
    subs = {"x": _as_tensor(ctx, args, a, "x", left=True), "y": _as_tensor(ctx, args, a, "y", left=False)}
    message = a.get("message")
    subs["message"] = message if message is not None else cst.SimpleString(repr(f"{args.rule.source.rsplit('.', 1)[-1]} failed"))
    return ctx.build(f"torch._assert(torch.all({{x}} {op} {{y}}), {{message}})", **subs)


def assert_data(args, ctx, original):
    """tf.debugging.Assert(condition, [message]) -> torch._assert(condition, message)."""
    a = Args(args, ctx)
    data = a.require("data")
    if not (isinstance(data, (cst.List, cst.Tuple)) and len(data.elements) == 1):
        raise Unconvertible("tf.debugging.Assert prints a list of values; torch._assert takes one message: give it one string")
    return ctx.build("torch._assert({c}, {m})", c=a.require("condition"), m=data.elements[0].value)


def _as_tensor(ctx, args, a, name: str, left: bool):
    """A side of the comparison as a tensor: lists and shapes become one; a tensor, or a
    number compared with one, stays as it is."""
    value = a.require(name)
    if isinstance(value, (cst.List, cst.Tuple)):
        return ctx.build("torch.tensor({v})", v=value)
    if isinstance(value, (cst.Integer, cst.Float)) or isinstance(value, cst.UnaryOperation) and isinstance(value.expression, (cst.Integer, cst.Float)):
        return value if not left else ctx.build("torch.tensor({v})", v=value)
    bound = args.get(name)
    original = bound.original.value if bound is not None and bound.original is not None else None
    if original is not None and ctx.types is not None and ctx.types.kind_of(original, [ctx.module]) == "tensor":
        return value
    code = code_of(value).strip()
    if code.startswith("torch.") and not code.endswith((".shape", ".size()")):
        return value
    return ctx.build("torch.as_tensor({v})", v=value)


def cumsum(args, ctx, original):
    """tf.math.cumsum(x, axis, exclusive, reverse): torch.cumsum along the axis (0 by default, as
    in TensorFlow); reverse sums from the end (flip, cumsum, flip); exclusive leaves each
    element out of its own sum (the inclusive sum minus the input)."""
    a = Args(args, ctx)
    x = a.require("x")
    axis = a.get("axis") or cst.Integer("0")
    given = args.get("axis")
    dim = "{axis}" if given is not None and given.positional else "dim={axis}"  # as the source wrote it
    exclusive, reverse = a.literal("exclusive", False), a.literal("reverse", False)
    if not isinstance(exclusive, bool) or not isinstance(reverse, bool):
        raise Unconvertible("exclusive and reverse must be True or False literally")
    if reverse:
        if not literal_value(axis)[0]:
            raise Unconvertible("reverse=True with an axis computed at run time: flip, cumsum and flip along it by hand")
        text = "torch.flip(torch.cumsum(torch.flip({x}, [{axis}]), " + dim + "), [{axis}])"
    else:
        text = "torch.cumsum({x}, " + dim + ")"
    if exclusive:
        text += " - {x}"
    return ctx.build(text, x=x, axis=axis)


def moments(args, ctx, original):
    """tf.nn.moments(x, axes, keepdims) -> (mean, population variance) over the axes."""
    a = Args(args, ctx)
    if "shift" in a and code_of(a["shift"]).strip() != "None":
        raise Unconvertible("shift= is not supported (it only steadies TensorFlow's computation)")
    keep = a.literal("keepdims", False)
    if not isinstance(keep, bool):
        raise Unconvertible("keepdims must be True or False")
    tail = ", keepdim=True" if keep else ""
    axes = a.require("axes")
    # a literal list of axes may be written twice; anything else must be a name
    dims = code_of(axes).strip() if literal_value(axes)[0] else "{axes}"
    return ctx.build(
        "({x}.mean(dim=" + dims + tail + "), {x}.var(dim=" + dims + ", correction=0" + tail + "))",
        x=a.require("x"), axes=axes,
    )


def batch_normalization(args, ctx, original):
    """tf.nn.batch_normalization: (x - mean) / sqrt(variance + eps) * scale + offset."""
    a = Args(args, ctx)
    subs = {k: a.require(k) for k in ("x", "mean", "variance", "variance_epsilon")}
    text = "({x} - {mean}) * torch.rsqrt({variance} + {variance_epsilon})"
    for name, op in (("scale", "*"), ("offset", "+")):
        if name in a and code_of(a[name]).strip() != "None":
            subs[name] = a[name]
            text += f" {op} {{{name}}}"
    return ctx.build(text, **subs)


_VECTOR_ORDS = {"euclidean": 2, "fro": 2, 1: 1, 2: 2}


def linalg_normalize(args, ctx, original):
    """tf.linalg.normalize(x, ord, axis) -> (x / norm, norm), the norm kept with size-1 axes.
    A helper computes the norm once (F.normalize clamps it at eps, so a zero vector would
    give zeros where TensorFlow gives NaN). Vector norms only: a 2-tuple axis takes a matrix
    norm, which only 'euclidean'/'fro' (a vector norm over both axes) leaves the same;
    axis=None is a vector norm over every value."""
    from .training import need_snippet

    a = Args(args, ctx)
    ord_ = a.literal("ord", "euclidean")
    axis = a.literal("axis", None)
    if ord_ not in _VECTOR_ORDS:
        raise Unconvertible(f"ord={ord_!r}: only 'euclidean', 'fro', 1 and 2 convert")
    pair = isinstance(axis, (list, tuple))
    if pair and ord_ not in ("euclidean", "fro"):
        raise Unconvertible(f"ord={ord_!r} over a pair of axes is a matrix norm: torch.linalg.matrix_norm")
    if not pair and axis is not None and (not isinstance(axis, int) or isinstance(axis, bool) or ord_ == "fro"):
        raise Unconvertible("axis must be an int (a vector norm), a pair of ints or None")
    need_snippet(ctx, "linalg_normalize")
    text = "linalg_normalize({x}"
    if _VECTOR_ORDS[ord_] != 2:
        text += f", ord={_VECTOR_ORDS[ord_]}"
    if axis is not None:
        text += f", dim={tuple(axis) if pair else axis!r}"
    return ctx.build(text + ")", x=a.require("tensor"))


def cond(args, ctx, original):
    """tf.cond(pred, true_fn, false_fn): eagerly, TensorFlow calls the branch pred selects, as
    `true_fn() if pred else false_fn()` does; a lambda without parameters is written inline."""
    a = Args(args, ctx)
    subs = {"pred": _branch_safe(a.require("pred"))}
    for name in ("true_fn", "false_fn"):
        fn = a.require(name)
        if isinstance(fn, cst.Lambda) and not _has_params(fn.params):
            subs[name] = _branch_safe(fn.body)
        else:
            subs[name] = ctx.build("{f}()", f=fn)
    return ctx.build("{true_fn} if {pred} else {false_fn}", **subs)


def _has_params(params: cst.Parameters) -> bool:
    return bool(params.params or params.posonly_params or params.kwonly_params or params.star_kwarg
                or isinstance(params.star_arg, cst.Param))


def _branch_safe(node):
    """A conditional expression or a lambda in a branch of another needs its parentheses."""
    if isinstance(node, (cst.IfExp, cst.Lambda, cst.NamedExpr)) and not node.lpar:
        return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return node


def _number(node) -> bool:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float))


def _min_max(args, ctx, bound: str, pairwise: str):
    """tf.minimum(x, 0) / tf.maximum(x, 1e-6): with a number on one side, torch.clamp(x, max=0)
    / torch.clamp(x, min=1e-6) (torch.minimum takes two tensors; clamp takes a number or a
    tensor as its bound); else the pairwise op. A side that may be a Python number (a shape's
    element, arithmetic on numbers) becomes a tensor first where no tensor is left to apply it
    to: TensorFlow gives a tensor for two numbers too."""
    from ...engine.transform import maybe_number, tensor_kind

    a = Args(args, ctx)
    values = {"x": a.require("x"), "y": a.require("y")}
    originals = {b.name: b.original.value for b in args.bound if b.original is not None}
    kind_of = ctx.kind_here

    def numeric(name: str) -> bool:
        if _number(values[name]):
            return True
        source = originals.get(name)
        if source is None or kind_of is None or tensor_kind(kind_of(source)):
            return False
        if maybe_number(source, kind_of):
            return True
        # x.shape[0], tf.shape(x)[0], shape_list(x)[-2]: an int in PyTorch
        return isinstance(source, cst.Subscript) and (
            isinstance(source.value, cst.Call) or kind_of(source.value) == "shape"
            or (isinstance(source.value, cst.Attribute) and source.value.attr.value == "shape")
        )

    def tensor(name: str) -> cst.BaseExpression:
        return ctx.build("torch.as_tensor({v})", v=values[name])

    def known_tensor(name: str) -> bool:
        source = originals.get(name)
        return source is not None and kind_of is not None and tensor_kind(kind_of(source))

    x_number, y_number = numeric("x"), numeric("y")
    if known_tensor("x") and not known_tensor("y"):
        y_number = True  # a tensor and something else (self.limit): clamp takes either as the bound
    elif known_tensor("y") and not known_tensor("x"):
        x_number = True
    if x_number and y_number:
        if _number(values["y"]) or _number(values["x"]):
            other, limit = ("x", "y") if _number(values["y"]) else ("y", "x")
            return ctx.build(f"torch.clamp({{t}}, {bound}={{n}})", t=tensor(other), n=values[limit])
        return ctx.build(f"{pairwise}({{x}}, {{y}})", x=tensor("x"), y=tensor("y"))
    if y_number:
        return ctx.build(f"torch.clamp({{x}}, {bound}={{y}})", **values)
    if x_number:
        return ctx.build(f"torch.clamp({{y}}, {bound}={{x}})", **values)
    return ctx.build(f"{pairwise}({{x}}, {{y}})", **values)


def minimum(args, ctx, original):
    return _min_max(args, ctx, "max", "torch.minimum")


def maximum(args, ctx, original):
    return _min_max(args, ctx, "min", "torch.maximum")


def huber_loss_v1(args, ctx, original):
    """tf.compat.v1.losses.huber_loss(labels, predictions, weights, delta, reduction=NONE) ->
    F.huber_loss(predictions, labels, reduction="none", delta=delta), times the weights."""
    a = Args(args, ctx)
    reduction = a.get("reduction")
    if reduction is None or literal_value(reduction) != (True, "none"):
        raise Unconvertible(
            "only reduction=tf.losses.Reduction.NONE converts (TF1's default sums the weighted losses over the"
            " non-zero weights): write the reduction after F.huber_loss(..., reduction='none')"
        )
    text = "torch.nn.functional.huber_loss({p}, {t}, reduction='none'" + (", delta={d})" if "delta" in a else ")")
    if "weights" in a and literal_value(a["weights"]) != (True, 1.0):
        text += " * {w}"
    return ctx.build(text, p=a.require("predictions"), t=a.require("labels"), d=a.get("delta"), w=a.get("weights"))


def ctc_loss(args, ctx, original):
    """tf.nn.ctc_loss(labels, logits, label_length, logit_length, logits_time_major, blank_index)
    -> F.ctc_loss on time-major log-probabilities, one loss per example (reduction='none')."""
    a = Args(args, ctx)
    major = a.literal("logits_time_major", True)
    if not isinstance(major, bool):
        raise Unconvertible("logits_time_major must be True or False literally")
    logits = "torch.nn.functional.log_softmax({logits}, dim=-1)" + ("" if major else ".transpose(0, 1)")
    text = "torch.nn.functional.ctc_loss(" + logits + ", {labels}, {logit_length}, {label_length}"
    blank = a.get("blank_index")
    if blank is not None and literal_value(blank)[0] and literal_value(blank)[1] is not None:
        number = literal_value(blank)[1]
        if not isinstance(number, int) or isinstance(number, bool):
            raise Unconvertible("blank_index must be an integer")
        if number < 0:
            if not isinstance(a.require("logits"), (cst.Name, cst.Attribute)):
                raise Unconvertible("a negative blank_index counts from the classes' end: give the logits as a name (read twice)")
            text += f", blank={{logits}}.shape[-1] - {-number}"  # TensorFlow counts it from the classes' end
        elif number != 0:
            text += ", blank={blank}"
    elif blank is not None and not _is_none_literal(blank):
        text += ", blank={blank}"
    text += ", reduction='none')"
    return ctx.build(
        text, logits=a.require("logits"), labels=a.require("labels"), logit_length=a.require("logit_length"),
        label_length=a.require("label_length"), blank=blank,
    )


def _is_none_literal(node) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
