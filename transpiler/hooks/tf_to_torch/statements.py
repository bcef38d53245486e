"""Statement-level edits that hooks ask for while converting a call inside the statement.

A call hook cannot add statements; it records in ``ctx.facts`` what should
happen to the statement around it, and this handler does it when the walk
leaves that statement:

* ``append_after[id(statement)]``: lines to add after it (the LambdaLR of an
  optimizer whose learning rate follows a schedule);
* ``replace_with[id(statement)]``: lines that replace it (``decay =
  ExponentialDecay(...)`` becomes ``def decay(step): ...``).
"""

from __future__ import annotations

import libcst as cst

from ...engine.calls import Unconvertible
from ...engine.query import framework_calls


def on_statement(transformer, original, updated):
    ctx = transformer.ctx
    replace = ctx.facts.get("replace_with", {}).get(id(original))
    after = ctx.facts.get("append_after", {}).get(id(original))
    if not replace and not after:
        return None
    out = []
    if replace:
        new = ctx.build_statements("\n".join(replace) + "\n")
        new[0] = new[0].with_changes(leading_lines=original.leading_lines)
        out.extend(ctx.mark_new(s) for s in new)
        if isinstance(out[0], (cst.FunctionDef, cst.ClassDef)):
            ctx.facts.setdefault("spaced_definitions", set()).add(id(out[0]))
        ctx.consume_subtree(original)
    else:
        out.append(updated)
    if after:
        out.extend(ctx.mark_new(s) for s in ctx.build_statements("\n".join(after) + "\n"))
    return cst.FlattenSentinel(out)


def on_module(transformer, original, updated):
    """Two blank lines around a function or class that replaced a top-level statement (PEP 8)."""
    spaced = transformer.ctx.facts.get("spaced_definitions")
    if not spaced:
        return None
    body = list(updated.body)
    changed = False
    for i, stmt in enumerate(body):
        if id(stmt) not in spaced:
            continue
        for j in (i, i + 1):
            if 0 < j < len(body):
                lines = body[j].leading_lines
                blank = sum(1 for line in lines if line.comment is None)
                if blank < 2:
                    body[j] = body[j].with_changes(leading_lines=[cst.EmptyLine()] * (2 - blank) + list(lines))
                    if j == i:
                        spaced.add(id(body[j]))
                    changed = True
    return updated.with_changes(body=body) if changed else None


# -- with tf.control_dependencies([...]): -----------------------------------------

_CONTROL = "tensorflow.control_dependencies"
_CONTROL_NOTE = "control dependencies order graph ops; PyTorch runs each statement in turn, so the block runs as it is"


def _names_only(call: cst.Call) -> bool:
    """tf.control_dependencies([a, b]) or (None): what it waits for was computed by earlier
    statements (names), so dropping the call drops nothing that runs."""
    if len(call.args) != 1 or call.args[0].keyword is not None or call.args[0].star:
        return False
    value = call.args[0].value
    if isinstance(value, cst.Name) and value.value == "None":
        return True
    if not isinstance(value, (cst.List, cst.Tuple)):
        return False
    return all(isinstance(e, cst.Element) and isinstance(e.value, (cst.Name, cst.Attribute)) for e in value.elements)


def analyze_control_dependencies(ctx) -> None:
    """`with tf.control_dependencies([names]):` statements (alone in their `with`, no `as`)."""
    if "control_dependencies" not in ctx.scan.source:
        return
    withs = ctx.facts.setdefault("control_withs", set())
    for fc in framework_calls(ctx):
        if fc.api != _CONTROL:
            continue
        stack = fc.stack[:-1]
        if len(stack) < 2 or not isinstance(stack[-1], cst.WithItem) or not isinstance(stack[-2], cst.With):
            continue
        item, with_stmt = stack[-1], stack[-2]
        if len(with_stmt.items) != 1 or item.asname is not None or not _names_only(fc.call):
            continue
        withs.add(id(with_stmt))
        ctx.owned.add(id(fc.call))  # rewritten with its statement (on_with)


def control_dependencies(args, ctx, original):
    """A use on_with does not rewrite."""
    raise Unconvertible(
        "only `with tf.control_dependencies([names]):` converts (its body stays: PyTorch runs statements in order); "
        "compute what it waits for in statements before the block"
    )


def on_with(transformer, original, updated):
    ctx = transformer.ctx
    if id(original) not in ctx.facts.get("control_withs", ()):
        return None
    item = original.items[0]
    ctx.converted(item.item, _CONTROL, "(removed)", _CONTROL_NOTE)
    ctx.consume_subtree(item)
    body = list(updated.body.body)
    body[0] = body[0].with_changes(leading_lines=[*original.leading_lines, *body[0].leading_lines])
    return cst.FlattenSentinel(body)
