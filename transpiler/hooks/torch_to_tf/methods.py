"""Hooks for tensor methods (rules/torch_to_tf/methods.toml)."""

from __future__ import annotations

import libcst as cst

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


def _what(node, ctx) -> str:
    """'dtype', 'device' or '' for an argument of Tensor.to()."""
    if isinstance(node, cst.SimpleString):
        return "device"
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
    return ""


def to(args, ctx, original):
    """x.to(device) is dropped (TensorFlow places tensors itself); x.to(dtype) casts."""
    a = Args(args, ctx)
    x = a.require("self")
    positional = [b for b in args.bound if b.name == "args"]
    dtype = a.get("dtype")
    device_given = "device" in a
    if positional:
        value = positional[0].value
        orig_value = positional[0].original.value if positional[0].original is not None else value
        # several positional arguments were gathered into one list by the binding
        several = sum(1 for b in args.call.args[1:] if b.keyword is None) > 1
        if several:
            items = [e.value for e in value.elements]
            originals = [e.value for e in orig_value.elements] if isinstance(orig_value, cst.List) else items
        else:
            items, originals = [value], [orig_value]
        for item, orig in zip(items, originals):
            what = _what(orig, ctx)
            if what == "dtype":
                dtype = item
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



def detach(args, ctx, original):
    """x.detach() / x.data: tf.stop_gradient on a GradientTape; elsewhere the tensor itself."""
    x = Args(args, ctx).require("self")
    on_tape = ctx.facts.get("on_tape", set())
    if any(id(stmt) in on_tape for stmt in ctx.statement_stack):
        return ctx.build("tensorflow.stop_gradient({x})", x=x)
    return x
