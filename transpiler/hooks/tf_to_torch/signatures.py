"""``input_signature`` of a converted Keras class (transformers' TF models declare one).

It lists the tf.TensorSpec inputs tf.function and SavedModel trace the model with. A PyTorch
module declares no inputs (torch.export traces example tensors), so, like ``get_config``, it
goes; the TensorSpec in it go with it."""

from __future__ import annotations

import libcst as cst

from ...engine.context import PendingFinding
from ...engine.query import resolve_call
from ...engine.walk import is_docstring, method_named
from ...report import CONVERTED

SPEC = "tensorflow.TensorSpec"


def drop_input_signature(ctx, cls: cst.ClassDef, stmt: cst.FunctionDef) -> bool:
    """Whether ``stmt`` (the rewritten method of the original class ``cls``) is an
    input_signature that only returns TensorSpec, written out in a dict, tuple or list;
    if so it is reported removed, and so is every TensorSpec in it."""
    if stmt.name.value != "input_signature":
        return False
    fn = method_named(cls, "input_signature")
    specs = _specs(ctx, fn) if fn is not None else None
    if not specs:
        return False
    ctx.converted(
        stmt, "keras.Model.input_signature", "(removed)",
        "the inputs tf.function and SavedModel trace with; a PyTorch module declares none (torch.export takes example inputs)",
    )
    ids = {id(call) for call in specs}
    for i, found in enumerate(ctx.findings):
        if found.api == SPEC and id(found.node) in ids and found.kind != CONVERTED:
            ctx.findings[i] = PendingFinding(CONVERTED, SPEC, "part of input_signature", "(removed)", found.node, found.statement)
            ctx.changes += 1
    ctx.consume_subtree(fn)
    return True


def _specs(ctx, fn: cst.FunctionDef) -> list[cst.Call] | None:
    """The TensorSpec calls of ``return {...}`` / ``return (...)``, the body's only statement
    (a docstring aside); None for any other body."""
    body = [s for s in fn.body.body if not is_docstring(s)]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    ret = body[0].body[0]
    if not isinstance(ret, cst.Return) or ret.value is None:
        return None
    value = ret.value
    if isinstance(value, cst.Dict):
        items = [e.value for e in value.elements if isinstance(e, cst.DictElement)]
        if len(items) != len(value.elements):
            return None
    elif isinstance(value, (cst.Tuple, cst.List)):
        items = [e.value for e in value.elements if isinstance(e, cst.Element)]
        if len(items) != len(value.elements):
            return None
    else:
        return None
    if not all(isinstance(v, cst.Call) and resolve_call(ctx, v) == SPEC for v in items):
        return None
    return items

