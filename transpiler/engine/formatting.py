"""Formatting the statements the conversion changed, with black, and nothing else.

Black's own ``--line-ranges`` reparses the whole file with its pure-Python
parser, which costs more than the rest of the conversion together. Instead every
changed statement (or, for a compound statement whose header changed, just the
header) is cut out, all of one file's pieces go through black in one call, and
the results are written back as text at their original indentation (parsing them
back into LibCST nodes cost as much as black itself; the caller checks the whole
output with ``ast`` instead). The line length black sees is reduced by each
piece's indentation, so the result is what black gives for those lines in place.
"""

from __future__ import annotations

import io
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import libcst as cst

from .codegen import code_for_node

_MARK = "# @@transpiler-format-piece@@"
_HEADER_TYPES = (cst.If, cst.For, cst.While, cst.With, cst.FunctionDef, cst.ClassDef)


@dataclass
class _Piece:
    node: cst.CSTNode
    kind: str  # "line", "header" or "whole"
    indents: tuple[str, ...]  # indentation of each enclosing block
    text: str = ""
    result: str | None = None  # black's output for it

    @property
    def width(self) -> int:
        return sum(len(i.expandtabs(8)) for i in self.indents)


@dataclass
class BlackConfig:
    line_length: int = 88
    string_normalization: bool = True
    magic_trailing_comma: bool = True
    preview: bool = False
    target_versions: tuple[str, ...] = ()


@lru_cache(maxsize=256)
def black_config_for(directory: str | None) -> BlackConfig:
    """The [tool.black] settings of the nearest pyproject.toml, as black finds them."""
    if directory is None:
        return BlackConfig()
    path = Path(directory)
    for folder in (path, *path.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                import tomllib

                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except Exception:
                return BlackConfig()
            cfg = data.get("tool", {}).get("black", {})
            return BlackConfig(
                line_length=int(cfg.get("line-length", cfg.get("line_length", 88))),
                string_normalization=not cfg.get("skip-string-normalization", cfg.get("skip_string_normalization", False)),
                magic_trailing_comma=not cfg.get("skip-magic-trailing-comma", cfg.get("skip_magic_trailing_comma", False)),
                preview=bool(cfg.get("preview", False)),
                target_versions=tuple(cfg.get("target-version", cfg.get("target_version", ())) or ()),
            )
        if (folder / ".git").exists():
            break
    return BlackConfig()


def _mode(config: BlackConfig, line_length: int):
    import black

    versions = set()
    for v in config.target_versions:
        try:
            versions.add(black.TargetVersion[v.upper()])
        except KeyError:
            pass
    return black.Mode(
        line_length=max(line_length, 20),
        string_normalization=config.string_normalization,
        magic_trailing_comma=config.magic_trailing_comma,
        preview=config.preview,
        target_versions=versions,
    )


def format_changed(module: cst.Module, dirty: set[int], new: set[int], config: BlackConfig) -> cst.Module:
    """Black-format the changed statements. The result is only for code generation:
    formatted statements are text (the caller checks that the output parses)."""
    pieces: list[_Piece] = []
    _collect(module.body, (), dirty, new, pieces, module.default_indent)
    if not pieces:
        return module
    for piece in pieces:
        piece.text = _piece_text(module, piece)
    groups: dict[int, list[_Piece]] = {}
    for piece in pieces:
        groups.setdefault(config.line_length - piece.width, []).append(piece)
    for length, group in groups.items():
        _format_group(group, _mode(config, length))
    replacements = {id(p.node): p for p in pieces if p.result is not None}
    if not replacements:
        return module
    return module.with_changes(body=_splice(module.body, replacements))


def _collect(body, indents, dirty, new, out, default_indent) -> None:
    for stmt in body:
        _collect_statement(stmt, indents, dirty, new, out, default_indent)


def _collect_statement(stmt, indents, dirty, new, out, default_indent) -> None:
    key = id(stmt)
    if key in new:
        out.append(_Piece(stmt, "whole", indents))
        return
    if isinstance(stmt, cst.SimpleStatementLine):
        if key in dirty:
            out.append(_Piece(stmt, "line", indents))
        return
    if key in dirty and isinstance(stmt, _HEADER_TYPES):
        out.append(_Piece(stmt, "header", indents))
    for block in _blocks(stmt):
        indent = block.indent if block.indent is not None else default_indent
        _collect(block.body, indents + (indent,), dirty, new, out, default_indent)
    orelse = getattr(stmt, "orelse", None)
    if isinstance(orelse, cst.If):  # an elif clause sits at the same indentation
        _collect_statement(orelse, indents, dirty, new, out, default_indent)


def _blocks(stmt):
    """The indented blocks directly inside a compound statement, in order (not elif)."""
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        yield body
    for handler in getattr(stmt, "handlers", ()) or ():
        yield from _blocks(handler)
    for name in ("orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is not None and not isinstance(part, cst.If):
            yield from _blocks(part)


def _header_only(stmt):
    stub = cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Pass()])])
    changes = {"body": stub, "leading_lines": []}
    if hasattr(stmt, "orelse"):
        changes["orelse"] = None
    return stmt.with_changes(**changes)


