"""How the output writes target-framework names, and which imports that needs.

Rules name targets in full (``torch.nn.functional.relu``). The output uses the
spelling an engineer of the target framework would write (``F.relu`` with
``import torch.nn.functional as F``), as listed in the direction's
``rules/<direction>/_output.toml``. Where the file already uses that alias for
something else, the full name is written instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..rules import Spelling

_IMPORT = re.compile(r"^import ([\w.]+)(?: as (\w+))?$")
_FROM = re.compile(r"^from ([\w.]+) import (\w+)(?: as (\w+))?$")


@dataclass(frozen=True, order=True)
class ImportNeed:
    module: str
    name: str | None = None  # from module import name
    asname: str | None = None

    @staticmethod
    def parse(line: str) -> "ImportNeed":
        m = _IMPORT.match(line.strip())
        if m:
            return ImportNeed(m.group(1), None, m.group(2))
        m = _FROM.match(line.strip())
        if m:
            return ImportNeed(m.group(1), m.group(2), m.group(3))
        raise ValueError(f"unsupported import line: {line!r}")

    @property
    def bound_name(self) -> str:
        if self.asname:
            return self.asname
        if self.name:
            return self.name
        return self.module.split(".")[0]


class NeedSet(set):
    """The imports the output needs, remembering the order they were first asked for
    (so that a conversion taken back can take its imports back too)."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.log: list = list(self)

    def add(self, item) -> None:
        if item not in self:
            self.log.append(item)
        super().add(item)

    def forget_since(self, mark: int) -> None:
        for item in self.log[mark:]:
            self.discard(item)
        del self.log[mark:]


def render_imports(needs) -> list[str]:
    plain = sorted({n for n in needs if n.name is None})
    froms: dict[str, list[str]] = {}
    for n in needs:
        if n.name is not None:
            froms.setdefault(n.module, [])
            item = n.name + (f" as {n.asname}" if n.asname else "")
            if item not in froms[n.module]:
                froms[n.module].append(item)
    lines = [f"import {n.module}" + (f" as {n.asname}" if n.asname else "") for n in plain]
    for module in sorted(froms):
        lines.append(f"from {module} import {', '.join(sorted(froms[module]))}")
    return lines


@dataclass
class Speller:
    spellings: list[Spelling]
    bound: dict[str, set]  # every binding the file makes of an interesting name
    existing: dict[str, str]  # names the file already binds to framework modules
    needs: "NeedSet" = field(default_factory=lambda: NeedSet())

    def __post_init__(self) -> None:
        self._parsed = sorted(
            ((s.module, s.alias, ImportNeed.parse(s.import_line)) for s in self.spellings),
            key=lambda t: -len(t[0]),
        )
        self._cache: dict[str, str] = {}
        # aliases the file already has for target modules: module -> name
        self._reuse = {}
        for name, qual in self.existing.items():
            self._reuse.setdefault(qual, name)

    def spell(self, qualname: str) -> str:
        cached = self._cache.get(qualname)
        if cached is not None:
            return cached
        text = self._spell(qualname)
        self._cache[qualname] = text
        return text

    def _spell(self, qualname: str) -> str:
        parts = qualname.split(".")
        # 1. a name the file already binds to this module (mixed files)
        for i in range(len(parts), 0, -1):
            prefix = ".".join(parts[:i])
            name = self._reuse.get(prefix)
            if name is not None:
                return ".".join([name, *parts[i:]])
        # 2. the conventional spelling, unless the alias means something else here
        for module, alias, need in self._parsed:
            if qualname == module or qualname.startswith(module + "."):
                if self.bound.get(alias, {module}) != {module}:
                    continue
                self.needs.add(need)
                return alias + qualname[len(module):]
        # 3. the full name
        self.needs.add(ImportNeed(parts[0]))
        return qualname
