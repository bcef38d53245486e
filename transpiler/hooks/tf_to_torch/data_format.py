"""A data format computed at run time that can only be Keras's default.

Keras code written for both layouts (keras-hub's) takes ``data_format=None``, makes it
``standardize_data_format(data_format)`` (or ``data_format or
keras.config.image_data_format()``), derives ``channel_axis = -1 if data_format ==
"channels_last" else 1`` and gives both to its layers. Such a value is Keras's configured
image data format, 'channels_last' unless a keras.json says otherwise: the conversion takes
it as that (with a warning, as for ``keras.config.image_data_format()`` itself), and folds
the comparisons and conditional expressions computed from it (``channel_axis`` is -1).

Only where every read of the value is one the conversion accounts for: a ``data_format=``
given to a Keras layer or to a class or function of the source, an ``axis=`` given to a
Keras layer, an assignment that carries it on (``self.data_format = data_format``, whose
reads are checked the same way), ``get_config()``. Code that branches on it (``if
self.data_format == "channels_last": ...`` in ``call()``) would run its channels-last
branch on the channels-first tensors of the PyTorch module: the layers stay reported,
naming that code. A value given by a caller (a parameter with another default, or none)
or set from elsewhere (an attribute assigned twice or under a condition) stays reported.

The analysis runs once per file, when a layer first meets a value it cannot read as a
literal; it walks the original tree.
"""

from __future__ import annotations

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import literal_value
from ...engine.names import dotted_name
from ...engine.walk import source_children
from ...frameworks import canonical

NONE = ("none",)  # a parameter left at its default None: a Keras layer reads it as the default
DEFAULT = ("default",)  # Keras's configured image data format, read as 'channels_last'
FORMATS = ("channels_last", "channels_first")
_DEFAULT_CALLS = {"keras.config.image_data_format", "keras.backend.image_data_format"}


class Binding:
    """One assignment of a name (or of ``self.attr``), with the value it gives when known."""

    def __init__(self, label: str, value, node: cst.CSTNode | None) -> None:
        self.label = label  # the name as the source writes it (data_format, self.data_format)
        self.value = value  # NONE, DEFAULT, ("value", python value) or None (unknown)
        self.node = node  # the assignment, the parameter; None for a parameter left at None
        self.reads: list[tuple[cst.CSTNode, tuple]] = []  # (read node, its ancestors)
        self.deps: list = []  # the bindings its value reads (keys of self.attr bindings too)

    @property
    def is_format(self) -> bool:
        return self.value in (NONE, DEFAULT)


class _Env(dict):
    """A scope's bindings; a nested function's reads fall back to the enclosing scope's."""

    def __init__(self, parent: "_Env | None" = None) -> None:
        super().__init__()
        self.parent = parent


