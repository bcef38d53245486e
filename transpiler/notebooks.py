"""Jupyter notebooks: the code cells convert together, and each cell keeps its place.

A notebook runs top to bottom as one program (``import tensorflow as tf`` in the
first cell serves every later one), so its code cells are converted as one
module, with a marker comment between cells, and cut back into cells after.
Markdown and raw cells, outputs, execution counts and all metadata stay as
they are. A cell whose first line is a cell magic (``%%bash``) is not Python and
is left alone; line magics, shell escapes and help lines (``%time x``,
``!pip install``, ``tf.reduce_sum?``) are masked before conversion and put back
after. A cell that still does not parse is left as it was and reported. Findings
carry the cell number (1-based, every cell counted) and the line within that
cell: ``path:cell N:line:col`` in text, ``"cell": N`` in JSON.

The notebook's JSON is written back with its own indentation, key order, ASCII
escaping and final newline; a notebook with nothing to convert is not touched.
"""

from __future__ import annotations

import io
import json
import re
import tokenize

from .report import UNCONVERTED, FileReport, Finding

_MAGIC = re.compile(r"^([ \t]*)([%!].*|\?\??[\w.]+.*|[\w.]+\?\??[ \t]*)$")
_MARK = "# @@transpiler-cell {}@@"
_MARK_LINE = re.compile(r"^# @@transpiler-cell (\d+)@@\r?\n", re.MULTILINE)


class _Cell:
    def __init__(self, index: int, cell: dict, text: str):
        self.index = index
        self.cell = cell
        self.text = text
        self.masked = text
        self.masks: dict[str, str] = {}
        self.start = 0  # first line of the cell in the joined module (1-based)


