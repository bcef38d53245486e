"""The transformer that applies rules along the paths the scan found.

It visits only nodes on a path from the module to an interesting name, so the
rest of the tree is neither walked nor rebuilt. Structural rewrites (model
classes, training loops...) are handlers that a direction registers for a node
type; they run in the same walk, after the rules for the node's children.
"""

from __future__ import annotations

import importlib
from typing import Callable

import libcst as cst

from ..frameworks import canonical, framework_of
from ..rules import Rule
from .build import _needs_atom, code_of, is_atom, parenthesize
from .calls import CallArgs, Deferred, Unconvertible, bind_args, fold_number, literal_value
from .context import Context
from .walk import PathTransformer, iter_nodes

_STATEMENTS = (cst.SimpleStatementLine, cst.BaseCompoundStatement)


class RuleTransformer(PathTransformer):
    def __init__(self, ctx: Context, handlers: dict[str, list[Callable]] | None = None) -> None:
        super().__init__(ctx.scan.path_ids)
        self.ctx = ctx
        self.stack: list[cst.CSTNode] = []
        self.frames: list[list[int]] = []  # per statement: [changes at entry, nested changes]
        self.skip: set[int] = set()
        self.handlers = handlers or {}
        self.dirty: set[int] = set()  # updated statements whose own code changed
        self._marks: dict[int, tuple[int, int]] = {}  # call id -> ctx.mark() on entering it

    # -- traversal ---------------------------------------------------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        # imports are rewritten afterwards, from what the output still uses
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            return False
        self.stack.append(node)
        if isinstance(node, cst.Call):
            self._marks[id(node)] = self.ctx.mark()
        if isinstance(node, _STATEMENTS):
            self.ctx.statement_stack.append(node)
            self.frames.append([self.ctx.changes, 0])
        return super().on_visit(node)

    def on_leave(self, original, updated):
        if not self.stack or self.stack[-1] is not original:
            return updated
        result = super().on_leave(original, updated)
        self.stack.pop()
        if isinstance(original, _STATEMENTS):
            result = self._finish_statement(original, result)
        if result is not original and isinstance(original, (cst.BaseExpression, cst.BaseStatement)):
            self.ctx.results[id(original)] = result
        return result

    def _finish_statement(self, original, result):
        entry, nested = self.frames.pop()
        self.ctx.statement_stack.pop()
        total = self.ctx.changes - entry
        if self.frames:
            self.frames[-1][1] += total
        todos = self.ctx.todos.pop(id(original), None)
        if todos and isinstance(result, cst.FlattenSentinel) and result.nodes:
            # the statement became several (an unwrapped block): the first one carries them
            first = result.nodes[0]
            commented = add_comments(first, todos)
            if id(first) in self.ctx.new_statements:
                self.ctx.new_statements.add(id(commented))
            result = cst.FlattenSentinel([commented, *result.nodes[1:]])
        elif todos and isinstance(result, _STATEMENTS):
            was_new = id(result) in self.ctx.new_statements
            result = add_comments(result, todos)
            if was_new:
                self.ctx.new_statements.add(id(result))
        if total - nested > 0:
            for node in _as_nodes(result):
                self.dirty.add(id(node))
        return result

    def parent(self) -> cst.CSTNode | None:
        return self.stack[-2] if len(self.stack) >= 2 else None

    def _run_handlers(self, kind: str, original, updated):
        """Structural handlers for this node type, in order; each sees the previous one's result."""
        for handler in self.handlers.get(kind, ()):
            result = handler(self, original, updated)
            if result is None:
                continue
            if not isinstance(result, type(original)):
                return result  # replaced by another kind of node, or removed
            if result is not updated and id(updated) in self.ctx.new_statements:
                self.ctx.new_statements.add(id(result))  # a later handler's change keeps it new
            updated = result
        return updated

    # -- names and attributes ---------------------------------------------
    def _reference(self, original, updated):
        if id(original) in self.skip or id(original) in self.ctx.owned:
            return updated
        parent = self.parent()
        if isinstance(parent, cst.Attribute) and (parent.value is original or parent.attr is original):
            return updated
        if isinstance(parent, cst.Call) and parent.func is original:
            return updated
        if isinstance(original, cst.Name) and self.ctx.resolver.kind(original) != "load":
            return updated
        qual = self.ctx.resolver.resolve_chain(original)
        if qual is None or framework_of(qual) != self.ctx.source_framework:
            return updated
        return self.convert_reference(original, updated, qual)

    def leave_Name(self, original, updated):
        return self._reference(original, updated)

    def leave_Attribute(self, original, updated):
        result = self._reference(original, updated)
        if result is updated:
            if (
                id(original) not in self.skip
                and id(original) not in self.ctx.owned
                and self.ctx.resolver.resolve_chain(original) is None
            ):
                converted = self.convert_attribute(original, updated)
                if converted is not None:
                    return converted
            return self._run_handlers("Attribute", original, updated)
        return result

    def convert_reference(self, original, updated, qual: str):
        ctx = self.ctx
        rule = ctx.ruleset.lookup(qual)
        if rule is None:
            ctx.unconverted(original, qual, _no_rule_reason(qual, ctx))
            return updated
        if rule.as_type:
            use = used_as_type(self.stack)
            if use:
                ctx.converted(original, qual, rule.as_type)
                ctx.consume_head(original)
                # `warn` of a rule that is only a type; `type_warn` of one whose calls convert too
                caveat = rule.type_warn or ("" if rule.converts_calls else rule.warn)
                if caveat and use == "check":  # an annotation checks nothing at run time
                    ctx.warn(original, qual, caveat, rule.as_type)
                return _reference_to(ctx, rule.as_type)
            if not rule.value and not rule.converts_calls:
                ctx.unconverted(
                    original, qual,
                    f"used as a value, not as a type: only annotations, isinstance/issubclass checks and type arguments convert (to {rule.as_type})",
                )
                return updated
            if not rule.value and not rule.is_pure_rename:  # a factory passed on (norm_layer=nn.BatchNorm2d)
                made = self._value_hook(original, updated, qual, rule)
                if made is not None:
                    return made
                ctx.unconverted(
                    original, qual,
                    f"used as a value (not called, not a type): the arguments it will be called with cannot be mapped to {rule.as_type}'s; convert this use by hand",
                )
                return updated
        if rule.reject:
            ctx.unconverted(original, qual, rule.reject)
            return updated
        target = rule.value or (rule.target if rule.is_pure_rename else None)
        if target is None:
            made = self._value_hook(original, updated, qual, rule)
            if made is not None:
                return made
            ctx.unconverted(
                original, qual,
                f"used as a value, not called; {rule.target_display} needs its arguments mapped, so convert the call site by hand",
            )
            return updated
        ctx.converted(original, qual, target)
        ctx.consume_head(original)
        if rule.warn:
            ctx.warn(original, qual, rule.warn, target)
        return _reference_to(ctx, target)

    def _value_hook(self, original, updated, qual: str, rule: Rule):
        """A class used as a value (``norm_layer=nn.BatchNorm2d``) whose rule names a
        ``data.value_hook``: what the hook makes of it (a factory), or None where it has none.
        The hook gets ``(rule, ctx, original, stack)`` and may raise ``Unconvertible``."""
        hook = rule.data.get("value_hook") if isinstance(rule.data, dict) else None
        if not hook:
            return None
        try:
            result = load_hook(self.ctx.direction, hook)(rule, self.ctx, original, tuple(self.stack))
        except Unconvertible as exc:
            self.ctx.unconverted(original, qual, str(exc))
            return updated
        self.ctx.converted(original, qual, code_of(result).strip())
        self.ctx.consume_head(original)
        return result

    # -- calls -------------------------------------------------------------
    def leave_Call(self, original, updated):
        result = self._convert_call_node(original, updated)
        if result is updated or not isinstance(result, cst.BaseExpression):
            return result
        return self._fit_in_place(original, result)

    def _fit_in_place(self, original: cst.Call, result: cst.BaseExpression) -> cst.BaseExpression:
        """A call is an atom; what replaces it may not be (``x + 1`` for ``linear(x + 1)``):
        keep the parentheses the source put around the call, and add the ones the
        context needs (``linear(a + b) * 2`` -> ``(a + b) * 2``)."""
        if original.lpar and not getattr(result, "lpar", None) and hasattr(result, "lpar"):
            return result.with_changes(lpar=original.lpar, rpar=original.rpar)
        if is_atom(result):
            return result
        parent = self.parent()
        if _needs_atom(parent, original):
            return parenthesize(result)
        return result

    def _convert_call_node(self, original, updated):
        if id(original) in self.skip:
            return updated
        if id(original) in self.ctx.owned:  # part of a model a structural handler rewrites
            return self._run_handlers("Call", original, updated)
        qual = None
        if isinstance(original.func, (cst.Name, cst.Attribute)):
            if not (isinstance(original.func, cst.Name) and self.ctx.resolver.kind(original.func) != "load"):
                qual = self.ctx.resolver.resolve_chain(original.func)
        if qual is not None and framework_of(qual) == self.ctx.source_framework:
            return self.convert_call(original, updated, qual)
        if isinstance(original.func, cst.Attribute) and qual is None:
            result = self.convert_method(original, updated)
            if result is not None:
                return result
        if qual is None and isinstance(original.func, (cst.Name, cst.Attribute, cst.Call)):
            # (a Call: a value called where it is made, keras.losses.MeanSquaredError()(y, p))
            result = self.convert_value_call(original, updated)
            if result is not None:
                return result
        return self._run_handlers("Call", original, updated)

    def convert_value_call(self, original: cst.Call, updated: cst.Call):
        """Calling a value of a known kind (a loss object, a model): its `__call__` rule."""
        ctx = self.ctx
        if ctx.types is None or not ctx.ruleset.method_rules("__call__"):
            return None
        kind = self._receiver_kind(original.func)
        rule = ctx.types.method_rule(kind, "__call__") if kind else None
        if rule is None:
            return None
        api = f"{kind}.__call__"
        try:
            receiver = updated.func
            call = updated.with_changes(func=cst.Attribute(value=receiver, attr=cst.Name("__call__")))
            orig = original.with_changes(func=cst.Attribute(value=original.func, attr=cst.Name("__call__")))
            result = apply_method_rule(rule, orig, call, ctx)
        except Deferred:
            return updated
        except Unconvertible as exc:
            ctx.unconverted(original, api, str(exc))
            return updated
        if result is not None and _same_code(result, updated):
            return updated
        result = _inline_lambda(result)
        ctx.converted(original, api, _describe(result))
        return result

    # -- methods and attributes of values of a known kind -------------------
    def _receiver_kind(self, receiver: cst.BaseExpression) -> str | None:
        types = self.ctx.types
        if types is None:
            return None
        return types.kind_of(receiver, self.ctx.resolver.chain_of(self.stack))

    def convert_method(self, original: cst.Call, updated: cst.Call):
        """x.view(...) and friends; None when this is not a method the rules know about."""
        ctx = self.ctx
        name = original.func.attr.value
        rules = ctx.ruleset.method_rules(name)
        kind = self._receiver_kind(original.func.value)
        if kind is None:
            receiver = original.func.value
            if isinstance(receiver, cst.Name) and receiver.value in ctx.resolver.bindings.modules:
                return None  # math.sqrt(x), np.where(...): a function of another module
            evidence = getattr(ctx.types, "evidence", None)
            kind = evidence(original, ctx.resolver.chain_of(self.stack)) if evidence and rules else None
        if kind is None:
            if rules and not all(r.ambiguous for r in rules) and not self._user_attribute(original.func.value, name):
                # (self.relu(x) where the class assigns self.relu: the user's own, not a tensor's)
                result = self._unknown_receiver(original, updated)
                if result is not None:
                    return result
                kinds = sorted({r.receiver for r in rules if r.receiver != UNKNOWN_RECEIVER})
                receiver = code_of(original.func.value).strip()
                ctx.revert(original, self._marks.get(id(original)))  # left as written
                ctx.unconverted(
                    original, f"{'/'.join(kinds)}.{name}",
                    f"cannot tell whether '{receiver}' is a {' or '.join(kinds)}; convert this call by hand",
                )
                return original
            return None
        rule = ctx.types.method_rule(kind, name)
        if kind == "unconverted_model":
            ctx.unconverted(original, f"model.{name}", "the model stays as it was: its definition could not be converted (see the TODO there)")
            return updated
        if rule is None:
            shown = _value_kind(kind)
            if shown and self._framework_member(shown, name) and not self._user_attribute(original.func.value, name):
                ctx.unconverted(original, f"{shown}.{name}", f"no conversion rule for this {shown} method")
                return updated
            return None
        api = f"{kind}.{name}"
        try:
            result = apply_method_rule(rule, original, updated, ctx)
        except Deferred:
            return updated
        except Unconvertible as exc:
            # left as written, arguments included (as for an unconverted function call)
            ctx.revert(original, self._marks.get(id(original)))
            ctx.unconverted(original, api, str(exc))
            return original
        ctx.converted(original, api, _describe(result))
        if rule.warn:
            ctx.warn(original, api, rule.warn)
        return result

    def _unknown_receiver(self, original: cst.Call, updated: cst.Call):
        """A rule for a receiver of unknown kind (``receiver = "unknown"``: x.to(device) is
        x whatever x is); None when there is none or it does not apply (Unconvertible)."""
        ctx = self.ctx
        rule = next((r for r in ctx.ruleset.method_rules(original.func.attr.value) if r.receiver == UNKNOWN_RECEIVER), None)
        if rule is None:
            return None
        mark = ctx.mark()
        try:
            result = apply_method_rule(rule, original, updated, ctx)
        except (Unconvertible, Deferred):
            ctx.revert(original, mark)
            return None
        ctx.converted(original, f"{UNKNOWN_RECEIVER}.{rule.source}", _describe(result))
        if rule.warn:
            ctx.warn(original, f"{UNKNOWN_RECEIVER}.{rule.source}", rule.warn)
        return result

    def convert_attribute(self, original: cst.Attribute, updated: cst.Attribute):
        ctx = self.ctx
        name = original.attr.value
        parent = self.parent()
        if isinstance(parent, cst.Call) and parent.func is original:
            return None
        if not isinstance(original.value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            return None
        if isinstance(original.value, cst.Name) and original.value.value in ctx.resolver.bindings.modules:
            return None  # np.float32, math.pi: a name of another module
        kind = self._receiver_kind(original.value)
        if kind is None:
            return None
        rule = ctx.types.method_rule(kind, name)
        if rule is not None and rule.attribute:
            api = f"{kind}.{name}"
            try:
                result = apply_method_rule(rule, None, updated, ctx, attribute=True)
            except Deferred:  # the receiver's own finding covers it
                return updated
            except Unconvertible as exc:
                ctx.unconverted(original, api, str(exc))
                return updated
            ctx.converted(original, api, _describe(result))
            return result
        shown = _value_kind(kind) if rule is None else None
        if shown and self._framework_member(shown, name) and not self._user_attribute(original.value, name):
            ctx.unconverted(original, f"{shown}.{name}", f"no conversion rule for this {shown} attribute")
        return None

    def _framework_member(self, kind: str, name: str) -> bool:
        """Whether ``name`` on a value of ``kind`` is the framework's (so one without a rule
        is reported): not a passthrough, and a known member where the kind lists them."""
        ruleset = self.ctx.ruleset
        if name in ruleset.passthrough.get(kind, ()):
            return False
        members = ruleset.members.get(kind)
        return members is None or name in members

    def _user_attribute(self, receiver: cst.BaseExpression, name: str) -> bool:
        """An attribute a class of this file defines on its instances: the user's own."""
        user_attribute = getattr(self.ctx.types, "user_attribute", None)
        return bool(user_attribute) and user_attribute(receiver, name, self.ctx.resolver.chain_of(self.stack))

    def convert_call(self, original, updated, qual: str):
        ctx = self.ctx
        rule = ctx.ruleset.lookup(qual)
        if rule is None:
            ctx.revert(original, self._marks.get(id(original)))
            ctx.unconverted(original, qual, _no_rule_reason(qual, ctx))
            return original
        if ctx.types is not None:
            stack = tuple(self.stack)  # the scope is worked out only where a rule asks
            ctx.kind_here = lambda expr: ctx.types.kind_of(expr, ctx.resolver.chain_of(stack))
        try:
            result = apply_rule(rule, updated, ctx, original)
        except Deferred:
            ctx.consume_head(original.func)
            return updated
        except Unconvertible as exc:
            ctx.revert(original, self._marks.get(id(original)))
            ctx.unconverted(original, qual, str(exc))
            return original
        finally:
            ctx.kind_here = None
        target = _describe(result)
        ctx.converted(original, qual, target)
        ctx.consume_head(original.func)
        if rule.warn:
            ctx.warn(original, qual, rule.warn, target)
        return result

    # -- decorators and removed statements -------------------------------
    def visit_Decorator(self, node: cst.Decorator) -> bool:
        self.skip.add(id(node.decorator))
        if isinstance(node.decorator, cst.Call):
            self.skip.add(id(node.decorator.func))
        return True

    def leave_Decorator(self, original, updated):
        expr = original.decorator
        func = expr.func if isinstance(expr, cst.Call) else expr
        qual = self.ctx.resolver.resolve_chain(func) if isinstance(func, (cst.Name, cst.Attribute)) else None
        if qual is None or framework_of(qual) != self.ctx.source_framework:
            return updated
        rule = self.ctx.ruleset.lookup(qual)
        if rule is not None and rule.remove:
            self.ctx.converted(original, qual, "(removed)", rule.note)
            self.ctx.consume_head(func)
            return cst.RemovalSentinel.REMOVE
        if isinstance(expr, cst.Call):
            new = self.convert_call(expr, updated.decorator, qual)
        else:
            new = self.convert_reference(expr, updated.decorator, qual)
        return updated.with_changes(decorator=new)

    def _removed_statement_rule(self, node: cst.Expr):
        value = node.value
        if isinstance(value, cst.Call) and isinstance(value.func, (cst.Name, cst.Attribute)):
            qual = self.ctx.resolver.resolve_chain(value.func)
            if qual and framework_of(qual) == self.ctx.source_framework:
                rule = self.ctx.ruleset.lookup(qual)
                if rule is not None and rule.remove:
                    return qual, rule
        return None

    def visit_Expr(self, node: cst.Expr) -> bool:
        if self._removed_statement_rule(node):
            self.skip.add(id(node.value))
        return True

    def leave_Expr(self, original, updated):
        found = self._removed_statement_rule(original)
        if found:
            qual, rule = found
            self.ctx.converted(original.value, qual, "(removed)", rule.note)
            self.ctx.consume_head(original.value.func)
            return cst.RemovalSentinel.REMOVE
        return self._run_handlers("Expr", original, updated)

    def leave_ClassDef(self, original, updated):
        return self._run_handlers("ClassDef", original, updated)

    def leave_FunctionDef(self, original, updated):
        return self._run_handlers("FunctionDef", original, updated)

    def _removed_context_rules(self, node: cst.With):
        """[(call, qual, rule)] when every context of ``with`` is an unwrap rule's call bound to no name
        (``with tf.name_scope("x"):``): the statement becomes its body."""
        found = []
        for item in node.items:
            if item.asname is not None or not isinstance(item.item, cst.Call):
                return None
            call = item.item
            if not isinstance(call.func, (cst.Name, cst.Attribute)) or id(call) in self.ctx.owned:
                return None  # owned: in a class that stays as it was, or rewritten by a handler
            qual = self.ctx.resolver.resolve_chain(call.func)
            if not qual or framework_of(qual) != self.ctx.source_framework:
                return None
            rule = self.ctx.ruleset.lookup(qual)
            if rule is None or not rule.unwrap:
                return None
            found.append((call, qual, rule))
        return found

    def visit_With(self, node: cst.With) -> bool:
        for call, _, _ in self._removed_context_rules(node) or ():
            self.skip.add(id(call))
        return True

    def leave_With(self, original, updated):
        removed = self._removed_context_rules(original)
        if not removed:
            return self._run_handlers("With", original, updated)
        for call, qual, rule in removed:
            self.ctx.converted(call, qual, "(removed)", rule.note)
            self.ctx.consume_subtree(call)
        body = list(updated.body.body)
        if not body:  # `with tf.name_scope("x"): pass` has a body; a bare one cannot occur
            return cst.RemovalSentinel.REMOVE
        body[0] = body[0].with_changes(leading_lines=[*original.leading_lines, *body[0].leading_lines])
        return cst.FlattenSentinel(body)

    def leave_Assign(self, original, updated):
        return self._run_handlers("Assign", original, updated)

    def leave_For(self, original, updated):
        return self._run_handlers("For", original, updated)

    def leave_SimpleStatementLine(self, original, updated):
        return self._run_handlers("SimpleStatementLine", original, updated)

    def leave_Module(self, original, updated):
        return self._run_handlers("Module", original, updated)

    def leave_IndentedBlock(self, original, updated):
        return self._run_handlers("IndentedBlock", original, updated)


# kinds of framework objects: an attribute or method without a rule on them is reported
_VALUE_KINDS = {"tensor", "module", "layer", "model", "optimizer", "dataloader", "dataset", "variable", "loss", "scheduler", "tape", "metric"}


def _value_kind(kind: str | None) -> str | None:
    """The kind a value is reported as: a kind an isinstance check narrowed a module to
    (``linear_layer``) is a module (types.KIND_PARENTS)."""
    from .types import KIND_PARENTS

    while kind and kind not in _VALUE_KINDS:
        kind = KIND_PARENTS.get(kind)
    return kind


_METHOD_RULES: dict[int, Rule] = {}


def apply_method_rule(rule: Rule, original: cst.Call | None, updated, ctx: Context, *, attribute: bool = False):
    """A method rule is a function rule whose first argument is the receiver, named 'self'."""
    import dataclasses

    as_function = _METHOD_RULES.get(id(rule))
    if as_function is None:
        as_function = dataclasses.replace(rule, args=(rule.receiver_arg, *rule.args))
        _METHOD_RULES[id(rule)] = as_function
    if attribute:
        receiver = updated.value
        call = cst.Call(func=cst.Name("_"), args=[cst.Arg(receiver)])
        return apply_rule(as_function, call, ctx, None)
    receiver = _bare(updated.func.value)
    call = updated.with_changes(func=cst.Name("_"), args=[cst.Arg(receiver), *updated.args])
    ctx.method_call = original  # the call as it is in the module, for hooks that look around it
    orig = None
    if original is not None:
        orig = original.with_changes(args=[cst.Arg(original.func.value), *original.args])
    return apply_rule(as_function, call, ctx, orig)


def _bare(receiver: cst.BaseExpression) -> cst.BaseExpression:
    """The receiver without the parentheses it needed as one (``(x > 0).any()``): as an
    argument it needs none, and templates add them back where they do."""
    if getattr(receiver, "lpar", None) and not isinstance(receiver, (cst.Tuple, cst.GeneratorExp, cst.Yield, cst.NamedExpr)):
        return receiver.with_changes(lpar=[], rpar=[])
    return receiver


def _reference_to(ctx: Context, name: str) -> cst.BaseExpression:
    """What a reference becomes: a framework name spelled (and imported) as the output
    spells it, or a builtin or constant as it is (torch.device -> str, tf.newaxis -> None,
    keras.losses.Reduction.NONE -> "none")."""
    if name[:1] in "\"'":
        return cst.SimpleString(name)
    return ctx.name(name) if "." in name else cst.Name(name)


# the receiver of method rules tried on a value whose kind is not known
UNKNOWN_RECEIVER = "unknown"


def used_as_type(stack) -> str | None:
    """How the reference at the end of ``stack`` is used as a type: "annotation",
    "check" (a class isinstance/issubclass checks, alone or in a tuple) or
    "argument" (a type argument, ``Dict[str, X]``, also in a type alias); None
    when it is used as a value."""
    in_brackets = False
    for i in range(len(stack) - 2, -1, -1):
        node, child = stack[i], stack[i + 1]
        if isinstance(node, cst.Annotation):
            return "annotation"
        if isinstance(node, cst.Subscript):
            if node.value is child:
                break
            continue
        if isinstance(node, cst.SubscriptElement):
            in_brackets = True
            continue
        if isinstance(node, (cst.Index, cst.Tuple, cst.List, cst.Element)):
            continue
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            continue
        if isinstance(node, cst.Arg) and i >= 1 and not in_brackets:
            call = stack[i - 1]
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Name)
                and call.func.value in ("isinstance", "issubclass")
                and len(call.args) == 2
                and call.args[1] is node
            ):
                return "check"
        break
    return "argument" if in_brackets else None


