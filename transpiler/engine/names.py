"""Resolving names to full dotted framework names, whatever the import spelling.

Bindings come from two places: the import statements (recorded by the scan) and
the interesting names the scan saw in binding positions (a parameter, an
assignment target, a ``for`` target...). A name bound by something other than a
framework import shadows the framework in its scope: ``def f(tf): tf.add(...)``
is not TensorFlow.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import libcst as cst

from ..frameworks import ROOTS
from .scan import _SCOPE_TYPES, Hit, Scan

_IMPORT_LINE = re.compile(
    r"(?:^|;)[ \t]*(?:import[ \t]+(?P<imp>[^\n#;]+)"
    r"|from[ \t]+(?P<mod>[\w.]+)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]+))",
    re.M,
)


def candidate_names(source: str, star_names) -> tuple[set[str], set[str]]:
    """Cheap over-approximation of the names bound by framework imports.

    Returns (names, frameworks roots seen). ``star_names(module)`` gives the leaf
    names a ``from module import *`` may bring in.
    """
    names: set[str] = set()
    roots: set[str] = set()
    for m in _IMPORT_LINE.finditer(source):
        if m.group("imp"):
            for part in m.group("imp").split(","):
                bits = part.split()
                if not bits:
                    continue
                root = bits[0].split(".")[0]
                if root not in ROOTS:
                    continue
                roots.add(root)
                names.add(bits[2] if len(bits) >= 3 and bits[1] == "as" else root)
        else:
            module = m.group("mod")
            root = module.split(".")[0]
            if root not in ROOTS:
                continue
            roots.add(root)
            for part in m.group("names").strip("()").replace("\\", " ").split(","):
                bits = part.split()
                if not bits:
                    continue
                if bits[0] == "*":
                    names.update(star_names(module))
                else:
                    names.add(bits[2] if len(bits) >= 3 and bits[1] == "as" else bits[0])
    return names, roots


@dataclass
class Binding:
    offset: int
    qualname: str | None  # None: bound to something that is not a framework import


@dataclass
class Bindings:
    by_scope: dict[int, dict[str, list[Binding]]] = field(default_factory=dict)
    stars: dict[int, list[str]] = field(default_factory=dict)  # scope id -> modules
    aliases: dict[str, str] = field(default_factory=dict)  # name -> qualname (any scope)
    framework_imports: list = field(default_factory=list)  # ImportRecords of framework modules
    modules: set = field(default_factory=set)  # names `import m` / `import m as n` binds to another module

    def add(self, scope: cst.CSTNode, name: str, binding: Binding) -> None:
        self.by_scope.setdefault(id(scope), {}).setdefault(name, []).append(binding)

    def bound_values(self) -> dict[str, set]:
        """name -> every qualname (None for non-imports) it is bound to, any scope."""
        out: dict[str, set] = {}
        for names in self.by_scope.values():
            for name, found in names.items():
                out.setdefault(name, set()).update(b.qualname for b in found)
        return out


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of names and attributes, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def dotted_parts(node: cst.BaseExpression) -> list[str] | None:
    name = dotted_name(node)
    return name.split(".") if name is not None else None


@dataclass(frozen=True)
class Reexports:
    """Modules of the user's project that re-export a framework (``[tool.transpiler] reexports``).

    ``names`` maps a full dotted name, as the project's modules give it
    (``transformers.modeling_tf_utils.keras``), to the framework name it stands for
    (``keras``); a key names either something imported from a module or a whole
    module (``mypkg.compat.layers`` = ``keras.layers``: then ``from mypkg.compat.layers
    import Dense`` is ``keras.layers.Dense``). ``package`` is the converted file's
    package (:func:`package_of`), against which relative imports are resolved; without
    it a relative import is never taken for a re-export.
    """

    names: tuple[tuple[str, str], ...] = ()
    package: str | None = None

    def lookup(self, full: str) -> str | None:
        """The framework name ``full`` stands for: the longest key that is ``full`` or a
        dotted prefix of it, with the rest of ``full`` appended; else None."""
        table = dict(self.names)
        parts = full.split(".")
        for n in range(len(parts), 0, -1):
            hit = table.get(".".join(parts[:n]))
            if hit is not None:
                return ".".join([hit, *parts[n:]])
        return None

    def absolute(self, module: str | None, level: int) -> str | None:
        """The absolute name of ``from <level dots><module> import ...`` in this package."""
        return absolute_import(self.package, module, level)


def absolute_import(package: str | None, module: str | None, level: int) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` written in ``package``
    (None where the dots climb above it, or for a relative import outside any package)."""
    if not level:
        return module
    if not package:
        return None
    base = package.split(".")
    if level - 1 >= len(base):
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def package_of(filename: str) -> str | None:
    """The dotted package of a file, from the folders above it that have an ``__init__.py``
    (``.../transformers/models/bert/modeling_tf_bert.py`` -> ``transformers.models.bert``);
    None for a file outside any package, or for stdin."""
    if not filename or filename in ("-", "<stdin>"):
        return None
    folder = os.path.dirname(os.path.abspath(filename))
    parts: list[str] = []
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.append(os.path.basename(folder))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return ".".join(reversed(parts)) or None


