"""Applying one rule to one call: arguments bound, renamed, dropped, mapped."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import libcst as cst

from ..rules import Rule
from .build import code_of


class Unconvertible(Exception):
    """Raised by rule application or a hook: leave the code as it is, say why."""


class Deferred(Exception):
    """Raised by a hook whose call the enclosing statement's handler rewrites
    (``model.fit(...)`` becomes a loop): leave the call, report nothing here."""


@dataclass
class BoundArg:
    name: str
    arg: cst.Arg  # after its own children were converted
    positional: bool
    original: cst.Arg | None = None  # as the source wrote it

    @property
    def value(self) -> cst.BaseExpression:
        return self.arg.value

    @property
    def code(self) -> str:
        return code_of(self.arg.value).strip()


@dataclass
class CallArgs:
    """The arguments of a source call, bound to the source API's parameter names."""

    rule: Rule
    call: cst.Call
    bound: list[BoundArg] = field(default_factory=list)
    original: cst.Call | None = None  # the call as the source wrote it (for report positions)

    def get(self, name: str) -> BoundArg | None:
        for b in self.bound:
            if b.name == name:
                return b
        return None

    def value(self, name: str) -> cst.BaseExpression | None:
        b = self.get(name)
        return b.value if b else None

    def code(self, name: str) -> str | None:
        b = self.get(name)
        return b.code if b else None

    def literal(self, name: str, default=None):
        """The Python value of a literal argument; ``default`` when absent.

        Raises Unconvertible when the argument is not a literal.
        """
        b = self.get(name)
        if b is None:
            return default
        try:
            return ast.literal_eval(b.code)
        except (ValueError, SyntaxError):
            raise Unconvertible(f"argument '{name}' is computed at run time ({b.code}); its value must be known to convert") from None

    def has(self, name: str) -> bool:
        return self.get(name) is not None


def bind_args(rule: Rule, call: cst.Call, original: cst.Call | None = None) -> CallArgs:
    out = CallArgs(rule, call, original=original)
    if any(a.star for a in call.args) and not _star_into_variadic(rule, call):
        raise Unconvertible("called with *args or **kwargs, so its arguments cannot be mapped")
    originals = list(original.args) if original is not None and len(original.args) == len(call.args) else [None] * len(call.args)
    # "**options" in args: any other keyword argument is accepted, bound under its own name
    any_keyword = any(a.startswith("**") for a in rule.args)
    params = [a for a in rule.args if not a.startswith("**")]
    names = [a.lstrip("*") for a in params]
    position = 0
    variadic: list[cst.Arg] = []
    variadic_originals: list = []
    for arg, orig in zip(call.args, originals):
        if arg.keyword is None:
            if position < len(params) and params[position].startswith("*"):
                variadic.append(arg)  # e.g. torch.zeros(2, 3): the sizes, one by one
                variadic_originals.append(orig)
                continue
            if position >= len(params):
                raise Unconvertible(f"more positional arguments than {rule.source} takes")
            out.bound.append(BoundArg(names[position], arg, True, orig))
            position += 1
        else:
            name = arg.keyword.value
            if name not in names and not any_keyword:
                raise Unconvertible(f"argument '{name}' has no mapping in the rules")
            out.bound.append(BoundArg(name, arg, False, orig))
    if variadic:
        if len(variadic) == 1 and not variadic[0].star:
            value = variadic[0].value
            orig_arg = variadic_originals[0]
            if _is_int_literal(value):
                # x.repeat(2) / torch.zeros(5): one size is still a list of sizes
                value = cst.List([cst.Element(value)])
        else:
            value = cst.List([_element(a) for a in variadic])
            orig_arg = None
            if all(o is not None for o in variadic_originals):
                orig_arg = cst.Arg(value=cst.List([_element(o) for o in variadic_originals]))
        out.bound.insert(position, BoundArg(names[position], cst.Arg(value=value), True, orig_arg))
    return out


def _element(arg: cst.Arg) -> cst.BaseElement:
    return cst.StarredElement(arg.value) if arg.star == "*" else cst.Element(arg.value)


def _star_into_variadic(rule: Rule, call: cst.Call) -> bool:
    """``x.view(*shape)``: every ``*`` argument lands in the rule's leading ``*`` parameter,
    which its target takes as one list (``[*shape]``); only where the rule says so
    (``data.star_args = true``: a hook that reads the list's elements would miss them)."""
    if not (isinstance(rule.data, dict) and rule.data.get("star_args") is True):
        return False
    variadic = next((i for i, a in enumerate(rule.args) if a.startswith("*")), None)
    if variadic is None or rule.args[variadic].startswith("**"):
        return False
    positional = [a for a in call.args if a.keyword is None]
    first = next(i for i, a in enumerate(positional) if a.star)
    return first >= variadic and all(a.star != "**" for a in call.args)


def _is_int_literal(node) -> bool:
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, cst.Integer)


def literal_value(node: cst.BaseExpression):
    """(True, value) for a Python literal, else (False, None)."""
    if isinstance(node, (cst.Name, cst.Attribute, cst.Call)) and not (
        isinstance(node, cst.Name) and node.value in ("True", "False", "None")
    ):
        return False, None
    try:
        return True, ast.literal_eval(code_of(node).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def fold_number(template: str, value: cst.BaseExpression) -> str | None:
    """Evaluate ``1 - {}`` style transforms on numeric literals, exactly."""
    ok, number = literal_value(value)
    if not ok or isinstance(number, bool) or not isinstance(number, (int, float)):
        return None
    try:
        d = Decimal(code_of(value).strip().replace("_", ""))
    except InvalidOperation:
        return None
    expr = template.replace("{}", "__v__")
    try:
        tree = ast.parse(expr, mode="eval").body
        result = _eval_decimal(tree, d)
    except (ValueError, ZeroDivisionError, InvalidOperation):
        return None
    text = format(result.normalize(), "f")
    if "." not in text and isinstance(number, float):
        text += ".0"
    return text


def _eval_decimal(node: ast.AST, v: Decimal) -> Decimal:
    if isinstance(node, ast.Name) and node.id == "__v__":
        return v
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return Decimal(repr(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval_decimal(node.operand, v)
    if isinstance(node, ast.BinOp):
        a, b = _eval_decimal(node.left, v), _eval_decimal(node.right, v)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            return a / b
    raise ValueError("not foldable")
