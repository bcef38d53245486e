"""``[tool.transpiler]`` in pyproject.toml, found the way black and ruff find theirs.

The search starts at the common folder of the given paths (the current folder
for stdin) and walks up to the first pyproject.toml that has a
``[tool.transpiler]`` table, stopping at a repository root. Command-line options
override what it says. Relative paths in it (``rules``) and its ``include`` and
``exclude`` globs are relative to that file's folder.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

KNOWN = {"to", "from", "include", "exclude", "rules", "reexports", "twins"}


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
    for key, check in (("reexports", check_reexports), ("twins", check_twins)):
        if key in table:
            try:
                check(table[key])
            except ConfigError as exc:
                raise UsageError(f"{path}: [tool.transpiler] {key}: {exc}") from None
    out = dict(table)
    if "rules" in out:
        out["rules"] = [str((path.parent / r).resolve()) for r in out["rules"]]
    out["_path"] = str(path.resolve())
    return out


def check_reexports(table) -> dict[str, str]:
    """``reexports = { "pkg.module.name" = "framework.name" }``: names the project's own
    modules re-export (``from transformers.modeling_tf_utils import keras``), each with the
    framework name it stands for. Keys and values are dotted names; values start with a
    framework module (tensorflow, keras, tf_keras, torch, ...)."""
    from .frameworks import ROOTS

    if not isinstance(table, dict):
        raise ConfigError("expected a table of dotted names, e.g. { \"pkg.compat.keras\" = \"keras\" }")
    dotted = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
    for key, value in table.items():
        if not isinstance(value, str) or not dotted.match(value):
            raise ConfigError(f"{key!r}: expected a dotted framework name as its value")
        if not dotted.match(key) or "." not in key:
            raise ConfigError(f"{key!r}: expected the full dotted name of a module or of a name in a module (pkg.module.name)")
        if value.split(".")[0] not in ROOTS:
            raise ConfigError(f"{key!r} = {value!r}: the value must be a name of a framework ({', '.join(sorted(ROOTS))})")
        if key.split(".")[0] in ROOTS:
            raise ConfigError(f"{key!r}: already a framework name")
    return dict(table)


def parse_reexport_option(text: str) -> tuple[str, str]:
    """``--reexport pkg.module.name=framework.name``."""
    return _parse_pair(text, "--reexport", "NAME=FRAMEWORK_NAME", "transformers.modeling_tf_utils.keras=keras", check_reexports)


def _parse_pair(text: str, option: str, form: str, example: str, check) -> tuple[str, str]:
    """``KEY=VALUE`` of a repeatable option, checked as its config table would be."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(f"{option} {text}: expected {form}, e.g. {example}")
    key, value = key.strip(), value.strip()
    check({key: value})
    return key, value


def check_twins(table) -> dict[str, str]:
    """``twins = { "pkg.module.Class" = "otherpkg.module.Class" }``: classes of other modules
    (not a framework's) that the converted classes derive from, each with its twin in the
    target framework: a class that takes the same constructor arguments and is a module of
    the target framework (``transformers.modeling_tf_utils.TFPreTrainedModel`` =
    ``transformers.modeling_utils.PreTrainedModel``, an ``nn.Module``). A class deriving
    from a declared class converts as one deriving from its twin."""
    from .frameworks import ROOTS

    if not isinstance(table, dict):
        raise ConfigError('expected a table of dotted class names, e.g. { "pkg.base.TFModel" = "pkg.base.TorchModel" }')
    dotted = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
    for key, value in table.items():
        if not isinstance(value, str) or not dotted.match(value):
            raise ConfigError(f"{key!r}: expected the full dotted name of the twin class as its value (pkg.module.Class)")
        if not dotted.match(key):
            raise ConfigError(f"{key!r}: expected the full dotted name of a class (pkg.module.Class)")
        if key.split(".")[0] in ROOTS:
            raise ConfigError(f"{key!r}: a framework class; its conversion is the rules' (twins are for other packages' classes)")
    return dict(table)


def parse_twin_option(text: str) -> tuple[str, str]:
    """``--twin pkg.module.Class=otherpkg.module.Class``."""
    return _parse_pair(
        text, "--twin", "CLASS=TWIN",
        "transformers.modeling_tf_utils.TFPreTrainedModel=transformers.modeling_utils.PreTrainedModel", check_twins,
    )
