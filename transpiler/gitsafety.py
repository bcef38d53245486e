"""Refusing to rewrite files that have uncommitted changes (``--force`` overrides).

A converted file is meant to be reviewed as a diff against a clean commit; mixing
the conversion into unsaved work makes that impossible and an unwanted result
hard to undo. Files outside a git checkout are not checked.
"""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict


def _toplevel(directory: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", directory, "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def dirty_files(files: list[str]) -> list[str]:
    by_dir: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_dir[os.path.dirname(os.path.abspath(f))].append(os.path.abspath(f))
    roots: dict[str, list[str]] = defaultdict(list)
    cache: dict[str, str | None] = {}
    for directory, members in by_dir.items():
        if directory not in cache:
            cache[directory] = _toplevel(directory)
        top = cache[directory]
        if top:
            roots[top].extend(members)
    dirty: list[str] = []
    for top, members in roots.items():
        try:
            out = subprocess.run(
                ["git", "-C", top, "status", "--porcelain", "-z", "--untracked-files=no"],
                capture_output=True, timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode != 0:
            continue
        changed = set()
        for entry in out.stdout.decode("utf-8", "replace").split("\0"):
            if len(entry) > 3:
                changed.add(os.path.realpath(os.path.join(top, entry[3:])))
        dirty.extend(m for m in members if os.path.realpath(m) in changed)
    return sorted(dirty)
