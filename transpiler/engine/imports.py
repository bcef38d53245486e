"""Rewriting imports after conversion: drop what nothing uses, add what the output needs.

Only imports of the *source* framework are removed, and only when no name they
bind is still used (an unconverted use keeps its import). New imports go where
the first removed framework import stood, or after the module's last import.
"""

from __future__ import annotations

import libcst as cst

from ..frameworks import ROOTS
from .names import dotted_name
from .scan import scan
from .spelling import render_imports
from .walk import is_docstring


def _bound_names(node: cst.Import | cst.ImportFrom) -> list[tuple[str, object]]:
    """(bound name, alias node) pairs; the alias node is None for ``import *``."""
    out = []
    if isinstance(node, cst.Import):
        for alias in node.names:
            if alias.asname is not None:
                out.append((alias.asname.name.value, alias))
            else:
                out.append((dotted_name(alias.name).split(".")[0], alias))
    elif not isinstance(node.names, cst.ImportStar):
        for alias in node.names:
            name = alias.asname.name.value if alias.asname is not None else alias.name.value
            out.append((name, alias))
    return out


def _module_of(node: cst.Import | cst.ImportFrom, alias) -> str:
    if isinstance(node, cst.Import) and alias is not None:
        return dotted_name(alias.name)
    return dotted_name(node.module) if node.module is not None else ""


def used_names(module: cst.Module, names: set[str]) -> set[str]:
    """Which of ``names`` the module still reads as the imported framework module.

    A load that a local binding shadows (``def f(tf): tf.x``) does not count.
    """
    if not names:
        return set()
    from .names import Resolver

    result = scan(module, module.code, frozenset(names))
    resolver = Resolver(result, lambda module: ())
    return {
        hit.name.value
        for hit in result.hits
        if resolver.kind(hit.name) == "load" and resolver.resolve_name(hit.name) is not None
    }


def remaining_uses(ctx, names: set[str]) -> set[str]:
    """Which of ``names`` the output still reads as the imported framework module.

    Every load of an import alias was found by the scan; a conversion that
    removed a use recorded it in ``ctx.consumed``. A load that a local binding
    shadows (``def f(tf): tf.x``) does not count.
    """
    resolver = ctx.resolver
    used = set()
    for hit in ctx.scan.hits:
        value = hit.name.value
        if value in names and value not in used and id(hit.name) not in ctx.consumed:
            if resolver.kind(hit.name) == "load" and resolver.resolve_name(hit.name) is not None:
                used.add(value)
    return used


def rewrite_imports(module: cst.Module, ctx, moved: dict[int, cst.CSTNode] | None = None) -> cst.Module:
    """The module with the source framework's unused imports removed and the target's
    added. ``moved`` receives, for every statement replaced on the way (fewer imports in
    its body, blank lines added before it), id(old statement) -> its replacement, so
    that a changed statement is still formatted and checked as one."""
    records = ctx.resolver.bindings.framework_imports
    source = ctx.source_framework
    candidates: set[str] = set()
    stars = []
    for rec in records:
        node = rec.node
        if isinstance(node, cst.ImportFrom) and isinstance(node.names, cst.ImportStar):
            if ROOTS.get(_module_of(node, None).split(".")[0]) == source:
                stars.append(rec.node)
            continue
        for name, alias in _bound_names(node):
            if ROOTS.get(_module_of(node, alias).split(".")[0]) == source:
                candidates.add(name)
    used = remaining_uses(ctx, candidates)
    removable: dict[int, set[str]] = {}
    for rec in records:
        drop = {name for name, _ in _bound_names(rec.node) if name in candidates and name not in used}
        if drop:
            removable[id(rec.node)] = drop
    # a star import stays while anything it may provide is left unconverted
    if stars and not any(f.kind == "unconverted" for f in ctx.findings):
        for node in stars:
            removable[id(node)] = {"*"}

    state = _State(moved if moved is not None else {})
    body, pending = _rewrite_block(list(module.body), removable, state, top=True)
    footer = [*pending, *module.footer]
    needs = ctx.speller.needs
    # a name a hook spells may already be imported by a statement that stays (``import keras``
    # kept for an unconverted call that a class rewrite carries along): not imported twice
    kept = {cst.Module(body=[stmt]).code.strip() for stmt in body if _is_import(stmt)}
    new_imports = [cst.parse_statement(line + "\n") for line in render_imports(needs) if line.strip() not in kept]
    anchor = state.anchor if state.anchor is not None else _after_first_imports(body)
    if new_imports:
        if state.anchor_lead:
            new_imports[0] = new_imports[0].with_changes(leading_lines=state.anchor_lead)
        body[anchor:anchor] = new_imports
        after = anchor + len(new_imports)
        if after < len(body) and not _is_import(body[after]):
            body[after] = state.move(body[after], _separated(body[after]))
    elif state.anchor_lead:
        if anchor < len(body):
            body[anchor] = state.move(body[anchor], body[anchor].with_changes(
                leading_lines=[*state.anchor_lead, *body[anchor].leading_lines]
            ))
        else:
            footer = [*state.anchor_lead, *footer]
    return module.with_changes(body=body, footer=footer)


