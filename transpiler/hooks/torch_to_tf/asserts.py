"""torch._assert(condition, message) (rules/torch_to_tf/debugging.toml).

PyTorch's function is ``if not condition: raise AssertionError(message)`` (kept under
``python -O``, unlike ``assert``), so a statement ``torch._assert(c, m)`` becomes that
``if``: Python conditions (shapes, isinstance, None checks) stay Python. A condition
known to be a tensor becomes ``tf.debugging.Assert(c, [m])``, which also checks inside
a traced function.
"""

from __future__ import annotations

import libcst as cst

from .._util import Args, Unconvertible, known_tensor

# comparison operators and the operator that negates them exactly (the ordering ones
# are not: a NaN compares False both ways)
_NEGATED = {
    cst.Equal: cst.NotEqual, cst.NotEqual: cst.Equal, cst.Is: cst.IsNot, cst.IsNot: cst.Is,
    cst.In: cst.NotIn, cst.NotIn: cst.In,
}


def _statement_of(ctx, call):
    """The statement line ``call`` is the whole of, or None."""
    stmt = ctx.statement_stack[-1] if ctx.statement_stack else None
    if (
        isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr) and stmt.body[0].value is call
    ):
        return stmt
    return None


def assert_(args, ctx, original):
    a = Args(args, ctx)
    cond = a.require("condition")
    message = a.require("message")
    bound = next(b for b in args.bound if b.name == "condition")
    orig_cond = bound.original.value if bound.original is not None else cond
    if known_tensor(ctx, orig_cond, original):
        ctx.warn(original, "torch._assert", "tf.debugging.Assert raises tf.errors.InvalidArgumentError, not AssertionError")
        return ctx.build("tensorflow.debugging.Assert({c}, [{m}])", c=cond, m=message)
    stmt = _statement_of(ctx, original)
    if stmt is None:
        raise Unconvertible("used as a value: only a torch._assert(...) statement becomes `if not condition: raise AssertionError(message)`")
    ctx.facts.setdefault("assert_statements", {})[id(stmt)] = (cond, message)
    return cst.Name("AssertionError")


def _negation(cond: cst.BaseExpression) -> cst.BaseExpression | None:
    """``not cond``, written as a person would; None for a condition that is always false."""
    if isinstance(cond, cst.Name) and cond.value == "False":
        return None
    if isinstance(cond, cst.UnaryOperation) and isinstance(cond.operator, cst.Not):
        inner = cond.expression
        return inner.with_changes(lpar=[], rpar=[]) if getattr(inner, "lpar", None) and not isinstance(inner, cst.Tuple) else inner
    if isinstance(cond, cst.Comparison) and len(cond.comparisons) == 1 and not cond.lpar:
        op = cond.comparisons[0].operator
        negated = _NEGATED.get(type(op))
        if negated is not None:
            return cond.with_changes(comparisons=[cond.comparisons[0].with_changes(operator=negated())])
    bare = cond.with_changes(lpar=[], rpar=[]) if getattr(cond, "lpar", None) and not isinstance(cond, cst.Tuple) else cond
    if isinstance(bare, (cst.BooleanOperation, cst.Comparison, cst.IfExp, cst.Lambda, cst.NamedExpr, cst.UnaryOperation, cst.BinaryOperation)):
        bare = bare.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.UnaryOperation(operator=cst.Not(), expression=bare)


def on_statement(transformer, original, updated):
    """A torch._assert statement: ``if not condition: raise AssertionError(message)``."""
    found = transformer.ctx.facts.get("assert_statements", {}).get(id(original))
    if found is None:
        return None
    cond, message = found
    raise_line = cst.SimpleStatementLine(body=[cst.Raise(exc=cst.Call(func=cst.Name("AssertionError"), args=[cst.Arg(message)]))])
    test = _negation(cond)
    ctx = transformer.ctx
    if test is None:  # torch._assert(False, m): it always raises
        return ctx.mark_new(raise_line.with_changes(leading_lines=original.leading_lines))
    return ctx.mark_new(cst.If(test=test, body=cst.IndentedBlock(body=[raise_line]), leading_lines=original.leading_lines))
