"""Item assignment on a tensor (``x[:, 0] = 0``, ``mask[i] += 1``).

PyTorch writes into the tensor; a TensorFlow tensor is immutable, so the same
statement fails at run time once ``x`` is a ``tf.Tensor``. There is no faithful
one-line rewrite in general (views of ``x`` would see the write in PyTorch), so
the statement is reported with what to write instead, never left silently broken.
"""

from __future__ import annotations

import re

import libcst as cst

from ...engine.types import is_tensor

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
        for child in node.children:
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
                ctx.unconverted(target, "tensor.__setitem__", REASON)
    return None