def _piece_text(module: cst.Module, piece: _Piece) -> str:
    node = piece.node
    if piece.kind == "header":
        node = _header_only(node)
    else:
        node = node.with_changes(leading_lines=[])
    text = code_for_node(module, node)
    if not text.endswith("\n"):
        text += "\n"
    return text


# black's result for a piece, by (text, mode): converted code repeats itself a lot
_CACHE: dict[tuple[str, object], str] = {}


def _format_group(group: list[_Piece], mode) -> None:
    todo = []
    for piece in group:
        cached = _CACHE.get((piece.text, mode))
        if cached is not None:
            piece.result = cached
        else:
            todo.append(piece)
    if todo:
        _black_group(todo, mode)
        if len(_CACHE) > 50_000:
            _CACHE.clear()
        for piece in todo:
            if piece.result is not None:
                _CACHE[(piece.text, mode)] = piece.result


def _black_group(group: list[_Piece], mode) -> None:
    import black

    # black.format_str formats twice whenever the first pass changed something (its
    # second pass settles trailing commas); for many pieces in one call, one changed
    # piece would make every piece go through twice. So the passes are run here, the
    # second one on the pieces the first one changed: what black gives each piece.
    once = getattr(black, "_format_str_once", None)
    try:
        if once is None:
            results = _black_pass(group, [p.text for p in group], black.format_str, mode)
        else:
            first = _black_pass(group, [p.text for p in group], once, mode)
            changed = [i for i, (p, text) in enumerate(zip(group, first)) if text != p.text]
            results = first
            if changed:
                second = _black_pass([group[i] for i in changed], [first[i] for i in changed], once, mode)
                for i, text in zip(changed, second):
                    results[i] = text
        for piece, text in zip(group, results):
            piece.result = text
        return
    except Exception:
        pass
    for piece in group:  # one bad piece must not keep the others unformatted
        try:
            piece.result = black.format_str(piece.text, mode=mode).strip("\n") + "\n"
        except Exception:
            piece.result = None


def _black_pass(group: list[_Piece], texts: list[str], formatter, mode) -> list[str]:
    """One call of ``formatter`` on all ``texts``, each cut back out."""
    joined = "".join(f"{_MARK}\n{text}\n" for text in texts)
    out = formatter(joined, mode=mode)
    parts = out.split(_MARK + "\n")[1:]
    if len(parts) != len(group):
        raise ValueError("black merged pieces")
    return [text.strip("\n") + "\n" for text in parts]


def _string_lines(text: str) -> set[int]:
    """0-based line numbers that continue a multi-line string (never re-indented)."""
    inside: set[int] = set()
    if '"""' not in text and "'''" not in text and "\\\n" not in text:
        return inside  # a string spans lines only in triple quotes or after a backslash
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_MIDDLE", -1) == tok.type:
                for line in range(tok.start[0], tok.end[0]):
                    inside.add(line)  # token line numbers are 1-based: skips the first line
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return inside