class _State:
    def __init__(self, moved: dict) -> None:
        self.anchor: int | None = None  # where new imports go in the module body
        self.anchor_lead: list = []  # comments/blank lines of the removed import there
        self.moved = moved  # id(original statement) -> the statement that replaced it
        self._origin: dict[int, int] = {}  # id(replacement) -> id(original statement)

    def move(self, old, new):
        if new is not old:
            origin = self._origin.get(id(old), id(old))
            self.moved[origin] = new
            self._origin[id(new)] = origin
        return new


def _is_import(stmt) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _separated(stmt):
    """Code right after an import block starts after blank lines (two before a def or class)."""
    want = 2 if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)) else 1
    lines = list(stmt.leading_lines)
    blank = 0
    while blank < len(lines) and lines[blank].comment is None:
        blank += 1
    if blank >= want:
        return stmt
    return stmt.with_changes(leading_lines=[cst.EmptyLine()] * (want - blank) + lines)


def _after_first_imports(body: list) -> int:
    """Where new imports go when no removed import marks the place: after the module's
    first block of imports (the one at the top), so they come before any use; an import
    further down (a later notebook cell, one after sys.path changes) is not the place."""
    index = 0
    started = False
    for i, stmt in enumerate(body):
        if _is_import(stmt):
            index = i + 1
            started = True
        elif i == 0 and is_docstring(stmt):
            index = 1
        elif started:
            break
    return index



def _rewrite_block(body: list, removable: dict[int, set[str]], state: _State, top: bool):
    """New statement list; comments above a removed import move to what follows."""
    out = []
    pending: list = []
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            new = _rewrite_line(stmt, removable)
            if new is None:
                if top and state.anchor is None:
                    state.anchor = len(out)
                    state.anchor_lead = list(stmt.leading_lines)
                else:
                    pending.extend(stmt.leading_lines)
                continue
            if top and new is not stmt and state.anchor is None:
                state.anchor = len(out) + 1
        elif isinstance(stmt, cst.BaseCompoundStatement):
            new = _rewrite_compound(stmt, removable, state)
        else:
            new = stmt
        lines = [*pending, *new.leading_lines]
        if not top and not out and stmt is not body[0]:
            # the block no longer starts with the removed import: no blank line after its header
            while lines and lines[0].comment is None:
                lines.pop(0)
        if lines != list(new.leading_lines):
            new = new.with_changes(leading_lines=lines)
        pending = []
        out.append(state.move(stmt, new))
    return out, pending


def _rewrite_block_in(block: cst.IndentedBlock, removable, state) -> cst.IndentedBlock:
    new_body, pending = _rewrite_block(list(block.body), removable, state, top=False)
    if not new_body:
        new_body = [cst.SimpleStatementLine(body=[cst.Pass()])]
    if pending or len(new_body) != len(block.body) or any(a is not b for a, b in zip(new_body, block.body)):
        return block.with_changes(body=new_body, footer=[*pending, *block.footer])
    return block


def _rewrite_compound(stmt, removable, state):
    changes = {}
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        new = _rewrite_block_in(body, removable, state)
        if new is not body:
            changes["body"] = new
    for field in ("orelse", "finalbody"):
        part = getattr(stmt, field, None)
        if part is not None:
            new = _rewrite_compound(part, removable, state)
            if new is not part:
                changes[field] = new
    handlers = getattr(stmt, "handlers", None)
    if handlers:
        new_handlers = [_rewrite_compound(h, removable, state) for h in handlers]
        if any(a is not b for a, b in zip(new_handlers, handlers)):
            changes["handlers"] = new_handlers
    return stmt.with_changes(**changes) if changes else stmt


def _rewrite_line(stmt: cst.SimpleStatementLine, removable):
    """The line without unused imports; None when nothing is left of it."""
    if not any(id(s) in removable for s in stmt.body):
        return stmt
    kept = []
    for small in stmt.body:
        drop = removable.get(id(small))
        if not drop:
            kept.append(small)
            continue
        if "*" in drop:
            continue
        names = [a for name, a in _bound_names(small) if name not in drop]
        if names:
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            kept.append(small.with_changes(names=names))
    if not kept:
        return None
    kept[-1] = kept[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
    return stmt.with_changes(body=kept)
