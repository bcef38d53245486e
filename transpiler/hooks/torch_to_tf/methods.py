"""Hooks for tensor methods (rules/torch_to_tf/methods.toml)."""

from __future__ import annotations

import libcst as cst

from ...engine.build import is_simple
from ...engine.types import is_tensor
from ...frameworks import canonical
from .._util import Args, Unconvertible, code_of, literal_value

_DTYPES = {
    "torch.float32", "torch.float", "torch.float64", "torch.double", "torch.float16", "torch.half",
    "torch.bfloat16", "torch.int8", "torch.int16", "torch.short", "torch.int32", "torch.int",
    "torch.int64", "torch.long", "torch.uint8", "torch.bool", "torch.complex64", "torch.complex128",
}


def size(args, ctx, original):
    a = Args(args, ctx)
    x = a.require("self")
    if "dim" in a:
        return ctx.build("{x}.shape[{dim}]", x=x, dim=a["dim"])
    return ctx.build("{x}.shape", x=x)


def _scope_chain(ctx):
    """The scopes the method call being converted sees (for the kinds of its arguments)."""
    call = ctx.method_call
    if call is None or not isinstance(call.func, cst.Attribute):
        return None
    hit = ctx.resolver.hit_of.get(id(call.func.attr))
    return ctx.resolver.chain_of(hit.stack) if hit is not None else None


def _is_string(node) -> bool:
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        return _is_string(node.left) or _is_string(node.right)
    return False


def _what(node, ctx) -> str:
    """'dtype', 'device', 'tensor' (x.to(other): other's dtype and device) or '' for an
    argument of Tensor.to(). Known from what the argument is, never from its name: a string
    ('cuda:0', "cuda:" + str(i)), a torch dtype, torch.device(...), the .device or .dtype
    attribute of a value, a value whose kind is known, or a name (or an attribute of an instance
    of a class of this file: self.first_device) every binding of which is one of these."""
    chain = _scope_chain(ctx) if ctx.types is not None else None
    return _what_in(node, ctx, chain, 0)


_DTYPE_CALLS = {"torch.get_default_dtype", "torch.get_autocast_gpu_dtype", "torch.get_autocast_dtype", "torch.promote_types", "torch.result_type"}


def _what_in(node, ctx, chain, depth: int) -> str:
    if isinstance(node, cst.IfExp):
        both = {_what_in(node.body, ctx, chain, depth), _what_in(node.orelse, ctx, chain, depth)}
        return both.pop() if len(both) == 1 else ""
    if _is_string(node):
        return "device"
    if isinstance(node, cst.Attribute) and node.attr.value in ("device", "dtype"):
        return node.attr.value  # a tensor's or module's .device / .dtype
    if isinstance(node, (cst.Name, cst.Attribute)):
        qual = ctx.resolver.resolve_chain(node)
        if qual is not None and canonical(qual) in _DTYPES:
            return "dtype"
    if isinstance(node, cst.Name) and node.value in ctx.facts.get("device_names", ()):
        return "device"
    if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
        qual = ctx.resolver.resolve_chain(node.func)
        if qual is not None and canonical(qual) == "torch.device":
            return "device"
        if qual is not None and canonical(qual) in _DTYPE_CALLS:
            return "dtype"
    if chain is not None:
        kind = ctx.types.kind_of(node, chain)
        if kind in ("device", "dtype"):
            return kind
        if is_tensor(kind):
            return "tensor"
        if depth < 4 and isinstance(node, (cst.Name, cst.Attribute)):
            found = ctx.types.bindings(node, chain)
            if found:
                whats = set()
                for item in found:
                    if item[0] == "kind":
                        whats.add(item[1] if item[1] in ("device", "dtype") else "tensor" if is_tensor(item[1]) else "")
                    else:
                        whats.add(_what_in(item[1], ctx, item[2], depth + 1))
                if len(whats) == 1:
                    return whats.pop()
                if whats == {"dtype", ""}:
                    # some bindings are dtypes, none a device or a tensor: a dtype it is, or
                    # tf.cast raises on what it got (a device name, a tensor) - never silently
                    return "dtype?"
    return ""


