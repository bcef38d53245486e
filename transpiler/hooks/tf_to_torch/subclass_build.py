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

Anything else in ``build()`` (a size read from ``input_shape``, a loop, a
computation) is returned as the reason the class stays Keras, reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import resolve_call
from .keras_layers import Expr

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
    # attribute -> (add_weight call, its statement, arguments)
    weights: dict[str, tuple[cst.Call, cst.CSTNode, dict]] = field(default_factory=dict)
    # the input's last size, read from build()'s input shape: a keyword-only __init__ parameter
    size_param: str | None = None
    size_attrs: list[str] = field(default_factory=list)  # self.<attr> = input_shape[-1] in build()
    # converted subclasses build() gives a shape: attribute -> their input size (in __init__'s terms)
    block_sizes: dict[str, cst.BaseExpression] = field(default_factory=dict)
    weight_warnings: dict[str, str] = field(default_factory=dict)  # attribute -> warning


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
    if (
        params.posonly_params or params.kwonly_params or isinstance(params.star_arg, cst.Param)
        or params.star_kwarg is not None or not names or names[0] != "self" or len(names) > 2
        or fn.decorators
    ):
        return BuildPlan(fn), "build() takes more than one input shape (or is decorated); create its weights in __init__ from explicit sizes"
    scope = _InitScope(init, set(names))
    walker = _BuildWalker(ctx, BuildPlan(fn), attrs, scope)
    body = list(fn.body.body)
    if body and _is_docstring(body[0]):
        body = body[1:]
    problem = None
    for stmt in body:
        try:
            walker.statement(stmt)
        except Unconvertible as exc:
            problem = problem or str(exc)
    return walker.plan, problem


def _is_docstring(stmt) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


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
        stack.extend(n.children)
    return False


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, (cst.FunctionDef, cst.Lambda, cst.ClassDef)) and n is not node:
            continue
        stack.extend(n.children)