def _splice(body, replacements):
    out = []
    changed = False
    for stmt in body:
        new = _replace(stmt, replacements)
        changed |= new is not stmt
        out.append(new)
    return out if changed else body


def _replace(stmt, replacements, elif_clause: bool = False):
    """``stmt`` with its formatted pieces put in, its own included."""
    piece = replacements.get(id(stmt))
    if piece is not None and piece.kind != "header":
        return _Formatted.of(piece, stmt)
    inner = _splice_compound(stmt, replacements)
    if piece is None:
        return inner
    return _Formatted.of(piece, inner, elif_clause)


def _splice_compound(stmt, replacements):
    if isinstance(stmt, cst.SimpleStatementLine):
        return stmt
    changes = {}
    body = getattr(stmt, "body", None)
    if isinstance(body, cst.IndentedBlock):
        inner = _splice(body.body, replacements)
        if inner is not body.body:
            changes["body"] = body.with_changes(body=inner)
    handlers = getattr(stmt, "handlers", None)
    if handlers:
        new_handlers = [_splice_compound(h, replacements) for h in handlers]
        if any(a is not b for a, b in zip(new_handlers, handlers)):
            changes["handlers"] = new_handlers
    for name in ("orelse", "finalbody"):
        part = getattr(stmt, name, None)
        if part is not None:
            new = _replace(part, replacements, elif_clause=isinstance(part, cst.If))
            if new is not part:
                changes[name] = new
    return stmt.with_changes(**changes) if changes else stmt


@dataclass(frozen=True)
class _Formatted(cst.BaseCompoundStatement):
    """Black's text for a changed statement (or a compound statement's header), written
    at the indentation the code generator is at. Nothing parses it back: the whole
    output is checked once with ``ast`` instead, which costs a fraction of LibCST's
    parse. A header is followed by the statement's own (spliced) blocks."""

    text: str  # black's output at column 0; a header's ends with its ':'
    string_lines: frozenset[int]  # lines that continue a multi-line string: never indented
    leading_lines: Sequence[cst.EmptyLine] = ()
    blocks: tuple[cst.CSTNode, ...] = ()  # a header's body, else clause or elif
    elif_clause: bool = False
    body: cst.BaseSuite = field(default_factory=lambda: cst.IndentedBlock(body=()))

    @classmethod
    def of(cls, piece: _Piece, node, elif_clause: bool = False) -> cst.CSTNode:
        text = piece.result
        blocks: tuple = ()
        if piece.kind == "header":
            head, sep, last = text.rstrip("\n").rpartition("\n")
            if not sep or last.strip() != "pass" or not head.endswith(":"):
                return node  # not the shape a header stub formats to: leave it as it was
            text = head
            blocks = (node.body,)
            orelse = getattr(node, "orelse", None)
            if orelse is not None:
                blocks += (orelse,)
        return cls(
            text=text,
            string_lines=frozenset(_string_lines(text)),
            leading_lines=tuple(node.leading_lines),
            blocks=blocks,
            elif_clause=elif_clause,
        )

    def _visit_and_replace_children(self, visitor):
        return self

    def _codegen_impl(self, state) -> None:
        for line in self.leading_lines:
            line._codegen(state)
        prefix = "".join(state.indent_tokens)
        newline = state.default_newline
        lines = self.text.split("\n")
        if not self.blocks and lines[-1] == "":
            lines.pop()
        if self.elif_clause and lines[0].startswith("if"):
            lines[0] = "el" + lines[0]
        for i, line in enumerate(lines):
            if i:
                state.add_token(newline)
            state.add_token(line if i in self.string_lines or not line else prefix + line)
        if not self.blocks:
            state.add_token(newline)
            return
        for block in self.blocks:
            if isinstance(block, cst.If):
                block._codegen(state, is_elif=True)
            else:
                block._codegen(state)