def _to_arguments(args, ctx):
    """(dtype or None, device given, the positional arguments as (value, original, what))."""
    a = Args(args, ctx)
    positional = [b for b in args.bound if b.name == "args"]
    items = []
    if positional:
        value = positional[0].value
        orig_value = positional[0].original.value if positional[0].original is not None else value
        # several positional arguments were gathered into one list by the binding
        several = sum(1 for b in args.call.args[1:] if b.keyword is None) > 1
        if several:
            values = [e.value for e in value.elements]
            originals = [e.value for e in orig_value.elements] if isinstance(orig_value, cst.List) else values
        else:
            values, originals = [value], [orig_value]
        items = [(v, o, _what(o, ctx)) for v, o in zip(values, originals)]
    return a, items


def to(args, ctx, original):
    """x.to(device) is dropped (TensorFlow places tensors itself); x.to(dtype) casts;
    x.to(other_tensor) casts to other's dtype."""
    a, items = _to_arguments(args, ctx)
    x = a.require("self")
    dtype = a.get("dtype")
    device_given = "device" in a
    for item, orig, what in items:
        if what == "dtype?":
            ctx.warn(orig, "tensor.to", f"'{code_of(orig).strip()}' is taken as a dtype: some of its assignments are "
                     "dtypes and none is a device (tf.cast raises if another one is)")
            what = "dtype"
        if what == "dtype":
            dtype = item
        elif what == "tensor":
            dtype = ctx.build("{t}.dtype", t=item)
        elif what == "device":
            device_given = True
        else:
            raise Unconvertible(
                f"cannot tell whether '{code_of(orig).strip()}' is a device or a dtype; write device= or dtype="
            )
    if dtype is not None:
        return ctx.build("tensorflow.cast({x}, {dtype})", x=x, dtype=dtype)
    if device_given:
        return x
    raise Unconvertible("Tensor.to() without a device or dtype")


def to_unknown(args, ctx, original):
    """x.to(device) where x's kind is not known (a tensor, a module, a batch...): moving
    anything to a device is nothing in TensorFlow, so it is x; a dtype needs to know what x is."""
    a, items = _to_arguments(args, ctx)
    x = a.require("self")
    if "dtype" in a or not (items or "device" in a) or any(what != "device" for _, _, what in items):
        raise Unconvertible("a dtype, or an argument that is not known to be a device")
    return x


def detach(args, ctx, original):
    """x.detach() / x.data: tf.stop_gradient on a GradientTape; elsewhere the tensor itself."""
    x = Args(args, ctx).require("self")
    on_tape = ctx.facts.get("on_tape", set())
    if any(id(stmt) in on_tape for stmt in ctx.statement_stack):
        return ctx.build("tensorflow.stop_gradient({x})", x=x)
    return x