SIZE_NODES = (
    cst.Name, cst.Attribute, cst.Subscript, cst.Integer, cst.BinaryOperation, cst.UnaryOperation, cst.Call,
    cst.Arg, cst.SubscriptElement, cst.Index, cst.Dot, cst.LeftParen, cst.RightParen, cst.BaseBinaryOp,
    cst.BaseUnaryOp, cst.LeftSquareBracket, cst.RightSquareBracket, cst.Comma, cst.BaseParenthesizableWhitespace,
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
        params = [p.name.value for p in plan.fn.params.params]
        self.shape_param = params[1] if len(params) > 1 else None
        self.aliases: dict[str, cst.BaseExpression] = {}  # build() local -> its value
        self.self_aliases: set[str] = set()  # self.<attr> = input_shape[-1]
        assigned: dict[str, int] = {}
        for node in _walk(plan.fn.body):
            if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)):
                target = node.target
                if isinstance(target, cst.Name):
                    assigned[target.value] = assigned.get(target.value, 0) + 1
        self.assigned = assigned
        self.used_names = {n.value for n in _walk(plan.fn.body) if isinstance(n, cst.Name)}

    # -- the input size ------------------------------------------------------

    def _size_name(self, preferred: str | None) -> str:
        """The __init__ parameter that holds the input's last size (chosen once)."""
        if self.plan.size_param is None:
            taken = self.scope.params | set(self.scope.locals) | self.scope.names
            name = None
            for candidate in (preferred, "input_dim", "in_features"):
                if candidate and candidate.isidentifier() and candidate not in taken and candidate != "self" and (
                    candidate == preferred or candidate not in self.used_names
                ):
                    name = candidate
                    break
            if name is None:
                raise Unconvertible("build() reads the input size, but __init__ already uses every name it could take it as")
            self.plan.size_param = name
            self.scope.size_param = name
        return self.plan.size_param

    def _is_last_size(self, node) -> bool:
        """input_shape[-1]"""
        if not (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == self.shape_param):
            return False
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return False
        ok, number = literal_value(node.slice[0].slice.value)
        return ok and number == -1 and not isinstance(number, bool)

    def substitute(self, node):
        """``node`` with build()'s locals written out and the input's last size as the parameter."""
        walker = self

        class Sub(cst.CSTTransformer):
            def leave_Subscript(self, original, updated):
                if walker._is_last_size(original):
                    return cst.Name(walker._size_name(None))
                return updated

            def leave_Name(self, original, updated):
                value = walker.aliases.get(original.value)
                if value is not None:
                    if isinstance(value, (cst.BinaryOperation, cst.UnaryOperation)):
                        return value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
                    return value
                return updated

            def leave_Attribute(self, original, updated):
                if _self_attr(original) in walker.self_aliases:
                    return cst.Name(walker.plan.size_param)
                return updated

        if isinstance(node, cst.Subscript) and self._is_last_size(node):
            return cst.Name(self._size_name(None))
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
        if isinstance(target, cst.Name) and self.assigned.get(target.value) == 1 and target.value != self.shape_param:
            if self._is_last_size(value):
                self.aliases[target.value] = cst.Name(self._size_name(target.value))
                return True
            if not _has_call(value, allow_int=True) and _reads_sizes_only(value):
                self.aliases[target.value] = self.substitute(value)
                return True
            return False
        name = _self_attr(target)
        if name is not None and self._is_last_size(value) and name not in self.self_aliases:
            param = self._size_name(name.lstrip("_") or None)
            if name in self.scope.selfs:
                raise Unconvertible(f"build() sets self.{name} to the input size, and __init__ sets it too")
            self.self_aliases.add(name)
            self.plan.size_attrs.append(name)
            return param is not None
        return False

    def statement(self, stmt) -> None:
        if isinstance(stmt, cst.If) and stmt.orelse is None:
            if self._is_built(stmt.test) and self._only_return(stmt.body):
                return  # if self.built: return
            if self._getattr_guard(stmt.test):
                self._block(stmt.body)
                return
        if isinstance(stmt, cst.With) and len(stmt.items) == 1 and stmt.items[0].asname is None and not stmt.asynchronous:
            item = stmt.items[0].item
            if isinstance(item, cst.Call) and resolve_call(self.ctx, item) in NAME_SCOPES and not any(_has_call(a.value) for a in item.args):
                self.plan.scopes.append(item)
                self._block(stmt.body)
                return
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.small(small, stmt)
            return
        raise _other(stmt)

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
        if self._alias(small):
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
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value == "build":
                if isinstance(func.value, cst.Call) and isinstance(func.value.func, cst.Name) and func.value.func.value == "super" and not func.value.args:
                    if all(a.keyword is None and isinstance(a.value, cst.Name) and a.value.value in (self.shape_param, "None") for a in call.args) and len(call.args) <= 1:
                        return  # super().build(input_shape): only marks the layer built
                name = _self_attr(func.value)
                if name is not None:
                    self._sublayer(name, call, stmt)
                    return
        raise _other(stmt)

    def _shape_arg(self, call: cst.Call):
        args = list(call.args)
        if not args:
            return None
        if len(args) > 1 or (args[0].keyword is not None and args[0].keyword.value != "input_shape") or args[0].star:
            raise _other(call)
        return args[0].value

    def _sublayer(self, name: str, call: cst.Call, stmt) -> None:
        shape = self._shape_arg(call)
        attr = self.attrs.get(name)
        none = shape is None or (isinstance(shape, cst.Name) and shape.value == "None")
        whole = isinstance(shape, cst.Name) and shape.value == self.shape_param and shape.value is not None
        if whole and attr is not None and attr.kind == "layer":
            # self.norm.build(input_shape): its input size is this layer's, an __init__ parameter
            from .keras_layers import TensorInfo, wanted_layout

            if wanted_layout(attr.layer, TensorInfo((None, None))) == "cf":
                raise Unconvertible(
                    f"self.{name}.build({shape.value}): the rank of the input, which a {attr.layer.short} needs, is not known in __init__"
                )
            dims = (None, Expr(cst.Name(self._size_name(None))))
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
            if none:  # nothing to carry over: a layer made elsewhere builds itself on its first call
                self.plan.builds.append(call)
                return
            raise Unconvertible(
                f"build() builds self.{name} with a shape, but __init__ does not make self.{name} as a layer in its own statement"
            )
        if attr.kind == "block" or none:
            # a converted class makes its own sizes; a layer built with no shape (Embedding)
            # has them in its constructor
            if not none and _has_call(shape):
                raise _other(stmt)
            self.plan.builds.append(call)
            return
        if not isinstance(shape, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in shape.elements):
            raise Unconvertible(
                f"self.{name}.build({code_of(shape).strip()}): only a literal shape ([None, None, size]) gives the layer its input size"
            )
        if not shape.elements:
            raise Unconvertible(f"self.{name}.build({code_of(shape).strip()}): an empty shape gives no input size")
        at = self.scope.index_of(attr.statement)
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
        dims = tuple(dims)
        previous = self.plan.shapes.get(name)
        if previous is not None and repr(previous) != repr(dims):
            raise Unconvertible(f"build() builds self.{name} twice with different shapes")
        self.plan.shapes[name] = dims
        self.plan.builds.append(call)

    def _block_size(self, name: str, attr, shape) -> None:
        """A converted subclass that takes its input size in __init__ gets it from the shape
        this build() gives it: the last entry of a literal shape, or this layer's own input size."""
        block = attr.block
        if isinstance(shape, cst.Name) and shape.value == self.shape_param:
            self.plan.block_sizes[name] = cst.Name(self._size_name(None))
            return
        if isinstance(shape, (cst.List, cst.Tuple)) and shape.elements and not any(
            isinstance(e, cst.StarredElement) for e in shape.elements
        ):
            last = shape.elements[-1].value
            mapped = self.scope.expression(self.substitute(last), self.scope.index_of(attr.statement))
            if mapped is not None:
                self.plan.block_sizes[name] = mapped
                return
        raise Unconvertible(
            f"self.{name} ({block.name}) takes the size of its input as {block.size_param}=, and the shape"
            f" build() gives it ({code_of(shape).strip()}) does not say it where __init__ makes self.{name}"
        )

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
        if not isinstance(shape, (cst.List, cst.Tuple)) or any(isinstance(e, cst.StarredElement) for e in shape.elements):
            raise Unconvertible(
                f"build(): self.{name} = self.add_weight(...) needs a literal shape of explicit sizes to be made in __init__"
            )
        end = len(self.scope.top)
        sizes = []
        for element in shape.elements:
            substituted = self.substitute(element.value)
            mapped = self.scope.expression(substituted, end)
            if mapped is None and self.shape_param in {n.value for n in _walk(substituted) if isinstance(n, cst.Name)}:
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
        bound["shape"] = cst.parse_expression("(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")")
        for key in ("trainable", "name", "dtype"):
            if key in bound:
                ok, value = literal_value(bound[key])
                if key == "dtype" and not ok and resolve_call(self.ctx, bound[key]) in FLOAT32:
                    continue
                if key == "dtype" and _self_attr(bound[key]) in ("variable_dtype", "dtype"):
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
        self.build_params = build_params
        self.size_param: str | None = None  # the input size __init__ takes (see _BuildWalker._size_name)
        self.top = list(init.body.body) if init is not None else []
        self.params: set[str] = set()
        self.selfs: dict[str, list] = {}  # attribute -> [(top index, value or None, top-level)]
        self.locals: dict[str, list] = {}  # local name -> [(top index, top-level)]
        self.names: set[str] = set()  # every name __init__ mentions (a new parameter must not shadow one)
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
                    scope._target(t.target, index, top and len(node.targets) == 1, node.value)

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
        return cst.parse_expression(code_of(mapped).strip())  # fresh nodes

    def _map(self, node, at: int, where: str, seen: set):
        if isinstance(node, cst.Integer):
            return node
        if isinstance(node, cst.Name):
            return node if self._name_ok(node.value, at, where) else None
        if isinstance(node, cst.Attribute):
            name = _self_attr(node)
            if name is not None:
                return self._self_value(node, name, at, seen)
            base = self._map(node.value, at, where, seen)
            return None if base is None else node.with_changes(value=_paren(node.value, base))
        if isinstance(node, cst.Subscript):
            if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
                return None
            index = node.slice[0].slice.value
            ok, number = literal_value(index)
            if not (ok and isinstance(number, int) and not isinstance(number, bool)):
                return None
            base = self._map(node.value, at, where, seen)
            return None if base is None else node.with_changes(value=_paren(node.value, base))
        if isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide)
        ):
            left = self._map(node.left, at, where, seen)
            right = self._map(node.right, at, where, seen)
            if left is None or right is None:
                return None
            return node.with_changes(left=_paren(node.left, left), right=_paren(node.right, right))
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
            inner = self._map(node.expression, at, where, seen)
            return None if inner is None else node.with_changes(expression=_paren(node.expression, inner))
        if (
            isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "int"
            and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star
            and self._name_ok("int", at, where)
        ):
            inner = self._map(node.args[0].value, at, where, seen)
            return None if inner is None else node.with_changes(args=[node.args[0].with_changes(value=inner)])
        return None

    def _name_ok(self, name: str, at: int, where: str) -> bool:
        if name == "self":
            return False
        if self.size_param is not None and name == self.size_param:
            return True
        if where == "build":
            # a global for build(); __init__ must not bind the name to something else
            return name not in self.build_params and name not in self.params and name not in self.locals
        if name in self.params:
            return name not in self.locals
        if name in self.locals:
            bindings = self.locals[name]
            return len(bindings) == 1 and bindings[0][1] and bindings[0][0] < at
        return True  # a global

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
        if len(assigns) != 1:
            return None
        index, value, top = assigns[0]
        if not top:
            return None
        if index < at:
            return node  # assigned before: self.<name> holds it there
        if value is None:
            return None
        return self._map(value, at, "init", seen | {name})


def _paren(original, mapped):
    """``mapped`` in the place of ``original`` inside a larger expression: an attribute
    replaced by arithmetic (self.in_dim -> config.hidden_size + 1) gets parentheses."""
    if (
        not isinstance(original, (cst.BinaryOperation, cst.UnaryOperation))
        and isinstance(mapped, (cst.BinaryOperation, cst.UnaryOperation)) and not mapped.lpar
    ):
        return mapped.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return mapped
