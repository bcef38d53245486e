"""Formatting the statements the conversion changed, with black, and nothing else.

Black's own ``--line-ranges`` reparses the whole file with its pure-Python
parser, which costs more than the rest of the conversion together. Instead every
changed statement (or, for a compound statement whose header changed, just the
header) is cut out, all of one file's pieces go through black in one call, and
the results are parsed back into the tree at their original indentation. The
line length black sees is reduced by each piece's indentation, so the result is
what black gives for those lines in place.
"""

from __future__ import annotations

import io
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import libcst as cst

_MARK = "# @@transpiler-format-piece@@"
_HEADER_TYPES = (cst.If, cst.For, cst.While, cst.With, cst.FunctionDef, cst.ClassDef)


@dataclass
class _Piece:
    node: cst.CSTNode
    kind: str  # "line", "header" or "whole"
    indents: tuple[str, ...]  # indentation of each enclosing block
    text: str = ""
    result: cst.CSTNode | None = None

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


def format_changed(
    module: cst.Module, dirty: set[int], new: set[int], config: BlackConfig
) -> tuple[cst.Module, bool]:
    """Black-format the changed statements; also say whether every one of them was
    parsed again after formatting (then the output is known to parse)."""
    pieces: list[_Piece] = []
    seen = [0]
    _collect(module.body, (), dirty, new, pieces, module.default_indent, seen)
    if not pieces:
        return module, seen[0] == 0
    for piece in pieces:
        piece.text = _piece_text(module, piece)
    groups: dict[int, list[_Piece]] = {}
    for piece in pieces:
        groups.setdefault(config.line_length - piece.width, []).append(piece)
    for length, group in groups.items():
        _format_group(group, _mode(config, length))
    _reparse_all([p for p in pieces if p.result is not None], module)
    replacements = {id(p.node): p.result for p in pieces if p.result is not None}
    validated = len(replacements) == seen[0]
    if not replacements:
        return module, validated
    return module.with_changes(body=_splice(module.body, replacements)), validated


def _collect(body, indents, dirty, new, out, default_indent, seen) -> None:
    for stmt in body:
        _collect_statement(stmt, indents, dirty, new, out, default_indent, seen)


def _collect_statement(stmt, indents, dirty, new, out, default_indent, seen) -> None:
    key = id(stmt)
    if key in dirty or key in new:
        seen[0] += 1  # a changed statement: formatted (and reparsed) below, or not
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
        _collect(block.body, indents + (indent,), dirty, new, out, default_indent, seen)
    orelse = getattr(stmt, "orelse", None)
    if isinstance(orelse, cst.If):  # an elif clause sits at the same indentation
        _collect_statement(orelse, indents, dirty, new, out, default_indent, seen)


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
    text = module.code_for_node(node)
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

    joined = "".join(f"{_MARK}\n{p.text}\n" for p in group)
    try:
        out = black.format_str(joined, mode=mode)
        parts = out.split(_MARK + "\n")[1:]
        if len(parts) != len(group):
            raise ValueError("black merged pieces")
        for piece, text in zip(group, parts):
            piece.result = text.strip("\n") + "\n"
        return
    except Exception:
        pass
    for piece in group:  # one bad piece must not keep the others unformatted
        try:
            piece.result = black.format_str(piece.text, mode=mode).strip("\n") + "\n"
        except Exception:
            piece.result = None


def _string_lines(text: str) -> set[int]:
    """0-based line numbers that continue a multi-line string (never re-indented)."""
    inside: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING or getattr(tokenize, "FSTRING_MIDDLE", -1) == tok.type:
                for line in range(tok.start[0], tok.end[0]):
                    inside.add(line)  # token line numbers are 1-based: skips the first line
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return inside


def _piece_source(piece: _Piece, module: cst.Module) -> str:
    """Black's column-0 output, put back at the piece's depth inside ``if 1:`` wrappers."""
    text: str = piece.result
    indents = list(piece.indents)
    prefix = "".join(indents)
    skip = _string_lines(text)
    nl = module.default_newline
    shifted = []
    for i, line in enumerate(text.splitlines(keepends=True)):
        body = line.rstrip("\r\n")
        if i in skip or not body:
            shifted.append(body + nl)
        else:
            shifted.append(prefix + body + nl)
    wrapper = ["".join(indents[:depth]) + "if 1:" + nl for depth in range(len(indents))]
    return "".join(wrapper) + "".join(shifted)


def _extract(parsed_stmt, piece: _Piece):
    node = parsed_stmt
    for _ in piece.indents:
        node = node.body.body[0]
    original = piece.node
    if piece.kind == "header":
        changes = {"body": original.body, "leading_lines": original.leading_lines}
        if hasattr(original, "orelse"):
            changes["orelse"] = original.orelse
        return node.with_changes(**changes)
    return node.with_changes(leading_lines=original.leading_lines)


def _reparse_all(pieces: list[_Piece], module: cst.Module) -> None:
    """Parse every formatted piece back; one parse for all of them when possible."""
    if not pieces:
        return
    sources = [_piece_source(p, module) for p in pieces]
    try:
        parsed = cst.parse_module("".join(sources), config=module.config_for_parsing)
        if len(parsed.body) == len(pieces):
            for piece, stmt in zip(pieces, parsed.body):
                piece.result = _extract(stmt, piece)
            return
    except Exception:
        pass
    for piece, source in zip(pieces, sources):
        try:
            parsed = cst.parse_module(source, config=module.config_for_parsing)
            piece.result = _extract(parsed.body[0], piece)
        except Exception:
            piece.result = None


def _splice(body, replacements):
    out = []
    changed = False
    for stmt in body:
        new = replacements.get(id(stmt))
        if new is None:
            new = _splice_compound(stmt, replacements)
        else:
            # a formatted header keeps its (possibly also formatted) blocks
            new = _splice_compound(new, replacements)
        changed |= new is not stmt
        out.append(new)
    return out if changed else body


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
            new = replacements.get(id(part))
            new = _splice_compound(new if new is not None else part, replacements)
            if new is not part:
                changes[name] = new
    return stmt.with_changes(**changes) if changes else stmt