def _reexported(node: cst.ImportFrom, reexports: Reexports | None) -> str | None:
    """The absolute module of a ``from`` import when re-exports are declared, else None."""
    if reexports is None or not reexports.names:
        return None
    level = len(node.relative)
    module = dotted_name(node.module) if node.module is not None else None
    return reexports.absolute(module, level)


def collect_bindings(scan: Scan, reexports: Reexports | None = None) -> Bindings:
    out = Bindings()
    for rec in scan.imports:
        offset = scan._token_offsets[rec.token] if scan._token_offsets else rec.token
        node = rec.node
        if isinstance(node, cst.Import):
            for alias in node.names:
                module = dotted_name(alias.name)
                if module is None:
                    continue
                root = module.split(".")[0]
                is_fw = root in ROOTS
                if alias.asname is not None:
                    name = alias.asname.name.value
                    qual = module if is_fw else None
                    if qual is None and reexports is not None and reexports.names:
                        qual = reexports.lookup(module)  # import mypkg.compat as tf
                else:
                    name = root
                    qual = root if is_fw else None
                out.add(rec.scope, name, Binding(offset, qual))
                if qual:
                    out.aliases[name] = qual
                else:
                    out.modules.add(name)
            if any((dotted_name(a.name) or "").split(".")[0] in ROOTS for a in node.names):
                out.framework_imports.append(rec)
        else:
            absolute = _reexported(node, reexports)
            if absolute is not None and not (absolute.split(".")[0] in ROOTS and not node.relative):
                # a module of the project that re-exports a framework (declared)
                if isinstance(node.names, cst.ImportStar):
                    continue
                for alias in node.names:
                    leaf = alias.name.value if isinstance(alias.name, cst.Name) else dotted_name(alias.name)
                    name = alias.asname.name.value if alias.asname is not None else leaf
                    qual = reexports.lookup(f"{absolute}.{leaf}")
                    out.add(rec.scope, name, Binding(offset, qual))
                    if qual:
                        out.aliases[name] = qual
                continue
            if node.relative:
                continue
            module = dotted_name(node.module) if node.module is not None else None
            if module is None:
                continue
            is_fw = module.split(".")[0] in ROOTS
            if is_fw:
                out.framework_imports.append(rec)
            if isinstance(node.names, cst.ImportStar):
                if is_fw:
                    out.stars.setdefault(id(rec.scope), []).append(module)
                continue
            for alias in node.names:
                leaf = alias.name.value if isinstance(alias.name, cst.Name) else dotted_name(alias.name)
                name = alias.asname.name.value if alias.asname is not None else leaf
                qual = f"{module}.{leaf}" if is_fw else None
                out.add(rec.scope, name, Binding(offset, qual))
                if qual:
                    out.aliases[name] = qual
    return out


_TARGET_CONTAINERS = (cst.Tuple, cst.List, cst.Element, cst.StarredElement)
_TARGET_OWNERS = (cst.AssignTarget, cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr)


def classify(hit: Hit) -> str:
    """'load', 'bind', or 'skip' (not a variable reference at all)."""
    stack = hit.stack
    node = hit.name
    parent = stack[-2]
    kind = type(parent)
    if kind in (cst.ImportAlias, cst.AsName, cst.Attribute, cst.ImportFrom):
        for anc in stack[-2::-1]:
            if isinstance(anc, (cst.Import, cst.ImportFrom)):
                return "skip"
            if isinstance(anc, cst.BaseStatement):
                break
    if kind is cst.Attribute:
        return "skip" if parent.attr is node else "load"
    if kind is cst.Arg:
        return "skip" if parent.keyword is node else "load"
    if kind in (cst.Param,):
        return "bind" if parent.name is node else "load"
    if kind in (cst.FunctionDef, cst.ClassDef):
        return "bind" if parent.name is node else "load"
    if kind is cst.AsName:
        return "bind"
    if kind in (cst.ImportAlias, cst.ImportFrom, cst.Import, cst.NameItem, cst.Global, cst.Nonlocal):
        return "skip"
    # assignment-like targets, possibly nested in tuples/lists
    child: cst.CSTNode = node
    for anc in reversed(stack[:-1]):
        if isinstance(anc, _TARGET_CONTAINERS):
            child = anc
            continue
        if isinstance(anc, _TARGET_OWNERS) and getattr(anc, "target", None) is child:
            return "bind"
        break
    return "load"