def _inline_lambda(call):
    """``(lambda a, b: f(a, b))(x, y)`` -> ``f(x, y)``: a loss object made and called in one
    expression, whose PyTorch form is a lambda. Only where each parameter is read once and the
    arguments are positional (nothing is evaluated twice or out of order)."""
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Lambda)):
        return call
    params = call.func.params
    names = [p.name.value for p in params.params]
    if params.star_arg is not cst.MaybeSentinel.DEFAULT or params.kwonly_params or params.posonly_params \
            or params.star_kwarg is not None or any(p.default is not None for p in params.params):
        return call
    if len(call.args) != len(names) or any(a.keyword is not None or a.star for a in call.args):
        return call
    if not all(isinstance(a.value, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)) for a in call.args):
        return call  # an operator expression could bind differently where the parameter stood
    body = call.func.body
    nodes = list(iter_nodes(body))
    reads = [n.value for n in nodes if isinstance(n, cst.Name)]
    if any(reads.count(n) != 1 for n in names) or any(isinstance(n, cst.Lambda) for n in nodes):
        return call
    values = {n: a.value for n, a in zip(names, call.args)}

    class _Substitute(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return values.get(original.value, updated)

    return body.visit(_Substitute())


def _same_code(a, b) -> bool:
    return code_of(a).strip() == code_of(b).strip()


def _describe(result: cst.BaseExpression) -> str:
    """A short name for what a call became, for the report."""
    node = result
    while True:
        if isinstance(node, cst.Call):
            node = node.func
        elif isinstance(node, cst.Attribute) and isinstance(node.value, cst.Call):
            return code_of(node.value.func).strip() + "(...)." + node.attr.value
        else:
            break
    text = code_of(node).strip()
    return text if len(text) <= 60 else text[:57] + "..."


def _no_rule_reason(qual: str, ctx: Context) -> str:
    if qual in _module_names(ctx.ruleset):
        return "a module used as a value; refer to its members directly"
    return "no conversion rule for this API"


_MODULES: dict[int, tuple[object, set[str]]] = {}


def _module_names(ruleset) -> set[str]:
    """Every dotted prefix of a rule's name (``tensorflow.math`` for ``tensorflow.math.add``)."""
    cached = _MODULES.get(id(ruleset))
    if cached is None or cached[0] is not ruleset:
        names = set()
        for key in ruleset.rules:
            parts = key.split(".")
            names.update(".".join(parts[:i]) for i in range(1, len(parts)))
        cached = _MODULES[id(ruleset)] = (ruleset, names)
    return cached[1]


def _as_nodes(result):
    if isinstance(result, cst.FlattenSentinel):
        return list(result.nodes)
    if isinstance(result, cst.CSTNode):
        return [result]
    return []


def add_comments(stmt, comments: list[str]):
    existing = {line.comment.value for line in stmt.leading_lines if line.comment is not None}
    if any(c.startswith("# TODO(transpiler):") for c in existing):
        # marked by an earlier run (which may have known more, e.g. the kind of a value
        # it then converted): a second run changes nothing; the report still lists it
        return stmt
    new = [cst.EmptyLine(comment=cst.Comment(c)) for c in comments if c not in existing]
    if not new:
        return stmt
    return stmt.with_changes(leading_lines=[*stmt.leading_lines, *new])


# -- rule application ------------------------------------------------------

_HOOK_CACHE: dict[tuple[str, str], Callable] = {}


def load_hook(direction: str, name: str) -> Callable:
    key = (direction, name)
    fn = _HOOK_CACHE.get(key)
    if fn is None:
        module_name, func_name = name.split(".")
        module = importlib.import_module(f"transpiler.hooks.{direction}.{module_name}")
        fn = getattr(module, func_name)
        _HOOK_CACHE[key] = fn
    return fn


def apply_rule(rule: Rule, call: cst.Call, ctx: Context, original: cst.Call | None = None) -> cst.BaseExpression:
    """The converted form of ``call`` (children already converted) under ``rule``."""
    if rule.reject:
        raise Unconvertible(rule.reject)
    if rule.as_type and not (rule.target or rule.template or rule.hook or rule.remove):
        raise Unconvertible(f"called: only its uses as a type convert (to {rule.as_type})")
    if rule.remove:
        if len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star:
            return call.args[0].value
        raise Unconvertible("removed in the target framework, and this use of its result cannot be rewritten")
    if rule.unwrap:
        raise Unconvertible("only `with NAME(...):` with no `as` disappears (its body stays); rewrite this use by hand")
    if rule.is_pure_rename:
        return call.with_changes(func=ctx.name(rule.target))
    args = bind_args(rule, call, original)
    if rule.hook:
        fn = load_hook(ctx.direction, rule.hook)
        return fn(args, ctx, original or call)
    return map_args(rule, args, ctx)


def prepare(rule: Rule, args: CallArgs, ctx: Context) -> list[tuple[str, str, cst.Arg, bool]]:
    """Apply unsupported/drop/values/transform; (source name, target name, arg, positional)."""
    kept = []
    node = args.original or args.call
    for b in args.bound:
        name = b.name
        value = b.value
        if name in rule.unsupported:
            if b.code != "None":
                raise Unconvertible(f"argument '{name}': {rule.unsupported[name]}")
            continue
        if name in rule.drop:
            default = rule.drop[name]
            if default != "*" and not is_default(b, default, ctx):
                ctx.warn(node, rule.source, f"argument '{name}={b.code}' dropped: no equivalent in the target framework")
            continue
        if name in rule.values:
            value = map_value(rule, name, value, ctx)
        if name in rule.transform:
            value = transform_value(rule.transform[name], value, ctx)
        target_name = rule.rename.get(name, name)
        ruleset = ctx.ruleset
        if target_name in ruleset.tensor_params and isinstance(value, (cst.List, cst.Tuple)) and ruleset.tensor_wrapper:
            # TensorFlow ops take Python lists; PyTorch ops need tensors
            value = ctx.build(ruleset.tensor_wrapper.replace("{}", "{value}"), value=value)
        elif (
            target_name in ruleset.tensor_params and ruleset.tensor_wrapper and _number_literal(value)
            and _single_tensor_arg(rule, args, ruleset)
        ):
            # tf.sqrt(2.0): a one-tensor PyTorch op (torch.sqrt) takes no Python number
            value = ctx.build(ruleset.tensor_wrapper.replace("{}", "{value}"), value=value)
        elif (
            target_name in ruleset.tensor_params and ruleset.number_wrapper and b.original is not None
            and ctx.kind_here is not None and maybe_number(b.original.value, ctx.kind_here)
            and _single_tensor_arg(rule, args, ruleset)
        ):
            # tf.math.log((max_position - 1) / mid): Python numbers, maybe; a tensor goes through
            value = ctx.build(ruleset.number_wrapper.replace("{}", "{value}"), value=value)
        kept.append((name, target_name, b.arg.with_changes(value=value), b.positional))
    return kept


def _number_literal(value) -> bool:
    if isinstance(value, cst.UnaryOperation) and isinstance(value.operator, (cst.Minus, cst.Plus)):
        value = value.expression
    return isinstance(value, (cst.Integer, cst.Float))


def maybe_number(value, kind_of) -> bool:
    """Arithmetic on number literals and values not known to be tensors (``(n - 1) / m``)."""
    if not isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):
        return False
    leaves, numbers, stack = [], 0, [value]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.FloorDivide, cst.Power, cst.Modulo)
        ):
            stack.extend((node.left, node.right))
        elif isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
            stack.append(node.expression)
        elif isinstance(node, (cst.Integer, cst.Float)):
            numbers += 1
        elif isinstance(node, (cst.Name, cst.Attribute)):
            leaves.append(node)
        else:
            return False  # a call or a subscript: what it gives is another question
    return numbers > 0 and not any(tensor_kind(kind_of(leaf)) for leaf in leaves)


