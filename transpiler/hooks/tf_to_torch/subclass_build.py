"""A Keras subclass' ``build()`` that only builds its sublayers with explicit sizes.

HuggingFace's TF models (and code written like them) give every layer a
``build()`` that creates nothing from the input shape::

    def build(self, input_shape=None):
        if self.built:
            return
        self.built = True
        if getattr(self, "dense", None) is not None:
            with tf.name_scope(self.dense.name):
                self.dense.build([None, None, self.config.hidden_size])

A PyTorch engineer writes the size where the module is made:
``self.dense = nn.Linear(config.hidden_size, config.intermediate_size)``. This
module decides whether a ``build()`` is of that kind and gives each sublayer the
shape it is built with, written so that it means the same in ``__init__``
(``self.config.hidden_size`` -> ``config.hidden_size`` when ``__init__`` assigned
``self.config = config``). ``self.w = self.add_weight(shape=[...explicit sizes...])``
in such a ``build()`` becomes a parameter at the end of ``__init__``.

``input_shape[-1]`` read in ``build()`` becomes a keyword-only ``__init__`` parameter;
with one shape per input (``build(self, query_shape, value_shape)``, or
``x_shape, context_shape = input_shape`` for a layer called on a list), one per input
whose size is read (``query_dim=``, ``value_dim=``).

Keras-hub's blocks make their sublayers in ``build()`` (``self.up = Dense(...)``) and
pass shapes along with ``shape = self.up.compute_output_shape(shape)``: those statements
move to the end of ``__init__`` (with the values and locals computed from sizes that
they read), the size that flows through a chain is its last axis, and a shape kept
only for Keras's shape methods goes with them.

An ``if`` on the layer's settings (``if self.use_mask_token:``, ``if self.mode == "gated":``,
read from attributes ``__init__`` stores) moves to the end of ``__init__`` whole, with the
weights and layers made under it; a loop that builds the elements of a list of the file's
layers (``for block in self.blocks: block.build(shape)``, or over the range the list is made
over) gives each element its input size where ``__init__`` makes the list. A
MultiHeadAttention built with one shape for query, value and key takes that shape's size.

Anything else in ``build()`` (a size read from ``input_shape`` other than the last, a
condition on the input shape, any other loop, a computation) is returned as the reason the
class stays Keras, reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import resolve_call
from ...engine.walk import is_docstring, source_children, top_level_imports
from . import initializers
from .keras_layers import Expr

# the layers with no weights and no input size, in any layout: building one does nothing
WEIGHTLESS = {"identity", "dropout", "activation"}

NAME_SCOPES = {"tensorflow.name_scope", "tensorflow.compat.v1.name_scope", "keras.name_scope", "keras.backend.name_scope"}
FLOAT32 = {"tensorflow.float32", "tensorflow.dtypes.float32"}
# add_weight arguments a parameter made in __init__ can honour
WEIGHT_ARGS = ["shape", "initializer", "dtype", "trainable", "name"]


@dataclass
class BuildPlan:
    fn: cst.FunctionDef
    scopes: list[cst.Call] = field(default_factory=list)  # with tf.name_scope(...) contexts
    builds: list[cst.Call] = field(default_factory=list)  # self.<layer>.build(...) calls
    shapes: dict[str, tuple] = field(default_factory=dict)  # layer attribute -> Keras shape without the batch
    # a list of layers applied in order (subclass_sequence.py): attribute -> {index: shape} of
    # the elements after the first that build() builds with a literal shape
    element_shapes: dict[str, dict[int, tuple]] = field(default_factory=dict)
    # attribute -> (add_weight call, its statement, arguments)
    weights: dict[str, tuple[cst.Call, cst.CSTNode, dict]] = field(default_factory=dict)
    # the input's last size, read from build()'s input shape: a keyword-only __init__ parameter
    size_param: str | None = None
    # build(self, query_shape, value_shape): each input shape whose last size build() reads
    # -> its keyword-only __init__ parameter (query_dim=, value_dim=), in build()'s order
    size_names: dict[str, str] = field(default_factory=dict)
    # build(self, input_shape) of a layer called on a list: `a_shape, b_shape = input_shape`
    # names the shapes, each an input of its own (its size a keyword, as above)
    unpacked: list[str] = field(default_factory=list)
    size_attrs: dict[str, str] = field(default_factory=dict)  # self.<attr> = input_shape[-1] in build() -> its parameter
    # converted subclasses build() gives a shape: attribute -> their input size (in __init__'s terms)
    block_sizes: dict[str, cst.BaseExpression] = field(default_factory=dict)
    weight_warnings: dict[str, str] = field(default_factory=dict)  # attribute -> warning
    # self.<layer> = Layer(...) made in build(): attribute -> index of its statement in build()'s body;
    # the statement moves to the end of __init__ (see subclass.on_class, which fills `moved`)
    made: dict[str, int] = field(default_factory=dict)
    # other statements of build() that move with them (self.scale = 1.0 / math.sqrt(head_dim),
    # and the locals they read): indices in build()'s body
    extra: set[int] = field(default_factory=set)
    # of those, the ones that set a tensor (self.position_ids = ops.arange(...)): index -> attribute,
    # a buffer of the module (it follows .to(device); not in the state_dict, as it is no Keras weight)
    buffers: dict[int, str] = field(default_factory=dict)
    moved: list = field(default_factory=list)
    # Keras's shape bookkeeping (`self._inputs_shape = inputs_shape` that only build(),
    # compute_output_shape() and get_config() read): gone with build()
    dropped: list = field(default_factory=list)
    # `if self.use_bias: self.b = self.add_weight(...)`: a top-level `if` of build() whose condition
    # __init__ knows moves whole (its index is in `extra`); index -> the statements and conditions in
    # it that stay code (layers made, values set), the rest (builds, scopes, weights) going
    branches: dict[int, list] = field(default_factory=dict)
    branched: set[str] = field(default_factory=set)  # weights made inside such an `if`: made there
    # weights made by `self.add_weight(...) if <setting> else None`: weight -> the setting's test
    conditions: dict[str, cst.BaseExpression] = field(default_factory=dict)
    # values build() assigns to its weights (self.w.assign(...)): converted as code, the weight's
    # nn.Parameter(...) made with them
    values: list = field(default_factory=list)

    @property
    def moved_lines(self) -> list[int]:
        """The indices in build()'s body of the statements that move to the end of __init__."""
        return sorted({*self.made.values(), *self.extra})

    @property
    def moved_nodes(self) -> list:
        """The statements of build() (and conditions of its moved `if`s) that stay code in __init__."""
        out = []
        for i in self.moved_lines:
            out.extend(self.branches.get(i, [self.fn.body.body[i]]))
        return out

    @property
    def size_params(self) -> list[str]:
        """The keyword-only parameters __init__ takes for the input sizes build() read."""
        return list(self.size_names.values())


def plan_build(ctx, cls: cst.ClassDef, init: cst.FunctionDef | None, attrs: dict) -> tuple[BuildPlan | None, str | None]:
    """The plan for ``cls``'s ``build()`` (None when it has none), and why it cannot go
    into ``__init__`` when it does more than build sublayers and make weights of
    explicit sizes. The shapes found are in the plan either way (a class that stays
    Keras is not also reported for the sizes build() gives)."""
    fn = next((s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "build"), None)
    if fn is None:
        return None, None
    params = fn.params
    names = [p.name.value for p in params.params]
    if fn.decorators:
        names_of = ", ".join("@" + code_of(d.decorator).strip() for d in fn.decorators)
        return BuildPlan(fn), f"build() is decorated ({names_of}); create its weights in __init__ from explicit sizes"
    if (
        params.posonly_params or params.kwonly_params or isinstance(params.star_arg, cst.Param)
        or params.star_kwarg is not None or not names or names[0] != "self"
    ):
        return BuildPlan(fn), "build() takes *args, **kwargs or keyword-only shapes; create its weights in __init__ from explicit sizes"
    scope = _InitScope(init, set(names))
    scope.ctx = ctx  # to read the Keras layers __init__ makes (self.dense.units)
    walker = _BuildWalker(ctx, BuildPlan(fn), attrs, scope)
    walker.outside_reads = _outside_reads(cls)
    body = list(fn.body.body)
    if body and is_docstring(body[0]):
        body = body[1:]
    problem = None
    for stmt in body:
        try:
            walker.statement(stmt)
        except Unconvertible as exc:
            problem = problem or str(exc)
    plan = walker.plan
    # the keywords in the order of build()'s shapes, whatever order build() read them in
    plan.size_names = {
        **{p: plan.size_names[p] for p in walker.shape_params if p in plan.size_names}, **plan.size_names
    }
    plan.size_param = next(iter(plan.size_names.values()), None)
    return plan, problem


# a value computed with these (tensor operations) moves to __init__ as a buffer; not with a
# layer, a model or an initializer, which are no tensors
TENSOR_MODULES = {"keras", "tensorflow"}
LAYER_APIS = ("keras.layers.", "keras.Model", "keras.Sequential", "keras.initializers.", "keras.models.", "keras.optimizers.",
              "keras.losses.", "keras.metrics.", "tensorflow.keras.")
# calls a value that moves from build() to __init__ may make: they compute the same there
PURE_BUILTINS = {"int", "float", "min", "max", "abs", "round", "bool", "str"}
PURE_APIS = {"keras.activations.get"}


def _is_math(ctx, func) -> bool:
    """``math.sqrt`` with ``math`` the standard module, imported at the top of the file."""
    names = ctx.facts.get("math_names")
    if names is None:
        names = ctx.facts["math_names"] = set()
        for stmt in ctx.module.body:
            for small in getattr(stmt, "body", ()) if isinstance(stmt, cst.SimpleStatementLine) else ():
                if isinstance(small, cst.Import):
                    for alias in small.names:
                        if isinstance(alias.name, cst.Name) and alias.name.value == "math":
                            names.add(alias.asname.name.value if alias.asname else "math")
    return isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in names


def _imported_names(ctx) -> set[str]:
    """The names the file imports from modules other than the frameworks (its project's classes)."""
    names = ctx.facts.get("imported_names")
    if names is None:
        names = ctx.facts["imported_names"] = set()
        for statement, _alias, bound in top_level_imports(ctx.module):
            if isinstance(statement, cst.ImportFrom) and isinstance(bound, cst.Name) and resolve_call(ctx, bound) is None:
                names.add(bound.value)
    return names


def _reads(node):
    """The names and ``self.<attr>`` that ``node`` reads (not attribute names nor keywords)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            yield n
        elif isinstance(n, cst.Attribute):
            if _self_attr(n) is not None:
                yield n
            else:
                stack.append(n.value)
        elif isinstance(n, cst.Arg):
            stack.append(n.value)
        elif not isinstance(n, (cst.Lambda, cst.BaseComp, cst.FunctionDef, cst.ClassDef)):
            stack.extend(source_children(n))


# Keras's shape bookkeeping: methods an nn.Module has no use for
SHAPE_METHODS = {"build", "compute_output_shape", "compute_output_spec", "get_config"}


def _outside_reads(cls: cst.ClassDef) -> set[str]:
    """The attributes ``self.<name>`` that ``cls`` mentions outside Keras's shape bookkeeping."""
    out = set()
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in SHAPE_METHODS:
            continue
        stack = [stmt]
        while stack:
            n = stack.pop()
            name = _self_attr(n)
            if name is not None:
                out.add(name)
            stack.extend(source_children(n))
    return out


def block_keeps_shape(block) -> bool:
    """keeps_shape() of a converted class' plan, of this file or of another (project_classes.py)."""
    return block.shape_kept if block.node is None else keeps_shape(block.node)


def keeps_shape(cls: cst.ClassDef) -> bool:
    """Whether ``cls.compute_output_shape(shape)`` is ``return shape``: its output has its input's sizes."""
    fn = next((s for s in cls.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "compute_output_shape"), None)
    if fn is None or len(fn.params.params) != 2 or fn.decorators:
        return False
    body = [s for s in fn.body.body if not is_docstring(s)]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return False
    ret = body[0].body[0]
    return (
        isinstance(ret, cst.Return) and isinstance(ret.value, cst.Name)
        and ret.value.value == fn.params.params[1].name.value
    )


def _uses_input_size(layer) -> bool:
    """Whether the PyTorch form of the Keras layer ``layer`` depends on its input's last size
    (nn.Linear does, nn.Embedding does not): two different sizes give two different plans."""
    from .keras_layers import TensorInfo, plan_layer

    def plan(name: str):
        out = plan_layer(layer, [TensorInfo((None, Expr(cst.Name(name))))])
        return repr([(m.template, sorted((k, repr(v)) for k, v in m.subs.items())) for m in out.modules]) + repr(out.inits)

    try:
        return plan("__size_a__") != plan("__size_b__")
    except Unconvertible:
        return True


def _leading_dims(layer, text: str) -> tuple:
    """The sizes before the last (unknown here) of the input of ``layer`` built with a shape
    whose last size only is known: one for a layer that reads the last axis (Dense...); a
    convolution or pooling layer (channels last) reads an input of the rank its name says
    (Conv2D: height, width, channels), which PyTorch takes channels-first."""
    from .keras_layers import TensorInfo, wanted_layout

    if wanted_layout(layer, TensorInfo((None, None))) != "cf":
        return (None,)
    rank = next((n for n in (1, 2, 3) if f"{n}D" in layer.short), None)
    if rank is None:
        raise Unconvertible(f"{text}: the rank of the input, which a {layer.short} needs, is not known in __init__")
    return (None,) * rank



def _same_last_size(layer, a: tuple, b: tuple) -> bool:
    """Two shapes a layer that reads only its input's last axis (Dense, LayerNormalization) is
    built with, which give it the same size (Longformer builds its global projections with
    (hidden,) and with [None, None, hidden])."""
    from .keras_layers import TensorInfo, wanted_layout

    return bool(a) and bool(b) and repr(a[-1]) == repr(b[-1]) and a[-1] is not None and (
        wanted_layout(layer, TensorInfo((None, None))) == "keras" and layer.rule.data.get("plan") in ("dense", "layernorm")
    )


def _is_none(node) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _is_number(node) -> bool:
    """``1.0``, ``-1``: a number written out"""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float))