def _starts_statement(prefix: str) -> bool:
    """Whether the line after ``prefix`` starts a statement (not inside brackets, a string or a backslash continuation)."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO(prefix).readline):
            pass
    except tokenize.TokenError as exc:
        message = str(exc.args[0]) if exc.args else ""
        return not ("EOF" in message or "multi-line" in message or "triple-quoted" in message)
    except (IndentationError, SyntaxError):
        return True
    return True


def _mask(cell: _Cell) -> None:
    """Replace IPython-only lines by placeholder statements (only where a statement starts)."""
    lines = cell.text.split("\n")
    candidates = [i for i, line in enumerate(lines) if _MAGIC.match(line.rstrip("\r"))]
    if not candidates:
        return
    chosen: set[int] = set()
    for i in candidates:
        prefix, _ = _masked(cell.index, lines[:i], chosen)
        if _starts_statement(prefix + "\n" if prefix else ""):
            chosen.add(i)
    cell.masked, cell.masks = _masked(cell.index, lines, chosen)


def _masked(index: int, lines: list[str], candidates: set[int]) -> tuple[str, dict[str, str]]:
    out = []
    masks: dict[str, str] = {}
    for i, line in enumerate(lines):
        if i in candidates:
            cr = "\r" if line.endswith("\r") else ""
            m = _MAGIC.match(line.rstrip("\r"))
            key = f"__transpiler_magic_{index}_{i}__  # magic"
            masks[key] = m.group(2)
            out.append(f"{m.group(1)}{key}{cr}")
        else:
            out.append(line)
    return "\n".join(out), masks


def _unmask(text: str, masks: dict[str, str]) -> str | None:
    for key, magic in masks.items():
        if text.count(key) != 1:
            return None  # the conversion lost or duplicated a magic line
        text = text.replace(key, magic)
    return text


def _parses(text: str) -> str | None:
    """None when the cell parses, else why not."""
    import libcst as cst

    try:
        cst.parse_module(text)
        return None
    except cst.ParserSyntaxError as exc:
        return f"line {exc.raw_line}, column {exc.raw_column + 1}: {exc.message}"
    except RecursionError:
        return "too deeply nested to parse"


def _json_style(text: str) -> dict:
    m = re.search(r"\n([ \t]+)\S", text[:4096])
    indent = None if m is None else (m.group(1) if "\t" in m.group(1) else len(m.group(1)))
    return {"indent": indent, "ensure_ascii": text.isascii(), "crlf": "\r\n" in text[:4096]}


def _dump(nb: dict, style: dict, trailing_newline: bool) -> str:
    out = json.dumps(nb, indent=style["indent"], ensure_ascii=style["ensure_ascii"])
    if trailing_newline:
        out += "\n"
    if style["crlf"]:
        out = out.replace("\n", "\r\n")
    return out


def convert_notebook(path: str, options):
    from .api import InternalError
    from .files import FileError, encode_source, read_source
    from .runner import Outcome, convert_text

    report = FileReport(path=path)
    source = read_source(path)
    try:
        nb = json.loads(source.text)
    except json.JSONDecodeError as exc:
        raise FileError(f"not a Jupyter notebook: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        if isinstance(nb, dict) and "worksheets" in nb:
            raise FileError("nbformat 3 notebooks are not supported; upgrade it with `jupyter nbconvert --to notebook --inplace`")
        raise FileError("not a Jupyter notebook: no list of cells")

    cells: list[_Cell] = []
    for index, cell in enumerate(nb["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        raw = cell.get("source", "")
        if isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            text = "".join(raw)
        elif isinstance(raw, str):
            text = raw
        else:
            raise FileError(f"not a Jupyter notebook: cell {index} has a source that is not text")
        if text.lstrip().startswith("%%"):
            continue  # a cell magic: another language
        item = _Cell(index, cell, text)
        _mask(item)
        problem = _parses(item.masked)
        if problem is not None:
            report.findings.append(
                Finding(0, 0, "<cell>", UNCONVERTED, f"cell left as it was: it does not parse ({problem})", cell=index)
            )
            continue
        cells.append(item)
    if not cells:
        return Outcome(path, report, original=source.text, source=source)

    pieces = []
    line = 1
    for n, item in enumerate(cells):
        if n:
            pieces.append(_MARK.format(item.index) + "\n")
            line += 1
        item.start = line
        body = item.masked if item.masked.endswith("\n") or not item.masked else item.masked + "\n"
        pieces.append(body)
        line += body.count("\n")
    joined = "".join(pieces)
    result = convert_text(path, joined, options)

    for finding in result.report.findings:
        owner = cells[0]
        for item in cells:
            if item.start <= finding.line:
                owner = item
        finding.cell = owner.index
        finding.line = finding.line - owner.start + 1
        report.findings.append(finding)
    report.source_framework = result.source_framework
    if not result.changed:
        return Outcome(path, report, original=source.text, source=source)

    segments = _split(result.code, [item.index for item in cells])
    if segments is None:
        raise InternalError("the cell boundaries were lost in the conversion; the notebook is left as it was")
    changed = False
    for item, segment in zip(cells, segments):
        new = _unmask(segment, item.masks)
        if new is None:
            raise InternalError(f"a magic line of cell {item.index} was lost in the conversion; the notebook is left as it was")
        # the cell keeps its own ending (cells usually have no final newline)
        ending = item.text[len(item.text.rstrip("\r\n")):]
        new = new.rstrip("\r\n") + ending
        if new != item.text:
            changed = True
            raw = item.cell.get("source", "")
            item.cell["source"] = new.splitlines(keepends=True) if isinstance(raw, list) else new
    if not changed:
        return Outcome(path, report, original=source.text, source=source)
    out = _dump(nb, _json_style(source.text), source.text.endswith(("\n", "\r")))
    report.status = "converted"
    return Outcome(path, report, original=source.text, converted=out, data=encode_source(source, out), source=source)


def _split(code: str, indexes: list[int]) -> list[str] | None:
    """The converted module cut back into cells, or None if the markers did not survive intact."""
    marks = list(_MARK_LINE.finditer(code))
    if [int(m.group(1)) for m in marks] != indexes[1:]:
        return None
    segments = []
    start = 0
    for m in marks:
        segments.append(code[start:m.start()])
        start = m.end()
    segments.append(code[start:])
    return segments
