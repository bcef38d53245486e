"""Building output expressions from the code snippets that rules contain.

Rule snippets (targets, templates, defaults, value maps) are Python expressions
written with full target names and ``{placeholders}`` for the source arguments:
``"torch.nn.functional.one_hot({indices}, {depth})"``. Building one spells the
framework names the way the output writes them and puts the (already converted)
argument expressions in, parenthesised where precedence needs it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import libcst as cst

from ..frameworks import ROOTS
from ..rules import PLACEHOLDER
from .names import dotted_name
from .codegen import code_for_node
from .walk import PathTransformer, paths_to

_EMPTY_MODULE = cst.Module(body=[])


def code_of(node: cst.CSTNode) -> str:
    return code_for_node(_EMPTY_MODULE, node)


@lru_cache(maxsize=4096)
def _parse_template(text: str) -> cst.BaseExpression:
    return cst.parse_expression(PLACEHOLDER.sub(r"__tp_\1__", text))


_ATOMS = (
    cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float,
    cst.Imaginary, cst.SimpleString, cst.ConcatenatedString, cst.FormattedString,
    cst.List, cst.Dict, cst.Set, cst.ListComp, cst.SetComp, cst.DictComp,
    cst.GeneratorExp, cst.Ellipsis,
)


def is_atom(node: cst.BaseExpression) -> bool:
    if getattr(node, "lpar", None):
        return True
    return isinstance(node, _ATOMS)


def parenthesize(node: cst.BaseExpression) -> cst.BaseExpression:
    if is_atom(node):
        return node
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class _Fill(cst.CSTTransformer):
    """Spell framework names, then replace ``__tp_x__`` placeholders."""

    def __init__(self, subs: dict[str, cst.BaseExpression], spell: Callable[[str], str]):
        self.subs = subs
        self.spell = spell
        self.parents: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.Attribute, cst.Name)):
            dotted = dotted_name(node)
            if dotted and dotted.split(".")[0] in ROOTS:
                return False  # replaced whole in on_leave
        self.parents.append(node)
        return True

    def on_leave(self, original, updated):
        if self.parents and self.parents[-1] is original:
            self.parents.pop()
        if isinstance(original, (cst.Attribute, cst.Name)):
            dotted = dotted_name(original)
            if dotted and dotted.split(".")[0] in ROOTS:
                return _name_expr(self.spell(dotted))
            if isinstance(original, cst.Name) and original.value.startswith("__tp_"):
                key = original.value[5:-2]
                value = self.subs[key]
                parent = self.parents[-1] if self.parents else None
                if isinstance(parent, cst.Attribute) and parent.value is original and _is_literal(value):
                    raise LiteralReceiver(key)
                if _needs_atom(parent, original):
                    value = parenthesize(value)
                return value
        return updated


def _needs_atom(parent: cst.CSTNode | None, child: cst.CSTNode) -> bool:
    if parent is None or isinstance(parent, (cst.Arg, cst.Element, cst.DictElement, cst.Index)):
        return False
    if isinstance(parent, cst.Attribute):
        return parent.value is child
    if isinstance(parent, cst.Call):
        return parent.func is child
    if isinstance(parent, cst.Subscript):
        return parent.value is child
    return isinstance(
        parent, (cst.BinaryOperation, cst.UnaryOperation, cst.BooleanOperation, cst.Comparison, cst.Await)
    ) or isinstance(parent, cst.ComparisonTarget)


def _name_expr(dotted: str) -> cst.BaseExpression:
    parts = dotted.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def name_expr(dotted: str) -> cst.BaseExpression:
    return _name_expr(dotted)


_SIMPLE = (cst.Name, cst.Integer, cst.Float, cst.SimpleString, cst.Imaginary)


def is_simple(node: cst.BaseExpression) -> bool:
    """An expression that can be written twice without changing what runs: a name, a literal,
    an attribute of one; a list or tuple display of those (``axes=[axis]``); one of those
    indexed by one of those (``weight[padding_idx]``, ``labels["start_position"]``)."""
    while isinstance(node, (cst.Attribute, cst.UnaryOperation)):
        node = node.value if isinstance(node, cst.Attribute) else node.expression
    if isinstance(node, (cst.List, cst.Tuple)):
        return all(isinstance(e, cst.Element) and is_simple(e.value) for e in node.elements)
    if isinstance(node, cst.Subscript):
        return is_simple(node.value) and all(
            isinstance(e.slice, cst.Index) and e.slice.star is None and is_simple(e.slice.value) for e in node.slice
        )
    return isinstance(node, _SIMPLE)


class DuplicatedArgument(ValueError):
    """A template uses an argument twice and the argument is not a plain name."""


class LiteralReceiver(ValueError):
    """A template calls a method on an argument that is a Python literal (``{x}.to(...)``
    with ``x`` = ``0``): the method belongs to tensors, not to numbers or lists."""


_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.List, cst.Tuple, cst.Dict, cst.Set, cst.SimpleString, cst.ConcatenatedString)


def _is_literal(node: cst.BaseExpression) -> bool:
    """A literal, a signed number included (``-1000.0`` is a unary minus applied to a Float)."""
    while isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    return isinstance(node, _LITERALS)


def build(text: str, spell: Callable[[str], str], /, **subs: cst.BaseExpression) -> cst.BaseExpression:
    template = _parse_template(text)
    names = PLACEHOLDER.findall(text)
    missing = set(names) - subs.keys()
    if missing:
        raise KeyError(", ".join(sorted(missing)))
    for name in set(names):
        if names.count(name) > 1 and not is_simple(subs[name]):
            raise DuplicatedArgument(name)
    return template.visit(_Fill(subs, spell))


def template_node(text: str) -> cst.BaseExpression:
    """A template's expression with its ``{placeholders}`` as names, to be filled by :func:`fill`
    once it sits in a larger tree."""
    return cst.parse_expression(PLACEHOLDER.sub(r"__tp_\1__", text))


def fill(node: cst.CSTNode, spell: Callable[[str], str], /, **subs: cst.BaseExpression) -> cst.CSTNode:
    """Spell the framework names in ``node`` and put ``subs`` in for the placeholders that
    :func:`template_node` left in it. Unlike building from text, the code around the
    templates (f-strings, dict and set displays) is never read as a template.

    ``node`` may be a whole converted method: only the paths down to the names that
    change are walked."""
    paths = paths_to(node, _to_fill)
    if not paths:
        return node
    return _PathFill(paths, subs, spell).transform(node)


def _to_fill(node: cst.CSTNode) -> bool:
    return type(node) is cst.Name and (node.value in ROOTS or node.value.startswith("__tp_"))


class _PathFill(PathTransformer):
    """:class:`_Fill` on the paths that lead to a framework name or a placeholder."""

    def __init__(self, paths: set[int], subs, spell) -> None:
        super().__init__(paths)
        self._fill = _Fill(subs, spell)

    def on_visit(self, node):
        return self._fill.on_visit(node)

    def on_leave(self, original, updated):
        return self._fill.on_leave(original, updated)


def build_statements(
    text: str, spell: Callable[[str], str], /, literal: bool = False, **subs: cst.BaseExpression
) -> list[cst.BaseStatement]:
    """Statements from a code template (a class, a helper function...), spelled and filled in.

    literal: the text has no placeholders (its braces are Python's: f-strings, dicts).
    """
    if literal:
        return _fresh(fill(_parse_statements(text), spell).body)
    names = PLACEHOLDER.findall(text)
    missing = set(names) - subs.keys()
    if missing:
        raise KeyError(", ".join(sorted(missing)))
    return _fresh(fill(_parse_statements(PLACEHOLDER.sub(r"__tp_\1__", text)), spell, **subs).body)


def _fresh(body) -> list[cst.BaseStatement]:
    """New statement objects each time: the engine keys statements by identity (what to
    format, where to comment), and a cached parse would hand out the same ones twice."""
    return [stmt.with_changes() for stmt in body]


@lru_cache(maxsize=1024)
def _parse_statements(text: str) -> cst.Module:
    """Parsed once: the same helper classes and statement templates recur in every file
    (LibCST nodes are immutable, so one parse serves every use)."""
    return cst.parse_module(text)