def inplace(args, ctx, original):
    """x.add_(y): TensorFlow tensors are immutable. As a statement on a name, the functional
    form is assigned back to the name (hooks/torch_to_tf/training.py rewrites the statement);
    on a variable (a parameter, a buffer, a layer's weight: ``self.bias.data.zero_()``) it is
    assigned to the variable (``self.bias.assign(tf.zeros_like(self.bias))``); as a statement
    on anything else (``x[0].zero_()``, an attribute of unknown kind) it is reported: the new
    value would go nowhere. Used as a value it gives the new tensor, and the tensor keeps its
    old value (reported)."""
    from .init import assign_to_variable

    a = Args(args, ctx)
    data = args.rule.data
    template = data["template"]
    if "alpha" in a and "alpha" in data:
        template = data["alpha"]
    subs = {"self": a.require("self")}
    for key in ("other", "alpha", "exponent", "value", "src", "dim", "mask"):
        if "{" + key + "}" in template:
            subs[key] = a.require(key)
    if args.get("generator") is not None:
        raise Unconvertible("argument 'generator': TensorFlow draws from its own generators (tf.random.Generator)")
    for key, default in data.get("defaults", {}).items():
        if "{" + key + "}" in template:
            subs[key] = a[key] if key in a else ctx.build(default)
    if "{min}" in template or "{max}" in template:
        low, high = a.get("min"), a.get("max")
        if low is None or high is None:
            name = "maximum" if high is None else "minimum"
            bound = low if high is None else high
            template = "tensorflow.math." + name + "({self}, {b})"
            subs["b"] = bound
        else:
            subs["min"], subs["max"] = low, high
    statement = ctx.statement_stack[-1] if ctx.statement_stack else None
    receiver = original.args[0].value if original is not None and original.args else None
    as_statement = (
        isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr) and ctx.method_call is not None
        and statement.body[0].value is ctx.method_call
    )
    if receiver is not None:
        assigned = assign_to_variable(ctx, subs.pop("self"), receiver, _scope_chain(ctx), template, **subs)
        if assigned is not None:
            return assigned
        subs["self"] = a.require("self")
    if as_statement and isinstance(receiver, cst.Name):
        ctx.facts.setdefault("assign_back", {})[id(statement)] = receiver.value
    elif as_statement:
        shown = code_of(receiver if receiver is not None else original).strip()
        raise Unconvertible(
            f"TensorFlow tensors are immutable: the new value of '{shown}' would go nowhere (it is neither "
            "a name to assign it back to nor a known variable: a parameter, a buffer, a layer's weight); "
            "build it (tensor_scatter_nd_update, where) and assign it"
        )
    else:
        ctx.warn(receiver if receiver is not None else original, f"tensor.{args.rule.source}",
                 "TensorFlow tensors are immutable: the value is the new tensor, the tensor itself is not changed")
    return ctx.build(template, **subs)


def _is_minus_one(node) -> bool:
    return (
        isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer) and node.expression.value == "1"
    )


def _shape_kind(node, ctx) -> bool:
    """Whether ``node`` (original) is known to be a shape: a tensor's .shape or .size(), a
    name given one."""
    chain = _scope_chain(ctx) if ctx.types is not None else None
    if chain is None:
        return False
    if isinstance(node, cst.Attribute) and node.attr.value == "shape":
        return is_tensor(ctx.types.kind_of(node.value, chain))
    return ctx.types.kind_of(node, chain) == "shape"


def expand(args, ctx, original):
    """x.expand(*sizes) -> tf.broadcast_to(x, sizes). Sizes align on the last dimensions, and
    -1 keeps that dimension's size: tf.shape(x)[i - n] (so x is read twice: a plain name)."""
    a = Args(args, ctx)
    x = a.require("self")
    sizes = a.require("sizes")
    bound = next(b for b in args.bound if b.name == "sizes")
    orig = bound.original.value if bound.original is not None else sizes
    if isinstance(sizes, (cst.List, cst.Tuple)):
        items = [e.value for e in sizes.elements]
    elif _shape_kind(orig, ctx):
        return ctx.build("tensorflow.broadcast_to({x}, {s})", x=x, s=sizes)
    else:
        raise Unconvertible(f"cannot tell whether '{code_of(orig).strip()}' is one size or a list of sizes")
    if any(isinstance(e, cst.StarredElement) for e in getattr(sizes, "elements", ())):
        raise Unconvertible("sizes given with *: their number is not known here")
    n = len(items)
    keep = [i for i, e in enumerate(items) if _is_minus_one(e)]
    receiver = ctx.method_call.func.value if ctx.method_call is not None else None
    if keep == [n - 1] and n > 1 and _one_dimensional(receiver, ctx):
        # torch.arange(n).expand((1, -1)): new leading dimensions of a 1-D tensor
        lead = items[:-1]
        shaped = "tensorflow.expand_dims({x}, 0)" if n == 2 else "tensorflow.reshape({x}, [" + "1, " * (n - 1) + "-1])"
        if all(isinstance(e, cst.Integer) and e.value == "1" for e in lead):
            return ctx.build(shaped, x=x)
        subs = {"x": x, **{f"s{i}": e for i, e in enumerate(lead)}}
        return ctx.build("tensorflow.tile(" + shaped + ", [" + "".join(f"{{s{i}}}, " for i in range(n - 1)) + "1])", **subs)
    if keep and not (is_simple(x) or _plain_subscript(x)):
        shown = code_of(receiver if receiver is not None else x).strip()
        raise Unconvertible(
            f"-1 keeps a size of '{shown}', which the conversion reads (tf.shape) besides broadcasting it: "
            "assign it to a variable first so it is computed once"
        )
    subs = {"x": x}
    parts = []
    for i, item in enumerate(items):
        if _is_minus_one(item) and not is_simple(x):  # a plain subscript, read again for its size
            subs[f"x{i}"] = x.deep_clone()
            parts.append(f"tensorflow.shape({{x{i}}})[{i - n}]")
        elif _is_minus_one(item):
            parts.append(f"tensorflow.shape({{x}})[{i - n}]")
        else:
            subs[f"s{i}"] = item
            parts.append(f"{{s{i}}}")
    return ctx.build("tensorflow.broadcast_to({x}, [" + ", ".join(parts) + "])", **subs)


