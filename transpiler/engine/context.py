"""Everything one file's conversion shares: rules, names, report, output spelling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from ..report import CONVERTED, UNCONVERTED, WARNING
from ..rules import RuleSet
from .build import DuplicatedArgument, LiteralReceiver, build, build_statements, fill, name_expr
from .names import Resolver
from .scan import Scan
from .spelling import Speller


@dataclass
class PendingFinding:
    kind: str
    api: str
    message: str
    target: str
    node: cst.CSTNode  # original node, for the position
    statement: cst.CSTNode | None = None  # the statement around it, where the node is off the scanned paths


@dataclass
class Context:
    to: str  # "torch" or "tf"
    source_framework: str
    ruleset: RuleSet
    resolver: Resolver
    scan: Scan
    speller: Speller
    module: cst.Module
    filename: str = "<stdin>"
    findings: list[PendingFinding] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # analysis results for hooks
    changes: int = 0
    todos: dict[int, list[str]] = field(default_factory=dict)  # statement id -> comments
    new_statements: set[int] = field(default_factory=set)  # ids: format whole
    statement_stack: list[cst.CSTNode] = field(default_factory=list)
    extra_statements: list[str] = field(default_factory=list)  # helper code for the output
    types: Any = None  # engine.types.Types, set once the analyzers have run
    consumed: set[int] = field(default_factory=set)  # framework names the output no longer has
    owned: set[int] = field(default_factory=set)  # calls a structural handler rewrites as a whole
    results: dict[int, cst.CSTNode] = field(default_factory=dict)  # original id -> converted node
    models: dict[str, Any] = field(default_factory=dict)  # model name -> weights/input info
    method_call: cst.Call | None = None  # the method call a method rule is being applied to
    # the kind of value a source expression around the call being converted holds (types.kind_of
    # in its scope); None outside a rule's application
    kind_here: Any = None
    consumed_log: list[int] = field(default_factory=list)  # consumed ids in order (see revert)

    @property
    def direction(self) -> str:
        return self.ruleset.direction

    def release(self) -> None:
        """Drop what the conversion's analyses kept. Hooks keep objects that refer back
        to the context (plans holding ``ctx``) in ``facts``: reference cycles that would
        keep the whole tree alive until the garbage collector ran (docs/performance.md)."""
        self.facts.clear()
        self.results.clear()
        self.findings.clear()
        self.todos.clear()
        self.statement_stack.clear()
        self.types = None
        # the result keeps the models' information, some of which refers to the context:
        # the context lets go of the tree (and of the models) instead
        self.models = {}
        self.scan = self.resolver = self.module = None  # type: ignore[assignment]

    def spell(self, qualname: str) -> str:
        return self.speller.spell(qualname)

    def build(this, text: str, /, **subs: cst.BaseExpression) -> cst.BaseExpression:
        # "this": a placeholder may be called "self" (a method's receiver)
        try:
            return build(text, this.spell, **subs)
        except DuplicatedArgument as exc:
            from .calls import Unconvertible

            raise Unconvertible(
                f"the conversion uses argument '{exc.args[0]}' twice; assign it to a variable first so it is computed once"
            ) from None
        except LiteralReceiver as exc:
            from .calls import Unconvertible

            raise Unconvertible(
                f"argument '{exc.args[0]}' is a Python literal, and the conversion calls a tensor method on it; make it a tensor first"
            ) from None

    def build_statements(this, text: str, /, literal: bool = False, **subs: cst.BaseExpression) -> list:
        return build_statements(text, this.spell, literal=literal, **subs)

    def fill(self, node: cst.CSTNode, /, **subs: cst.BaseExpression) -> cst.CSTNode:
        return fill(node, self.spell, **subs)

    def name(self, qualname: str) -> cst.BaseExpression:
        return name_expr(self.spell(qualname))

    def converted(self, node: cst.CSTNode, api: str, target: str, message: str = "") -> None:
        self.changes += 1
        self.findings.append(PendingFinding(CONVERTED, api, message, target, node, self._statement()))

    def warn(self, node: cst.CSTNode, api: str, message: str, target: str = "") -> None:
        self.findings.append(PendingFinding(WARNING, api, " ".join(message.split()), target, node, self._statement()))

    def unconverted(self, node: cst.CSTNode, api: str, reason: str) -> None:
        reason = " ".join(reason.split())  # code quoted in a reason may span lines
        self.findings.append(PendingFinding(UNCONVERTED, api, reason, "", node, self._statement()))
        if self.statement_stack:
            stmt = self.statement_stack[-1]
            short = reason if len(reason) <= 200 else reason[:197] + "..."
            text = f"# TODO(transpiler): {api}: {short}"
            bucket = self.todos.setdefault(id(stmt), [])
            if text not in bucket:
                bucket.append(text)

    def mark(self) -> tuple[int, int, int]:
        """Where the findings, consumed names and import needs stand now (see revert)."""
        return len(self.findings), len(self.consumed_log), len(self.speller.needs.log)

    def revert(self, node: cst.CSTNode, mark: tuple[int, int, int] | None) -> cst.CSTNode:
        """``node`` stays as the source wrote it, arguments included: a call left in the source
        framework must not receive arguments already rewritten for the target one. What was
        reported or consumed inside it since ``mark`` (taken when the walk entered it:
        children are converted in between) is forgotten."""
        if mark is None:
            return node
        findings, consumed, needs = mark
        window = self.findings[findings:]
        self.changes -= sum(1 for f in window if f.kind == CONVERTED)
        # what stayed unconverted inside is still unconverted (and still reported)
        self.findings[findings:] = [f for f in window if f.kind == UNCONVERTED]
        for key in self.consumed_log[consumed:]:
            self.consumed.discard(key)
        del self.consumed_log[consumed:]
        self.speller.needs.forget_since(needs)
        return node

    def _statement(self):
        return self.statement_stack[-1] if self.statement_stack else None

    def updated(self, node: cst.CSTNode) -> cst.CSTNode:
        """The converted form of an original expression (itself when nothing changed)."""
        return self.results.get(id(node), node)

    def consume_head(self, node: cst.CSTNode) -> None:
        """The dotted chain ``node`` (tf.math.add) is gone from the output: its head name too."""
        while isinstance(node, cst.Attribute):
            node = node.value
        if isinstance(node, cst.Name):
            self.consumed.add(id(node))
            self.consumed_log.append(id(node))

    def consume_subtree(self, node: cst.CSTNode) -> None:
        """Everything under ``node`` is gone from the output (a handler dropped it)."""
        for hit in self.scan.hits:
            if any(n is node for n in hit.stack):
                self.consumed.add(id(hit.name))
                self.consumed_log.append(id(hit.name))

    def mark_new(self, node: cst.CSTNode) -> cst.CSTNode:
        """Mark a statement the conversion created, to be formatted as a whole."""
        self.new_statements.add(id(node))
        self.changes += 1
        return node