def _other(stmt) -> Unconvertible:
    lines = [line for line in code_of(stmt).strip().splitlines() if not line.strip().startswith("#")]
    text = lines[0].strip() if isinstance(stmt, cst.BaseCompoundStatement) else " ".join(" ".join(lines).split())
    if isinstance(stmt, cst.BaseCompoundStatement):
        text += " ..."
    if len(text) > 90:
        text = text[:87] + "..."
    return Unconvertible(
        f"build() does more than build sublayers with explicit sizes ({text}); create its weights in __init__ from explicit sizes"
    )


def _self_attr(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _has_call(node, allow_int: bool = False) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if allow_int and isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == "int":
            stack.extend(a.value for a in n.args)
            continue
        if isinstance(n, (cst.Call, cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield)):
            return True
        stack.extend(source_children(n))
    return False


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (cst.FunctionDef, cst.Lambda, cst.ClassDef)) and n is not node:
            continue
        stack.extend(source_children(n))


SIZE_NODES = (
    cst.Name, cst.Attribute, cst.Subscript, cst.Integer, cst.BinaryOperation, cst.UnaryOperation, cst.Call,
    cst.Arg, cst.SubscriptElement, cst.Index, cst.Dot, cst.LeftParen, cst.RightParen, cst.BaseBinaryOp,
    cst.BaseUnaryOp, cst.LeftSquareBracket, cst.RightSquareBracket, cst.Comma, cst.BaseParenthesizableWhitespace,
)


# what a condition on the layer's settings is made of (no calls: they may compute anything)
CONDITION_NODES = (
    cst.Name, cst.Attribute, cst.Comparison, cst.ComparisonTarget, cst.BaseCompOp, cst.BooleanOperation,
    cst.BaseBooleanOp, cst.UnaryOperation, cst.BaseUnaryOp, cst.SimpleString, cst.Integer, cst.Float, cst.Tuple, cst.List,
    cst.Element, cst.Dot, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.Comma,
    cst.BaseParenthesizableWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Comment, cst.Newline,
)


def _none_test(test, attr: str) -> bool:
    """``self.<attr> is None`` / ``is not None``"""
    return (
        isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and _self_attr(test.left) == attr
        and isinstance(test.comparisons[0].operator, (cst.Is, cst.IsNot)) and _is_none(test.comparisons[0].comparator)
    )


def _reads_sizes_only(node) -> bool:
    """Names, attributes, integer subscripts, arithmetic and int(): what a size is made of."""
    return all(isinstance(n, SIZE_NODES) for n in _walk(node))


