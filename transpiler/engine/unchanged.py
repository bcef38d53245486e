"""Statements the conversion left alone are copied from the source, not generated again.

Generating the converted module's code costs about as much as parsing it, and most
statements of a file are the ones it had: the scan already produced their text. A
statement that is still the very node the parser made (LibCST nodes are immutable,
so the same object means the same code) is written as that text, provided it sits
at the indentation it had (a hook may move statements into another block). Only
the changed statements, and the compound statements around them, are generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst

from .codegen import state_for
from .scan import Scan


def reuse_unchanged(module: cst.Module, scan: Scan) -> cst.Module:
    """``module`` for code generation only: its unchanged statements are source text."""
    body = _body(module.body, scan)
    return module if body is module.body else module.with_changes(body=body)


def generate(module: cst.Module, scan: Scan) -> tuple[str, str]:
    """The converted module's code, and the code of its top-level statements that were
    generated (not copied from the source): what must be checked to parse, since the
    copied ones parsed already and a top-level statement parses on its own."""
    module = reuse_unchanged(module, scan)
    # Module._codegen_impl, with the token range of each generated statement noted
    state = state_for(module)
    tokens = state.tokens
    generated = []
    for node in module.header:
        node._codegen(state)
    for stmt in module.body:
        start = len(tokens)
        stmt._codegen(state)
        if type(stmt) is not _Unchanged:
            generated.append((start, len(tokens)))
    for node in module.footer:
        node._codegen(state)
    if module.has_trailing_newline:
        if not tokens:
            state.add_token(state.default_newline)
    else:
        state.pop_trailing_newline()
    return "".join(tokens), "".join("".join(tokens[a:b]) for a, b in generated)


def _body(body, scan: Scan):
    out = [_statement(stmt, scan) for stmt in body]
    return body if all(a is b for a, b in zip(out, body)) else out


def _statement(stmt, scan: Scan):
    text = scan.text_of(stmt)
    # the last statement of a file with no final newline lost it in the scan's output
    if text is not None and text.endswith(("\n", "\r")):
        return _Unchanged(node=stmt, text=text, indent=scan.indent_of[id(stmt)])
    return _blocks(stmt, scan)


def _blocks(stmt, scan: Scan):
    """A changed statement with the unchanged statements inside it reused."""
    if isinstance(stmt, cst.SimpleStatementLine):
        return stmt
    blocks = getattr(stmt, "blocks", None)
    if blocks is not None:  # a formatted header (engine/formatting.py) and its own blocks
        new = tuple(_blocks(b, scan) for b in blocks)
        return stmt if all(a is b for a, b in zip(new, blocks)) else stmt.with_changes(blocks=new)
    changes = {}
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        inner = _body(body.body, scan)
        if inner is not body.body:
            changes["body"] = body.with_changes(body=inner)
    handlers = getattr(stmt, "handlers", None)
    if handlers:
        new_handlers = [_blocks(h, scan) for h in handlers]
        if any(a is not b for a, b in zip(new_handlers, handlers)):
            changes["handlers"] = new_handlers
    for name in ("orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is not None:  # an elif is generated (its text would depend on its place)
            new = _blocks(part, scan)
            if new is not part:
                changes[name] = new
    return stmt.with_changes(**changes) if changes else stmt


@dataclass(frozen=True)
class _Unchanged(cst.BaseCompoundStatement):
    node: cst.BaseStatement
    text: str  # the statement's code, leading lines and indentation included
    indent: str  # the indentation it was written at
    leading_lines: Sequence[cst.EmptyLine] = ()
    body: cst.BaseSuite = field(default_factory=lambda: cst.IndentedBlock(body=()))

    def _visit_and_replace_children(self, visitor):
        return self

    def _codegen_impl(self, state) -> None:
        if "".join(state.indent_tokens) == self.indent:
            state.add_token(self.text)
        else:
            self.node._codegen(state)