class _Analysis:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.read_binding: dict[int, Binding] = {}  # id(Name or self.attr read) -> its binding
        self.value_binding: dict[int, Binding] = {}  # id(assigned value expression) -> binding
        self.module_env: _Env = _Env()
        self.attrs: dict[tuple[int, str], Binding | None] = {}  # (id(class), attr): one assignment
        self.attr_reads: dict[tuple[int, str], list] = {}
        self.depth = 0  # compound statements around the statement walked
        self.method_name: str | None = None
        self.collected: list | None = None  # the bindings read in the value being assigned

    # -- the walk ----------------------------------------------------------------

    def run(self, module: cst.Module) -> None:
        self.module_env = _Env()
        self._block(module.body, self.module_env, None, ())

    def _block(self, stmts, env, cls, stack) -> None:
        for stmt in stmts:
            self._statement(stmt, env, cls, stack)

    def _statement(self, stmt, env, cls, stack) -> None:
        stack = (*stack, stmt)
        if isinstance(stmt, cst.ClassDef):
            self._class(stmt, stack)
            return
        if isinstance(stmt, cst.FunctionDef):
            env[stmt.name.value] = None
            # a nested function reads the enclosing scope (and self, in a method)
            self._function(stmt, cls, stack, None if env is self.module_env else env)
            return
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self._small(small, env, cls, (*stack, small), top=self.depth == 0)
            return
        # a compound statement: what it binds is unknown inside and after it
        bound = bound_names(stmt)
        for name in bound:
            env[name] = None
        if cls is not None:
            for attr in _self_targets(stmt):
                self.attrs[(id(cls), attr)] = None  # assigned under a condition or in a loop
        self.depth += 1
        try:
            self._compound(stmt, env, cls, stack)
        finally:
            self.depth -= 1
        for name in bound:
            env[name] = None

    def _compound(self, stmt, env, cls, stack) -> None:
        for child in source_children(stmt):
            if isinstance(child, cst.BaseSuite):
                body = child.body if isinstance(child, cst.IndentedBlock) else child.body
                self._block(body, env, cls, (*stack, child))
            elif isinstance(child, (cst.Else, cst.If, cst.ExceptHandler, cst.Finally, cst.ExceptStarHandler)):
                self._statement(child, env, cls, stack)
            elif isinstance(child, cst.BaseExpression) or isinstance(child, (cst.WithItem, cst.AsName)):
                self._reads(child, env, cls, (*stack, child))

    def _small(self, small, env, cls, stack, top: bool) -> None:
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            self.collected = []
            self._reads(small.value, env, cls, (*stack, small.value))
            deps, self.collected = self.collected, None
            value = self._eval(small.value, env, cls)
            if isinstance(target, cst.Name):
                binding = Binding(target.value, value, small)
                binding.deps = deps
                env[target.value] = binding
                self.value_binding[id(small.value)] = binding
                return
            attr = _self_attr(target)
            if attr is not None and cls is not None:
                key = (id(cls), attr)
                ok = top and self.method_name == "__init__" and key not in self.attrs
                binding = Binding(f"self.{attr}", value, small) if ok else None
                if binding is not None:
                    binding.deps = deps
                self.attrs[key] = binding
                if binding is not None:
                    self.value_binding[id(small.value)] = binding
                return
            self._reads(target, env, cls, (*stack, target))
            return
        # anything else: its reads; the names it binds are unknown
        for child in source_children(small):
            self._reads(child, env, cls, (*stack, child))
        for name in bound_names(small):
            env[name] = None
        if cls is not None:
            for attr in _self_targets(small):
                self.attrs[(id(cls), attr)] = None

    def _class(self, cls: cst.ClassDef, stack) -> None:
        methods = [s for s in cls.body.body if isinstance(s, cst.FunctionDef)]
        methods.sort(key=lambda m: m.name.value != "__init__")  # __init__ sets the attributes
        for method in methods:
            self._function(method, cls, (*stack, method))

    def _function(self, fn: cst.FunctionDef, cls, stack, parent: "_Env | None" = None) -> None:
        env = _Env(parent)
        params = fn.params
        for p in (*params.posonly_params, *params.params, *params.kwonly_params):
            if p.default is not None and isinstance(p.default, cst.Name) and p.default.value == "None":
                env[p.name.value] = Binding(p.name.value, NONE, None)
            else:  # the caller's value: unknown (kept to say so)
                env[p.name.value] = Binding(p.name.value, None, p)
        for p in (params.star_arg, params.star_kwarg):
            if isinstance(p, cst.Param):
                env[p.name.value] = None
        saved = self.method_name, self.depth
        self.method_name = fn.name.value if cls is not None else None
        self.depth = 0
        body = fn.body.body if isinstance(fn.body, cst.IndentedBlock) else fn.body.body
        if isinstance(fn.body, cst.IndentedBlock):
            self._block(body, env, cls, (*stack, fn.body))
        else:
            for small in body:
                self._small(small, env, cls, (*stack, small), top=False)
        self.method_name, self.depth = saved

    def _reads(self, node, env, cls, stack) -> None:
        """Record the reads of known bindings under ``node`` (an expression or a target)."""
        if isinstance(node, cst.Name):
            binding = self._lookup(node.value, env)
            if binding is not None:
                self.read_binding[id(node)] = binding
                binding.reads.append((node, stack))
                if self.collected is not None:
                    self.collected.append(binding)
            return
        attr = _self_attr(node)
        if attr is not None and cls is not None:
            key = (id(cls), attr)
            self.attr_reads.setdefault(key, []).append((node, stack))
            self.read_binding[id(node)] = key  # resolved once the class is walked
            if self.collected is not None:
                self.collected.append(key)
            return
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return
        if isinstance(node, cst.Arg):  # not its keyword
            self._reads(node.value, env, cls, (*stack, node.value))
            return
        if isinstance(node, cst.Attribute):  # not the attribute's name
            self._reads(node.value, env, cls, (*stack, node.value))
            return
        for child in source_children(node):
            self._reads(child, env, cls, (*stack, child))

    def _lookup(self, name: str, env) -> Binding | None:
        while env is not None:
            if name in env:
                return env[name]
            env = env.parent
        return self.module_env.get(name)

    # -- values ------------------------------------------------------------------------

    def _eval(self, node, env, cls):
        def name(n):
            b = self._lookup(n.value, env)
            return b.value if b is not None else None

        def attr(n):
            b = self.attrs.get((id(cls), _self_attr(n))) if cls is not None else None
            return b.value if b is not None else None

        return self.evaluate(node, name, attr)

    def evaluate(self, node, name, attr):
        """NONE, DEFAULT, ("value", v) or None: ``node``'s value, names read through ``name``."""
        if isinstance(node, cst.Name):
            if node.value == "None":
                return NONE
            if node.value in ("True", "False"):
                return ("value", node.value == "True")
            return name(node)
        if _self_attr(node) is not None:
            return attr(node)
        if isinstance(node, (cst.SimpleString, cst.Integer, cst.Float, cst.UnaryOperation, cst.Tuple, cst.List)):
            ok, value = literal_value(node)
            return ("value", value) if ok else None
        if isinstance(node, cst.Call):
            qual = self.ctx.resolver.resolve_chain(node.func) if isinstance(node.func, (cst.Name, cst.Attribute)) else None
            if qual and canonical(qual) in _DEFAULT_CALLS and not node.args:
                return DEFAULT
            dotted = dotted_name(node.func) or ""
            if dotted.rsplit(".", 1)[-1] == "standardize_data_format" and len(node.args) == 1 and node.args[0].keyword is None:
                inner = self.evaluate(node.args[0].value, name, attr)
                return DEFAULT if inner in (NONE, DEFAULT) else None
            return None
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
            left = self.evaluate(node.left, name, attr)
            if left == NONE:
                right = self.evaluate(node.right, name, attr)
                return DEFAULT if right == DEFAULT else None
            return DEFAULT if left == DEFAULT else None
        if isinstance(node, cst.IfExp):
            test = self.evaluate(node.test, name, attr)
            if test is None or test[0] != "value" or not isinstance(test[1], bool):
                return None
            return self.evaluate(node.body if test[1] else node.orelse, name, attr)
        if isinstance(node, cst.Comparison) and len(node.comparisons) == 1:
            op = node.comparisons[0].operator
            if not isinstance(op, (cst.Equal, cst.NotEqual, cst.Is, cst.IsNot)):
                return None
            left = self.evaluate(node.left, name, attr)
            right = self.evaluate(node.comparisons[0].comparator, name, attr)
            same = _same(left, right)
            if same is None:
                return None
            return ("value", same if isinstance(op, (cst.Equal, cst.Is)) else not same)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
            inner = self.evaluate(node.expression, name, attr)
            if inner is not None and inner[0] == "value" and isinstance(inner[1], bool):
                return ("value", not inner[1])
        return None


