"""``transpiler coverage``: how much of a tree's framework code the rules convert.

The figures are the converter's own report, so they are what ``transpiler
convert`` would do to the same files: every use the engine meets is a finding
of kind converted or unconverted. Warnings are not uses of their own: each
accompanies a converted use (an argument dropped, a subtle difference).
Nothing is written; files are converted in parallel like ``convert`` does.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field

from ..report import CONVERTED, UNCONVERTED, WARNING

LABEL = {"tf": "TensorFlow/Keras -> PyTorch", "torch": "PyTorch -> TensorFlow/Keras"}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "coverage",
        help="count a tree's TensorFlow/Keras or PyTorch uses and the share the rules convert",
        description=(
            "Convert every file in memory (nothing is written) and report how many framework uses there are, "
            "the share converted, the most frequent unconverted APIs and per-file figures. Exit 0 when measured, "
            "2 on a usage error (a missing path)."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--from", dest="source", choices=["tf", "torch"], default=None, help="count only this framework's uses (default: each file's own framework)")
    p.add_argument("--report", choices=["text", "json"], default="text", help="report format (default: text)")
    p.add_argument("--top", type=int, default=20, metavar="N", help="unconverted APIs listed in the text report (default 20)")
    p.add_argument("--include", action="append", default=None, metavar="GLOB", help="only count files matching (gitignore syntax, repeatable)")
    p.add_argument("--exclude", action="append", default=None, metavar="GLOB", help="skip files matching (gitignore syntax, repeatable)")
    p.add_argument("--no-gitignore", action="store_true", help="do not skip files that .gitignore ignores")
    p.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--rules", action="append", default=[], metavar="FILE", help="extra rule file or folder (repeatable), as for convert")
    p.add_argument("--reexport", action="append", default=[], metavar="NAME=FRAMEWORK_NAME", help="a name your own module re-exports, and the framework name it is (repeatable), as for convert")
    p.add_argument("--twin", action="append", default=[], metavar="CLASS=TWIN", help="a base class of another package and its twin in the target framework (repeatable), as for convert")
    p.add_argument("--config", metavar="PYPROJECT", help="use this pyproject.toml instead of searching for one")
    p.set_defaults(func=run)


@dataclass
class FileFigures:
    path: str
    source: str | None = None  # the framework whose uses were counted
    converted: int = 0
    unconverted: int = 0
    warnings: int = 0
    status: str = "ok"  # ok | error (unreadable, does not parse) | crash (a bug in the converter)
    error: str = ""

    @property
    def uses(self) -> int:
        return self.converted + self.unconverted


@dataclass
class ApiTally:
    source: str
    api: str
    count: int = 0
    reasons: Counter = field(default_factory=Counter)
    where: dict = field(default_factory=dict)  # reason -> first location

    def example(self) -> tuple[str, str]:
        reason = self.reasons.most_common(1)[0][0]
        return reason, self.where[reason]


@dataclass
class Coverage:
    source: str | None = None  # --from, None for each file's own
    files: list[FileFigures] = field(default_factory=list)
    apis: dict = field(default_factory=dict)  # (source, api) -> ApiTally
    seconds: float = 0.0

    def add(self, outcome) -> None:
        report = outcome.report
        figures = FileFigures(outcome.path, report.source_framework)
        if outcome.error:
            # the runner names converter bugs (exceptions, outputs that do not parse,
            # dead workers) "internal error"; the rest are the input's fault
            figures.status = "crash" if outcome.error.startswith("internal error") else "error"
            figures.error = outcome.error
            self.files.append(figures)
            return
        for finding in report.sorted_findings():
            if finding.kind == CONVERTED:
                figures.converted += 1
            elif finding.kind == WARNING:
                figures.warnings += 1
            elif finding.kind == UNCONVERTED:
                figures.unconverted += 1
                key = (figures.source, finding.api)
                tally = self.apis.setdefault(key, ApiTally(*key))
                tally.count += 1
                tally.reasons[finding.message] += 1
                tally.where.setdefault(finding.message, finding.location(outcome.path))
        self.files.append(figures)

    def summary(self, source: str | None = None) -> dict:
        files = [f for f in self.files if source is None or f.source == source]
        converted = sum(f.converted for f in files)
        unconverted = sum(f.unconverted for f in files)
        uses = converted + unconverted
        out = {
            "files": len(files),
            "files_with_uses": sum(1 for f in files if f.uses),
            "uses": uses,
            "converted": converted,
            "unconverted": unconverted,
            "converted_share": round(converted / uses, 4) if uses else None,
            "warnings": sum(f.warnings for f in files),
        }
        if source is None:
            out["errors"] = sum(1 for f in files if f.status == "error")
            out["crashes"] = sum(1 for f in files if f.status == "crash")
        return out

    def sources(self) -> list[str]:
        return [s for s in ("tf", "torch") if any(f.source == s for f in self.files)]

    def unconverted_apis(self, source: str | None = None) -> list[ApiTally]:
        tallies = [t for t in self.apis.values() if source is None or t.source == source]
        return sorted(tallies, key=lambda t: (-t.count, t.api))

    def to_dict(self) -> dict:
        def api_row(t: ApiTally) -> dict:
            reason, where = t.example()
            return {"api": t.api, "from": t.source, "count": t.count, "reason": reason, "example": where}

        return {
            "version": 1,
            "from": self.source or "auto",
            "seconds": round(self.seconds, 2),
            "totals": self.summary(),
            "directions": {s: self.summary(s) for s in self.sources()},
            "unconverted_apis": [api_row(t) for t in self.unconverted_apis()],
            "files": [
                {
                    "path": f.path,
                    "from": f.source,
                    "status": f.status,
                    "error": f.error or None,
                    "uses": f.uses,
                    "converted": f.converted,
                    "unconverted": f.unconverted,
                    "warnings": f.warnings,
                    "converted_share": round(f.converted / f.uses, 4) if f.uses else None,
                }
                for f in self.files
            ],
        }

    def to_text(self, top: int = 20) -> str:
        lines = []
        for s in self.sources():
            d = self.summary(s)
            lines.append(
                f"{LABEL[s]}: {d['files_with_uses']} file(s), {d['uses']} uses, {_pct(d['converted'], d['uses'])} converted "
                f"({d['converted']} converted, {d['unconverted']} unconverted, {d['warnings']} warnings)"
            )
        t = self.summary()
        lines.append(
            f"total: {t['files']} file(s), {t['uses']} uses, {_pct(t['converted'], t['uses'])} converted; "
            f"{t['errors']} error(s), {t['crashes']} crash(es); {self.seconds:.1f} s"
        )
        tallies = self.unconverted_apis()
        if tallies:
            lines.append("")
            lines.append(f"most frequent unconverted APIs ({min(top, len(tallies))} of {len(tallies)}):")
            width = max(len(x.api) for x in tallies[:top])
            for x in tallies[:top]:
                reason, where = x.example()
                lines.append(f"  {x.count:6d}  {x.api:<{width}}  {where}: {reason}")
        shown = [f for f in self.files if f.uses or f.status != "ok"]
        if shown:
            lines.append("")
            lines.append("per file:")
            lines.append(f"  {'uses':>6}  {'converted':>9}  path")
            for f in shown:
                if f.status != "ok":
                    lines.append(f"  {'-':>6}  {'-':>9}  {f.path}: {f.status}: {f.error}")
                else:
                    lines.append(f"  {f.uses:>6}  {_pct(f.converted, f.uses):>9}  {f.path}")
        if t["crashes"]:
            lines.append("")
            lines.append(f"{t['crashes']} file(s) crashed the converter: that is a bug, please report it")
        return "\n".join(lines)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def measure(paths: list[str], *, source: str | None = None, jobs: int | None = None, include=None, exclude=None,
            use_gitignore: bool = True, quiet: bool = True, rules: tuple[str, ...] = (),
            reexports: dict[str, str] | None = None,
            twins: dict[str, str] | None = None) -> tuple[Coverage, list[tuple[str, str]]]:
    """Convert every file under ``paths`` in memory; (figures, discovery errors). ``rules``,
    ``reexports`` and ``twins`` are convert's (the project's config)."""
    import time
    from types import SimpleNamespace

    from ..cli import _run
    from ..files import discover
    from ..frameworks import SOURCE_OF
    from ..runner import Options

    start = time.perf_counter()
    files, errors = discover(paths, include=include, exclude=exclude, use_gitignore=use_gitignore)
    # a target, not a source: files without the counted framework are then left alone
    # (a source would convert every file, finding nothing in the others)
    to = SOURCE_OF[source] if source else "auto"
    # formatting and the output check as `convert` runs them, so that a crash there shows here too
    options = Options(to=to, format=True, rules=tuple(rules), reexports=tuple(sorted((reexports or {}).items())),
                      twins=tuple(sorted((twins or {}).items())))
    coverage = Coverage(source=source)
    for outcome in _run(files, options, SimpleNamespace(jobs=jobs, quiet=quiet)):
        coverage.add(outcome)
    coverage.seconds = time.perf_counter() - start
    return coverage, errors


def run(args) -> int:
    from ..cli import EXIT_ERROR, EXIT_OK, UsageError, project_settings
    from ..config import load_config
    from ..frameworks import DIRECTION_TO, SOURCE_OF
    from ..rules import RuleError, load_ruleset

    # the project's rule files, re-exports and twins count as they convert (its [tool.transpiler])
    rules, reexports, twins = project_settings(load_config(args.paths, explicit=args.config), args)
    try:
        for to in ([SOURCE_OF[args.source]] if args.source else list(SOURCE_OF.values())):
            load_ruleset(DIRECTION_TO[to], rules)
    except RuleError as exc:
        raise UsageError(str(exc)) from None
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j/--jobs must be at least 1")
    if args.top < 0:
        raise UsageError("--top must not be negative")
    coverage, errors = measure(
        args.paths, source=args.source, jobs=args.jobs, include=args.include, exclude=args.exclude,
        use_gitignore=not args.no_gitignore, quiet=False, rules=rules, reexports=reexports,
        twins=twins,
    )
    for path, error in errors:
        coverage.files.append(FileFigures(path, status="error", error=error))
    if args.report == "json":
        print(json.dumps(coverage.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(coverage.to_text(args.top))
    missing = [path for path, error in errors if error == "no such file or directory"]
    for path in missing:
        print(f"transpiler coverage: error: {path}: no such file or directory", file=sys.stderr)
    return EXIT_ERROR if missing else EXIT_OK
