"""Hooks for tensor methods (rules/torch_to_tf/methods.toml)."""

from __future__ import annotations

import libcst as cst

from ...engine.types import is_tensor
from ...frameworks import canonical, framework_of
from .._util import Args, Unconvertible, code_of

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
    attribute of a value, a name assigned a device, or a value whose kind is known."""
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
    chain = _scope_chain(ctx) if ctx.types is not None else None
    if chain is not None:
        kind = ctx.types.kind_of(node, chain)
        if kind == "device":
            return "device"
        if is_tensor(kind):
            return "tensor"
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
    """x.add_(y): TensorFlow tensors are immutable. As a statement the functional form is
    assigned back to the name (hooks/torch_to_tf/training.py rewrites the statement);
    used as a value it gives the new tensor, and the name keeps its old value (reported)."""
    a = Args(args, ctx)
    data = args.rule.data
    template = data["template"]
    if "alpha" in a and "alpha" in data:
        template = data["alpha"]
    subs = {"self": a.require("self")}
    for key in ("other", "alpha", "exponent", "value", "src", "dim"):
        if "{" + key + "}" in template:
            subs[key] = a.require(key)
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
        and isinstance(statement.body[0], cst.Expr) and isinstance(receiver, cst.Name)
        and isinstance(statement.body[0].value, cst.Call) and statement.body[0].value.func.value is receiver
    )
    if as_statement:
        ctx.facts.setdefault("assign_back", {})[id(statement)] = receiver.value
    else:
        ctx.warn(receiver if receiver is not None else original, f"tensor.{args.rule.source}",
                 "TensorFlow tensors are immutable: the value is the new tensor, the tensor itself is not changed")
    return ctx.build(template, **subs)
