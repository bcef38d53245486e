"""Questions analyzers ask about the original module: which framework calls are where."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from ..frameworks import canonical, framework_of


@dataclass
class FrameworkCall:
    api: str  # canonical full name
    call: cst.Call
    stack: tuple  # module ... call (original nodes)

    @property
    def parent(self) -> cst.CSTNode:
        return self.stack[-2]


def framework_calls(ctx) -> list[FrameworkCall]:
    """Every call of a source-framework API, in source order (cached on the context)."""
    cached = ctx.facts.get("_framework_calls")
    if cached is not None:
        return cached
    found = []
    seen = set()
    for hit in ctx.scan.hits:
        if ctx.resolver.kind(hit.name) != "load":
            continue
        stack = hit.stack
        i = len(stack) - 1
        # climb the dotted chain a.b.c to its top
        while i > 0 and isinstance(stack[i - 1], cst.Attribute) and stack[i - 1].value is stack[i]:
            i -= 1
        if i == 0:
            continue
        parent = stack[i - 1]
        if not (isinstance(parent, cst.Call) and parent.func is stack[i]) or id(parent) in seen:
            continue
        qual = ctx.resolver.resolve_chain(stack[i])
        if qual is None or framework_of(qual) != ctx.source_framework:
            continue
        seen.add(id(parent))
        found.append(FrameworkCall(canonical(qual), parent, stack[:i]))
    ctx.facts["_framework_calls"] = found
    return found


def resolve_call(ctx, node) -> str | None:
    """The canonical API a call (or a name) refers to, if it is a source-framework one."""
    func = node.func if isinstance(node, cst.Call) else node
    if not isinstance(func, (cst.Name, cst.Attribute)):
        return None
    qual = ctx.resolver.resolve_chain(func)
    if qual is None or framework_of(qual) != ctx.source_framework:
        return None
    return canonical(qual)
