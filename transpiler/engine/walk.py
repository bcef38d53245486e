"""A transformer that walks only the nodes on the scan's paths and copies only what changes.

LibCST's own ``visit`` rebuilds every node it passes through and calls the
visitor for every child, even children it is told to skip. Here the walk goes
down the recorded paths only, and a node is rebuilt (``with_changes``) only when
one of its children came back different. The subclass API mirrors LibCST's:
``visit_<Node>(node) -> bool`` before the children, ``leave_<Node>(original,
updated)`` after them, returning the replacement, ``RemovalSentinel.REMOVE`` or a
``FlattenSentinel`` (inside sequences).
"""

from __future__ import annotations

import dataclasses

import libcst as cst

_FIELDS: dict[type, tuple[str, ...]] = {}
_REMOVE = cst.RemovalSentinel.REMOVE
# whether a field value's type is a node: isinstance on LibCST's (ABC) classes costs
# a Python-level call each time, a dict lookup does not
_IS_NODE: dict[type, bool] = {}


def _is_node(kind: type) -> bool:
    known = _IS_NODE.get(kind)
    if known is None:
        known = _IS_NODE[kind] = issubclass(kind, cst.CSTNode)
    return known


def _fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


class PathTransformer:
    def __init__(self, paths: set[int]) -> None:
        self.paths = paths
        self._visit_methods: dict[type, object] = {}
        self._leave_methods: dict[type, object] = {}

    # The caches hold the class's functions, not bound methods: a bound method refers
    # to the transformer, and that cycle would keep every tree it saw alive until the
    # garbage collector ran (whose pass over a whole tree costs a tenth of a conversion).
    def on_visit(self, node: cst.CSTNode) -> bool:
        method = self._visit_methods.get(type(node), 0)
        if method == 0:
            method = self._visit_methods[type(node)] = getattr(type(self), f"visit_{type(node).__name__}", None)
        if method is None:
            return True
        result = method(self, node)
        return True if result is None else result

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):
        method = self._leave_methods.get(type(original), 0)
        if method == 0:
            method = self._leave_methods[type(original)] = getattr(type(self), f"leave_{type(original).__name__}", None)
        if method is None:
            return updated
        return method(self, original, updated)

    def transform(self, node: cst.CSTNode):
        paths = self.paths
        if id(node) not in paths:
            return node
        updated = node
        if self.on_visit(node):
            changes = {}
            for name in _fields(type(node)):
                value = getattr(node, name)
                if _is_node(type(value)):
                    if id(value) in paths:
                        new = self.transform(value)
                        if new is not value:
                            changes[name] = new
                elif isinstance(value, (tuple, list)) and value:
                    if not any(id(child) in paths for child in value):
                        continue
                    items = []
                    changed = False
                    for child in value:
                        new = self.transform(child) if id(child) in paths else child
                        if new is _REMOVE:
                            changed = True
                        elif isinstance(new, cst.FlattenSentinel):
                            items.extend(new.nodes)
                            changed = True
                        else:
                            items.append(new)
                            changed = changed or new is not child
                    if changed:
                        changes[name] = type(value)(items)
            if changes:
                updated = node.with_changes(**changes)
                if isinstance(updated, cst.SimpleStatementLine) and not updated.body:
                    return _REMOVE
        return self.on_leave(node, updated)


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """The nodes directly under ``node``, read from its fields (LibCST's ``children``
    runs a visitor over the node to find them, which costs ten times as much)."""
    return _nodes_in_fields(node, _fields(type(node)))


def _nodes_in_fields(node: cst.CSTNode, names: tuple[str, ...]) -> list[cst.CSTNode]:
    out = []
    for name in names:
        value = getattr(node, name)
        kind = type(value)
        if _is_node(kind):
            out.append(value)
        elif kind is tuple or kind is list:
            out.extend(child for child in value if _is_node(type(child)))
    return out


# Types whose fields are not declared in the order their code is written: the fields
# that hold code, in source order (the rest follow, in declaration order)
_SOURCE_ORDER: dict[type, tuple[str, ...]] = {
    cst.Arg: ("keyword", "value"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.FunctionDef: ("decorators", "name", "type_parameters", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.Parameters: ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params", "star_kwarg"),
}
_ORDERED_FIELDS: dict[type, tuple[str, ...]] = {}


def source_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``node.children`` as LibCST gives them (the nodes that hold code in the order it
    is written) at the cost of :func:`child_nodes`."""
    kind = type(node)
    first = _SOURCE_ORDER.get(kind)
    if first is None:
        return child_nodes(node)
    names = _ORDERED_FIELDS.get(kind)
    if names is None:
        declared = _fields(kind)
        names = _ORDERED_FIELDS[kind] = (
            *(f for f in first if f in declared), *(f for f in declared if f not in first)
        )
    return _nodes_in_fields(node, names)


def paths_to(root: cst.CSTNode, wanted) -> set[int]:
    """ids of every node from ``root`` down to each node for which ``wanted(node)`` is
    true: what a :class:`PathTransformer` must walk to reach them."""
    paths: set[int] = set()
    # (node, its children left to look at, whether something wanted lies under it)
    stack = [[root, None, False]]
    while stack:
        frame = stack[-1]
        node, pending, _ = frame
        if pending is None:
            pending = frame[1] = child_nodes(node)
            pending.reverse()
            if wanted(node):
                frame[2] = True
        if pending:
            stack.append([pending.pop(), None, False])
            continue
        stack.pop()
        if frame[2]:
            paths.add(id(node))
            if stack:
                stack[-1][2] = True
    return paths


def in_source_order(root: cst.CSTNode):
    """``root`` and every node under it, in the order their code is written."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(source_children(node)))


def top_level_imports(module: cst.Module):
    """``(statement, alias, bound)`` for every name the module's top-level ``import`` and
    ``from ... import`` statements bind (``bound``: the alias's ``as`` name, else its name)."""
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                for alias in small.names:
                    yield small, alias, alias.asname.name if alias.asname else alias.name


def module_assignments(module: cst.Module):
    """``name = value`` statements at the module's top level, one name each: (statement, name, value)."""
    for stmt in module.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
            continue
        assign = stmt.body[0]
        if len(assign.targets) == 1 and isinstance(assign.targets[0].target, cst.Name):
            yield stmt, assign.targets[0].target.value, assign.value


def method_named(cls: cst.ClassDef, name: str) -> cst.FunctionDef | None:
    """The method ``name`` defined in the body of ``cls``."""
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == name:
            return stmt
    return None


def iter_nodes(root: cst.CSTNode):
    """``root`` and every node under it (parents before children)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child_nodes(node))


def is_docstring(stmt) -> bool:
    """A statement that is only a string literal (a module, class or function docstring)."""
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