def _same(a, b) -> bool | None:
    """Whether two values are equal, where both are known."""
    if a is None or b is None:
        return None
    if a == DEFAULT:
        a = ("value", "channels_last")
    if b == DEFAULT:
        b = ("value", "channels_last")
    if a == NONE:
        a = ("value", None)
    if b == NONE:
        b = ("value", None)
    if a[0] == b[0] == "value":
        if {type(a[1]), type(b[1])} <= {str, type(None)}:
            return a[1] == b[1]
    return None


def _self_attr(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _targets(node):
    if isinstance(node, cst.Assign):
        return [t.target for t in node.targets]
    if isinstance(node, (cst.AnnAssign, cst.AugAssign)):
        return [node.target]
    if isinstance(node, (cst.For, cst.CompFor)):
        return [node.target]
    if isinstance(node, cst.AsName):
        return [node.name]
    if isinstance(node, cst.NamedExpr):
        return [node.target]
    if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
        return [node.name]
    if isinstance(node, (cst.Import, cst.ImportFrom)) and not isinstance(node.names, cst.ImportStar):
        return [a.asname.name if a.asname else cst.Name(dotted_name(a.name).split(".")[0]) for a in node.names]
    return []


def _flat(target):
    if isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _flat(el.value)
    elif isinstance(target, cst.StarredElement):
        yield from _flat(target.value)
    else:
        yield target


def _all_targets(node, nested: bool = False):
    stack = [node]
    while stack:
        n = stack.pop()
        for t in _targets(n):
            yield from _flat(t)
        if not nested and isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)) and n is not node:
            continue
        stack.extend(source_children(n))


