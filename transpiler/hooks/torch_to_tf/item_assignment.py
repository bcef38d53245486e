"""Item assignment on a tensor (``x[:, 0] = 0``, ``mask[i] += 1``).

PyTorch writes into the tensor; a TensorFlow tensor is immutable, so the same
statement fails at run time once ``x`` is a ``tf.Tensor``. There is no faithful
one-line rewrite in general (views of ``x`` would see the write in PyTorch), so
the statement is reported with what to write instead, never left silently broken. One form
converts exactly: ``x[x > t] = v`` on a name (the mask has x's shape) is
``x = tf.where(x > t, tf.cast(v, x.dtype), x)``, the new tensor bound to the name as for
in-place methods (``x.add_(y)`` -> ``x = tf.math.add(x, y)``).
"""

from __future__ import annotations

import re

import libcst as cst

from ...engine.types import is_tensor
from ...engine.walk import source_children

REASON = (
    "TensorFlow tensors are immutable: build the new value (tf.where with a mask, "
    "tf.tensor_scatter_nd_update, tf.concat) or keep it in a tf.Variable and .assign"
)


# `...] = `, `...] += ` (not `==`): a cheap test before walking the module
_SUBSCRIPT_STORE = re.compile(r"\]\s*(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=)")


def analyze(ctx) -> None:
    """Put the statements that store into a subscript on the walk's paths (the scan only
    records framework names), so that on_statement sees them."""
    if not _SUBSCRIPT_STORE.search(ctx.scan.source):
        return
    paths = ctx.scan.path_ids

    def visit(node, ancestors):
        if isinstance(node, cst.SimpleStatementLine):
            if any(_subscript_targets(small) for small in node.body):
                paths.update(ancestors)
                paths.add(id(node))
            return
        if isinstance(node, (cst.BaseExpression, cst.Import, cst.ImportFrom)):
            return
        ancestors.append(id(node))
        for child in source_children(node):
            visit(child, ancestors)
        ancestors.pop()

    visit(ctx.module, [])


def _subscript_targets(small) -> list:
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
        targets = [small.target]
    else:
        return []
    return [t for t in targets if isinstance(t, cst.Subscript)]


def on_statement(transformer, original, updated):
    ctx = transformer.ctx
    if ctx.types is None:
        return None
    chain = None
    for small in original.body:
        for target in _subscript_targets(small):
            chain = chain or ctx.resolver.chain_of(tuple(transformer.stack))
            if is_tensor(ctx.types.kind_of(target.value, chain)):
                rewritten = _masked_store(ctx, original, updated, chain)
                if rewritten is not None:
                    return rewritten
                ctx.unconverted(target, "tensor.__setitem__", REASON)
    return None


def _number(node) -> bool:
    while isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float))


def _masked_store(ctx, original, updated, chain):
    """``x[x > t] = v`` on a name x: the mask compares x itself, so it has x's shape (PyTorch
    requires it), and the store is ``x = tf.where(x > t, tf.cast(v, x.dtype), x)``: the same
    values, v cast to x's dtype as PyTorch does. A value that is not a number written out must
    be one value (a Python number or a 0-d tensor; PyTorch also takes one value per selected
    element): known to be a tensor, it stays reported; otherwise the caveat is warned."""
    if len(original.body) != 1 or not isinstance(original.body[0], cst.Assign):
        return None
    assign, new = original.body[0], updated.body[0]
    if len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and len(target.slice) == 1):
        return None
    index = target.slice[0].slice
    if not isinstance(index, cst.Index) or index.star is not None:
        return None
    mask = index.value
    name = target.value.value
    if not (
        isinstance(mask, cst.Comparison) and len(mask.comparisons) == 1
        and not isinstance(mask.comparisons[0].operator, (cst.In, cst.NotIn, cst.Is, cst.IsNot))
        and isinstance(mask.left, cst.Name) and mask.left.value == name
    ):
        return None
    value = assign.value
    if not _number(value):
        if is_tensor(ctx.types.kind_of(value, chain)):
            return None
        ctx.warn(target, "tensor.__setitem__", f"exact where the value is one number (a Python number or a 0-d tensor): "
                 f"PyTorch also takes one value per selected element of '{name}', which tf.where would broadcast otherwise")
    new_target = new.targets[0].target
    expr = ctx.build(
        "tensorflow.where({mask}, tensorflow.cast({value}, {x}.dtype), {x})",
        mask=new_target.slice[0].slice.value, value=new.value, x=cst.Name(name),
    )
    ctx.converted(target, "tensor.__setitem__", "tensorflow.where")
    line = updated.with_changes(body=[new.with_changes(targets=[cst.AssignTarget(target=cst.Name(name))], value=expr)])
    return ctx.mark_new(line)