def _binding_scope(hit: Hit) -> cst.CSTNode | None:
    if isinstance(hit.parent, cst.Param):
        for node in reversed(hit.stack):
            if isinstance(node, (cst.FunctionDef, cst.Lambda)):
                return node
        return None
    chain = scope_chain(hit.stack)
    return chain[0] if chain else None


def scope_chain(stack: tuple[cst.CSTNode, ...]) -> list[cst.CSTNode]:
    """Scopes that a name at the end of ``stack`` sees, innermost first.

    Decorators, default values and annotations of a ``def`` or ``class`` belong to
    the enclosing scope; class scopes are not visible from nested functions.
    """
    chain: list[cst.CSTNode] = []
    passed_function = False
    for i in range(len(stack) - 2, -1, -1):
        node = stack[i]
        kind = type(node)  # exact types: isinstance on LibCST's (ABC) classes costs a call each
        if kind not in _SCOPE_TYPES:
            continue
        child = stack[i + 1]
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            if child is not node.body:
                continue
            if kind is cst.ClassDef and passed_function:
                continue
            chain.append(node)
            if kind is cst.FunctionDef:
                passed_function = True
        elif kind is cst.Lambda:
            chain.append(node)
            passed_function = True
        else:
            chain.append(node)
    return chain


class Resolver:
    """Answers: which framework API does this name (or dotted chain) stand for?"""

    def __init__(self, scan: Scan, star_names, reexports: Reexports | None = None) -> None:
        self.scan = scan
        self.reexports = reexports
        self.bindings = collect_bindings(scan, reexports)
        self.star_names = star_names
        self.kinds: dict[int, str] = {}
        self._star_cache: dict[str, set[str]] = {}
        for hit in scan.hits:
            kind = classify(hit)
            self.kinds[id(hit.name)] = kind
            if kind == "bind":
                scope = _binding_scope(hit)
                if scope is not None:
                    offset = scan.offset(hit.name) or 0
                    self.bindings.add(scope, hit.name.value, Binding(offset, None))
        self.hit_of = {id(h.name): h for h in scan.hits}
        self._chains: dict[int, list] = {}

    def chain_of(self, stack) -> list:
        """scope_chain(stack), cached by the parent node (its ancestors never change)."""
        key = id(stack[-2]) if len(stack) >= 2 else 0
        chain = self._chains.get(key)
        if chain is None:
            chain = self._chains[key] = scope_chain(stack)
        return chain

    def kind(self, name: cst.Name) -> str:
        return self.kinds.get(id(name), "load")

    def resolve_name(self, name: cst.Name) -> str | None:
        hit = self.hit_of.get(id(name))
        if hit is None or self.kinds.get(id(name)) != "load":
            return None
        chain = self.chain_of(hit.stack)
        offset = self.scan.offset(name) or 0
        value = name.value
        for depth, scope in enumerate(chain):
            found = self.bindings.by_scope.get(id(scope), {}).get(value)
            if not found:
                continue
            if depth == 0:
                before = [b for b in found if b.offset <= offset]
                binding = before[-1] if before else found[0]
            else:
                binding = found[-1]
            return binding.qualname
        # star imports (module level only in Python 3)
        module_scope = chain[-1] if chain else None
        if module_scope is not None:
            for module in self.bindings.stars.get(id(module_scope), ()):
                names = self._star_cache.get(module)
                if names is None:
                    names = self._star_cache[module] = set(self.star_names(module))
                if value in names:
                    return f"{module}.{value}"
        return None

    def resolve_chain(self, node: cst.BaseExpression) -> str | None:
        """Full dotted name of ``a.b.c`` when ``a`` is a framework alias, else None."""
        parts = []
        while isinstance(node, cst.Attribute):
            parts.append(node.attr.value)
            node = node.value
        if not isinstance(node, cst.Name):
            return None
        base = self.resolve_name(node)
        if base is None:
            return None
        parts.append(base)
        return ".".join(reversed(parts))
