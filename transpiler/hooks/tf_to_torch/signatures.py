"""Methods a converted Keras class loses: ``get_config``, ``compute_output_shape``/``spec``
and an ``input_signature`` (transformers' TF models declare one).

``input_signature`` lists the tf.TensorSpec inputs tf.function and SavedModel trace the model
with. A PyTorch module declares no inputs (torch.export traces example tensors), so, like
``get_config``, it goes. What the walk reported inside a method that goes (a
``keras.layers.serialize`` in get_config) is not in the output: it is reported removed with it."""

from __future__ import annotations

import libcst as cst

from ...engine.context import PendingFinding
from ...engine.query import resolve_call
from ...engine.walk import is_docstring, iter_nodes, method_named
from ...report import CONVERTED, UNCONVERTED

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
        fn, "keras.Model.input_signature", "(removed)",
        "the inputs tf.function and SavedModel trace with; a PyTorch module declares none (torch.export takes example inputs)",
    )
    removed_with(ctx, fn, "input_signature")
    return True


# the methods of a Keras class that a converted one drops, and why
DROPPED_METHODS = {
    "get_config": "PyTorch modules have no config; rebuild them with their constructor arguments",
    "compute_output_shape": "a PyTorch module computes its output; it has no shape inference to declare",
    "compute_output_spec": "a PyTorch module computes its output; it has no shape inference to declare",
}


def drop_method(ctx, cls: cst.ClassDef, stmt: cst.FunctionDef) -> bool:
    """Whether ``stmt`` (the rewritten method of the original class ``cls``) goes from the
    converted class: get_config, compute_output_shape/spec or an input_signature of TensorSpec."""
    name = stmt.name.value
    if name not in DROPPED_METHODS:
        return drop_input_signature(ctx, cls, stmt)
    fn = method_named(cls, name)
    ctx.converted(fn if fn is not None else stmt, f"keras.layers.Layer.{name}", "(removed)", DROPPED_METHODS[name])
    if fn is not None:
        removed_with(ctx, fn, name)
    return True


def removed_with(ctx, fn: cst.FunctionDef, what: str) -> None:
    """The uses the walk reported inside ``fn``, a method that goes, go with it: reported
    converted as part of it (they are not in the output), their names no longer needed."""
    inside = {id(node) for node in iter_nodes(fn)}
    kept = []
    for found in ctx.findings:
        if found.kind == CONVERTED or (id(found.node) not in inside and id(found.statement) not in inside):
            kept.append(found)
        elif found.kind == UNCONVERTED:
            kept.append(PendingFinding(CONVERTED, found.api, f"part of {what}", "(removed)", found.node, found.statement))
            ctx.changes += 1
        # else a warning about code that is gone: it goes too
    ctx.findings[:] = kept
    ctx.consume_subtree(fn)


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

