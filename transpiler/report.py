"""What a conversion did and did not do, per file and in total.

Every source-framework use the engine meets ends up here: converted (with its
target), unconverted (left in place, marked with a TODO comment, with a reason),
or converted with a warning (an argument was dropped, a default differs...).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

CONVERTED = "converted"
UNCONVERTED = "unconverted"
WARNING = "warning"
ERROR = "error"


@dataclass
class Finding:
    line: int
    col: int
    api: str
    kind: str
    message: str = ""
    target: str = ""
    cell: int | None = None  # notebooks: the cell (1-based, every cell counted); line is within it

    def location(self, path: str) -> str:
        if self.cell is not None:
            return f"{path}:cell {self.cell}:{self.line}:{self.col}"
        return f"{path}:{self.line}:{self.col}"

    def to_dict(self) -> dict:
        data = asdict(self)
        if self.cell is None:
            del data["cell"]
        return data


@dataclass
class FileReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    status: str = "unchanged"  # unchanged | converted | would-convert | error | skipped
    error: str = ""
    source_framework: str | None = None

    @property
    def converted(self) -> int:
        # a warning accompanies a converted use (an argument dropped, a default that differs):
        # not a use of its own, as `transpiler coverage` counts them
        return sum(1 for f in self.findings if f.kind == CONVERTED)

    @property
    def unconverted(self) -> int:
        return sum(1 for f in self.findings if f.kind == UNCONVERTED)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.kind == WARNING)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (f.cell or 0, f.line, f.col, f.kind))


@dataclass
class Report:
    files: list[FileReport] = field(default_factory=list)
    direction: str = ""

    @property
    def errors(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "error"]

    def totals(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "changed": sum(1 for f in self.files if f.status in ("converted", "would-convert")),
            "errors": len(self.errors),
            # a file that could not be converted (or written) counts for nothing
            "converted": sum(f.converted for f in self.files if f.status != "error"),
            "unconverted": sum(f.unconverted for f in self.files if f.status != "error"),
            "warnings": sum(f.warnings for f in self.files if f.status != "error"),
        }

    def to_json(self) -> str:
        data = {
            "version": 1,
            "direction": self.direction,
            "totals": self.totals(),
            "files": [
                {
                    "path": f.path,
                    "status": f.status,
                    "source_framework": f.source_framework,
                    "error": f.error or None,
                    "converted": f.converted,
                    "unconverted": f.unconverted,
                    "findings": [x.to_dict() for x in f.sorted_findings()],
                }
                for f in self.files
            ],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    def to_text(self, *, verbose: bool = False) -> str:
        lines = []
        for f in self.files:
            if f.status == "error":
                lines.append(f"{f.path}: error: {f.error}")
                continue
            if not f.findings and f.status == "unchanged":
                if verbose:
                    lines.append(f"{f.path}: nothing to convert")
                continue
            lines.append(
                f"{f.path}: {f.converted} converted, {f.unconverted} unconverted"
                + (f", {f.warnings} warnings" if f.warnings else "")
            )
            for x in f.sorted_findings():
                if x.kind == UNCONVERTED:
                    lines.append(f"  {x.location(f.path)}: unconverted {x.api}: {x.message}")
                elif x.kind == WARNING:
                    lines.append(f"  {x.location(f.path)}: warning {x.api}: {x.message}")
                elif verbose:
                    lines.append(f"  {x.location(f.path)}: {x.api} -> {x.target}")
        t = self.totals()
        lines.append(
            f"{t['files']} file(s): {t['changed']} changed, {t['converted']} uses converted, "
            f"{t['unconverted']} unconverted, {t['errors']} error(s)"
        )
        return "\n".join(lines)
