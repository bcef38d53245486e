"""A large tree of real TensorFlow/Keras code, assembled from the installed packages.

The Keras 3 sources (keras/src/...) and TensorFlow's Python sources are real,
varied TF/Keras code that every machine with the test dependencies already has,
so the throughput benchmark needs no download. Files are copied (not linked)
into bench/out/corpus-local/ until the line budget is reached.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def assemble(min_lines: int = 50_000, out: Path | None = None) -> tuple[Path, int, int]:
    out = out or HERE / "out" / "corpus-local"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sources = []
    keras = package_dir("keras")
    if keras is not None:
        sources.append(("keras", keras / "src"))
    tf = package_dir("tensorflow")
    if tf is not None:
        sources.append(("tensorflow", tf / "python" / "ops"))
    total = files = 0
    for label, root in sources:
        for path in sorted(root.rglob("*.py")):
            if "test" in path.name or path.name == "__init__.py":
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if "tensorflow" not in text and "keras" not in text:
                continue
            target = out / label / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            total += text.count("\n")
            files += 1
            if total >= min_lines:
                return out, files, total
    return out, files, total


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()
    path, files, lines = assemble(args.lines)
    print(f"{files} files, {lines} lines in {path}")