def bound_names(node, nested: bool = False) -> set[str]:
    """The names ``node`` binds (assignments, loops, imports, definitions); ``nested``: also
    those the functions and classes inside it bind (a ``nonlocal`` there rebinds too)."""
    return {t.value for t in _all_targets(node, nested) if isinstance(t, cst.Name)}


def binding_counts(node) -> dict[str, int]:
    """How many times each name is bound in ``node`` (a function's body: assignments, loops,
    ``with ... as``, imports; not inside the functions and classes it defines)."""
    counts: dict[str, int] = {}
    for t in _all_targets(node):
        if isinstance(t, cst.Name):
            counts[t.value] = counts.get(t.value, 0) + 1
    return counts


def _self_targets(node) -> set[str]:
    return {a for a in (_self_attr(t) for t in _all_targets(node)) if a is not None}


# -- what the layers ask ----------------------------------------------------------------


def _analysis(ctx) -> _Analysis:
    found = ctx.facts.get("data_format_analysis")
    if found is None:
        found = _Analysis(ctx)
        found.run(ctx.module)
        ctx.facts["data_format_analysis"] = found
    return found


class Verdict:
    """A run-time value: what it is (``value``: NONE, DEFAULT, ("value", v) or None) and,
    when the conversion cannot take it, the code that prevents it (``blocker``)."""

    def __init__(self, value, blocker: str | None = None, sources: tuple = (), hint: str | None = None) -> None:
        self.value = value
        self.hint = hint  # for a value that is not known: where it comes from
        self.blocker = blocker
        self.sources = sources  # the labels of the bindings it comes from (data_format, ...)
        self.parameters: tuple = ()  # the parameters among them (left at None by the caller)
        self.key = None  # what it is computed from, for warning once

    @property
    def ok(self) -> bool:
        return self.value is not None and self.blocker is None


def value_of(ctx, node: cst.BaseExpression) -> Verdict:
    """The value of an argument expression of the source (the original node) where it is
    derived from Keras's default data format, literals and comparisons of them."""
    analysis = _analysis(ctx)
    used: list = []

    def name(n):
        b = analysis.read_binding.get(id(n))
        if isinstance(b, Binding):
            used.append(b)
            return b.value
        return None

    def attr_node(n):
        key = analysis.read_binding.get(id(n))
        b = analysis.attrs.get(key) if isinstance(key, tuple) else None
        if b is not None:
            used.append(b)
            return b.value
        return None

    value = analysis.evaluate(node, name, attr_node)
    if value is None:
        return Verdict(None, hint=_hint(analysis, node))
    closure = _closure(analysis, used)
    formats = [b for b in closure if b.is_format]
    if value not in (NONE, DEFAULT) and not formats:
        return Verdict(None)  # not a data format, nor computed from one
    blocker = _blocker(analysis, used)
    verdict = Verdict(value, blocker, tuple(dict.fromkeys(b.label for b in formats)))
    verdict.parameters = tuple(dict.fromkeys(b.label for b in closure if b.node is None))
    verdict.key = frozenset(id(b) for b in formats) or None  # one warning per data format
    return verdict


def _hint(analysis: _Analysis, node) -> str | None:
    """Where a name or ``self.attr`` that is not Keras's default data format gets its value."""
    key = analysis.read_binding.get(id(node))
    if isinstance(key, tuple):
        if key in analysis.attrs and analysis.attrs[key] is None:
            return f"{code_of(node).strip()} is assigned more than once, outside __init__ or under a condition"
        binding = analysis.attrs.get(key)
    else:
        binding = key
    if not isinstance(binding, Binding):
        return None
    if isinstance(binding.node, cst.Param):
        default = binding.node.default
        given = f"defaults to {code_of(default).strip()}" if default is not None else "has no default"
        return f"{binding.label} is a parameter that {given}: the value a caller gives is not known here"
    if isinstance(binding.node, cst.Assign):
        return f"it comes from {' '.join(code_of(binding.node).split())}"
    return None


def _closure(analysis: _Analysis, start: list) -> list:
    """The bindings and those their values are computed from."""
    out, seen, todo = [], set(), list(start)
    while todo:
        b = todo.pop()
        b = analysis.attrs.get(b) if isinstance(b, tuple) else b
        if b is None or id(b) in seen:
            continue
        seen.add(id(b))
        out.append(b)
        todo.extend(b.deps)
    return out