class _BuildWalker:
    def __init__(self, ctx, plan: BuildPlan, attrs: dict, scope: "_InitScope") -> None:
        self.ctx = ctx
        self.plan = plan
        self.attrs = attrs
        self.scope = scope
        params = plan.fn.params.params
        self.shape_params = [p.name.value for p in params[1:]]  # build(self, inputs_shape, ...)
        self.own_params = list(self.shape_params)  # build()'s own, whatever _alias unpacks
        self.defaulted = {p.name.value for p in params[1:] if p.default is not None}
        self.aliases: dict[str, cst.BaseExpression] = {}  # build() local -> its value
        self.self_aliases: dict[str, str] = {}  # self.<attr> = input_shape[-1] -> its parameter
        self.shape_aliases: dict[str, str] = {}  # x_shape = input_shape -> the shape it names
        assigned: dict[str, int] = {}
        for node in _walk(plan.fn.body):
            if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)):
                targets = [node.target]
                while targets:
                    target = targets.pop()
                    if isinstance(target, cst.Name):
                        assigned[target.value] = assigned.get(target.value, 0) + 1
                    elif isinstance(target, (cst.Tuple, cst.List)):  # a, b = ...: each bound
                        targets.extend(e.value for e in target.elements)
                    elif isinstance(target, cst.StarredElement):
                        targets.append(target.value)
        self.assigned = assigned
        self.used_names = {n.value for n in _walk(plan.fn.body) if isinstance(n, cst.Name)}
        # shape = self.sub.compute_output_shape(shape): local -> a function giving the size of
        # that shape's last axis in __init__'s terms (called only where a size is needed, so that
        # a chain nothing reads adds no constructor argument)
        self.derived: dict[str, object] = {}
        self.outside_reads: set[str] = set()  # self.<attr> read outside build(), compute_output_shape()...
        self.end = len(scope.top)  # what build() made goes at the end of __init__
        self.dropped_names: set[str] = set()  # the attributes of Keras's shape bookkeeping
        self.local_lines: dict[str, int] = {}  # head_dim = hidden // self.heads -> its index in build()'s body
        self.current = None  # the statement being read
        self.imported: dict[str, str] = {}  # self.<attr> build() makes with a class of another module -> the class
        self.branch: int | None = None  # inside a moved top-level `if`: its index in build()'s body
        # weight = self._init_weight(n, d); ...; self.weight.assign(weight): the statements of the
        # local a weight is assigned from (ids, skipped) and weight -> (first value, cast to its dtype)
        self.assign_locals, self.assigned_from = self._assign_chains()
        # initializer = get_initializer(self.initializer_range), read only as add_weight's
        # initializer=: local -> its value, which the weights take as theirs
        self.initializer_locals: dict[str, cst.BaseExpression] = {}
        # the attributes build() assigns: a condition reading one is not known in __init__
        self.build_selfs = {
            _self_attr(t.target) for n in _walk(plan.fn.body) if isinstance(n, cst.Assign) for t in n.targets
        } | {_self_attr(n.target) for n in _walk(plan.fn.body) if isinstance(n, (cst.AugAssign, cst.AnnAssign))}

    # -- the input size ------------------------------------------------------

    def _size_name(self, preferred: str | None, shape: str) -> str:
        """The __init__ parameter that holds the last size of the input whose shape is
        build()'s parameter ``shape`` (chosen once): what build() called it, else
        ``input_dim``; with several inputs ``<input>_dim`` first (``query_shape`` -> ``query_dim``)."""
        if shape not in self.plan.size_names:
            several = len(self.shape_params) > 1
            if several and shape in self.defaulted:
                raise Unconvertible(
                    f"build() reads the size of {shape}, which has a default (the input may be absent);"
                    " create its weights in __init__ from explicit sizes"
                )
            taken = self.scope.params | set(self.scope.locals) | self.scope.names | set(self.plan.size_names.values())
            stem = shape[: -len("_shape")] if shape.endswith("_shape") and len(shape) > len("_shape") else shape
            fallbacks = (f"{stem}_dim",) if several else ("input_dim", "in_features")
            name = None
            # several inputs: query_dim=, value_dim= say which input each size is of
            for candidate in (*fallbacks, preferred) if several else (preferred, *fallbacks):
                if candidate and candidate.isidentifier() and candidate not in taken and candidate != "self" and (
                    candidate == preferred or candidate not in self.used_names
                ):
                    name = candidate
                    break
            if name is None:
                raise Unconvertible(f"build() reads the size of {shape}, but __init__ already uses every name it could take it as")
            self.plan.size_names[shape] = name
            if self.plan.size_param is None:
                self.plan.size_param = name
            self.scope.size_params.add(name)
        return self.plan.size_names[shape]

    def _shape_name(self, node) -> str | None:
        """The shape parameter ``node`` names (``input_shape``), else None."""
        if isinstance(node, cst.Name) and node.value in self.derived:
            return None  # input_shape = self.sub.compute_output_shape(input_shape): no longer the input's
        if isinstance(node, cst.Name) and node.value in self.shape_params:
            return node.value
        if isinstance(node, cst.Name):
            return self.shape_aliases.get(node.value)
        return None

    def _is_last_size(self, node) -> str | None:
        """input_shape[-1]: the shape parameter it reads, else None."""
        if not isinstance(node, cst.Subscript):
            return None
        shape = self._shape_name(node.value)
        if shape is None or len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return None
        ok, number = literal_value(node.slice[0].slice.value)
        return shape if ok and number == -1 and not isinstance(number, bool) else None

    def substitute(self, node):
        """``node`` with build()'s locals written out and the input's last size as the parameter."""
        walker = self

        class Sub(cst.CSTTransformer):
            def leave_Subscript(self, original, updated):
                shape = walker._is_last_size(original)
                if shape:
                    return cst.Name(walker._size_name(None, shape))
                return updated

            def leave_Name(self, original, updated):
                value = walker.aliases.get(original.value)
                if value is not None:
                    if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation, cst.IfExp)):
                        return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
                    return value
                return updated

            def leave_Attribute(self, original, updated):
                size = walker.self_aliases.get(_self_attr(original))
                if size is not None:
                    return cst.Name(size)
                return updated

        shape = self._is_last_size(node)
        if shape:
            return cst.Name(self._size_name(None, shape))
        if isinstance(node, cst.Name) and node.value in self.aliases:
            return self.aliases[node.value]  # a whole size: no parentheses
        return node.visit(Sub())

    def _alias(self, small) -> bool:
        """``dim = input_shape[-1]``, ``key_dim = dim // self.num_heads``, ``self.dim = input_shape[-1]``:
        remembered, written out where a size reads them."""
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
            return False
        target = small.targets[0].target
        value = small.value
        shape = self._shape_name(value)
        if (
            shape and isinstance(target, cst.Name) and self.assigned.get(target.value) == 1
            and target.value not in self.shape_params
        ):
            self.shape_aliases[target.value] = shape  # hidden_states_shape = input_shape
            return True
        if (
            shape and isinstance(target, (cst.Tuple, cst.List)) and len(self.shape_params) == 1
            and not self.plan.size_names and not self.shape_aliases and len(target.elements) > 1
            and all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in target.elements)
        ):
            # a_shape, b_shape = input_shape: a layer called on a list; each shape is an input of its own
            names = [e.value.value for e in target.elements]
            if len(set(names)) == len(names) and all(self.assigned.get(n) == 1 for n in names):
                self.shape_params = names
                self.plan.unpacked = names
                return True
        if isinstance(target, cst.Name) and self.assigned.get(target.value) == 1 and target.value not in self.shape_params:
            shape = self._is_last_size(value)
            if shape:
                self.aliases[target.value] = cst.Name(self._size_name(target.value, shape))
                return True
            if not _has_call(value, allow_int=True) and _reads_sizes_only(value):
                self.aliases[target.value] = self.substitute(value)
                index = self._top_index(self.current)
                if index is not None:
                    self.local_lines[target.value] = index  # moves to __init__ if a moved statement reads it
                return True
            return False
        name = _self_attr(target)
        shape = self._is_last_size(value) if name is not None else None
        if shape and name not in self.self_aliases:
            param = self._size_name(name.lstrip("_") or None, shape)
            if name in self.scope.selfs:
                raise Unconvertible(f"build() sets self.{name} to the input size, and __init__ sets it too")
            self.self_aliases[name] = param
            self.plan.size_attrs[name] = param
            return param is not None
        return False

    def _initializer_local(self, small) -> bool:
        """``initializer = get_initializer(self.initializer_range)``, then
        ``add_weight(..., initializer=initializer)``: the statement goes with build(), and each
        weight is made with that initializer (converted, or reported, there)."""
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
            return False
        name = small.targets[0].target.value
        if self.assigned.get(name) != 1 or not isinstance(small.value, cst.Call):
            return False
        keywords = {id(n.keyword) for n in _walk(self.plan.fn.body) if isinstance(n, cst.Arg) and n.keyword is not None}
        mentions = sum(
            1 for n in _walk(self.plan.fn.body) if isinstance(n, cst.Name) and n.value == name and id(n) not in keywords
        )
        given = sum(
            1 for n in _walk(self.plan.fn.body)
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and _self_attr(n.func) == "add_weight"
            for a in n.args
            if a.keyword is not None and a.keyword.value == "initializer" and isinstance(a.value, cst.Name) and a.value.value == name
        )
        if not given or mentions != given + 1:  # the assignment's own target, and those arguments
            return False
        self.initializer_locals[name] = small.value
        return True

    def statement(self, stmt) -> None:
        if isinstance(stmt, cst.If) and stmt.orelse is None:
            if self._is_built(stmt.test) and self._only_return(stmt.body):
                return  # if self.built: return
            if self._getattr_guard(stmt.test) or self._hasattr_guard(stmt.test) or self._unbuilt_guard(stmt) or self._not_built(stmt.test):
                self._block(stmt.body)
                return
        if isinstance(stmt, cst.With) and len(stmt.items) == 1 and stmt.items[0].asname is None and not stmt.asynchronous:
            item = stmt.items[0].item
            if isinstance(item, cst.Call) and resolve_call(self.ctx, item) in NAME_SCOPES and not any(_has_call(a.value) for a in item.args):
                self.plan.scopes.append(item)
                inner = stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else ()
                index = next((i for i, s in enumerate(self.plan.fn.body.body) if s is stmt), None)
                if (
                    len(inner) == 1 and isinstance(inner[0], cst.If) and self.branch is None and index is not None
                    and not self._size_choice(inner[0])
                ):
                    # with tf.name_scope("token_type_embeddings"): if <setting>: self.w = add_weight(...)
                    self._moved_if(inner[0], index)
                    return
                self._block(stmt.body)
                return
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.small(small, stmt)
            return
        if isinstance(stmt, cst.For) and self._list_build(stmt):
            return
        indexed = {
            _self_attr(n.value) for n in _walk(stmt) if isinstance(stmt, cst.For) and isinstance(stmt.target, cst.Name)
            and isinstance(n, cst.Subscript) and _self_attr(n.value) is not None and len(n.slice) == 1
            and isinstance(n.slice[0].slice, cst.Index) and code_of(n.slice[0].slice.value).strip() == stmt.target.value
        }
        if isinstance(stmt, cst.For) and len(indexed) == 1 and _self_attr(stmt.iter) is None:
            raise Unconvertible(
                f"build() builds self.{indexed.pop()}[{stmt.target.value}] for {stmt.target.value} in"
                f" {' '.join(code_of(stmt.iter).split())}: only a loop over the range __init__ makes that list of the file's"
                " layers over (so that it builds every element with the same shape) moves to __init__"
            )
        if isinstance(stmt, cst.For) and _self_attr(stmt.iter) is not None and not getattr(self.attrs.get(_self_attr(stmt.iter)), "many", False):
            raise Unconvertible(
                f"build() loops over self.{_self_attr(stmt.iter)}, which __init__ does not make as a list of the file's layers"
                " ([Block(...) for i in range(n)], or appended in a loop): the input sizes of its elements are not known in __init__"
            )
        if isinstance(stmt, cst.If) and self._size_choice(stmt):
            return
        if isinstance(stmt, cst.If) and self.branch is None and self._builds_by_setting(stmt):
            return
        if self._optional_builds(stmt):
            return
        if isinstance(stmt, cst.If) and self.branch is None:
            index = next((i for i, s in enumerate(self.plan.fn.body.body) if s is stmt), None)
            if index is not None:
                self._moved_if(stmt, index)
                return
        raise _other(stmt)

    def _builds_by_setting(self, stmt: cst.If) -> bool:
        """``if self.is_cross_attention: self.key.build([None, None, config.encoder_hidden_size])``
        / ``else: self.key.build([None, None, config.hidden_size])`` (BLIP's text attention): layers
        __init__ makes in any case, built with sizes a setting chooses, take the size
        ``(encoder_hidden_size if is_cross_attention else hidden_size)``."""
        if not isinstance(stmt.orelse, cst.Else) or self._condition_problem(stmt.test) is not None:
            return False
        if not (self._only_builds(stmt.body) and self._only_builds(stmt.orelse.body)):
            return False
        saved, sizes = self.plan.shapes, dict(self.plan.block_sizes)
        try:
            self.plan.shapes = {}
            self._block(stmt.body)
            yes = self.plan.shapes
            self.plan.shapes = {}
            self._block(stmt.orelse.body)
            no = self.plan.shapes
        finally:
            self.plan.shapes = saved
        if self.plan.block_sizes != sizes or set(yes) != set(no):
            raise _other(stmt)  # a class of the file taking its size, or a layer built on one side only
        for name, dims in yes.items():
            attr = self.attrs[name]
            test = self.scope.expression(self.substitute(stmt.test), self._made_at(attr))
            other = no[name]
            if test is None or len(dims) != len(other):
                raise _other(stmt)
            merged = []
            for a, b in zip(dims, other):
                if repr(a) == repr(b):
                    merged.append(a)
                elif a is None or b is None:
                    raise Unconvertible(f"build() builds self.{name} with a known size in one branch and None in the other")
                else:
                    merged.append(Expr(cst.IfExp(test=test, body=_size_node(a), orelse=_size_node(b))))
            self._record_shape(name, attr, tuple(merged), None)
        return True

    def _only_builds(self, body) -> bool:
        """Statements that only build the class's layers (behind getattr guards, in name scopes)."""
        lines = body.body
        for inner in lines:
            if isinstance(inner, cst.If) and inner.orelse is None and self._getattr_guard(inner.test):
                if not self._only_builds(inner.body):
                    return False
            elif isinstance(inner, cst.With) and len(inner.items) == 1:
                if not self._only_builds(inner.body):
                    return False
            elif isinstance(inner, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                for small in inner.body:
                    call = small.value if isinstance(small, cst.Expr) else None
                    if not (
                        isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "build"
                        and self._built_attr(call.func.value) in self.attrs
                    ):
                        return False
            else:
                return False
        return True

    def _conditional_weight(self, name: str, value, stmt) -> bool:
        """``self.w = self.add_weight(...) if <setting> else None`` (ConvNeXt's layer scale): the
        parameter, or None, by the same conditional expression at the end of __init__."""
        if not (
            isinstance(value, cst.IfExp) and _is_none(value.orelse) and isinstance(value.body, cst.Call)
            and _self_attr(value.body.func) == "add_weight"
        ):
            return False
        problem = self._condition_problem(value.test)
        if problem is not None:
            test = " ".join(code_of(value.test).split())
            raise Unconvertible(
                f"build(): self.{name} = self.add_weight(...) if {test[:60]} else None: the condition {problem}"
            )
        self._weight(name, value.body, stmt)
        self.plan.conditions[name] = value.test
        return True

    @staticmethod
    def _built_attr(target) -> str | None:
        """``self.x`` or ``self.x[0]`` (an element of a list of layers): ``x``"""
        if isinstance(target, cst.Subscript):
            target = target.value
        return _self_attr(target)

    def _optional_builds(self, stmt) -> bool:
        """``if <setting>: self.x[0].build(...)`` where __init__ makes the layers it builds only
        under a condition (ConvNeXt's downsampling list): the builds move with the others, the
        condition goes with build() (the modules exist where it holds, made with those sizes)."""
        if not (
            isinstance(stmt, cst.If) and stmt.orelse is None and self.branch is None
            and self._only_builds(stmt.body) and self._condition_problem(stmt.test) is None
        ):
            return False
        built = {
            self._built_attr(n.func.value) for n in _walk(stmt.body)
            if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute) and n.func.attr.value == "build"
        }
        if not all(getattr(self.attrs.get(name), "optional", False) for name in built):
            return False
        self._block(stmt.body)
        return True

    def _unpacked_sizes(self, small) -> bool:
        """``n_head, d_head = self.n_head, self.d_head``: sizes, each remembered as its value."""
        if not (
            isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Tuple)
            and isinstance(small.value, cst.Tuple) and len(small.targets[0].target.elements) == len(small.value.elements)
        ):
            return False
        pairs = list(zip(small.targets[0].target.elements, small.value.elements))
        if not all(
            isinstance(t.value, cst.Name) and self.assigned.get(t.value.value) == 1 and t.value.value not in self.shape_params
            and not isinstance(v, cst.StarredElement) and not _has_call(v.value, allow_int=True) and _reads_sizes_only(v.value)
            and self._shape_name(v.value) is None
            for t, v in pairs
        ):
            return False
        index = self._top_index(self.current)
        for t, v in pairs:
            self.aliases[t.value.value] = self.substitute(v.value)
            if index is not None:
                self.local_lines[t.value.value] = index  # moves to __init__ if a moved statement reads it
        return True

    def _size_choice(self, stmt: cst.If) -> bool:
        """``if self.is_cross_attention: n = 2 * self.embed_dim`` / ``else: n = 3 * self.embed_dim``:
        a size chosen by a setting, remembered as ``(2 * ... if self.is_cross_attention else 3 * ...)``
        where a size reads it."""
        if not isinstance(stmt.orelse, cst.Else) or not isinstance(stmt.test, (cst.Name, cst.Attribute, cst.UnaryOperation)):
            return False
        if isinstance(stmt.test, cst.UnaryOperation) and not (
            isinstance(stmt.test.operator, cst.Not) and isinstance(stmt.test.expression, (cst.Name, cst.Attribute))
        ):
            return False

        def only_assign(body):
            lines = body.body if isinstance(body, cst.IndentedBlock) else None
            if not lines or len(lines) != 1 or not isinstance(lines[0], cst.SimpleStatementLine) or len(lines[0].body) != 1:
                return None
            small = lines[0].body[0]
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
                return None
            if _has_call(small.value, allow_int=True) or not _reads_sizes_only(small.value):
                return None
            return small.targets[0].target.value, small.value

        yes, no = only_assign(stmt.body), only_assign(stmt.orelse.body)
        if yes is None or no is None or yes[0] != no[0] or self.assigned.get(yes[0]) != 2 or yes[0] in self.shape_params:
            return False
        if self._condition_problem(stmt.test) is not None:
            return False
        self.aliases[yes[0]] = cst.IfExp(
            test=stmt.test, body=self.substitute(yes[1]), orelse=self.substitute(no[1]),
        )
        return True

    # -- `if <setting>:` ------------------------------------------------------

    def _moved_if(self, stmt: cst.If, index: int) -> None:
        """``if self.use_mask_token: self.mask_token = self.add_weight(...)`` at the top of build():
        a condition on the layer's settings is known at the end of __init__, so the whole `if`
        moves there, its weights made and its layers built where they are made."""
        self.branch = index
        kept: list = []
        weights = len(self.plan.branched)
        try:
            self._conditional(stmt, kept)
        finally:
            self.branch = None
        if len(self.plan.branched) == weights and not any(isinstance(k, cst.BaseStatement) for k in kept):
            self.plan.extra.discard(index)
            return  # it only builds sublayers: nothing of it stays
        self.plan.extra.add(index)
        self.plan.branches[index] = kept

    def _conditional(self, stmt: cst.If, kept: list) -> None:
        problem = self._condition_problem(stmt.test)
        if problem is not None:
            test = " ".join(code_of(stmt.test).split())
            raise Unconvertible(
                f"build(): `if {test[:60]}{'...' if len(test) > 60 else ''}:` {problem}; only a condition on"
                " settings __init__ stores (self.<attr>) moves to __init__ with what build() makes under it"
            )
        kept.append(stmt.test)
        self.scope.guards.append(code_of(stmt.test).strip())
        try:
            self._branch(stmt.body, kept)
        finally:
            self.scope.guards.pop()
        if isinstance(stmt.orelse, cst.If):
            self._conditional(stmt.orelse, kept)
        elif stmt.orelse is not None:
            self._branch(stmt.orelse.body, kept)

    def _condition_problem(self, test) -> str | None:
        """Why ``test`` may not mean the same at the end of __init__, else None: it may read only
        literals, globals and settings __init__ stores and build() leaves alone."""
        for read in _reads(test):
            if isinstance(read, cst.Name):
                name = read.value
                if name in ("True", "False", "None"):
                    continue
                if name in self.own_params or name in self.shape_params or name in self.shape_aliases:
                    return f"reads {name}, the input's shape, which __init__ does not have"
                if name in self.assigned:
                    return f"reads {name}, a value of build()"
                if not self.scope._name_ok(name, self.end, "build"):
                    return f"reads {name}, which __init__ binds to something else"
                continue
            attr = _self_attr(read)
            if attr in self.build_selfs or attr in self.plan.weights or attr in self.plan.made:
                return f"reads self.{attr}, which build() sets"
            if attr not in self.scope.selfs:
                return f"reads self.{attr}, which __init__ does not set"
            if attr in self.attrs and not _none_test(test, attr):
                # a layer's truth is not the same in PyTorch (nn.Sequential is false when empty)
                return f"tests the layer self.{attr} other than with `is None`"
        for node in _walk(test):
            if not isinstance(node, CONDITION_NODES):
                return "calls a function" if isinstance(node, cst.Call) else f"computes ({type(node).__name__})"
        return None

    def _branch(self, body, kept: list) -> None:
        if isinstance(body, cst.SimpleStatementSuite):
            for small in body.body:
                self._branch_small(small, body, kept)
            return
        for inner in body.body:
            if isinstance(inner, cst.If):
                self._conditional(inner, kept)
            elif isinstance(inner, cst.SimpleStatementLine):
                for small in inner.body:
                    self._branch_small(small, inner, kept)
            elif (
                isinstance(inner, cst.With) and len(inner.items) == 1 and inner.items[0].asname is None
                and isinstance(inner.items[0].item, cst.Call) and resolve_call(self.ctx, inner.items[0].item) in NAME_SCOPES
                and not any(_has_call(a.value) for a in inner.items[0].item.args)
            ):
                self.plan.scopes.append(inner.items[0].item)
                self._branch(inner.body, kept)
            else:
                raise _other(inner)

    def _branch_small(self, small, stmt, kept: list) -> None:
        """A statement under a moved `if`: a weight, a layer made or built, a value set, ``raise``."""
        self.current = stmt
        if isinstance(small, cst.Pass):
            return
        if isinstance(small, cst.Raise) and self._condition_problem_free(small):
            kept.append(stmt)
            return
        if (
            isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Tuple)
            and isinstance(small.value, cst.Tuple) and len(small.targets[0].target.elements) == len(small.value.elements)
            and all(_self_attr(t.value) in self.plan.branched and _is_none(v.value)
                    for t, v in zip(small.targets[0].target.elements, small.value.elements))
        ):
            kept.append(stmt)  # else: self.lambda_1, self.lambda_2 = None, None (Data2Vec)
            return
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and _self_attr(small.targets[0].target) is not None:
            name = _self_attr(small.targets[0].target)
            value = small.value
            if isinstance(value, cst.Call) and _self_attr(value.func) == "add_weight":
                self._weight(name, value, stmt)
                self.plan.branched.add(name)
                return
            if name in self.plan.branched and (_is_none(value) or _is_number(value)):
                # if use_mask_token: self.mask_token = self.add_weight(...) / else: self.mask_token = None
                # (or a number: Gemma 3n's RMSNorm scales by 1.0 where it has no scale)
                kept.append(stmt)
                return
            if name in self.plan.made or name in self.plan.branched:
                raise Unconvertible(
                    f"build() makes self.{name} in more than one branch; a module per attribute is made in __init__"
                )
            if isinstance(value, cst.Call) and self._make(name, value, stmt):
                if name in self.attrs:
                    self.attrs[name].optional = True  # made only when its condition holds
                kept.append(stmt)
                return
            if self._move_value(name, value, stmt):
                kept.append(stmt)
                return
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            if (
                isinstance(func, cst.Attribute) and func.attr.value == "assign" and _self_attr(func.value) in self.plan.branched
                and self._assigned_weight(small.value, stmt)
            ):
                return  # Data2Vec's `if init_values > 0:` layer scale: made with that value in the branch
            if isinstance(func, cst.Attribute) and func.attr.value == "build" and _self_attr(func.value) is not None:
                name = _self_attr(func.value)
                attr = self.attrs.get(name)
                given = [a for a in small.value.args if not _is_none(a.value)]
                if attr is not None and given and not (attr.optional or getattr(attr, "from_build", False)):
                    # made in any case, it is built on its first call when the condition does not hold
                    raise Unconvertible(
                        f"build() builds self.{name} under a condition, and __init__ makes self.{name} in any case:"
                        " its input size is not known where the condition does not hold"
                    )
                self._sublayer(name, small.value, stmt)
                return
        raise _other(stmt)

    def _condition_problem_free(self, node) -> bool:
        """``raise ValueError(f"... {self.kind}")``: reads only settings __init__ stores, and globals."""
        for read in _reads(node):
            if isinstance(read, cst.Name):
                if read.value in self.assigned or read.value in self.own_params or not self.scope._name_ok(read.value, self.end, "build"):
                    return False
            elif _self_attr(read) not in self.scope.selfs or _self_attr(read) in self.build_selfs:
                return False
        return True

    def _list_build(self, stmt: cst.For) -> bool:
        """``for layer in self.layer: with tf.name_scope(layer.name): layer.build(None)`` over a
        list of converted subclasses (an nn.ModuleList): each makes its own sizes, so the loop goes.
        An element that takes its input size gets it from the shape the loop builds it with; the
        chain ``shape = layer.compute_output_shape(shape)`` keeps that shape when the class's
        compute_output_shape() returns its input shape (so every element gets the same size)."""
        if stmt.orelse is not None or stmt.asynchronous or not isinstance(stmt.target, cst.Name):
            return False
        var = stmt.target.value
        name = _self_attr(stmt.iter) or self._indexed_list(stmt)
        attr = self.attrs.get(name) if name is not None else None
        if attr is None or not getattr(attr, "many", False):
            return False
        by_index = _self_attr(stmt.iter) is None

        def element(node) -> bool:
            """``layer`` (for layer in self.layers), ``self.layers[i]`` (for i in range(...))"""
            if not by_index:
                return isinstance(node, cst.Name) and node.value == var
            return (
                isinstance(node, cst.Subscript) and _self_attr(node.value) == name and len(node.slice) == 1
                and isinstance(node.slice[0].slice, cst.Index) and isinstance(node.slice[0].slice.value, cst.Name)
                and node.slice[0].slice.value.value == var
            )

        scopes, builds, shapes = [], [], []

        def chain(small) -> bool:
            if attr.kind != "block":
                return False  # Keras layers in a list: only build() calls
            if not (
                isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
                and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute)
                and small.value.func.attr.value == "compute_output_shape" and element(small.value.func.value)
                and len(small.value.args) == 1
                and not small.value.args[0].star and small.value.args[0].keyword is None
                and isinstance(small.value.args[0].value, cst.Name)
                and small.value.args[0].value.value == small.targets[0].target.value and self._is_shape(small.value.args[0].value)
            ):
                return False
            if not block_keeps_shape(attr.block):
                raise Unconvertible(
                    f"build(): {' '.join(code_of(small).split())}: the output size of the elements of self.{name}"
                    f" ({attr.block.name}) is not known statically (its compute_output_shape() does not just return"
                    " its input shape); build the next layer with an explicit shape"
                )
            return True

        def build_call(small) -> bool:
            if not (isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
                return False
            call = small.value
            func = call.func
            if not (
                isinstance(func, cst.Attribute) and func.attr.value == "build"
                and element(func.value) and len(call.args) <= 1
            ):
                return False
            if call.args:
                arg = call.args[0]
                if arg.star or (arg.keyword is not None and arg.keyword.value != "input_shape"):
                    return False
                literal = isinstance(arg.value, (cst.List, cst.Tuple))
                if not literal and not (isinstance(arg.value, cst.Name) and (
                    arg.value.value in ("None", *self.own_params) or self._shape_name(arg.value) or self._is_shape(arg.value)
                )):
                    return False
                if not _is_none(arg.value):
                    shapes.append(arg.value)
            builds.append(call)
            return True

        def block(body) -> bool:
            lines = body.body
            if isinstance(body, cst.SimpleStatementSuite):
                return all(build_call(small) or chain(small) for small in lines)
            for inner in lines:
                if isinstance(inner, cst.SimpleStatementLine):
                    if not all(build_call(small) or chain(small) for small in inner.body):
                        return False
                elif isinstance(inner, cst.With) and len(inner.items) == 1 and inner.items[0].asname is None:
                    item = inner.items[0].item
                    if not (isinstance(item, cst.Call) and resolve_call(self.ctx, item) in NAME_SCOPES):
                        return False
                    if not all(isinstance(a.value, (cst.Name, cst.Attribute, cst.SimpleString)) for a in item.args):
                        return False
                    scopes.append(item)
                    if not block(inner.body):
                        return False
                elif (
                    isinstance(inner, cst.If) and inner.orelse is None and not by_index
                    and code_of(inner.test).strip() == f'hasattr({var}, "name")'
                ):
                    # T5's `if hasattr(layer_module, "name"):`: every Keras layer has a name
                    if not block(inner.body):
                        return False
                else:
                    return False
            return True

        if not block(stmt.body) or not builds:
            return False
        if attr.kind == "layer":
            # Keras layers in a list (XLM's layer_norm1): each built with the loop's one shape
            dims = {repr(d): d for d in (self._literal_dims(name, attr, shape) for shape in shapes)}
            if len(dims) > 1:
                raise Unconvertible(f"build() builds the elements of self.{name} with shapes of different sizes")
            if dims:
                self.plan.shapes[name] = next(iter(dims.values()))
            self.plan.scopes.extend(scopes)
            self.plan.builds.extend(builds)
            return True
        keyword = attr.block.size_param
        if keyword and shapes:
            if attr.block.build is not None and len(attr.block.build.size_params) > 1:
                raise Unconvertible(
                    f"self.{name} ({attr.block.name}) takes the sizes of its inputs as "
                    + ", ".join(f"{s}=" for s in attr.block.build.size_params) + ", and the loop builds it with one shape"
                )
            sizes = {code_of(self._last_size_of(name, attr, shape, keyword)).strip() for shape in shapes}
            if len(sizes) != 1:
                raise Unconvertible(f"build() builds the elements of self.{name} with shapes of different sizes")
            self.plan.block_sizes[name] = cst.parse_expression(sizes.pop())
        self.plan.scopes.extend(scopes)
        self.plan.builds.extend(builds)
        return True

    def _indexed_list(self, stmt: cst.For) -> str | None:
        """``for i in range(self.num_layers): self.blocks[i].build(...)``: ``blocks`` when __init__
        makes that list over the same range (``[Block(...) for i in range(num_layers)]``, or a loop
        appending to it), so that the loop builds every element; else None."""
        it = stmt.iter
        if not (
            isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "range" and "range" not in self.assigned
            and len(it.args) == 1 and not it.args[0].star and it.args[0].keyword is None
        ):
            return None
        var = stmt.target.value
        names = {
            _self_attr(n.value) for n in _walk(stmt.body)
            if isinstance(n, cst.Subscript) and _self_attr(n.value) is not None and len(n.slice) == 1
            and isinstance(n.slice[0].slice, cst.Index) and isinstance(n.slice[0].slice.value, cst.Name)
            and n.slice[0].slice.value.value == var
        }
        if len(names) != 1:
            return None
        name = names.pop()
        attr = self.attrs.get(name)
        if attr is None or not getattr(attr, "many", False) or not isinstance(attr.statement, cst.SimpleStatementLine):
            return None
        value = attr.statement.body[0].value if isinstance(attr.statement.body[0], cst.Assign) else None
        at = self._made_at(attr)
        if isinstance(value, cst.ListComp):
            made = value.for_in.iter
        elif isinstance(value, cst.List) and at + 1 < len(self.scope.top) and isinstance(self.scope.top[at + 1], cst.For):
            made = self.scope.top[at + 1].iter
        else:
            return None
        if not (isinstance(made, cst.Call) and isinstance(made.func, cst.Name) and made.func.value == "range" and len(made.args) == 1):
            return None
        mapped = self.scope.expression(it.args[0].value, at)
        count = self.scope._map(made.args[0].value, at, "init", set())
        same = mapped is not None and count is not None and code_of(mapped).strip() == code_of(count).strip()
        return name if same else None

    def _block(self, body) -> None:
        if isinstance(body, cst.SimpleStatementSuite):  # `if ...: self.x.build(None)` on one line
            for small in body.body:
                self.small(small, body)
            return
        for inner in body.body:
            self.statement(inner)

    @staticmethod
    def _is_built(test) -> bool:
        return _self_attr(test) == "built"

    @staticmethod
    def _only_return(body) -> bool:
        lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
        if len(lines) != 1:
            return False
        small = lines[0].body if isinstance(lines[0], (cst.SimpleStatementLine, cst.SimpleStatementSuite)) else None
        return bool(small) and len(small) == 1 and isinstance(small[0], cst.Return) and small[0].value is None

    @staticmethod
    def _unbuilt_guard(stmt: cst.If) -> bool:
        """``if not self.proj.built: self.proj.build(shape)``: the sublayer is built here unless it
        was before; made in __init__ with that shape's size, it needs no guard."""
        test = stmt.test
        if not (isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) and isinstance(test.expression, cst.Attribute)):
            return False
        name = _self_attr(test.expression.value)
        if name is None or test.expression.attr.value != "built":
            return False
        lines = stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else [stmt.body]
        if not all(isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)) for line in lines):
            return False  # a block inside (a `with`): not only builds
        smalls = [small for line in lines for small in line.body]
        return bool(smalls) and all(
            isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute)
            and small.value.func.attr.value == "build" and _self_attr(small.value.func.value) == name
            for small in smalls
        )

    @staticmethod
    def _not_built(test) -> bool:
        """``if not self.built:`` (build() runs once): its body is build()'s"""
        return isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) and _self_attr(test.expression) == "built"

    @staticmethod
    def _hasattr_guard(test) -> bool:
        """``hasattr(self.norm, "name")``: true of any layer __init__ makes (transformers' build()
        tests it before naming a scope after the layer)"""
        return (
            isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "hasattr"
            and len(test.args) == 2 and not any(a.keyword or a.star for a in test.args)
            and _self_attr(test.args[0].value) is not None and isinstance(test.args[1].value, cst.SimpleString)
        )

    @staticmethod
    def _getattr_guard(test) -> bool:
        """getattr(self, "name", None) is not None"""
        if not (isinstance(test, cst.Comparison) and len(test.comparisons) == 1):
            return False
        target = test.comparisons[0]
        if not (isinstance(target.operator, cst.IsNot) and isinstance(target.comparator, cst.Name) and target.comparator.value == "None"):
            return False
        call = test.left
        if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "getattr" and len(call.args) == 3):
            return False
        obj, name, default = (a.value for a in call.args)
        return (
            isinstance(obj, cst.Name) and obj.value == "self" and isinstance(name, cst.SimpleString)
            and isinstance(default, cst.Name) and default.value == "None" and not any(a.keyword for a in call.args)
        )

    def small(self, small, stmt) -> None:
        self.current = stmt
        if isinstance(small, cst.Pass) or id(small) in self.assign_locals:
            return
        if isinstance(small, cst.Return) and isinstance(small.value, cst.Call):
            small = cst.Expr(small.value)  # return super().build(input_shape): build() returns None
        if self._unpacked_sizes(small):
            return
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and self._same_shape(small.targets[0].target, small.value):
            return
        if isinstance(small, cst.Assign) and len(small.targets) == 1 and self._output_shape(small.targets[0].target, small.value):
            return
        if self._alias(small) or self._initializer_local(small):
            return
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = small.targets[0].target
            name = _self_attr(target)
            if name == "built" and isinstance(small.value, cst.Name) and small.value.value == "True":
                return
            value = small.value
            if name is not None and isinstance(value, cst.Call) and _self_attr(value.func) == "add_weight":
                self._weight(name, value, stmt)
                return
            if name is not None and self._conditional_weight(name, value, stmt):
                return
            if name is not None and self._bookkeeping(name, value, stmt):
                return
            if name is not None and isinstance(value, cst.Call) and self._make(name, value, stmt):
                return
            if name is not None and self._move_value(name, value, stmt):
                return
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "assign" and self._assigned_weight(call, stmt):
                return
            if isinstance(func, cst.Attribute) and func.attr.value == "build":
                if isinstance(func.value, cst.Call) and isinstance(func.value.func, cst.Name) and func.value.func.value == "super" and not func.value.args:
                    if all(a.keyword is None and isinstance(a.value, cst.Name) and (a.value.value in ("None", *self.own_params) or self._shape_name(a.value)) for a in call.args) and len(call.args) <= 1:
                        return  # super().build(input_shape): only marks the layer built
                name = _self_attr(func.value)
                if name is not None:
                    self._sublayer(name, call, stmt)
                    return
                if self._element_build(func.value, call, stmt):
                    return
        raise _other(stmt)

    def _element_build(self, target, call: cst.Call, stmt) -> bool:
        """``self.attention[0].build(shape)`` on a list of layers applied in order
        (subclass_sequence.py): the first element's shape is the list's input shape; the others
        follow from it, as the layers are planned in order."""
        if not (
            isinstance(target, cst.Subscript) and len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index)
            and isinstance(target.slice[0].slice.value, cst.Integer)
        ):
            return False
        name = _self_attr(target.value)
        attr = self.attrs.get(name) if name is not None else None
        if attr is None or getattr(attr, "elements", None) is None:
            return False
        index = int(target.slice[0].slice.value.value)
        if index >= len(attr.elements):
            raise Unconvertible(f"build() builds self.{name}[{index}], and self.{name} has {len(attr.elements)} layers")
        if index == 0:
            self._sublayer(name, call, stmt)
            return True
        shape = self._shape_arg(call)
        if isinstance(shape, (cst.List, cst.Tuple)) and shape.elements:
            self.plan.element_shapes.setdefault(name, {})[index] = self._literal_dims(f"{name}[{index}]", attr, shape)
        self.plan.builds.append(call)
        return True

    # -- shapes that flow from one sublayer to the next ----------------------------

    @staticmethod
    def _is_output_call(node) -> bool:
        """``self.sub.compute_output_shape(shape)``"""
        return (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "compute_output_shape" and _self_attr(node.func.value) is not None
            and len(node.args) == 1 and not node.args[0].star and node.args[0].keyword is None
        )

    def _is_shape(self, node) -> bool:
        """A shape build() knows the last size of: its input's, a chained one, a sublayer's output."""
        if isinstance(node, cst.Name):
            return node.value in self.derived or self._shape_name(node) is not None
        return self._is_output_call(node)

    def _same_shape(self, target, value) -> bool:
        """``input_shape = tuple(input_shape)``, ``x_shape = list(input_shape)``: the same sizes."""
        if not (
            isinstance(target, cst.Name) and isinstance(value, cst.Call) and isinstance(value.func, cst.Name)
            and value.func.value in ("tuple", "list") and value.func.value not in self.assigned
            and len(value.args) == 1 and not value.args[0].star and value.args[0].keyword is None
        ):
            return False
        shape = self._shape_name(value.args[0].value)
        if shape is None:
            return False
        if target.value == shape or (target.value in self.shape_aliases and self.shape_aliases[target.value] == shape):
            return True  # input_shape = tuple(input_shape)
        if self.assigned.get(target.value) == 1 and target.value not in self.shape_params:
            self.shape_aliases[target.value] = shape
            return True
        return False

    def _output_shape(self, target, value) -> bool:
        """``shape = self.sub.compute_output_shape(shape)`` (or ``shape = other_shape`` where ``shape``
        is such a chain): remembered as the size of its last axis."""
        if not isinstance(target, cst.Name):
            return False
        name = target.value
        chained = name in self.derived or self.assigned.get(name, 0) > 1
        if not (self._is_output_call(value) or (chained and isinstance(value, cst.Name) and self._is_shape(value))):
            return False
        self.derived[name] = self._size_of(value)
        return True

    def _size_of(self, node):
        """A function giving the size of the last axis of the shape ``node`` in __init__'s terms
        (the names in ``node`` are read now, in build()'s order)."""
        if isinstance(node, cst.Name) and node.value in self.derived:
            return self.derived[node.value]
        shape = self._shape_name(node)
        if shape is not None:
            return lambda: cst.Name(self._size_name(None, shape))
        if self._is_output_call(node):
            return self._output_size(_self_attr(node.func.value), self._size_of(node.args[0].value), node)
        if isinstance(node, (cst.List, cst.Tuple)) and node.elements and not any(
            isinstance(e, cst.StarredElement) for e in node.elements
        ):
            last = node.elements[-1].value
            substituted = self.substitute(last)

            def literal_size():
                mapped = None if _is_none(last) else self.scope.expression(substituted, self.end)
                if mapped is None:
                    raise Unconvertible(f"build(): the size {code_of(last).strip()} in {code_of(node).strip()} is not known in __init__")
                return mapped

            return literal_size
        raise Unconvertible(
            f"build(): the size of the last axis of {code_of(node).strip()} is not known statically;"
            " build the sublayers with explicit shapes ([None, None, size])"
        )

    def _output_size(self, name: str, inner, call):
        """A function giving the size of the last axis of ``self.<name>``'s output for an input
        whose size ``inner`` gives: Dense(units) -> units, LayerNormalization, Dropout... -> the input's,
        a class of the file whose compute_output_shape() returns its input shape -> the input's."""
        from .keras_layers import TensorInfo, plan_layer

        text = code_of(call).strip()
        attr = self.attrs.get(name)
        if attr is None or attr.kind not in ("layer", "block") or getattr(attr, "many", False):
            raise Unconvertible(f"build(): {text}: self.{name} is not a layer that __init__ or build() makes")
        if attr.kind == "block":
            if block_keeps_shape(attr.block):
                return inner
            has = attr.block.node is not None and any(
                isinstance(s, cst.FunctionDef) and s.name.value == "compute_output_shape" for s in attr.block.node.body.body
            )
            why = "its compute_output_shape() does not just return its input shape" if has else "it has no compute_output_shape()"
            raise Unconvertible(
                f"build(): {text}: the output size of self.{name} ({attr.block.name}) is not known statically"
                f" ({why}); build the next layer with an explicit shape"
            )
        marker = Expr(cst.Name("__input_size__"))
        out = None
        for rank in range(2, 6):  # a Dense takes any rank, a Conv2D only 4: the size of the last axis is its own
            try:
                out = plan_layer(attr.layer, [TensorInfo((*(None,) * (rank - 1), marker))]).out
                break
            except Unconvertible as exc:
                if rank == 2:
                    first = exc
        if out is None:
            raise Unconvertible(f"build(): {text}: the output size of self.{name} ({attr.layer.short}) is not known: {first}")
        last = out.shape[-1] if out.shape else None
        if last is marker:
            return inner
        if isinstance(last, int) and not isinstance(last, bool):
            return lambda: cst.Integer(str(last))
        if isinstance(last, Expr):
            node = last.node

            def size():
                if getattr(attr, "from_build", False):
                    mapped = self.scope.expression(self.substitute(node), self.end)
                else:
                    mapped = self.scope._map(node, self.end, "init", set())
                    mapped = None if mapped is None else cst.parse_expression(code_of(mapped).strip())
                if mapped is None:
                    raise Unconvertible(
                        f"build(): {text}: the output size of self.{name} ({attr.layer.short}), {code_of(node).strip()},"
                        " is not known at the end of __init__"
                    )
                return mapped

            return size
        raise Unconvertible(
            f"build(): {text}: the output size of self.{name} ({attr.layer.short}) is not known statically;"
            " build the next layer with an explicit shape"
        )

    def _bookkeeping(self, name: str, value, stmt) -> bool:
        """``self._inputs_shape = inputs_shape``: a shape only Keras's shape methods read (build(),
        compute_output_shape(), get_config()), which go: the statement goes with them."""
        if name in self.outside_reads or name in self.attrs or name in self.plan.weights:
            return False
        shape = value
        while isinstance(shape, cst.Call) and isinstance(shape.func, cst.Name) and shape.func.value in ("tuple", "list") and len(shape.args) == 1:
            shape = shape.args[0].value  # tuple(input_shape)
        if not (self._is_shape(shape) or isinstance(shape, (cst.List, cst.Tuple))):
            return False  # a shape, not a value computed from sizes (that one moves to __init__)
        for node in _walk(value):
            if isinstance(node, cst.Call) and not self._is_output_call(node) and not (
                isinstance(node.func, cst.Name) and node.func.value in ("tuple", "list", "len", "int")
            ):
                return False
            if isinstance(node, (cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield)):
                return False
        self.plan.dropped.append(stmt)
        self.dropped_names.add(name)
        return True

    def _sizeless_either(self, name: str) -> bool:
        """Whether ``self.<name>`` is made once in __init__, by a conditional expression whose
        sides each take no input size: a Keras layer without weights (Identity, Dropout,
        Activation...) or a class of the file that converts and takes no size argument."""
        assigns = self.scope.selfs.get(name, [])
        if len(assigns) != 1 or not isinstance(assigns[0][1], cst.IfExp):
            return False
        plans = {p.name: p for p in self.ctx.facts.get("class_plans", {}).values()}
        kinds = self.ctx.facts.get("class_kinds", {})

        def sizeless(side) -> bool:
            if not isinstance(side, cst.Call) or not isinstance(side.func, (cst.Name, cst.Attribute)):
                return False
            if isinstance(side.func, cst.Name) and side.func.value in plans:
                block = plans[side.func.value]
                return side.func.value in kinds and not block.size_param
            api = resolve_call(self.ctx, side)
            rule = self.ctx.ruleset.lookup(api) if api else None
            data = rule.data if rule is not None and isinstance(rule.data, dict) else {}
            return data.get("plan") in WEIGHTLESS

        value = assigns[0][1]
        return sizeless(value.body) and sizeless(value.orelse)

    def _imported_maker(self, name: str) -> str | None:
        """The class imported from another module that ``self.<name>`` is made with, in build() or
        in its own statement of __init__, else None."""
        if name in self.imported:
            return self.imported[name]
        for _, value, _ in self.scope.selfs.get(name, []):
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in _imported_names(self.ctx):
                return value.func.value
        return None

    def _made_at(self, attr) -> int:
        """Where __init__ makes ``attr`` (the first of its branches): the index of its top-level
        statement, before which a size written there must be known."""
        return min(self.scope.index_of(a.statement) for a in (attr, *getattr(attr, "alternatives", ())))

    def _top_index(self, stmt) -> int | None:
        """The index of ``stmt`` in build()'s body, when it is a statement of its own there (or in a
        moved `if`: the index of that `if`, which moves whole)."""
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            return None
        if self.branch is not None:
            return self.branch
        return next((i for i, s in enumerate(self.plan.fn.body.body) if s is stmt), None)

    def _check_reads(self, node, what: str) -> None:
        """``node``, from a statement of build() that moves to the end of __init__, means the same
        there: the locals it reads are the input sizes (now __init__'s keywords of the same name) or
        locals computed from sizes, whose statements move with it (in build()'s order)."""
        local = set(self.assigned) | set(self.shape_params) | set(self.own_params)
        for read in _reads(node):
            if isinstance(read, cst.Name):
                name = read.value
                if name in self.shape_params or name in self.own_params or name in self.shape_aliases or name in self.derived:
                    raise Unconvertible(
                        f"{what} from {name}, the input's shape, which __init__ does not have: only the size of its"
                        f" last axis becomes a constructor argument, where build() names it (dim = {name}[-1])"
                    )
                if name in local:
                    alias = self.aliases.get(name)
                    if isinstance(alias, cst.Name) and alias.value == name:
                        continue  # dim = input_shape[-1]: __init__'s keyword dim=
                    line = self.local_lines.get(name)
                    if line is None or name in self.scope.names:
                        raise Unconvertible(
                            f"{what} with {name}, a value of build() that __init__ does not have;"
                            " make it in __init__ from explicit sizes"
                        )
                    if line not in self.plan.extra:
                        self.plan.extra.add(line)  # head_dim = hidden_dim // self.num_heads moves too
                        self._check_reads(self.plan.fn.body.body[line].body[0].value, what)
                elif name in self.scope.params or name in self.scope.locals:
                    raise Unconvertible(f"{what} with {name}, a global that __init__ binds to something else")
            else:
                attr = _self_attr(read)
                if attr in self.dropped_names or attr in self.plan.weights:
                    raise Unconvertible(f"{what} from self.{attr}, which build() makes; make it in __init__")

    def _assign_chains(self) -> tuple[set[int], dict]:
        """The locals build() assigns a weight from, as transformers' sinusoidal position
        embeddings do (Marian, Pegasus, RoFormer)::

            weight = self._init_weight(self.num_positions, self.embedding_dim)
            self.weight = self.add_weight(name="embeddings", shape=[...])
            weight = tf.cast(weight, dtype=self.weight.dtype)
            self.weight.assign(weight)

        a top-level local assigned a value, then perhaps cast to the weight's dtype, read by
        nothing else: those statements go, the weight is made with the value (_assigned_weight)."""
        body = list(self.plan.fn.body.body)
        skipped: set[int] = set()
        chains: dict = {}
        reads: dict[str, int] | None = None  # name -> its mentions in build() (attribute names aside)
        for line in body:
            small = line.body[0] if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 else None
            call = small.value if isinstance(small, cst.Expr) else None
            if not (
                isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "assign"
                and _self_attr(call.func.value) is not None and len(call.args) == 1 and not call.args[0].star
                and call.args[0].keyword is None and isinstance(call.args[0].value, cst.Name)
            ):
                continue
            weight, local = _self_attr(call.func.value), call.args[0].value.value
            sets = [
                s.body[0] for s in body if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1
                and isinstance(s.body[0], cst.Assign) and len(s.body[0].targets) == 1
                and isinstance(s.body[0].targets[0].target, cst.Name) and s.body[0].targets[0].target.value == local
            ]
            if reads is None:
                attrs = {id(n.attr) for n in _walk(self.plan.fn.body) if isinstance(n, cst.Attribute)}
                reads = {}
                for n in _walk(self.plan.fn.body):
                    if isinstance(n, cst.Name) and id(n) not in attrs:
                        reads[n.value] = reads.get(n.value, 0) + 1
            if not sets or len(sets) > 2 or self.assigned.get(local) != len(sets) or reads.get(local) != 2 * len(sets):
                continue  # assigned elsewhere too (a loop, a branch), or read by something else
            cast = None
            if len(sets) == 2:
                cast = sets[1].value
                if not (
                    isinstance(cast, cst.Call) and resolve_call(self.ctx, cast) == "tensorflow.cast" and len(cast.args) == 2
                    and isinstance(cast.args[0].value, cst.Name) and cast.args[0].value.value == local
                    and isinstance(cast.args[1].value, cst.Attribute) and cast.args[1].value.attr.value == "dtype"
                    and _self_attr(cast.args[1].value.value) == weight
                ):
                    continue
            skipped.update(id(a) for a in sets)
            chains[weight] = (sets[0].value, cast is not None)
        return skipped, chains

    def _assigned_weight(self, call: cst.Call, stmt) -> bool:
        """``self.inv_freq = self.add_weight(...)`` then ``self.inv_freq.assign(<value>)`` (ESM's
        rotary frequencies, Data2Vec's layer scale): the parameter is made with that value,
        ``nn.Parameter(<value>)``, the value computed from the layer's settings at the end of
        __init__ (the statements it reads moving with it)."""
        name = _self_attr(call.func.value)
        made = self.plan.weights.get(name) if name is not None else None
        if made is None or "value" in made[2] or (self.branch is None and self._top_index(stmt) is None):
            return False
        if len(call.args) != 1 or call.args[0].star or (call.args[0].keyword is not None and call.args[0].keyword.value != "value"):
            return False
        value = call.args[0].value
        cast = False
        if isinstance(value, cst.Name) and name in self.assigned_from:
            value, cast = self.assigned_from[name]  # the local's value, perhaps cast to the weight's dtype
        for node in _walk(value):
            if isinstance(node, (cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield)):
                return False
            if isinstance(node, cst.Subscript) and self._shape_name(node.value):
                return False
        self._check_reads(value, f"build() assigns self.{name}")
        made[2]["value"] = value
        made[2]["cast"] = cast
        self.plan.values.append(value)
        return True

    def _move_value(self, name: str, value, stmt) -> bool:
        """``self._inv_norm_factor = 1.0 / math.sqrt(head_dim)``, ``self._equation = "ab,bc->ac"``: a
        value computed from sizes, constants and the layer's settings moves to the end of __init__."""
        index = self._top_index(stmt)
        if index is None or name in self.attrs or name in self.plan.weights or name in self.scope.selfs:
            return False
        tensor = False
        for node in _walk(value):
            if isinstance(node, cst.Call):
                api = self.ctx.resolver.resolve_chain(node.func) if isinstance(node.func, (cst.Name, cst.Attribute)) else None
                pure = isinstance(node.func, cst.Name) and node.func.value in PURE_BUILTINS and node.func.value not in self.assigned
                if api is not None and api.split(".")[0] in TENSOR_MODULES and not api.startswith(LAYER_APIS):
                    tensor = True  # ops.expand_dims(ops.arange(self.num_positions), axis=0): a tensor of settings
                    continue
                if not pure and not (api in PURE_APIS or _is_math(self.ctx, node.func)):
                    return False
            elif isinstance(node, (cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield, cst.BaseComp)):
                return False
            elif isinstance(node, cst.Subscript) and self._shape_name(node.value):
                raise Unconvertible(
                    f"build() sets self.{name} from {code_of(node).strip()}: only the size of the input's last axis"
                    " becomes a constructor argument"
                )
        self._check_reads(value, f"build() sets self.{name}")
        self.plan.extra.add(index)
        if tensor and self.branch is None:
            self.plan.buffers[index] = name
        return True

    def _make(self, name: str, call: cst.Call, stmt) -> bool:
        """``self.ffn = keras.layers.Dense(...)`` (or a class of the file) made in build(): the
        statement moves to the end of __init__, where what build() read of the input shape is a
        constructor argument."""
        from .models import _layer_call
        from .subclass import Attr

        layer = _layer_call(self.ctx, call)
        known = {**self.ctx.facts.get("foreign_plans", {}), **{p.name: p for p in self.ctx.facts.get("class_plans", {}).values()}}
        block = known.get(call.func.value) if isinstance(call.func, cst.Name) else None
        if layer is None and block is None:
            api = resolve_call(self.ctx, call)
            if api is not None and api.startswith("keras.layers."):
                raise Unconvertible(f"build() makes self.{name} with {api}, which has no PyTorch layer conversion")
            if isinstance(call.func, cst.Name) and call.func.value in _imported_names(self.ctx):
                # a layer class of another module (converted with its own file): made as it is, in __init__
                if name in self.scope.selfs or name in self.attrs or self._top_index(stmt) is None:
                    return False
                self._check_reads(call, f"build() makes self.{name}")
                self.imported[name] = call.func.value
                self.plan.extra.add(self._top_index(stmt))
                return True
            return False
        if name in self.attrs or name in self.plan.made or name in self.scope.selfs:
            raise Unconvertible(f"build() makes self.{name}, which __init__ (or build()) makes too")
        index = self._top_index(stmt)
        if index is None:
            raise Unconvertible(
                f"build() makes self.{name} inside a condition or a block; only a statement of its own at the top of"
                " build() moves to __init__"
            )
        self._check_reads(call, f"build() makes self.{name}")
        if layer is not None:
            self.attrs[name] = Attr(name, "layer", layer, call, statement=stmt, from_build=True)
        else:
            self.attrs[name] = Attr(name, "block", call=call, block=block, statement=stmt, from_build=True)
        self.plan.made[name] = index
        return True

    # MultiHeadAttention.build(query_shape, value_shape, key_shape=None)
    ATTENTION_SHAPES = ("query_shape", "value_shape", "key_shape")

    def _shape_arg(self, call: cst.Call, attr=None):
        args = list(call.args)
        if not args:
            return None
        if attr is not None and attr.kind == "layer" and attr.layer.rule.data.get("plan") == "mha":
            # self-attention: one shape for query, value and key gives nn.MultiheadAttention its size
            bound = {}
            for i, arg in enumerate(args):
                key = arg.keyword.value if arg.keyword is not None else (self.ATTENTION_SHAPES[i] if i < 3 else None)
                if arg.star or key not in self.ATTENTION_SHAPES or key in bound:
                    raise _other(call)
                bound[key] = arg.value
            if "query_shape" not in bound or len({code_of(v).strip() for v in bound.values()}) != 1:
                raise Unconvertible(
                    f"{' '.join(code_of(call).split())}: a MultiHeadAttention built with a value or key shape other than"
                    " the query's; only one shape for all three (self-attention) gives nn.MultiheadAttention its size"
                )
            return bound["query_shape"]
        if len(args) > 1 or (args[0].keyword is not None and args[0].keyword.value != "input_shape") or args[0].star:
            raise _other(call)
        return args[0].value

    def _sublayer(self, name: str, call: cst.Call, stmt) -> None:
        attr = self.attrs.get(name)
        block_build = attr.block.build if attr is not None and attr.kind == "block" else None
        if block_build is not None and (len(block_build.fn.params.params) > 2 or block_build.unpacked):
            self._block_sizes(name, attr, call)  # a converted subclass whose build() takes several shapes
            self.plan.builds.append(call)
            return
        shape = self._shape_arg(call, attr)
        none = shape is None or (isinstance(shape, cst.Name) and shape.value == "None")
        if not none and attr is not None and attr.kind == "layer" and (
            self._is_output_call(shape) or (isinstance(shape, cst.Name) and shape.value in self.derived)
        ):
            # self.down.build(hidden_shape), hidden_shape = self.up.compute_output_shape(...)
            self._chained(name, attr, shape)
            self.plan.builds.append(call)
            return
        last = self._replaced_last(shape)
        if last is not None and attr is not None and attr.kind == "layer":
            # self.o_proj.build(input_shape[:-1] + (heads * head_dim,)): the input's shape with
            # another last size, which is the layer's input size
            ok, number = literal_value(last)
            mapped = None if ok else self.scope.expression(self.substitute(last), self._made_at(attr))
            if not (ok and isinstance(number, int)) and mapped is None:
                raise Unconvertible(
                    f"self.{name}.build(...): the size {code_of(last).strip()} is not known where __init__ makes self.{name}"
                )
            lead = _leading_dims(attr.layer, f"self.{name}.build({code_of(shape).strip()})")
            self._record_shape(name, attr, (*lead, number if ok else Expr(mapped)), call)
            return
        whole = self._shape_name(shape) is not None
        if whole and attr is not None and attr.kind == "layer":
            # self.norm.build(input_shape): its input size is this layer's, an __init__ parameter
            lead = _leading_dims(attr.layer, f"self.{name}.build({shape.value})")
            if not _uses_input_size(attr.layer):
                # an Embedding built with the ids' shape: its sizes are in its constructor
                self.plan.builds.append(call)
                return
            dims = (*lead, Expr(cst.Name(self._size_name(None, self._shape_name(shape)))))
            previous = self.plan.shapes.get(name)
            if previous is not None and repr(previous) != repr(dims):
                raise Unconvertible(f"build() builds self.{name} twice with different shapes")
            self.plan.shapes[name] = dims
            self.plan.builds.append(call)
            return
        if attr is not None and attr.kind == "block" and not none and getattr(attr.block, "size_param", None):
            self._block_size(name, attr, shape)
            self.plan.builds.append(call)
            return
        if attr is None or attr.kind == "weight":
            if none or (attr is None and self._sizeless_either(name)):
                # nothing to carry over: a layer made elsewhere builds itself on its first call;
                # DropPath(p) if p > 0 else Identity(): neither side takes an input size
                self.plan.builds.append(call)
                return
            maker = self._imported_maker(name)
            if maker is not None:
                raise Unconvertible(
                    f"build() builds self.{name} with a shape, and self.{name} is made with {maker}, a class imported from another"
                    " module: whether its PyTorch form takes its input size in its constructor is not known when this file"
                    f" is converted alone; give {maker} its sizes as constructor arguments"
                )
            raise Unconvertible(
                f"build() builds self.{name} with a shape, but __init__ does not make self.{name} as a layer in its own statement"
            )
        if attr.kind == "block" or none:
            # a converted class makes its own sizes; a layer built with no shape (Embedding)
            # has them in its constructor
            if not none and _has_call(shape) and not self._is_output_call(shape):
                raise _other(stmt)
            self.plan.builds.append(call)
            return
        if isinstance(shape, (cst.Name, cst.Attribute)) and self._shape_name(shape) is None and not self._is_shape(shape):
            # self.proj.build(self.dim): Keras 2 reads a number as a shape of one axis, its size
            # the input's (a tuple there would make the PyTorch constructor raise, not misread it)
            mapped = self.scope.expression(self.substitute(shape), self._made_at(attr))
            if mapped is not None:
                dims = (*_leading_dims(attr.layer, f"self.{name}.build({code_of(shape).strip()})"), Expr(mapped))
                self._record_shape(name, attr, dims, call)
                return
        self._record_shape(name, attr, self._literal_dims(name, attr, shape), call)

    def _replaced_last(self, shape):
        """``input_shape[:-1] + (size,)`` (a shape of this build() with its last size replaced):
        that size, else None"""
        if not (isinstance(shape, cst.BinaryOperation) and isinstance(shape.operator, cst.Add)):
            return None
        head, tail = shape.left, shape.right
        if not (
            isinstance(tail, (cst.Tuple, cst.List)) and tail.elements
            and not any(isinstance(e, cst.StarredElement) for e in tail.elements)
            and isinstance(head, cst.Subscript) and len(head.slice) == 1 and isinstance(head.slice[0].slice, cst.Slice)
            and head.slice[0].slice.lower is None and head.slice[0].slice.step is None
            and code_of(head.slice[0].slice.upper).strip() == "-1"
            and (self._shape_name(head.value) is not None or self._is_shape(head.value))
        ):
            return None
        return tail.elements[-1].value

    def _literal_dims(self, name: str, attr, shape) -> tuple:
        """``[None, None, self.hidden]``, a layer's literal build shape, as its Keras shape without the
        batch, each size in __init__'s terms (a number, None, or an Expr)."""
        if not isinstance(shape, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in shape.elements):
            raise Unconvertible(
                f"self.{name}.build({code_of(shape).strip()}): only a literal shape ([None, None, size]) gives the layer its input size"
            )
        if not shape.elements:
            raise Unconvertible(f"self.{name}.build({code_of(shape).strip()}): an empty shape gives no input size")
        at = self._made_at(attr)
        dims = []
        # Keras's shapes start with the batch; the last entry is the input size in any case
        elements = shape.elements[1:] if len(shape.elements) > 1 else shape.elements
        for element in elements:
            value = element.value
            if isinstance(value, cst.Name) and value.value == "None":
                dims.append(None)
                continue
            ok, number = literal_value(value)
            if ok and isinstance(number, int) and not isinstance(number, bool):
                dims.append(number)
                continue
            mapped = self.scope.expression(self.substitute(value), at)
            if mapped is None:
                raise Unconvertible(
                    f"self.{name}.build(...): the size {code_of(value).strip()} is not known where __init__ makes self.{name}"
                )
            dims.append(Expr(mapped))
        return tuple(dims)

    def _record_shape(self, name: str, attr, dims: tuple, call: cst.Call | None) -> None:
        """``self.<name>.build(...)`` gives the layer the Keras shape ``dims`` (no batch); a second
        build must give it the same, or the same last size for a layer that reads only that."""
        previous = self.plan.shapes.get(name)
        if previous is not None and repr(previous) != repr(dims):
            if not _same_last_size(attr.layer, previous, dims):
                raise Unconvertible(f"build() builds self.{name} twice with different shapes")
            dims = max(previous, dims, key=len)
        self.plan.shapes[name] = dims
        if call is not None:  # None: the builds were recorded one by one (_builds_by_setting)
            self.plan.builds.append(call)

    def _chained(self, name: str, attr, shape) -> None:
        """A layer built with a shape that another's compute_output_shape() gave: the size of
        its last axis is its input size."""
        lead = _leading_dims(attr.layer, f"self.{name}.build({code_of(shape).strip()})")
        if not _uses_input_size(attr.layer):
            return
        dims = (*lead, Expr(self._size_of(shape)()))
        previous = self.plan.shapes.get(name)
        if previous is not None and repr(previous) != repr(dims):
            raise Unconvertible(f"build() builds self.{name} twice with different shapes")
        self.plan.shapes[name] = dims

    def _block_size(self, name: str, attr, shape) -> None:
        """A converted subclass that takes its input size in __init__ gets it from the shape
        this build() gives it: the last entry of a literal shape, or this layer's own input size."""
        self.plan.block_sizes[name] = self._last_size_of(name, attr, shape, attr.block.size_param)

    def _last_size_of(self, name: str, attr, shape, keyword: str) -> cst.BaseExpression:
        if self._is_output_call(shape) or (isinstance(shape, cst.Name) and shape.value in self.derived):
            return self._size_of(shape)()
        if self._shape_name(shape):
            return cst.Name(self._size_name(None, self._shape_name(shape)))
        if isinstance(shape, (cst.List, cst.Tuple)) and shape.elements and not any(
            isinstance(e, cst.StarredElement) for e in shape.elements
        ):
            last = shape.elements[-1].value
            mapped = self.scope.expression(self.substitute(last), self._made_at(attr))
            if mapped is not None:
                return mapped
        raise Unconvertible(
            f"self.{name} ({attr.block.name}) takes the size of its input as {keyword}=, and the shape"
            f" build() gives it ({code_of(shape).strip()}) does not say it where __init__ makes self.{name}"
        )

    def _block_sizes(self, name: str, attr, call: cst.Call) -> None:
        """``self.attn.build(inputs_shape, [None, None, self.dim])`` of a converted subclass whose
        build() takes several shapes: each shape it reads the size of gives that keyword."""
        block = attr.block
        params = [p.name.value for p in block.build.fn.params.params[1:]]
        bound: dict[str, cst.BaseExpression] = {}
        if block.build.unpacked:
            # its build() takes a list of shapes: self.block.build([a_shape, [None, None, size]])
            shapes = call.args[0].value if len(call.args) == 1 and not call.args[0].star else None
            if (
                not isinstance(shapes, (cst.List, cst.Tuple)) or len(shapes.elements) != len(block.build.unpacked)
                or any(isinstance(e, cst.StarredElement) for e in shapes.elements)
            ):
                raise Unconvertible(
                    f"self.{name} ({block.name}) takes the sizes of its inputs as "
                    + ", ".join(f"{s}=" for s in block.build.size_params)
                    + f", and build() does not give self.{name} a literal list of {len(block.build.unpacked)} shapes"
                )
            params = []
            bound = {n: e.value for n, e in zip(block.build.unpacked, shapes.elements)}
        for i, arg in enumerate(call.args if not block.build.unpacked else []):
            key = arg.keyword.value if arg.keyword is not None else (params[i] if i < len(params) else None)
            if arg.star or key not in params or key in bound:
                raise _other(call)
            bound[key] = arg.value
        sizes = {}
        for shape_name, keyword in block.build.size_names.items():
            shape = bound.get(shape_name)
            if shape is None or (isinstance(shape, cst.Name) and shape.value == "None"):
                raise Unconvertible(
                    f"self.{name} ({block.name}) takes the size of its input {shape_name} as {keyword}=,"
                    f" and build() does not give self.{name} that shape"
                )
            sizes[keyword] = self._last_size_of(name, attr, shape, keyword)
        if sizes:
            self.plan.block_sizes[name] = sizes

    def _weight(self, name: str, call: cst.Call, stmt) -> None:
        if name in self.attrs or name in self.plan.weights:
            raise _other(stmt)
        bound: dict = {}
        for i, arg in enumerate(call.args):
            if arg.star:
                raise _other(stmt)
            key = arg.keyword.value if arg.keyword else (WEIGHT_ARGS[i] if i < len(WEIGHT_ARGS) else None)
            if key not in WEIGHT_ARGS:
                raise Unconvertible(f"build(): add_weight({key}=...) has no nn.Parameter form")
            bound[key] = arg.value
        shape = bound.get("shape")
        end = len(self.scope.top)
        if shape is not None and not isinstance(shape, (cst.List, cst.Tuple)):
            # shape=self.hidden_size: one size (Keras 2 reads an int as a shape of one axis) or a
            # tuple made in __init__; torch.ones(n) and torch.ones((a, b)) read it the same way
            mapped = self.scope.expression(self.substitute(shape), end)
            if mapped is None:
                raise Unconvertible(
                    f"build(): self.{name} = self.add_weight(shape={code_of(shape).strip()}): that shape is not known in"
                    " __init__; make the weight there from explicit sizes"
                )
            shape = None
            whole_shape = mapped
        else:
            whole_shape = None
        if whole_shape is None and (
            not isinstance(shape, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in shape.elements)
        ):
            raise Unconvertible(
                f"build(): self.{name} = self.add_weight(...) needs a literal shape of explicit sizes to be made in __init__"
            )
        sizes = []
        for element in shape.elements if whole_shape is None else ():
            substituted = self.substitute(element.value)
            mapped = self.scope.expression(substituted, end)
            if mapped is None and {*self.own_params, *self.shape_params, *self.shape_aliases} & {n.value for n in _walk(substituted) if isinstance(n, cst.Name)}:
                raise Unconvertible(
                    f"build() makes self.{name} with the size {code_of(element.value).strip()}, read from the input shape:"
                    " only the size of its last axis becomes a constructor argument; create it in __init__ from explicit sizes"
                )
            if mapped is None:
                raise Unconvertible(
                    f"build() makes self.{name} with the size {code_of(element.value).strip()}, which __init__ does not know"
                    " (it comes from the input shape or a computation); create it in __init__ from explicit sizes"
                )
            sizes.append(code_of(mapped).strip())
        init = bound.get("initializer")
        if isinstance(init, cst.Name) and init.value in self.initializer_locals:
            init = self.initializer_locals[init.value]
        init = self._initializer(name, init, end) if init is not None else None
        if init is not None:
            bound["initializer"] = init
        # a name ("zeros"), an initializer object of a known kind or a constant lambda has a
        # PyTorch form; anything else, and Keras's default (None), is Glorot, which needs two axes
        has_form = init is not None and bool(
            literal_value(init)[0] or initializers.weight_kind(self.ctx, init) or initializers.constant_lambda(init)
        )
        if not has_form and whole_shape is not None:
            written = " ".join(code_of(init).split()) if init is not None else "None"
            raise Unconvertible(
                f"build(): self.{name} = self.add_weight(initializer={written}): that initializer has no"
                " conversion, and Keras's Glorot uniform (its default) needs the number of axes"
            )
        if whole_shape is not None:
            bound["shape"] = whole_shape
        else:
            bound["shape"] = cst.parse_expression("(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")")
        for key in ("trainable", "name", "dtype"):
            if key in bound:
                ok, value = literal_value(bound[key])
                if key == "dtype" and not ok and resolve_call(self.ctx, bound[key]) in FLOAT32:
                    continue
                policy = bound[key]
                if isinstance(policy, cst.Attribute) and policy.attr.value == "variable_dtype" and _self_attr(policy.value) == "dtype_policy":
                    policy = policy.value.with_changes(attr=cst.Name("variable_dtype"))  # self.dtype_policy.variable_dtype
                if key == "dtype" and _self_attr(policy) in ("variable_dtype", "dtype"):
                    # the layer's variable dtype: float32 unless the layer is made with another dtype policy
                    self.plan.weight_warnings[name] = (
                        f"dtype={code_of(bound[key]).strip()}: the parameter is float32 (PyTorch's default);"
                        " a layer made with another dtype needs .to(dtype)"
                    )
                    continue
                if not ok or (key == "dtype" and value not in (None, "float32")):
                    raise Unconvertible(f"build(): add_weight({key}={code_of(bound[key]).strip()}) must be a literal here")
        # the initializer is only read as a literal name ("zeros"); any other is reported
        # where the parameter is made (see subclass._parameter)
        self.plan.weights[name] = (call, stmt, bound)


    def _initializer(self, name: str, init, end: int):
        """``init`` in __init__'s terms: a Keras initializer object of a known kind with its
        arguments mapped (Constant(self.init_values) reads what __init__ stored), a constant lambda;
        else as it is (a name such as "zeros", or one without a conversion, reported by the caller)."""
        constant = initializers.constant_lambda(init)
        if constant is not None:
            mapped = None
            if initializers.plain(constant):
                mapped = self.scope.number(self.substitute(constant), end)
            elif isinstance(constant, cst.Call) and _is_math(self.ctx, constant.func) and all(
                not a.star and a.keyword is None and initializers.plain(a.value) for a in constant.args
            ):  # math.log(1 / 0.07)
                args = [a.with_changes(value=self.scope.number(self.substitute(a.value), end)) for a in constant.args]
                mapped = None if any(a.value is None for a in args) else constant.with_changes(args=args)
            if mapped is None:
                raise Unconvertible(
                    f"build(): self.{name} = self.add_weight(initializer={' '.join(code_of(init).split())}): the value it"
                    " gives is not known in __init__; make the weight there"
                )
            return init.with_changes(body=mapped)
        known = initializers.weight_kind(self.ctx, init)
        if known is None or not isinstance(init, cst.Call):
            return init
        args = []
        for arg in init.args:
            mapped = self.scope.number(self.substitute(arg.value), end) if initializers.plain(arg.value) else None
            if mapped is None:
                raise Unconvertible(
                    f"build(): self.{name} = self.add_weight(initializer={' '.join(code_of(init).split())}): the value"
                    f" {code_of(arg.value).strip()} is not known in __init__; make the weight there"
                )
            args.append(arg.with_changes(value=mapped))
        return init.with_changes(args=args)