_ONE_DIMENSIONAL = {"torch.arange", "torch.linspace", "torch.logspace", "torch.randperm"}


def _one_dimensional(node, ctx) -> bool:
    """Whether ``node`` (original) is a call that always gives a 1-D tensor (torch.arange)."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute))):
        return False
    qual = ctx.resolver.resolve_chain(node.func)
    return qual is not None and canonical(qual) in _ONE_DIMENSIONAL


def new_tensor(args, ctx, original):
    """x.new_zeros(size) / new_ones / new_empty / new_full(size, value): a tensor of x's dtype
    (or dtype=); of x's own shape (size = x.shape or x.size()), tf.zeros_like / ones_like."""
    a = Args(args, ctx)
    x = a.require("self")
    size = a.require("size")
    fill = args.rule.data["fill"]
    dtype = a.get("dtype")
    bound = next(b for b in args.bound if b.name == "size")
    orig = bound.original.value if bound.original is not None else size
    receiver = ctx.method_call.func.value if ctx.method_call is not None else None
    own_shape = receiver is not None and dtype is None and fill != "full" and _is_shape_of(orig, receiver)
    if own_shape:
        return ctx.build(f"tensorflow.{fill}_like({{x}})", x=x)
    subs = {"x": x, "size": size, "dtype": dtype if dtype is not None else ctx.build("{x}.dtype", x=x)}
    if fill == "full":
        subs["value"] = a.require("fill_value")
        return ctx.build("tensorflow.fill({size}, tensorflow.cast({value}, {dtype}))", **subs)
    return ctx.build(f"tensorflow.{fill}({{size}}, dtype={{dtype}})", **subs)


def _is_shape_of(node, receiver) -> bool:
    """``node`` is ``receiver.shape`` or ``receiver.size()`` (the same code)."""
    if isinstance(node, cst.Attribute) and node.attr.value == "shape":
        base = node.value
    elif (isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
          and node.func.attr.value == "size"):
        base = node.func.value
    else:
        return False
    return code_of(base).strip() == code_of(receiver).strip() and is_simple(receiver)


def _number(node) -> bool:
    """A number written out: ``-1e9``, ``float("-inf")``, ``-float("inf")``, ``float(-100.0)``."""
    while isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if (isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in ("float", "int")
            and len(node.args) == 1 and not node.args[0].keyword and not node.args[0].star):
        inner = node.args[0].value
        if isinstance(inner, cst.SimpleString):
            return inner.value.strip("\"'").lower().lstrip("+-") in ("inf", "infinity", "nan")
        return _number(inner)
    return False


