"""``[tool.transpiler]`` in pyproject.toml, found the way black and ruff find theirs.

The search starts at the common folder of the given paths (the current folder
for stdin) and walks up to the first pyproject.toml that has a
``[tool.transpiler]`` table, stopping at a repository root. Command-line options
override what it says. Relative paths in it (``rules``) and its ``include`` and
``exclude`` globs are relative to that file's folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

KNOWN = {"to", "from", "include", "exclude", "rules"}


class ConfigError(Exception):
    pass


def find_pyproject(paths: list[str]) -> Path | None:
    real = [os.path.abspath(p) for p in paths if p != "-"] or [os.getcwd()]
    try:
        start = Path(os.path.commonpath(real))
    except ValueError:
        start = Path(os.getcwd())
    if start.is_file() or not start.exists():
        start = start.parent
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                data = {}
            if "transpiler" in data.get("tool", {}):
                return candidate
        if (folder / ".git").exists():
            break
    return None


def load_config(paths: list[str], explicit: str | None = None) -> dict:
    from .cli import UsageError

    path = Path(explicit) if explicit else find_pyproject(paths)
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from None
    table = data.get("tool", {}).get("transpiler", {})
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.transpiler] must be a table")
    unknown = set(table) - KNOWN
    if unknown:
        raise UsageError(f"{path}: [tool.transpiler]: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(KNOWN))})")
    if "to" in table and table["to"] not in ("torch", "tf", "auto"):
        raise UsageError(f"{path}: [tool.transpiler] to: expected 'torch', 'tf' or 'auto'")
    if "from" in table and table["from"] not in ("torch", "tf"):
        raise UsageError(f"{path}: [tool.transpiler] from: expected 'torch' or 'tf'")
    for key in ("include", "exclude", "rules"):
        if key in table and (not isinstance(table[key], list) or not all(isinstance(v, str) for v in table[key])):
            raise UsageError(f"{path}: [tool.transpiler] {key}: expected a list of strings")
    out = dict(table)
    if "rules" in out:
        out["rules"] = [str((path.parent / r).resolve()) for r in out["rules"]]
    out["_path"] = str(path.resolve())
    return out
