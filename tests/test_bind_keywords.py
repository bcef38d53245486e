"""Rule arguments: "**options" accepts keyword arguments the rule does not list."""

from __future__ import annotations

import libcst as cst
import pytest

from transpiler.engine.calls import Unconvertible, bind_args
from transpiler.rules import Rule


def _bind(args: tuple, code: str):
    rule = Rule(source="m.f", file="<test>", family="test", target="g", args=args)
    return bind_args(rule, cst.parse_expression(code))


def test_any_keyword_is_bound_under_its_own_name():
    bound = _bind(("*inputs", "**options"), "f(x, y, mask=m, scale=2.0)")
    assert [(b.name, b.code, b.positional) for b in bound.bound] == [
        ("inputs", "[x, y]", True), ("mask", "m", False), ("scale", "2.0", False)]


def test_listed_keywords_keep_their_place():
    bound = _bind(("input", "dim", "**options"), "f(a, 1, keepdim=True)")
    assert [b.name for b in bound.bound] == ["input", "dim", "keepdim"]


def test_without_it_an_unknown_keyword_is_refused():
    with pytest.raises(Unconvertible, match="argument 'mask' has no mapping"):
        _bind(("*inputs",), "f(x, mask=m)")


def test_it_takes_no_positional_argument():
    with pytest.raises(Unconvertible, match="more positional arguments"):
        _bind(("input", "**options"), "f(a, b)")
