"""Jupyter notebooks: code cells convert one by one; outputs, metadata and magics stay.

A cell whose first line is a cell magic (``%%bash``) is not Python and is left
alone; line magics and shell escapes (``%time``, ``!pip``) are masked before
conversion and put back after. Findings carry the line within the cell and the
cell number (``path:cell N:line:col`` in text, ``cell`` in JSON).
"""

from __future__ import annotations

import json
import re

from .report import FileReport

_MAGIC = re.compile(r"^(\s*)([%!].*)$")


def _mask(source: str) -> tuple[str, dict[str, str]]:
    masks: dict[str, str] = {}
    out = []
    for i, line in enumerate(source.split("\n")):
        m = _MAGIC.match(line)
        if m:
            key = f"__transpiler_magic_{i}__"
            masks[key] = m.group(2)
            out.append(f"{m.group(1)}{key}  # magic")
        else:
            out.append(line)
    return "\n".join(out), masks


def _unmask(source: str, masks: dict[str, str]) -> str:
    for key, magic in masks.items():
        source = source.replace(f"{key}  # magic", magic)
    return source


def convert_notebook(path: str, options):
    from .api import InputError, InternalError
    from .files import FileError, read_source
    from .runner import Outcome, convert_text

    report = FileReport(path=path)
    source = read_source(path)
    try:
        nb = json.loads(source.text)
        cells = nb["cells"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise FileError(f"not a Jupyter notebook: {exc}") from None
    changed = False
    for index, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        raw = cell.get("source", "")
        text = "".join(raw) if isinstance(raw, list) else raw
        if text.lstrip().startswith("%%"):
            continue
        masked, masks = _mask(text)
        try:
            result = convert_text(f"{path}#cell{index}", masked, options)
        except InputError as exc:
            report.findings.append(_error_finding(index, str(exc)))
            continue
        except InternalError as exc:
            raise
        for finding in result.report.findings:
            finding.api = finding.api
            finding.message = f"cell {index}: {finding.message}" if finding.message else f"cell {index}"
            report.findings.append(finding)
        if result.source_framework:
            report.source_framework = result.source_framework
        if result.changed:
            new = _unmask(result.code, masks)
            if new != text:
                changed = True
                lines = new.splitlines(keepends=True)
                cell["source"] = lines if isinstance(raw, list) else new
    if not changed:
        report.status = "unchanged"
        return Outcome(path, report, original=source.text)
    indent = 1 if '\n "' in source.text[:200] else 2
    out = json.dumps(nb, indent=indent, ensure_ascii=False) + ("\n" if source.text.endswith("\n") else "")
    report.status = "converted"
    return Outcome(path, report, original=source.text, converted=out, data=out.encode("utf-8"))


def _error_finding(index: int, message: str):
    from .report import UNCONVERTED, Finding

    return Finding(0, 0, "<cell>", UNCONVERTED, f"cell {index} left as it was: {message}")
