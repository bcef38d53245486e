"""Refusing to rewrite files that have uncommitted changes (``--force`` overrides).

A converted file is meant to be reviewed as a diff against a clean commit; mixing
the conversion into unsaved work makes that impossible and an unwanted result
hard to undo. So ``--in-place`` refuses a file that git reports as modified,
staged, or untracked (git has no copy of it to go back to). Ignored files and
files outside a git checkout are not checked, nor is anything when git is not
installed.
"""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict


class GitError(Exception):
    """git is there but will not say whether files are clean."""


def _toplevel(directory: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", directory, "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        if "dubious ownership" in out.stderr or "safe.directory" in out.stderr:
            # a checkout owned by another user: git refuses to look at it
            raise GitError(f"cannot check {directory} for uncommitted changes: git reports dubious ownership")
        return None
    return out.stdout.strip() or None


def _nearest_git(directory: str) -> str | None:
    folder = os.path.abspath(directory)
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _states(top: str) -> dict[str, str]:
    """realpath -> 'modified' | 'staged' | 'untracked' for what git status lists."""
    try:
        out = subprocess.run(
            ["git", "-C", top, "status", "--porcelain", "-z", "--untracked-files=all", "--ignore-submodules=all"],
            capture_output=True, timeout=120,
        )
    except subprocess.TimeoutExpired:
        raise GitError(f"git status in {top} took too long") from None
    except OSError as exc:
        raise GitError(f"cannot run git status in {top}: {exc}") from None
    if out.returncode != 0:
        raise GitError(f"git status failed in {top}: {out.stderr.decode('utf-8', 'replace').strip()}")
    states: dict[str, str] = {}
    entries = out.stdout.decode("utf-8", "surrogateescape").split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            i += 1  # a rename or copy: the next field is the old name
        if code == "??":
            state = "untracked"
        elif code[1] != " ":
            state = "modified"
        else:
            state = "staged"
        states[os.path.realpath(os.path.join(top, path))] = state
    return states


def uncommitted(files: list[str]) -> list[tuple[str, str]]:
    """(path, state) for each of ``files`` that git would not give back as it is now."""
    by_dir: dict[str, list[str]] = defaultdict(list)
    for f in files:
        by_dir[os.path.dirname(os.path.abspath(f))].append(f)
    roots: dict[str, list[str]] = defaultdict(list)
    checked: dict[str, str | None] = {}  # folder holding .git -> git's top level
    for directory, members in by_dir.items():
        marker = _nearest_git(directory)
        if marker is None:
            continue  # no .git above: not a checkout (no git call per folder)
        if marker not in checked:
            checked[marker] = _toplevel(marker)
        top = checked[marker]
        if top:
            roots[top].extend(members)
    dirty: list[tuple[str, str]] = []
    for top, members in roots.items():
        states = _states(top)
        for m in members:
            state = states.get(os.path.realpath(m))
            if state:
                dirty.append((m, state))
    return sorted(dirty)


def dirty_files(files: list[str]) -> list[str]:
    return [path for path, _ in uncommitted(files)]
