"""Coverage of the public corpus: the share of framework uses the rules convert, per direction.

Downloads the pinned packages once (bench/corpus_public.py, cached outside the
repository), then runs what ``transpiler coverage`` runs on each direction's
code: TF/Keras sources counted tf -> torch, PyTorch sources torch -> tf.
Prints, per direction and per package, uses, converted share, crashes and the
most frequent unconverted APIs; ``--markdown FILE`` also writes the same as a
table (bench/results/coverage.md is one such run).

Run: python bench/coverage.py [--top 20] [--jobs N] [--markdown bench/results/coverage.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from corpus_public import PACKAGES, assemble, default_cache  # noqa: E402

from transpiler.commands.coverage import LABEL, Coverage, measure  # noqa: E402


def _share(d: dict) -> str:
    return f"{100 * d['converted'] / d['uses']:.1f}%" if d["uses"] else "-"


def _per_package(coverage: Coverage, folders: list[Path]) -> list[tuple[str, dict]]:
    rows = []
    for folder in folders:
        sub = Coverage(source=coverage.source)
        sub.files = [f for f in coverage.files if Path(f.path).is_relative_to(folder)]
        rows.append((folder.name, sub.summary()))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=None, help="corpus cache (default ~/.cache/transpiler-corpus)")
    parser.add_argument("--top", type=int, default=20, help="unconverted APIs listed per direction (default 20)")
    parser.add_argument("-j", "--jobs", type=int, default=None, help="worker processes (default: one per core)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the figures as Markdown here")
    args = parser.parse_args()

    roots = assemble(args.cache or default_cache())
    text, markdown = [], ["# Coverage of the public corpus", "", "Command: `python bench/coverage.py`", ""]
    failed = False
    for source in ("tf", "torch"):
        folders = roots.get(source, [])
        # each package's re-exports, as its users declare them (they name its own modules only)
        reexports = dict(r for pkg in PACKAGES if pkg.framework == source for r in pkg.reexports)
        twins = dict(t for pkg in PACKAGES if pkg.framework == source for t in pkg.class_twins)
        coverage, errors = measure([str(f) for f in folders], source=source, jobs=args.jobs, reexports=reexports, twins=twins)
        total = coverage.summary()
        failed |= bool(total["crashes"])
        text.append(f"== {LABEL[source]} ==")
        text.append(
            f"{total['files_with_uses']} files with uses, {total['uses']} uses, {_share(total)} converted "
            f"({total['converted']} converted, {total['unconverted']} unconverted); "
            f"{total['errors']} error(s), {total['crashes']} crash(es); {coverage.seconds:.1f} s"
        )
        markdown += [f"## {LABEL[source]}", "", "| package | files with uses | uses | converted | crashes |", "|---|---:|---:|---:|---:|"]
        for name, d in _per_package(coverage, folders):
            text.append(f"  {name:28} {d['files_with_uses']:4d} files {d['uses']:7d} uses {_share(d):>7} converted, {d['crashes']} crash(es)")
            markdown.append(f"| {name} | {d['files_with_uses']} | {d['uses']} | {_share(d)} | {d['crashes']} |")
        markdown.append(f"| **all** | {total['files_with_uses']} | {total['uses']} | **{_share(total)}** | {total['crashes']} |")
        markdown += ["", f"Most frequent unconverted APIs ({LABEL[source]}):", "", "| uses | API | reason (first seen) |", "|---:|---|---|"]
        text.append("  most frequent unconverted APIs:")
        for tally in coverage.unconverted_apis()[: args.top]:
            reason, _ = tally.example()
            text.append(f"  {tally.count:6d}  {tally.api:40} {reason}")
            markdown.append(f"| {tally.count} | `{tally.api}` | {reason.replace('|', '/')} |")
        for f in coverage.files:
            if f.status == "crash":
                text.append(f"  CRASH {f.path}: {f.error}")
        for path, error in errors:
            text.append(f"  ERROR {path}: {error}")
        text.append("")
        markdown.append("")
    print("\n".join(text))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n".join(markdown), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