class _InitScope:
    """What ``build()``'s expressions mean in ``__init__`` (build runs after all of it).

    ``self.a`` becomes the parameter ``__init__`` stored in it (``self.config = config``:
    ``self.config.hidden_size`` -> ``config.hidden_size``); else it stays ``self.a``
    where ``__init__`` assigned it before the statement that needs it; else its value
    is written out (``self.dim = config.dim`` further down -> ``config.dim``). An
    attribute assigned more than once or conditionally, a name ``__init__`` binds
    (that build() reads as a global), or anything but names, attributes, integer
    subscripts and arithmetic gives None: the size is not known there."""

    def __init__(self, init: cst.FunctionDef | None, build_params: set[str]) -> None:
        self.ctx = None  # set by plan_build: what resolves the layers' names
        self.build_params = build_params
        self.size_params: set[str] = set()  # the input sizes __init__ takes (see _BuildWalker._size_name)
        self.top = list(init.body.body) if init is not None else []
        self.params: set[str] = set()
        self.selfs: dict[str, list] = {}  # attribute -> [(top index, value or None, top-level)]
        self.locals: dict[str, list] = {}  # local name -> [(top index, top-level)]
        self.names: set[str] = set()  # every name __init__ mentions (a new parameter must not shadow one)
        # the conditions of build()'s `if`s around the statement being moved (innermost last)
        self.guards: list[str] = []
        if init is None:
            return
        self.names = {n.value for n in _walk(init) if isinstance(n, cst.Name)}
        p = init.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            self.params.add(param.name.value)
        for star in (p.star_arg, p.star_kwarg):
            if isinstance(star, cst.Param):
                self.params.add(star.name.value)
        for index, stmt in enumerate(self.top):
            self._bindings(stmt, index, isinstance(stmt, cst.SimpleStatementLine))

    def index_of(self, stmt) -> int:
        for i, s in enumerate(self.top):
            if s is stmt:
                return i
        for i, s in enumerate(self.top):  # a statement inside `if ...:` of __init__
            if isinstance(s, cst.If) and any(n is stmt for n in _walk(s)):
                return i
        return len(self.top)

    def _bindings(self, stmt, index: int, top: bool) -> None:
        scope = self

        class V(cst.CSTVisitor):
            def visit_FunctionDef(self, node):
                return False  # its own scope

            def visit_Lambda(self, node):
                return False

            def visit_ClassDef(self, node):
                return False

            def visit_Assign(self, node):
                for t in node.targets:
                    scope._target(t.target, index, top, node.value)  # self.n_head = n_head = config.n_head

            def visit_AnnAssign(self, node):
                scope._target(node.target, index, top, node.value)

            def visit_AugAssign(self, node):
                scope._target(node.target, index, False, None)

            def visit_For(self, node):
                scope._target(node.target, index, False, None)

            def visit_WithItem(self, node):
                if node.asname is not None:
                    scope._target(node.asname.name, index, False, None)

            def visit_NamedExpr(self, node):
                scope._target(node.target, index, False, None)

            def visit_ExceptHandler(self, node):
                if node.name is not None:
                    scope._target(node.name.name, index, False, None)

            def visit_Import(self, node):
                for alias in node.names:
                    bound = alias.asname.name if alias.asname else alias.name
                    while isinstance(bound, cst.Attribute):  # import a.b binds a
                        bound = bound.value
                    if isinstance(bound, cst.Name):
                        scope._target(bound, index, False, None)

            def visit_ImportFrom(self, node):
                if not isinstance(node.names, cst.ImportStar):
                    for alias in node.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        if isinstance(bound, cst.Name):
                            scope._target(bound, index, False, None)

        stmt.visit(V())

    def _target(self, target, index: int, top: bool, value) -> None:
        if isinstance(target, cst.Name):
            self.locals.setdefault(target.value, []).append((index, top))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._target(element.value, index, False, None)
        elif isinstance(target, cst.StarredElement):
            self._target(target.value, index, False, None)
        else:
            name = _self_attr(target)
            if name is not None:
                self.selfs.setdefault(name, []).append((index, value if top else None, top))

    def expression(self, node, at: int) -> cst.BaseExpression | None:
        """``node`` (from build()) as an expression valid in __init__ at top statement ``at``."""
        mapped = self._map(node, at, "build", set())
        if mapped is None:
            return None
        return _fresh(mapped)

    def number(self, node, at: int) -> cst.BaseExpression | None:
        """Like expression(), for a number rather than a size: floats and any arithmetic
        (an initializer's value, ``self.embed_dim**-0.5 * factor``)."""

        def walk(n):
            if isinstance(n, (cst.Integer, cst.Float)):
                return n
            if isinstance(n, cst.BinaryOperation):
                left, right = walk(n.left), walk(n.right)
                return None if left is None or right is None else n.with_changes(left=_paren(n.left, left), right=_paren(n.right, right))
            if isinstance(n, cst.UnaryOperation) and isinstance(n.operator, (cst.Minus, cst.Plus)):
                inner = walk(n.expression)
                return None if inner is None else n.with_changes(expression=_paren(n.expression, inner))
            return self._map(n, at, "build", set())

        mapped = walk(node)
        return None if mapped is None else _fresh(mapped)

    def _map(self, node, at: int, where: str, seen: set, origin: int | None = None):
        if isinstance(node, cst.Integer):
            return node
        if isinstance(node, cst.Name):
            return node if self._name_ok(node.value, at, where, origin) else None
        if isinstance(node, cst.Attribute):
            name = _self_attr(node)
            if name is not None:
                return self._self_value(node, name, at, seen)
            owner = _self_attr(node.value)
            if owner is not None and self.ctx is not None and self._layer_made(owner) is not None:
                # self.dense.units: the converted module has no such attribute; the argument
                # the Keras layer was made with is what it holds
                argument = self._layer_argument(self._layer_made(owner), node.attr.value)
                made_at = self.selfs[owner][0][0]  # the argument means what it meant there
                return None if argument is None else self._map(argument, at, "init", seen, made_at)
            base = self._map(node.value, at, where, seen, origin)
            return None if base is None else node.with_changes(value=_paren(node.value, base))
        if isinstance(node, cst.Subscript):
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
                return None
            index = node.slice[0].slice.value
            ok, number = literal_value(index)
            if not (ok and isinstance(number, int) and not isinstance(number, bool)):
                return None
            base = self._map(node.value, at, where, seen, origin)
            return None if base is None else node.with_changes(value=_paren(node.value, base))
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Power)
        ):
            left = self._map(node.left, at, where, seen, origin)
            right = self._map(node.right, at, where, seen, origin)
            if left is None or right is None:
                return None
            return node.with_changes(left=_paren(node.left, left), right=_paren(node.right, right))
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus, cst.Not)):
            inner = self._map(node.expression, at, where, seen, origin)
            return None if inner is None else node.with_changes(expression=_paren(node.expression, inner))
        if isinstance(node, cst.IfExp):  # a size a setting chooses (_BuildWalker._size_choice)
            parts = [self._map(n, at, where, seen, origin) for n in (node.test, node.body, node.orelse)]
            if any(p is None for p in parts):
                return None
            return node.with_changes(test=parts[0], body=parts[1], orelse=parts[2])
        if (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "int"
            and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star
            and self._name_ok("int", at, where, origin)
        ):
            inner = self._map(node.args[0].value, at, where, seen, origin)
            return None if inner is None else node.with_changes(args=[node.args[0].with_changes(value=inner)])
        return None

    def _name_ok(self, name: str, at: int, where: str, origin: int | None = None) -> bool:
        if name == "self":
            return False
        if name in self.size_params:
            return True
        if where == "build":
            # a global for build(); __init__ must not bind the name to something else
            return name not in self.build_params and name not in self.params and name not in self.locals
        bindings = self.locals.get(name, [])
        if origin is not None and bindings:
            # read at top statement `origin` (self.hidden_size = hidden_size, further down), written
            # at `at`: the same value there when every binding is unconditional and none comes
            # between (hidden_size = hidden_size or config.hidden_size, before both)
            return (
                all(top for _, top in bindings) and not any(at <= i < origin for i, _ in bindings)
                and (name in self.params or any(i < at for i, _ in bindings))
            )
        if name in self.params:
            return name not in self.locals
        if name in self.locals:
            return len(bindings) == 1 and bindings[0][1] and bindings[0][0] < at
        return True  # a global

    def _layer_made(self, name: str) -> cst.Call | None:
        """The Keras layer constructor call ``self.<name>`` is made with, once, in __init__."""
        assigns = self.selfs.get(name, [])
        value = assigns[0][1] if len(assigns) == 1 else None
        if isinstance(value, cst.Call) and (resolve_call(self.ctx, value) or "").startswith("keras.layers."):
            return value
        return None

    def _layer_argument(self, call: cst.Call, attr: str) -> cst.BaseExpression | None:
        """The argument ``attr`` of a Keras layer's constructor call (Keras keeps each one as an
        attribute of that name: Dense(units).units), by keyword or by its position in the rule."""
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == attr:
                return arg.value
        rule = self.ctx.ruleset.lookup(resolve_call(self.ctx, call))
        names = [a.lstrip("*") for a in (rule.args if rule is not None else [])]
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if attr in names and names.index(attr) < len(positional):
            return positional[names.index(attr)].value
        return None

    def _self_value(self, node, name: str, at: int, seen: set):
        assigns = self.selfs.get(name, [])
        if not assigns or name in seen:
            return None
        values = {code_of(v).strip() if v is not None else None for _, v, _ in assigns}
        first = assigns[0][1]
        if (
            len(values) == 1 and all(top for _, _, top in assigns)
            and isinstance(first, cst.Name) and first.value in self.params and first.value not in self.locals
        ):
            return cst.Name(first.value).with_changes(lpar=node.lpar, rpar=node.rpar)  # self.config = config
        if at == len(self.top) and self._set_under_guard(assigns):
            return node  # at the end of __init__, under the condition that set it
        if len(assigns) != 1 and not (len(values) == 1 and all(top for _, _, top in assigns)):
            return None  # assigned again with another value, or under a condition
        # assigned once, or again with the same expression (mpnet's relative_attention_num_buckets)
        index, value, top = assigns[0]
        if not top:
            return None
        if index < at:
            return node  # assigned before: self.<name> holds it there
        if value is None:
            return None
        return self._map(value, at, "init", seen | {name}, index)


    def _set_under_guard(self, assigns) -> bool:
        """Whether every assignment is inside one top-level `if` of __init__ whose condition is
        one build()'s statement is moved under (DeBERTa's ``if self.relative_attention:`` sets
        ``self.max_relative_positions``, maybe twice, and build() makes the weight under it):
        after that `if`, where the condition holds, the attribute is set."""
        indexes = {index for index, _, _ in assigns}
        if len(indexes) != 1:
            return False
        stmt = self.top[indexes.pop()]
        return isinstance(stmt, cst.If) and code_of(stmt.test).strip() in self.guards


