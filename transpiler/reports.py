"""Report formats for tools: SARIF 2.1.0 for code scanning, Markdown for pull requests."""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePath
from urllib.parse import quote

from .report import UNCONVERTED, WARNING, Report

_RULES = [
    {
        "id": "unconverted",
        "name": "UnconvertedApi",
        "shortDescription": {"text": "A framework API use that the transpiler left unconverted."},
        "fullDescription": {"text": "The use stays as it was and is marked with a TODO(transpiler) comment; convert it by hand."},
        "defaultConfiguration": {"level": "warning"},
    },
    {
        "id": "conversion-warning",
        "name": "ConversionWarning",
        "shortDescription": {"text": "Converted, but with a caveat (a dropped argument, a differing default)."},
        "defaultConfiguration": {"level": "note"},
    },
    {
        "id": "file-error",
        "name": "FileError",
        "shortDescription": {"text": "The file could not be converted at all."},
        "defaultConfiguration": {"level": "error"},
    },
]


def _artifact(path: str) -> dict:
    """An artifactLocation: a file URI for an absolute path, else a relative
    reference resolved against %SRCROOT% (the folder the run started in)."""
    if os.path.isabs(path):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(PurePath(path).as_posix()), "uriBaseId": "%SRCROOT%"}


def _location(path: str, x) -> dict:
    physical: dict = {"artifactLocation": _artifact(path)}
    if x.cell is None:  # in a notebook a line within a cell is no line of the file
        physical["region"] = {"startLine": max(x.line, 1), "startColumn": max(x.col, 1)}
    return {"physicalLocation": physical}


def to_sarif(report: Report) -> str:
    from . import __version__

    results = []
    for f in report.files:
        if f.status == "error":
            results.append({
                "ruleId": "file-error",
                "ruleIndex": 2,
                "level": "error",
                "message": {"text": f.error or "cannot convert this file"},
                "locations": [{"physicalLocation": {"artifactLocation": _artifact(f.path)}}],
            })
            continue
        for x in f.sorted_findings():
            if x.kind not in (UNCONVERTED, WARNING):
                continue
            where = f"cell {x.cell}, line {x.line}: " if x.cell is not None else ""
            properties = {"api": x.api}
            if x.cell is not None:
                properties.update(cell=x.cell, cellLine=x.line, cellColumn=x.col)
            results.append({
                "ruleId": "unconverted" if x.kind == UNCONVERTED else "conversion-warning",
                "ruleIndex": 0 if x.kind == UNCONVERTED else 1,
                "level": "warning" if x.kind == UNCONVERTED else "note",
                "message": {"text": f"{where}{x.api}: {x.message}"},
                "locations": [_location(f.path, x)],
                "properties": properties,
            })
    sarif = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "transpiler",
                "version": __version__,
                "rules": _RULES,
            }},
            # columns count characters (code points), as Python and the text report do
            "columnKind": "unicodeCodePoints",
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(os.getcwd()).as_uri() + "/"}},
            "results": results,
        }],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


def to_markdown(report: Report) -> str:
    t = report.totals()
    lines = [
        "### transpiler report",
        "",
        f"**{t['files']}** file(s), **{t['changed']}** changed: **{t['converted']}** uses converted, "
        f"**{t['unconverted']}** left unconverted, **{t['errors']}** error(s).",
        "",
    ]
    touched = [f for f in report.files if f.findings or f.status == "error"]
    if touched:
        lines += ["| file | converted | unconverted | status |", "|---|---:|---:|---|"]
        for f in touched:
            status = f"error: {_cell(f.error)}" if f.status == "error" else f.status
            lines.append(f"| `{_cell(f.path)}` | {f.converted} | {f.unconverted} | {status} |")
        lines.append("")
    todo = [(f, x) for f in report.files for x in f.sorted_findings() if x.kind == UNCONVERTED]
    if todo:
        lines += ["<details><summary>Unconverted uses</summary>", ""]
        for f, x in todo:
            lines.append(f"- `{_cell(x.location(f.path))}` `{_cell(x.api)}`: {_cell(x.message)}")
        lines += ["", "</details>"]
    return "\n".join(lines)
