"""Writing helper functions into the converted file, once each (both directions).

Some behaviour has no one-line form in the target framework (Keras's ``fit`` loop
in PyTorch, a slice store into an immutable TensorFlow tensor). The conversion then
writes a small helper after the file's imports, as plain code the user can read and
edit, and calls it. A direction keeps its helpers in a ``snippets`` module made with
``Registry``; hooks ask for one with ``need(ctx, registry, name)``; the Module
handler ``insert(ctx, updated, registry)`` writes the ones the output still uses.
"""

from __future__ import annotations

import libcst as cst

from ..engine.calls import Unconvertible
from ..engine.walk import child_nodes, iter_nodes


class Registry:
    """A direction's helpers: name -> code, the helpers each one calls, the standard
    library modules each one imports."""

    def __init__(self) -> None:
        self.code: dict[str, str] = {}
        self.requires: dict[str, list[str]] = {}
        self.imports: dict[str, list[str]] = {}

    def snippet(self, name: str, requires: tuple[str, ...] = (), imports: tuple[str, ...] = ()):
        def register(text: str) -> str:
            self.code[name] = text
            self.requires[name] = list(requires)
            self.imports[name] = list(imports)
            return text

        return register

    def ordered(self, names, requires: dict | None = None) -> list[str]:
        """The helpers ``names`` need, each after the ones it uses (``requires``: those of
        helpers made for one file, besides the registry's)."""
        out: list[str] = []
        pending = list(reversed(list(names)))
        while pending:  # depth first, without a recursive closure (a reference cycle)
            name = pending[-1]
            uses = (requires or {}).get(name) or self.requires.get(name, [])
            missing = [dep for dep in uses if dep not in out]
            if missing:
                pending.append(missing[0])
                continue
            pending.pop()
            if name not in out:
                out.append(name)
        return out


def _file_names(ctx) -> set[str]:
    """The names the file binds or reads (the resolver's bindings only hold those that
    matter to the conversion), walked once per file and only when a helper is asked for."""
    names = ctx.facts.get("file_names")
    if names is None:
        names = set(ctx.resolver.bindings.bound_values())
        skipped: set[int] = set()  # attribute names and keywords of calls are not names of the file
        for node in iter_nodes(ctx.module):
            kind = type(node)
            if kind is cst.Name:
                if id(node) not in skipped:
                    names.add(node.value)
            elif kind is cst.Attribute:
                skipped.add(id(node.attr))
            elif kind is cst.Arg and node.keyword is not None:
                skipped.add(id(node.keyword))
        ctx.facts["file_names"] = names
    return names


def need(ctx, registry: Registry, name: str, code: str | None = None, requires: list[str] | None = None) -> None:
    """The helper ``name`` is written into this file, once; a file that already uses the
    name keeps its own and the call asking for the helper is reported. ``code`` is a helper
    made for this file (a factory generated from a rule) rather than one of the registry's,
    ``requires`` the helpers that one calls."""
    from ..engine.spelling import ImportNeed

    made_requires = ctx.facts.setdefault("snippet_requires", {})
    if requires is not None:
        made_requires[name] = list(requires)
    wanted = registry.ordered([name], made_requires)
    taken = _file_names(ctx)
    for needed in wanted:
        if needed in taken and not _imported_for(ctx, needed):
            raise Unconvertible(f"the conversion writes a helper named {needed!r} into the file, and this file uses that name already")
    for needed in wanted:
        for module in registry.imports.get(needed, ()):
            ctx.speller.needs.add(ImportNeed(module))
    if code is not None:
        ctx.facts.setdefault("snippet_code", {})[name] = code
    ctx.facts.setdefault("snippets", [])
    if name not in ctx.facts["snippets"]:
        ctx.facts["snippets"].append(name)


def _imported_for(ctx, name: str) -> bool:
    """Whether the file's only ``name`` is the source API the helper stands for, imported under
    that name (``from ...xla import dynamic_slice``): its uses become the helper's, and the import goes."""
    rules = ctx.ruleset
    found = False
    stack = [ctx.module]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            continue  # the import itself
        stack.extend(child_nodes(node))
        if isinstance(node, cst.Name) and node.value == name:
            qual = ctx.resolver.resolve_chain(node)
            rule = rules.lookup(qual) if qual else None
            if rule is None or (rule.data or {}).get("snippet") != name:
                return False
            found = True
    return found


def helper_call(ctx, registry: Registry, args) -> cst.BaseExpression:
    """A call with no one-line counterpart -> the same computation as the registry's helper
    ``args.rule.data["snippet"]``, written once in the output and called with the arguments
    as the source gave them (keywords named as the rule renames them)."""
    from ..engine.transform import prepare

    name = args.rule.data["snippet"]
    need(ctx, registry, name)
    parts, subs = [], {}
    for i, (_source, target, arg, positional) in enumerate(prepare(args.rule, args, ctx)):
        subs[f"a{i}"] = arg.value
        parts.append(f"{{a{i}}}" if positional else f"{target}={{a{i}}}")
    return ctx.build(f"{name}({', '.join(parts)})", **subs)


def _names_in(node, original_statements: dict, wanted: set[str]) -> set[str]:
    """Those of ``wanted`` that the converted code uses: statements the parser made and
    the conversion left as they were are skipped (they hold no generated code)."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is cst.Name:
            if n.value in wanted:
                found.add(n.value)
                if len(found) == len(wanted):
                    break
        elif id(n) not in original_statements:
            stack.extend(child_nodes(n))
    return found


def insert(ctx, updated: cst.Module, registry: Registry):
    """The helpers asked for and still used (a plan may ask for one whose code did not stay,
    e.g. in a class left unconverted), after the imports and the module docstring."""
    names = ctx.facts.get("snippets")
    if not names:
        return None
    used = _names_in(updated, ctx.scan.end_of, set(names))
    names = [n for n in names if n in used]
    if not names:
        return None
    body = list(updated.body)
    index = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            index = i + 1
        elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.SimpleString):
            index = 1
    new = []
    made = ctx.facts.get("snippet_code", {})
    for name in registry.ordered(names, ctx.facts.get("snippet_requires")):
        code = made.get(name) or registry.code[name]
        for stmt in ctx.build_statements(code.strip() + "\n", literal=True):
            stmt = stmt.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
            new.append(ctx.mark_new(stmt))
    if index < len(body):
        nxt = body[index]
        body[index] = nxt.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *[l for l in nxt.leading_lines if l.comment is not None]])
        # a statement the conversion changed stays one to format and check
        ctx.facts.setdefault("replaced_statements", {})[id(nxt)] = body[index]
    body[index:index] = new
    return updated.with_changes(body=body)