def _size_node(size) -> cst.BaseExpression:
    """A size of a build shape (an int or an Expr) as an expression."""
    return size.node if isinstance(size, Expr) else cst.Integer(str(size))


def _fresh(node: cst.BaseExpression) -> cst.BaseExpression:
    """A copy of ``node`` made of new nodes (parsed from its code): an expression written over
    several lines inside parentheses that are not part of it gets parentheses of its own."""
    code = code_of(node).strip()
    return cst.parse_expression(f"({code})" if "\n" in code else code)


def _paren(original, mapped):
    """``mapped`` in the place of ``original`` inside a larger expression: an attribute
    replaced by arithmetic (self.in_dim -> config.hidden_size + 1) gets parentheses."""
    if (
        not isinstance(original, (cst.BinaryOperation, cst.UnaryOperation))
        and isinstance(mapped, (cst.BinaryOperation, cst.UnaryOperation, cst.IfExp)) and not mapped.lpar
    ):
        return mapped.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return mapped


def settle_branches(statements: list, params: dict[str, cst.SimpleStatementLine]) -> list:
    """The statements moved from build() to __init__, each `if` among them (see
    _BuildWalker._moved_if) as __init__ needs it: its weights made as the parameters
    ``params`` (attribute -> statement), the sublayer builds and name scopes gone."""
    out = []
    for s in statements:
        if isinstance(s, cst.If):
            out.append(_settle_if(s, params))
        elif isinstance(s, cst.With) and any(isinstance(inner, cst.If) for inner in getattr(s.body, "body", ())):
            out.extend(_settle_block(s.body, params))  # a name scope around the `if`: PyTorch has none
        else:
            out.append(s)
    return out