def tensor_kind(kind: str | None) -> bool:
    return kind is not None and kind not in ("int", "float", "number", "bool", "str", "shape")


def _single_tensor_arg(rule: Rule, args: CallArgs, ruleset) -> bool:
    """The call gives the target one tensor argument (torch.add(1.0, x) takes the number as it is)."""
    targets = [rule.rename.get(b.name, b.name) for b in args.bound if b.name not in rule.drop]
    return sum(t in ruleset.tensor_params for t in targets) == 1


def map_args(rule: Rule, args: CallArgs, ctx: Context, *, target: str | None = None) -> cst.BaseExpression:
    """Drop, map, transform and rename the bound arguments; build the target call."""
    node = args.call
    kept = [(tname, arg, positional) for _, tname, arg, positional in prepare(rule, args, ctx)]

    if rule.template:
        try:
            return ctx.build(rule.template, **_template_subs(rule, args, kept, ctx))
        except KeyError as exc:
            raise Unconvertible(f"needs argument(s) {exc.args[0]} to be given explicitly") from None

    target_args = list(rule.target_args) or [rule.rename.get(a.lstrip("*"), a.lstrip("*")) for a in rule.args]
    out: list[cst.Arg] = []
    keyword_started = False
    present = set()
    for tname, arg, positional in kept:
        present.add(tname)
        if (
            positional
            and not keyword_started
            and len(out) < len(target_args)
            and target_args[len(out)] == tname
        ):
            out.append(arg.with_changes(keyword=None, equal=cst.MaybeSentinel.DEFAULT))
        else:
            keyword_started = True
            out.append(_as_keyword(arg, tname))
    for kw, code in rule.defaults.items():
        if kw not in present:
            out.append(cst.Arg(keyword=cst.Name(kw), value=ctx.build(code), equal=_EQUAL))
    out = _fix_commas(out, trailing=bool(node.args) and isinstance(node.args[-1].comma, cst.Comma))
    func = ctx.name(target or rule.target)
    return node.with_changes(func=func, args=out)


