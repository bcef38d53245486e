"""Facts gathered before the rewrite, for hooks that need to know more than one call."""

from __future__ import annotations

import libcst as cst

from ...frameworks import canonical
from .._util import int_literal

_INT_PRODUCERS = {"tensorflow.constant", "tensorflow.Variable", "tensorflow.range", "tensorflow.convert_to_tensor"}


def int_tensor_names(ctx) -> None:
    """Names assigned a TensorFlow tensor built from integer literals (or an int dtype).

    ``tf.Variable(x)`` becomes a trainable ``nn.Parameter`` only for floats; for
    these names it becomes a plain tensor copy.
    """
    names: set[str] = set()
    for hit in ctx.scan.hits:
        stack = hit.stack
        if len(stack) < 4 or ctx.resolver.kind(hit.name) != "load":
            continue
        # walk up the dotted chain to the call
        i = len(stack) - 2
        while i > 0 and isinstance(stack[i], cst.Attribute) and stack[i].value is stack[i + 1]:
            i -= 1
        call = stack[i]
        if not (isinstance(call, cst.Call) and call.func is stack[i + 1]):
            continue
        assign = stack[i - 1] if i >= 1 else None
        if not (isinstance(assign, cst.Assign) and assign.value is call and len(assign.targets) == 1):
            continue
        target = assign.targets[0].target
        if not isinstance(target, cst.Name):
            continue
        qual = ctx.resolver.resolve_chain(call.func)
        if qual is None or canonical(qual) not in _INT_PRODUCERS:
            continue
        dtype = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "dtype"), None)
        first = call.args[0].value if call.args and call.args[0].keyword is None else None
        if dtype is not None:
            text = cst.Module([]).code_for_node(dtype)
            if "int" in text or "bool" in text:
                names.add(target.value)
        elif first is not None and int_literal(first):
            names.add(target.value)
    ctx.facts["int_tensor_names"] = names