def _settle_if(node: cst.If, params: dict) -> cst.If:
    body = cst.IndentedBlock(body=_settle_block(node.body, params) or [cst.SimpleStatementLine([cst.Pass()])])
    orelse = node.orelse
    if isinstance(orelse, cst.If):
        orelse = _settle_if(orelse, params)
        if _only_pass(orelse.body) and orelse.orelse is None:
            orelse = None  # `elif ...:` that only built sublayers (its condition computes nothing)
    elif orelse is not None:
        rest = _settle_block(orelse.body, params)
        orelse = orelse.with_changes(body=cst.IndentedBlock(body=rest)) if rest else None
    if isinstance(node.body, cst.IndentedBlock):
        body = node.body.with_changes(body=body.body)
    return node.with_changes(body=body, orelse=orelse)


def _only_pass(body) -> bool:
    lines = body.body
    return len(lines) == 1 and isinstance(lines[0], cst.SimpleStatementLine) and all(isinstance(s, cst.Pass) for s in lines[0].body)


def _settle_block(block, params: dict) -> list:
    lines = [cst.SimpleStatementLine(list(block.body))] if isinstance(block, cst.SimpleStatementSuite) else block.body
    out = []
    for stmt in lines:
        if isinstance(stmt, cst.If):
            out.append(_settle_if(stmt, params))
        elif isinstance(stmt, cst.With):  # tf.name_scope: PyTorch names parameters after attributes
            out.extend(_settle_block(stmt.body, params))
        elif isinstance(stmt, cst.SimpleStatementLine):
            smalls = []
            for small in stmt.body:
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute) \
                        and small.value.func.attr.value == "build":
                    continue  # the layer is made with its sizes
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute) \
                        and small.value.func.attr.value == "assign" and _self_attr(small.value.func.value) in params:
                    continue  # the parameter is made with that value (_BuildWalker._assigned_weight)
                name = _self_attr(small.targets[0].target) if isinstance(small, cst.Assign) and len(small.targets) == 1 else None
                if name in params and not (_is_none(small.value) or _is_number(small.value)):
                    # `else: self.mask_token = None` (or `= 1.0`) stays
                    if smalls:
                        out.append(stmt.with_changes(body=smalls))
                        smalls = []
                    out.append(params[name].with_changes(leading_lines=stmt.leading_lines))
                    continue
                smalls.append(small)
            if smalls:
                out.append(stmt.with_changes(body=smalls))
        else:
            out.append(stmt)
    return out