def source_text(b, ctx: Context) -> str:
    """How the source wrote an argument, with framework names in full."""
    node = b.original.value if b.original is not None else b.value
    if isinstance(node, (cst.Name, cst.Attribute)):
        qual = ctx.resolver.resolve_chain(node)
        if qual is not None:
            return canonical(qual)
    return code_of(node).strip()


def is_default(b, default: str, ctx: Context) -> bool:
    return source_text(b, ctx).replace('"', "'") == default.replace('"', "'")


def _template_subs(rule: Rule, args: CallArgs, kept, ctx: Context) -> dict:
    """Template placeholders use source argument names; absent ones fall back to drop defaults."""
    by_target = {tname: arg.value for tname, arg, _ in kept}
    subs = {}
    for src in (a.lstrip("*") for a in rule.args):
        tname = rule.rename.get(src, src)
        if tname in by_target:
            subs[src] = by_target[tname]
        elif src in rule.defaults:
            subs[src] = ctx.build(rule.defaults[src])
    consumed = set(_placeholders(rule.template))
    for src in (a.lstrip("*") for a in rule.args):
        tname = rule.rename.get(src, src)
        if tname in by_target and src not in consumed:
            raise Unconvertible(f"argument '{src}' has no place in {rule.template}")
    return subs


def _placeholders(text: str) -> list[str]:
    from ..rules import PLACEHOLDER

    return PLACEHOLDER.findall(text)


