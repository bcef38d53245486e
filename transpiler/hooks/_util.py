"""Helpers shared by hooks: the prepared arguments of a call, and literal checks."""

from __future__ import annotations

import ast

import libcst as cst

from ..engine.build import code_of
from ..engine.calls import CallArgs, Unconvertible, literal_value
from ..engine.transform import prepare
from ..engine.types import is_tensor

__all__ = ["Args", "Unconvertible", "code_of", "literal_value", "int_literal"]


class Args:
    """A call's arguments after the rule's drop/values/transform, by source name."""

    def __init__(self, args: CallArgs, ctx) -> None:
        self.raw = args
        self.ctx = ctx
        self.values: dict[str, cst.BaseExpression] = {}
        for src, _tname, arg, _positional in prepare(args.rule, args, ctx):
            self.values[src] = arg.value

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def __getitem__(self, name: str) -> cst.BaseExpression:
        return self.values[name]

    def get(self, name: str, default=None):
        return self.values.get(name, default)

    def literal(self, name: str, default=None):
        """Python value of a literal argument (``default`` when absent); else Unconvertible."""
        if name not in self.values:
            return default
        ok, value = literal_value(self.values[name])
        if not ok:
            raise Unconvertible(
                f"argument '{name}' is computed at run time ({code_of(self.values[name]).strip()}); its value must be known to convert"
            )
        return value

    def is_literal(self, name: str) -> bool:
        return name in self.values and literal_value(self.values[name])[0]

    def require(self, name: str) -> cst.BaseExpression:
        if name not in self.values:
            raise Unconvertible(f"needs argument '{name}'")
        return self.values[name]

    def unsupported_unless(self, name: str, *allowed) -> None:
        if name in self.values:
            ok, value = literal_value(self.values[name])
            if not ok or value not in allowed:
                raise Unconvertible(f"argument '{name}={code_of(self.values[name]).strip()}' is not supported")


def int_literal(node: cst.BaseExpression) -> bool:
    """True for a literal made only of ints/bools (nested lists and tuples included)."""
    ok, value = literal_value(node)
    return ok and _all_ints(value)


def _all_ints(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_all_ints(x) for x in value)
    return isinstance(value, (bool, int))


def expr(code: str) -> cst.BaseExpression:
    return cst.parse_expression(code)


def python_literal(value) -> cst.BaseExpression:
    return cst.parse_expression(repr(value))


def is_ast_literal(text: str) -> bool:
    try:
        ast.literal_eval(text)
        return True
    except (ValueError, SyntaxError):
        return False


def numpy_name(ctx) -> str:
    """How the output names NumPy: the file's own import (``np``), else ``import numpy as np`` is added."""
    import re

    from ..engine.spelling import ImportNeed

    m = re.search(r"^import numpy as (\w+)\s*$", ctx.scan.source, re.M)
    if m:
        return m.group(1)
    if re.search(r"^import numpy\s*$", ctx.scan.source, re.M):
        return "numpy"
    ctx.speller.needs.add(ImportNeed("numpy", None, "np"))
    return "np"


def known_tensor(ctx, node: cst.BaseExpression, call: cst.Call | None) -> bool:
    """Whether the type engine knows ``node`` (an original argument of ``call``) to be a
    tensor, seen from where ``call`` is (its scanned name gives the scope chain)."""
    if ctx.types is None or call is None or not isinstance(call.func, (cst.Name, cst.Attribute)):
        return False
    anchor = call.func
    while isinstance(anchor, cst.Attribute):
        anchor = anchor.value
    hit = ctx.resolver.hit_of.get(id(anchor))
    if hit is None:
        return False
    return is_tensor(ctx.types.kind_of(node, ctx.resolver.chain_of(hit.stack)))
