"""Throughput: lines per second converting a large tree of real TF/Keras code.

Measured in one run, on the same files:
  * bare LibCST: parse + code generation of every file (the reference);
  * the converter in-process, one core (transpiler.api.convert_source, black included);
  * the command line as users run it (transpiler convert DIR --check, all cores).
Prints medians over --repeat runs. Run: python bench/throughput.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def load(root: Path) -> list[tuple[str, str]]:
    return [(str(p), p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.py"))]


def bare_libcst(files) -> float:
    import libcst as cst

    start = time.perf_counter()
    for _, text in files:
        cst.parse_module(text).code
    return time.perf_counter() - start


def converter(files, to: str) -> tuple[float, dict]:
    from transpiler.api import InputError, convert_source
    from transpiler.engine import formatting

    # black's results are cached by statement text: a repetition must not find the
    # previous one's (the parsed rule templates stay warm, as in any long run)
    formatting._CACHE.clear()
    stats = {"changed": 0, "errors": 0, "converted": 0, "unconverted": 0}
    start = time.perf_counter()
    for path, text in files:
        try:
            result = convert_source(text, to=to, filename=path)
        except InputError:
            stats["errors"] += 1
            continue
        stats["changed"] += result.changed
        stats["converted"] += result.report.converted
        stats["unconverted"] += result.report.unconverted
    return time.perf_counter() - start, stats


def cli(root: Path, to: str, jobs: int | None) -> float:
    cmd = [sys.executable, "-m", "transpiler", "convert", str(root), "--to", to, "--check", "-q", "--no-gitignore"]
    if jobs:
        cmd += ["-j", str(jobs)]
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, help="tree to convert (default: assemble bench/out/corpus-local)")
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--to", default="torch")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()
    if args.root is None:
        from corpus_local import assemble

        args.root, _, _ = assemble(args.lines)
    files = load(args.root)
    lines = sum(t.count("\n") for _, t in files)
    print(f"corpus: {len(files)} files, {lines} lines ({args.root})")
    converter(files[:20], args.to)  # warm imports and rule loading
    bare, conv, run = [], [], []
    for _ in range(args.repeat):
        bare.append(bare_libcst(files))
        seconds, stats = converter(files, args.to)
        conv.append(seconds)
        run.append(cli(args.root, args.to, args.jobs))
    b, c, r = statistics.median(bare), statistics.median(conv), statistics.median(run)
    print(f"bare LibCST parse+codegen : {b:7.2f} s  {lines / b:9.0f} lines/s")
    print(f"converter, one process    : {c:7.2f} s  {lines / c:9.0f} lines/s  ratio {b / c:.2f}")
    print(f"CLI, {args.jobs or os.cpu_count()} worker(s)        : {r:7.2f} s  {lines / r:9.0f} lines/s  ratio {b / r:.2f}")
    print(f"files changed {stats['changed']}, uses converted {stats['converted']}, unconverted {stats['unconverted']}, parse errors {stats['errors']}")


if __name__ == "__main__":
    main()