def _empty_lists(body: list):
    """``self.X = []`` statements of ``__init__``'s body: (index, statement, X or None)."""
    for index, stmt in enumerate(body):
        if (
            isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)
            and len(stmt.body[0].targets) == 1 and isinstance(stmt.body[0].value, cst.List) and not stmt.body[0].value.elements
        ):
            yield index, stmt, _self_attr(stmt.body[0].targets[0].target)


def appended_lists(init: cst.FunctionDef, known, is_layer=None) -> list[tuple[str, cst.Call, cst.SimpleStatementLine]]:
    """The lists of the file's layers ``__init__`` fills in a loop (keras-hub's way)::

        self.blocks = []
        for i in range(num_layers):
            block = Block(..., name=f"block_{i}")
            self.blocks.append(block)

    as (attribute, the element's constructor call, the ``self.blocks = []`` statement), when
    ``__init__`` does nothing else with the list: it becomes an nn.ModuleList, filled by the same loop."""
    body = list(init.body.body)
    mentions: dict[str, int] = {}
    # an element read after the loop (XLM's `self.attentions[int(layer)].n_heads`) changes nothing
    reads = {id(n.value) for n in _walk(init.body) if isinstance(n, cst.Subscript) and _self_attr(n.value) is not None}
    for node in _walk(init.body):
        name = _self_attr(node)
        if name is not None and id(node) not in reads:
            mentions[name] = mentions.get(name, 0) + 1
    out = []
    for index, first, name in _empty_lists(body):
        # the list is mentioned twice (besides reads of its elements): made empty, appended to in
        # a loop further down (the statements in between, transformers' `prev_chs = ...`, do not touch it)
        loop = next((s for s in body[index + 1:] if isinstance(s, cst.For)), None)
        if name is None or mentions.get(name) != 2 or loop is None or loop.orelse is not None or loop.asynchronous:
            continue
        lines = loop.body.body if isinstance(loop.body, cst.IndentedBlock) else []
        smalls = [line.body[0] for line in lines if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1]
        if len(smalls) != len(lines) or not smalls:
            continue
        appends = [
            small for small in smalls
            if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and isinstance(small.value.func, cst.Attribute)
            and small.value.func.attr.value == "append" and _self_attr(small.value.func.value) == name
            and len(small.value.args) == 1 and not small.value.args[0].star and small.value.args[0].keyword is None
        ]
        if len(appends) != 1:
            continue
        element = appends[0].value.args[0].value
        if isinstance(element, cst.Name):
            # block = Block(...); self.blocks.append(block): the local is only that element
            made = [
                small for small in smalls
                if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
                and small.targets[0].target.value == element.value
            ]
            if len(made) != 1 or smalls.index(made[0]) > smalls.index(appends[0]) or sum(
                isinstance(n, cst.Name) and n.value == element.value for n in _walk(loop)
            ) != 2:
                continue
            element = made[0].value
        if isinstance(element, cst.Call) and (
            (isinstance(element.func, cst.Name) and element.func.value in known) or (is_layer is not None and is_layer(element))
        ):
            out.append((name, element, first))
    return out