_EQUAL = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


def _as_keyword(arg: cst.Arg, name: str) -> cst.Arg:
    if arg.keyword is not None and arg.keyword.value == name:
        return arg
    return arg.with_changes(keyword=cst.Name(name), equal=_EQUAL)


def _fix_commas(args: list[cst.Arg], *, trailing: bool) -> list[cst.Arg]:
    """Commas between arguments; a trailing comma only where the source had one."""
    fixed = []
    for i, arg in enumerate(args):
        last = i == len(args) - 1
        if last:
            if trailing and not isinstance(arg.comma, cst.Comma):
                arg = arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace("")))
            elif not trailing:
                arg = arg.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        elif not isinstance(arg.comma, cst.Comma):
            arg = arg.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        fixed.append(arg)
    return fixed


def map_value(rule: Rule, name: str, value: cst.BaseExpression, ctx: Context) -> cst.BaseExpression:
    table = rule.values[name]
    ok, literal = literal_value(value)
    if ok:
        for key, out in table.items():
            if key == "*":
                continue
            if (isinstance(literal, str) and literal == key) or (not isinstance(literal, str) and repr(literal) == key):
                return ctx.build(out)
        if isinstance(literal, str) and literal.lower() in table:
            return ctx.build(table[literal.lower()])
        choices = ", ".join(repr(k) for k in table if k != "*")
        raise Unconvertible(f"argument '{name}={code_of(value).strip()}' has no equivalent (supported: {choices})")
    if "*" in table:
        return ctx.build(table["*"].replace("{}", "{value}"), value=value)
    raise Unconvertible(f"argument '{name}' is computed at run time ({code_of(value).strip()}); its value must be known to convert")


def transform_value(template: str, value: cst.BaseExpression, ctx: Context) -> cst.BaseExpression:
    folded = fold_number(template, value)
    if folded is not None:
        return cst.parse_expression(folded)
    return ctx.build(template.replace("{}", "{value}"), value=parenthesize(value))