def _blocker(analysis: _Analysis, start: list) -> str | None:
    """The first read of these bindings, or of those computed from them, that the
    conversion does not account for; None when there is none."""
    seen: set[int] = set()
    todo = list(start)
    while todo:
        binding = todo.pop()
        if id(binding) in seen:
            continue
        seen.add(id(binding))
        for dep in binding.deps:  # what it is computed from is assumed too
            dep = analysis.attrs.get(dep) if isinstance(dep, tuple) else dep
            if dep is not None:
                todo.append(dep)
        reads = binding.reads
        if binding.label.startswith("self."):
            key = next((k for k, b in analysis.attrs.items() if b is binding), None)
            reads = analysis.attr_reads.get(key, []) if key else []
        for node, stack in reads:
            verdict = _read_use(analysis, node, stack)
            if isinstance(verdict, Binding):
                todo.append(verdict)
            elif isinstance(verdict, str):
                return verdict
    return None


def _read_use(analysis: _Analysis, node, stack):
    """None for a read the conversion accounts for, the binding its value goes into, or the
    code (a string) of the statement that reads it otherwise."""
    if any(isinstance(s, cst.FunctionDef) and s.name.value == "get_config" for s in stack):
        return None  # dropped with the class's config
    for i in range(len(stack) - 2, -1, -1):
        parent = stack[i]
        child = stack[i + 1]
        if isinstance(parent, cst.Arg) and parent.keyword is not None and child is parent.value:
            call = stack[i - 1] if i >= 1 else None
            if isinstance(call, cst.Call) and _takes(analysis, call, parent.keyword.value):
                return None
            break
        if isinstance(parent, (cst.Assign,)) and child is parent.value:
            binding = analysis.value_binding.get(id(child))
            if binding is not None and binding.label.startswith("self.") and binding not in analysis.attrs.values():
                binding = None  # the attribute is assigned again elsewhere: its reads are not followed
            return binding if binding is not None and binding.value is not None else _statement_code(stack, i)
        if isinstance(parent, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            break
    return _statement_code(stack, len(stack) - 1)


def _takes(analysis: _Analysis, call: cst.Call, keyword: str) -> bool:
    """``data_format=`` of a Keras layer or of a class or function that is not the framework's;
    ``axis=`` of a Keras layer."""
    if not isinstance(call.func, (cst.Name, cst.Attribute)):
        return False
    qual = analysis.ctx.resolver.resolve_chain(call.func)
    api = canonical(qual) if qual else None
    layer = api is not None and api.startswith("keras.layers.") and api[len("keras.layers."):][:1].isupper()
    if keyword == "data_format":
        return layer or api is None
    if keyword == "axis":
        return layer
    return False


def _statement_code(stack, index) -> str:
    for node in reversed(stack[: index + 1]):
        if isinstance(node, (cst.If, cst.While)):
            return f"{'if' if isinstance(node, cst.If) else 'while'} {code_of(node.test).strip()}: ..."
        if isinstance(node, cst.BaseCompoundStatement):
            return code_of(node).strip().splitlines()[0]
        if isinstance(node, (cst.BaseSmallStatement, cst.SimpleStatementLine)):
            return " ".join(code_of(node).split())
    return code_of(stack[-1]).strip()


def default_note(verdict: Verdict) -> str:
    names = ", ".join(verdict.sources) or "it"
    text = (
        f"the data format ({names}) is Keras's configured image data format, read as its default "
        "'channels_last': the PyTorch module is channels-first, as for every channels_last model"
    )
    if verdict.parameters:
        given = ", ".join(f"{p}='channels_first'" for p in verdict.parameters)
        text += f" (a caller that passes {given} must change)"
    return text


def blocked_note(verdict: Verdict) -> str:
    return (
        f"Keras's default here, but {verdict.blocker} also reads it and would see 'channels_last' "
        "where the PyTorch tensors are channels-first: fold that code by hand"
    )


def names_read(layer, used_names) -> set[str]:
    """The names a layer constructor call reads, less those only its data format or axis
    reads where they are Keras's default (the PyTorch module does not take them):
    ``Conv2D(filters, 3, data_format=data_format)`` reads ``filters``."""
    names = used_names(layer.call.func)
    for arg in layer.call.args:
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword in ("data_format", "axis") and not literal_value(arg.value)[0]:
            verdict = value_of(layer.ctx, arg.value)
            if verdict.ok and (keyword == "axis" or verdict.value in (NONE, DEFAULT) or verdict.value[1] in FORMATS):
                continue
        names |= used_names(arg.value)
    return names