def listed_appends(init: cst.FunctionDef, known) -> list[tuple[str, list[tuple[cst.Call, cst.CSTNode, bool]], cst.SimpleStatementLine]]:
    """The lists ``__init__`` fills with the file's layers of different classes, one append each
    (transformers' T5 block)::

        self.layer = []
        self.layer.append(SelfAttention(config, name="layer_._0"))
        if self.is_decoder:
            self.layer.append(CrossAttention(config, name="layer_._1"))
        self.layer.append(FeedForward(config, name=f"layer_._{len(self.layer)}"))

    as (attribute, [(constructor call, its statement, made under a condition)], the ``self.layer
    = []`` statement), when ``__init__`` does nothing else with the list: an nn.ModuleList, filled
    by the same appends."""
    body = list(init.body.body)
    out = []
    locals_read: dict[str, int] = {}
    for node in _walk(init.body):
        if isinstance(node, cst.Name):
            locals_read[node.value] = locals_read.get(node.value, 0) + 1
    for index, first, name in _empty_lists(body):
        if name is None:
            continue

        def append_of(stmt, lines) -> tuple[cst.Call, cst.CSTNode] | None:
            """The layer ``stmt`` appends (its constructor call, and the statement that has it):
            ``self.layer.append(Block(...))``, or ``block = Block(...)`` before it in ``lines``
            and ``self.layer.append(block)`` (MobileViT's encoder)."""
            if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)):
                return None
            call = stmt.body[0].value
            if not (
                isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
                and _self_attr(call.func.value) == name and len(call.args) == 1 and not call.args[0].star
                and call.args[0].keyword is None
            ):
                return None
            element, where = call.args[0].value, stmt
            if isinstance(element, cst.Name):
                local = element.value
                made = [
                    s for s in lines if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1
                    and isinstance(s.body[0], cst.Assign) and len(s.body[0].targets) == 1
                    and isinstance(s.body[0].targets[0].target, cst.Name) and s.body[0].targets[0].target.value == local
                ]
                if len(made) != 1 or locals_read.get(local) != 2 or lines.index(made[0]) > lines.index(stmt):
                    return None  # made once, read only by the append
                element, where = made[0].body[0].value, made[0]
            if isinstance(element, cst.Call) and isinstance(element.func, cst.Name) and element.func.value in known:
                return element, where
            return None

        elements = []
        for stmt in body[index + 1:]:
            made = append_of(stmt, body)
            if made is not None:
                elements.append((*made, False))
                continue
            if (
                isinstance(stmt, cst.If) and stmt.orelse is None and isinstance(stmt.body, cst.IndentedBlock)
                and stmt.body.body and all(append_of(s, list(stmt.body.body)) is not None for s in stmt.body.body)
            ):
                if name in {_self_attr(n) for n in _walk(stmt.test)}:
                    break
                for inner in stmt.body.body:
                    elements.append((*append_of(inner, list(stmt.body.body)), True))
        if not elements:
            continue
        # nothing else mentions the list (reads inside the appended layers' arguments,
        # `name=f"layer_._{len(self.layer)}"`, are of the list as it is filled)
        inside = {id(n) for call, _, _ in elements for n in _walk(call)}
        mentions = [
            n for n in _walk(init.body) if _self_attr(n) == name and id(n) not in inside
        ]
        if len(mentions) != 1 + len(elements):
            continue
        out.append((name, elements, first))
    return out
