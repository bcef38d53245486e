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
