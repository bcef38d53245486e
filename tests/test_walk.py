"""The engine's cheap child listings agree with LibCST's ``children``.

``child_nodes`` reads a node's fields; ``source_children`` also keeps the order the
code is written in, which hooks that look for the first use of a name rely on. Both
are checked against LibCST's own (slow) ``children`` on every node of every fixture.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from transpiler.engine.walk import child_nodes, iter_nodes, source_children

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "fixtures").rglob("*.py")) + sorted((ROOT / "transpiler" / "engine").glob("*.py"))
TOKEN_NAMES = {"LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket", "LeftCurlyBrace", "RightCurlyBrace", "Asynchronous"}


def _holds_code(node: cst.CSTNode) -> bool:
    module = type(node).__module__
    return not (module.endswith(".whitespace") or module.endswith(".op") or type(node).__name__ in TOKEN_NAMES)


def _modules():
    for path in FILES:
        try:
            yield path, cst.parse_module(path.read_text(encoding="utf-8"))
        except cst.ParserSyntaxError:
            continue  # the fixtures of unparseable input


@pytest.mark.parametrize("path,module", list(_modules()), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_children_agree_with_libcst(path, module):
    for node in iter_nodes(module):
        expected = node.children
        assert sorted(map(id, child_nodes(node))) == sorted(map(id, expected)), type(node).__name__
        ours = [id(c) for c in source_children(node) if _holds_code(c)]
        assert ours == [id(c) for c in expected if _holds_code(c)], type(node).__name__