def masked_fill(args, ctx, original):
    """x.masked_fill(mask, value) -> tf.where(mask, tf.cast(value, x.dtype), x): the value cast
    to x's dtype, as PyTorch does. Where x is an expression (read once), a number written out is
    left to tf.where, which converts it to x's dtype (a float for an integer x raises a TypeError)."""
    a = Args(args, ctx)
    x, mask, value = a.require("self"), a.require("mask"), a.require("value")
    if is_simple(x):
        return ctx.build("tensorflow.where({mask}, tensorflow.cast({value}, {x}.dtype), {x})", mask=mask, value=value, x=x)
    if _number(value):
        return ctx.build("tensorflow.where({mask}, {value}, {x})", mask=mask, value=value, x=x)
    dtype = _cast_dtype(x, ctx)
    if dtype is not None:  # x.float().masked_fill(m, v): x's dtype is the cast's
        return ctx.build("tensorflow.where({mask}, tensorflow.cast({value}, {dtype}), {x})", mask=mask, value=value, x=x, dtype=dtype)
    if isinstance(x, cst.Subscript) and is_simple(x.value):  # causal_mask[:, :n].masked_fill(m, v)
        # an element or slice has the dtype of what it is taken from
        return ctx.build("tensorflow.where({mask}, tensorflow.cast({value}, {base}.dtype), {x})", mask=mask, value=value, x=x, base=x.value.deep_clone())
    raise Unconvertible(
        f"the value is cast to the dtype of '{code_of(x).strip()}', which the conversion would compute twice: "
        "assign it to a variable first"
    )


def _plain_subscript(node) -> bool:
    """``x[None, None, :, :]``, ``x[:, :n]``: a subscript of a plain name or attribute by names,
    literals and slices of them: computing it twice gives the same and changes nothing."""
    if not (isinstance(node, cst.Subscript) and is_simple(node.value)):
        return False
    for element in node.slice:
        inner = element.slice
        parts = [inner.lower, inner.upper, inner.step] if isinstance(inner, cst.Slice) else [inner.value]
        for part in parts:
            if part is None or is_simple(part) or isinstance(part, cst.Ellipsis):
                continue
            if isinstance(part, cst.BinaryOperation) and is_simple(part.left) and is_simple(part.right):
                continue
            return False
    return True


def _cast_dtype(node, ctx):
    """The dtype of ``tf.cast(x, dtype)`` (a converted x.float(), x.type_as(y)...), where it is
    a plain name or attribute; else None."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "cast"):
        return None
    if code_of(node.func).strip() != ctx.spell("tensorflow.cast") or len(node.args) != 2 or node.args[1].keyword is not None:
        return None
    dtype = node.args[1].value
    return dtype if is_simple(dtype) else None


def nonzero(args, ctx, original):
    """x.nonzero() -> tf.where(x) (the (N, ndim) int64 indices, in the same order);
    x.nonzero(as_tuple=True) -> one index tensor per dimension: its columns, tf.unstack(..., axis=1)."""
    a = Args(args, ctx)
    x = a.require("self")
    as_tuple = a.literal("as_tuple", False)
    if as_tuple is True:
        return ctx.build("tensorflow.unstack(tensorflow.where({x}), axis=1)", x=x)
    if as_tuple is False:
        return ctx.build("tensorflow.where({x})", x=x)
    raise Unconvertible("argument 'as_tuple' must be written out (True or False)")


def narrow(args, ctx, original):
    """x.narrow(dim, start, length): the slice start:start + length along dim, written as
    indexing (x[:, s:s + n], x[..., s:s + n]); dim must be written out."""
    a = Args(args, ctx)
    x, start, length = a.require("self"), a.require("start"), a.require("length")
    dim = a.literal("dim")
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise Unconvertible("dim must be an int written out")
    if not is_simple(start):
        raise Unconvertible("start is used twice (start:start + length): assign it to a variable first")
    span = "{start}:{start} + {length}"
    ok_start, first = literal_value(start)
    ok_length, count = literal_value(length)
    if ok_start and ok_length and all(isinstance(v, int) and not isinstance(v, bool) for v in (first, count)):
        span = f"{first}:{first + count}" if first + count != 0 or first >= 0 else f"{first}:"
    if dim >= 0:
        index = ":, " * dim + span
    else:
        index = "..., " + span + ", :" * (-dim - 1)
    return ctx.build("{x}[" + index + "]", x=x, start=start, length=length)
