"""Keras functional models built in a subclass' ``__init__`` -> nn.Module classes.

Keras-hub's backbones, and code written like them, make their layers in
``__init__``, build a functional graph from ``keras.Input`` s with them, and hand
it to the base class::

    class TinyBackbone(keras.Model):
        def __init__(self, vocab, hidden, **kwargs):
            self.embedding = keras.layers.Embedding(vocab, hidden)
            self.norm = keras.layers.LayerNormalization()
            token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
            x = self.norm(self.embedding(token_ids))
            super().__init__(inputs={"token_ids": token_ids}, outputs=x, **kwargs)
            self.hidden = hidden

The class becomes an ``nn.Module``: ``super().__init__()`` first, the layers made in
``__init__`` become modules in place (their sizes propagated from the ``keras.Input``
shapes through the graph, as for a functional model: functional.py), the graph
statements leave ``__init__`` for ``forward()``, whose parameters are the inputs
(a dict of inputs: one dict argument, called as the Keras model was); the
statements after the ``super().__init__`` call (the config attributes) stay.

A graph may also start from another model's inputs (keras-hub's tasks: ``inputs =
backbone.input; x = backbone(inputs)[...]`` with ``self.backbone = backbone``): forward()
takes what that model takes and calls ``self.backbone``, which must be the model's PyTorch
module (reported as a warning).

Loops and conditions of the graph (``for layer in self.layers:``, ``if pooling == "mean":``)
stay loops and conditions in forward(): lists of layers become nn.ModuleLists, layers made
in a graph loop become nn.ModuleLists that __init__ fills by the same loop, a layer made
under a condition is made under it (Compound, Plain; _plan_graph plans one pass of a loop
and checks that the passes keep the shapes they carry).

All or nothing: a graph the converter cannot follow (a condition on tensors, a layer from
another file, a helper function that may build layers, a member of the Keras base class)
keeps the whole class as it was, with the reason (a torch module in a Keras graph
runs under neither framework).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of, template_node
from ...engine.calls import Unconvertible
from ...engine.query import resolve_call
from ...engine.walk import in_source_order as _walk, method_named as _method, top_level_imports
from .functional import (
    App,
    Graph,
    Op,
    _consumers,
    _elementwise,
    _first_consumer_wants,
    _names_outside,
    _plan_app,
    Rename,
    _Tracer,
    layer_entries,
    state_code,
    used_names,
)
from .keras_layers import Expr, LayerCall, TensorInfo, lazy_inits, plan_layer
from .subclass_build import block_keeps_shape
from .models import INPUTS, _layer_call
from . import dtype_policy
from .project_classes import with_mixins
from .signatures import drop_method

API = "keras functional subclass"
MODEL_BASES = {"keras.Model", "keras.models.Model"}
# what an nn.Module has that the class may read on self
MODULE_MEMBERS = {
    "training", "parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children",
    "modules", "named_modules", "state_dict", "load_state_dict", "train", "eval", "to", "cpu", "cuda", "float",
    "double", "half", "apply", "zero_grad", "register_buffer", "register_parameter", "register_module",
    "add_module", "forward", "requires_grad_", "__class__", "__dict__", "__call__",
}
_HINTS = {"dense": "fc", "conv": "conv", "bn": "bn", "pool": "pool", "dropout": "dropout", "flatten": "flatten"}


@dataclass
class InitGraph:
    init: cst.FunctionDef
    call: cst.Call  # super().__init__(inputs=..., outputs=...)
    statement: cst.SimpleStatementLine | None = None
    base: str = "keras.Model"
    foreign_base: str | None = None  # a base from another file, replaced by nn.Module (reported)
    graph: Graph | None = None
    self_layers: dict[str, int] = field(default_factory=dict)  # attribute -> layer key
    self_statements: dict[int, cst.CSTNode] = field(default_factory=dict)  # layer key -> `self.X = Layer(...)`
    blocks: dict[str, object] = field(default_factory=dict)  # attribute -> ClassPlan of a converted class
    others: dict[str, cst.BaseExpression] = field(default_factory=dict)  # attribute -> what else it holds
    input_form: str = "names"  # "names": positional parameters; "dict": one dict parameter
    input_keys: list[str] = field(default_factory=list)
    dict_param: str = "inputs"
    output_form: str = "name"  # "name", "list" or "dict"
    output_keys: list[str] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)  # __init__ name forward() reads -> attribute
    new_stores: list[str] = field(default_factory=list)  # those that need `self.attr = name`
    removed: set[int] = field(default_factory=set)  # statements that leave __init__
    subscripts: set[int] = field(default_factory=set)  # layer arguments that are subscripts of graph tensors
    fake: list[cst.SimpleStatementLine] = field(default_factory=list)  # outputs written inline
    paths: dict[int, list[str]] = field(default_factory=dict)  # layer key -> its modules' state_dict paths
    nested: dict[int, dict[int, list[App]]] = field(default_factory=dict)  # application -> input -> layers applied in it
    head_comments: list = field(default_factory=list)  # comments above the Inputs: they go to forward()
    # the graph starts from another model's inputs (keras-hub's tasks: `inputs = backbone.input`):
    # the name of that model in __init__ (a parameter, or self.X) -> how forward() calls it
    backbone: str | None = None
    backbone_attr: str | None = None
    # graph code under `for` / `if` (graph_loop fixtures): forward() keeps the statement
    items: list = field(default_factory=list)  # forward()'s statements: Op, Compound or Plain, in order
    lists: dict[str, int] = field(default_factory=dict)  # attribute -> the layer key of its elements (nn.ModuleList)
    list_makers: dict[str, cst.CSTNode] = field(default_factory=dict)  # attribute -> `self.X = []` or the list comprehension
    optional: set[int] = field(default_factory=set)  # layers made under a condition
    forward_code: list = field(default_factory=list)  # other code forward() runs (headers, plain statements)
    forward_bound: set[str] = field(default_factory=set)  # names forward() binds itself (loop variables, ...)
    foreign_lists: dict[str, cst.Call] = field(default_factory=dict)  # attribute -> its elements' constructor (unknown class)
    loop_elements: dict[str, str] = field(default_factory=dict)  # graph loop variable -> the list attribute it runs over
    loop_layers: dict[int, Compound] = field(default_factory=dict)  # layer made in a graph loop -> that loop
    loop_names: dict[int, tuple] = field(default_factory=dict)  # such a layer -> (its nn.ModuleList, forward()'s loop variable)
    block_lists: dict[str, tuple] = field(default_factory=dict)  # attribute -> (ClassPlan, constructor call, statement): converted classes
    block_calls: dict[str, cst.Call] = field(default_factory=dict)  # attribute -> the constructor call of its converted class
    # a converted class taking its input size (its build() read it), applied in the graph to a
    # tensor of known size: attribute (or list attribute) -> that size, given where it is made
    block_sizes: dict[str, cst.BaseExpression] = field(default_factory=dict)
    size_needed: dict[str, str] = field(default_factory=dict)  # such attributes the graph applies -> their description

    def apps(self, op: Op) -> list[App]:
        """The layer applications of a graph statement, those inside another one's arguments too."""
        out: list[App] = []
        stack = ([op.app] if op.app else []) + list(op.inline)
        while stack:
            app = stack.pop(0)
            out.append(app)
            for inner in self.nested.get(id(app.call), {}).values():
                stack.extend(inner)
        return out


@dataclass
class Compound:
    """A ``for`` or ``if`` (``elif``/``else``) of the graph: forward() runs the same statement."""

    node: cst.BaseCompoundStatement
    kind: str  # "for" or "if"
    branches: list[list] = field(default_factory=list)  # per body (if, elif..., else): its items
    dead: list[bool] = field(default_factory=list)  # per body: ends with raise
    has_else: bool = False
    assigned: set[str] = field(default_factory=set)
    applies: bool = False  # Keras layers are applied in it
    made: list[int] = field(default_factory=list)  # layers made in the loop's body: one per pass (nn.ModuleLists)
    keep_target: bool = True  # forward() reads the loop variable


@dataclass
class Plain:
    """A statement of a graph loop or condition that is not graph code (``layer = self.blocks[i]``)."""

    statement: cst.CSTNode


# -- finding -----------------------------------------------------------------------

def _self_attr(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _is_super_init(func) -> bool:
    return (
        isinstance(func, cst.Attribute) and func.attr.value == "__init__"
        and isinstance(func.value, cst.Call) and isinstance(func.value.func, cst.Name) and func.value.func.value == "super"
    )


def _model_args(call: cst.Call):
    inputs = outputs = None
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    if positional:
        inputs = positional[0]
    if len(positional) >= 2:
        outputs = positional[1]
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "inputs":
            inputs = a.value
        if a.keyword is not None and a.keyword.value == "outputs":
            outputs = a.value
    return inputs, outputs


def find(ctx, cls: cst.ClassDef) -> InitGraph | None:
    """The class' ``super().__init__(inputs=..., outputs=...)``: its __init__ builds a functional graph."""
    init = _method(cls, "__init__")
    if init is None:
        return None
    has_input = None
    for node in _walk(init.body):
        if not (isinstance(node, cst.Call) and _is_super_init(node.func)):
            continue
        inputs, outputs = _model_args(node)
        if inputs is None or outputs is None:
            continue
        if any(a.keyword is not None and a.keyword.value == "outputs" for a in node.args):
            return InitGraph(init, node)
        if has_input is None:  # two positional arguments: a graph only with a keras.Input in __init__
            has_input = any(isinstance(n, cst.Call) and resolve_call(ctx, n) in INPUTS for n in _walk(init.body))
        if has_input:
            return InitGraph(init, node)
    return None


# -- analysis ------------------------------------------------------------------------

def analyze(ctx, plan, known: dict) -> None:
    """Plan the conversion of ``plan`` (a ClassPlan whose ``graph`` find() gave); what stops
    it goes to ``plan.problems`` (the class then stays as it was)."""
    g = plan.graph
    try:
        _check_base(ctx, plan, g)
        g.statement = _own_statement(g)
        _trace(ctx, plan, g, known)
        _check_class(ctx, plan, g)
        _stored_names(plan, g)
    except Unconvertible as exc:
        plan.problems.append(str(exc))
        return
    graph = g.graph
    # how a class holding this one calls it (subclass.py's blocks)
    plan.call_params = list(graph.inputs) if g.input_form == "names" else ["inputs"]
    first = graph.input_infos[graph.inputs[0]] if graph.inputs else TensorInfo(None)
    plan.input_layout = first.layout if g.input_form == "names" else "keras"
    out = graph.infos.get(graph.outputs[0]) if graph.outputs and g.output_form == "name" else None
    plan.output_layout = out.layout if out is not None else "keras"


def _check_base(ctx, plan, g: InitGraph) -> None:
    cls = plan.node
    if len(cls.bases) != 1 or cls.keywords:
        raise Unconvertible("a functional model with several bases (or a metaclass): which base gives what is not known")
    node = cls.bases[0].value
    api = resolve_call(ctx, node) if isinstance(node, (cst.Name, cst.Attribute)) else None
    if api in MODEL_BASES:
        return
    text = code_of(node).strip()
    if api is not None:
        raise Unconvertible(f"a functional model (super().__init__(inputs=..., outputs=...)) on {api}: not supported")
    if isinstance(node, cst.Name) and any(
        isinstance(s, cst.ClassDef) and s.name.value == node.value for s in ctx.module.body
    ):
        raise Unconvertible(
            f"its base {text} is a class of this file: a functional model built on it is not converted"
            f" (what {text} adds would have to go into the nn.Module by hand)"
        )
    g.base = text
    origin = _imported_from(ctx, node)
    g.foreign_base = f"{text} (from {origin})" if origin else text


def _imported_from(ctx, node) -> str | None:
    head = node
    while isinstance(head, cst.Attribute):
        head = head.value
    if not isinstance(head, cst.Name):
        return None
    for statement, alias, bound in top_level_imports(ctx.module):
        if isinstance(statement, cst.ImportFrom):
            if isinstance(bound, cst.Name) and bound.value == head.value:
                module = code_of(statement.module).strip() if statement.module else ""
                return "." * len(statement.relative) + module
        elif code_of(bound).strip().split(".")[0] == head.value:
            return code_of(alias.name).strip()
    return None


def _own_statement(g: InitGraph) -> cst.SimpleStatementLine:
    for stmt in g.init.body.body:
        if (
            isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and isinstance(stmt.body[0], cst.Expr) and stmt.body[0].value is g.call
        ):
            return stmt
    raise Unconvertible(
        "super().__init__(inputs=..., outputs=...) is not a statement of its own in __init__'s body"
        " (a condition or a loop around it decides the graph)"
    )


class _InitTracer(_Tracer):
    """functional.py's tracer, reading layers made on ``self`` too (``self.dense(x)``)."""

    def __init__(self, ctx, g: InitGraph, known: dict) -> None:
        super().__init__(ctx)
        self.g = g
        self.known = known
        self.items = g.items  # where the statement being read goes in forward()
        self.depth = 0  # inside graph loops / conditions
        self.loops = 0
        self.pending: dict[str, cst.CSTNode] = {}  # `self.X = []`: a list a loop may fill with layers
        self.stack: list[Compound] = []  # the graph's loops and conditions around the statement read

    def graph_names(self) -> set[str]:
        return self.symbolic | set(self.layer_vars)

    def layer_of(self, func):
        attr = _self_attr(func)
        if attr is not None:
            return self.g.self_layers.get(attr)
        if isinstance(func, cst.Subscript) and _self_attr(func.value) in self.g.lists:
            return self.g.lists[_self_attr(func.value)]  # self.layers[i](x)
        return super().layer_of(func)

    def _new_layer(self, call, layer) -> int:
        key = id(call)
        self.layers[key] = layer
        self.layer_order.append(key)
        self.ctx.owned.add(key)
        return key

    def layer_list(self, stmt) -> bool:
        """``self.X = [Layer(...) for ...]``, and a loop of __init__ that appends layers to
        ``self.X = []``: the elements of an nn.ModuleList; a condition that makes layers on self
        (``if project_dim: self.project = Dense(...)``): made under the same condition."""
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
            small = stmt.body[0]
            name = _self_attr(small.targets[0].target) if len(small.targets) == 1 else None
            value = small.value
            if name is None or used_names(value) & self.graph_names():
                return False
            if isinstance(value, cst.List) and not value.elements:
                self.pending[name] = value
                return False  # also an ordinary attribute until a loop fills it
            if isinstance(value, cst.ListComp) and isinstance(value.elt, cst.Call):
                element = self._element(value.elt)
                if element is None:
                    self.g.foreign_lists.setdefault(name, value.elt)
                if element is None or name in self.g.lists or name in self.g.self_layers or name in self.g.block_lists:
                    return False
                if isinstance(element, LayerCall):
                    self.g.lists[name] = self._new_layer(value.elt, element)
                else:
                    self.g.block_lists[name] = (element, value.elt, stmt)
                self.g.list_makers[name] = value
                return True
            return False
        if isinstance(stmt, cst.For) and not (used_names(stmt) & self.graph_names()):
            return self._list_loop(stmt)
        if isinstance(stmt, cst.If) and not (used_names(stmt) & self.graph_names()):
            return self._optional_layers(stmt)
        return False

    def _list_loop(self, stmt: cst.For) -> bool:
        if not isinstance(stmt.body, cst.IndentedBlock) or stmt.orelse is not None:
            return False
        made: dict[str, tuple] = {}  # local name -> (call, layer or a class of this file)
        calls: dict[str, cst.Call] = {}  # local name -> any call
        appended: list[tuple[str, cst.Call, object]] = []
        for inner in stmt.body.body:
            if not (isinstance(inner, cst.SimpleStatementLine) and len(inner.body) == 1):
                return False
            small = inner.body[0]
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                element = self._element(small.value)
                if len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                    calls[small.targets[0].target.value] = small.value
                    if element is not None:
                        made[small.targets[0].target.value] = (small.value, element)
                continue
            call = small.value if isinstance(small, cst.Expr) else None
            if (
                isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
                and _self_attr(call.func.value) in self.pending and len(call.args) == 1
            ):
                arg = call.args[0].value
                name = _self_attr(call.func.value)
                if isinstance(arg, cst.Name) and arg.value in made:
                    appended.append((name, *made[arg.value]))
                elif isinstance(arg, cst.Call) and self._element(arg) is not None:
                    appended.append((name, arg, self._element(arg)))
                elif isinstance(arg, cst.Call) or (isinstance(arg, cst.Name) and arg.value in calls):
                    self.g.foreign_lists.setdefault(name, arg if isinstance(arg, cst.Call) else calls[arg.value])
        if not appended or len(appended) != len({id(c) for _, c, _ in appended}) or len(made) > len(appended):
            return False
        for name, call, element in appended:
            if name in self.g.lists or name in self.g.block_lists:
                return False
        for name, call, element in appended:
            if isinstance(element, LayerCall):
                self.g.lists[name] = self._new_layer(call, element)
            else:
                self.g.block_lists[name] = (element, call, stmt)
            self.g.list_makers[name] = self.pending[name]
        return True

    def _element(self, call: cst.Call):
        """What a list's element constructor makes: a Keras layer (LayerCall), a class of this
        file (its ClassPlan), or None."""
        layer = _layer_call(self.ctx, call)
        if layer is not None:
            return layer
        if isinstance(call.func, cst.Name) and call.func.value in self.known:
            return self.known[call.func.value]
        return None

    def _optional_layers(self, stmt: cst.If) -> bool:
        bodies, node = [], stmt
        while node is not None:
            block = node.body
            if not isinstance(block, cst.IndentedBlock):
                return False
            bodies.append(list(block.body))
            node = node.orelse
            if isinstance(node, cst.Else):
                bodies.append(list(node.body.body) if isinstance(node.body, cst.IndentedBlock) else [None])
                node = None
        statements = [s for body in bodies for s in body]
        if not any(isinstance(s, cst.SimpleStatementLine) and any(
            isinstance(n, cst.Call) and _layer_call(self.ctx, n) is not None for n in _walk(s)) for s in statements):
            return False
        nones = []
        for s in statements:
            if not (isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Assign)
                    and len(s.body[0].targets) == 1 and _self_attr(s.body[0].targets[0].target) is not None):
                return False
            value = s.body[0].value
            if isinstance(value, cst.Name) and value.value == "None":
                nones.append(_self_attr(s.body[0].targets[0].target))
                continue
            if _layer_call(self.ctx, value) is None:
                return False
        before = set(self.g.self_layers)
        for s in statements:
            if not (isinstance(s.body[0].value, cst.Name) and s.body[0].value.value == "None"):
                self.self_assignment(s)
        made = set(self.g.self_layers) - before
        if any(n not in made for n in nones):
            return False  # unreachable in practice: the check above raised first
        for attr in made:
            self.g.optional.add(self.g.self_layers[attr])
        return True

    def self_assignment(self, stmt) -> bool:
        """``self.X = <layer>`` (a module), ``self.X = Block(...)`` (a converted class), or another value."""
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
            return False
        small = stmt.body[0]
        if len(small.targets) != 1 or _self_attr(small.targets[0].target) is None:
            return False
        name = _self_attr(small.targets[0].target)
        value = small.value
        if used_names(value) & self.graph_names():
            raise Unconvertible(f"a graph tensor kept on the model ({code_of(stmt).strip()[:60]})")
        layer = _layer_call(self.ctx, value)
        if (layer is not None or name in self.g.self_layers) and (
            name in self.g.self_layers or name in self.g.blocks or name in self.g.others
        ):
            raise Unconvertible(f"self.{name} is assigned more than once in __init__, a layer at least once")
        if layer is not None:
            key = id(value)
            self.layers[key] = layer
            self.layer_order.append(key)
            self.ctx.owned.add(key)
            self.g.self_layers[name] = key
            self.g.self_statements[key] = stmt
            return True
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in self.known:
            self.g.blocks[name] = self.known[value.func.value]
            self.g.block_calls[name] = value
            return True
        self.g.others.setdefault(name, value)
        return True

    def statement(self, stmt) -> None:
        if self.depth and isinstance(stmt, cst.SimpleStatementLine) and any(
            isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and any(
                _self_attr(t) for t in ([x.target for x in n.targets] if isinstance(n, cst.Assign) else [n.target]))
            for n in stmt.body
        ):
            raise Unconvertible(f"an attribute set inside the graph's loop or condition: {_head(stmt)}")
        if not self.depth and self.layer_list(stmt):
            return
        if self.self_assignment(stmt):
            return
        simple = isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
        uses = used_names(stmt) & self.graph_names()
        if simple and isinstance(stmt.body[0], cst.Expr) and uses:
            raise Unconvertible(f"a statement that uses graph tensors without assigning them: {_head(stmt)}")
        if isinstance(stmt, cst.BaseCompoundStatement) and (uses or self.depth):
            self.compound(stmt)
            return
        ops, made = len(self.ops), len(self.layer_order)
        alias = self._alias(stmt)
        if not alias:
            super().statement(stmt)
        if len(self.ops) > ops:
            self.items.extend(self.ops[ops:])
        elif self.depth and not any(k in self.layer_statements for k in self.layer_order[made:]):
            self.items.append(Plain(stmt))
            self.g.forward_code.append(stmt)
            if simple and isinstance(stmt.body[0], cst.Assign):
                self.g.forward_bound.update(_target_names([t.target for t in stmt.body[0].targets]))
        if self.depth:
            for key in self.layer_order[made:]:
                if self.loops:
                    loop = self.stack[-1]
                    if loop.kind != "for" or self.loops > 1:
                        raise Unconvertible(
                            f"a {self.layers[key].short} is made inside the graph's loop under a condition or"
                            f" another loop ({_head(stmt)}): not converted yet; make them in __init__ (a list of layers) and loop over it"
                        )
                    loop.made.append(key)  # one per pass: an nn.ModuleList made by the same loop
                    self.g.loop_layers[key] = loop
                    continue
                self.g.optional.add(key)  # made under a condition: a module made in __init__ under it

    def _alias(self, stmt) -> bool:
        """``layer = self.layers[i]`` in a graph loop: ``layer`` is that list's layer."""
        if not (self.depth and isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
            return False
        small = stmt.body[0]
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
            return False
        value = small.value
        if isinstance(value, cst.Subscript) and _self_attr(value.value) in self.g.lists:
            name = small.targets[0].target.value
            self.layer_vars[name] = self.g.lists[_self_attr(value.value)]
            self.symbolic.discard(name)
            return True
        return False

    def compound(self, stmt) -> None:
        """A loop or a condition of the graph: its statements are read as the graph's, and forward()
        runs the same statement. The loop must run over values known when the model is built
        (a list of layers, a range of a constructor argument); a condition must not read tensors."""
        if isinstance(stmt, cst.For) and stmt.orelse is None and stmt.asynchronous is None:
            if used_names(stmt.iter) & self.graph_names():
                raise Unconvertible(
                    f"the graph's loop runs over graph tensors ({_head(stmt)} ...): a loop over tensors (or a"
                    " structure of them) is not converted yet"
                )
            names = _target_names([stmt.target])
            if set(names) & self.graph_names():
                raise Unconvertible(f"the loop variable of {_head(stmt)} is a graph tensor")
            bound = {}
            element = stmt.iter
            target = stmt.target
            if (
                isinstance(element, cst.Call) and isinstance(element.func, cst.Name) and element.func.value == "enumerate"
                and element.args and isinstance(target, cst.Tuple) and len(target.elements) == 2
            ):
                element, target = element.args[0].value, target.elements[1].value
            if _self_attr(element) in self.g.lists and isinstance(target, cst.Name):
                bound[target.value] = self.g.lists[_self_attr(element)]
            if _self_attr(element) is not None and isinstance(target, cst.Name):
                self.g.loop_elements[target.value] = _self_attr(element)
            c = Compound(stmt, "for", [[]], [False])
            self.g.forward_code.append(stmt.iter)
            self.g.forward_bound.update(names)
            self.loops += 1
            self.layer_vars.update(bound)
            self._read(c, 0, stmt.body, stmt)
            for name in bound:
                self.layer_vars.pop(name, None)
            self.loops -= 1
            if c.made:
                self._loop_layers(c, names)
            return
        if isinstance(stmt, cst.If):
            c = Compound(stmt, "if")
            node = stmt
            entry, union = set(self.symbolic), set(self.symbolic)

            def fresh() -> None:  # each branch starts from the tensors known before the condition
                union.update(self.symbolic)
                self.symbolic.clear()
                self.symbolic.update(entry)

            while node is not None:
                fresh()
                if used_names(node.test) & self.graph_names():
                    raise Unconvertible(
                        f"the graph's condition reads graph tensors ({_head(node)} ...): what it reads of Keras's"
                        " symbolic tensors (a shape, a value) is not converted"
                    )
                self.g.forward_code.append(node.test)
                c.branches.append([])
                c.dead.append(False)
                self._read(c, len(c.branches) - 1, node.body, stmt)
                node = node.orelse
                if isinstance(node, cst.Else):
                    fresh()
                    c.has_else = True
                    c.branches.append([])
                    c.dead.append(False)
                    self._read(c, len(c.branches) - 1, node.body, stmt)
                    node = None
            union.update(self.symbolic)
            self.symbolic.update(union)
            return
        raise Unconvertible(
            f"the graph is built in a {type(stmt).__name__.lower()} statement ({_head(stmt)} ...): only `for` loops over"
            " layers or values known when the model is built, and `if` on such values, are converted"
        )

    def _loop_layers(self, c: Compound, names: list[str]) -> None:
        """Layers made in the loop's body: __init__ makes them by the same loop, into
        nn.ModuleLists; forward() loops over those (with the loop's values if it reads them)."""
        calls = {id(self.layers[k].call) for k in c.made}
        body_bound = set()
        reads = set()
        for node in c.node.body.body:
            for n in _walk(node):
                if isinstance(n, cst.Assign):
                    body_bound.update(_target_names([t.target for t in n.targets]))
            reads |= _names_outside(node, calls)
        for key in c.made:
            late = used_names(self.layers[key].call) & body_bound
            if late:
                raise Unconvertible(
                    f"a {self.layers[key].short} made in the graph's loop ({_head(c.node)} ...) reads"
                    f" {', '.join(sorted(late))}, computed in the loop: __init__ cannot make it by the same loop"
                )
        c.keep_target = bool(set(names) & reads)
        if not c.keep_target:
            self.g.forward_code = [n for n in self.g.forward_code if n is not c.node.iter]

    def _read(self, c: Compound, i: int, block, stmt) -> None:
        if not isinstance(block, cst.IndentedBlock):
            raise Unconvertible(f"a one-line body ({_head(stmt)} ...): write it on its own lines")
        saved = self.items
        if not any(x is c for x in saved):
            saved.append(c)
        self.items = c.branches[i]
        self.stack.append(c)
        self.depth += 1
        ops = len(self.ops)
        for inner in block.body:
            self.statement(inner)
        self.depth -= 1
        self.stack.pop()
        self.items = saved
        body = list(block.body)
        last = body[-1] if body else None
        c.dead[i] = isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Raise)
        for op in self.ops[ops:]:
            c.assigned.add(op.target)
            c.assigned.update(op.states)
            c.applies = c.applies or bool(self.g.apps(op))

    def application(self, node) -> App | None:
        """As functional.py's, and a layer applied to an expression over graph tensors: a
        subscript (``self.pooled_dense(x[:, 0, :])``), arithmetic with layers applied inside
        (``self.norm(x + self.dense(h))``), a tuple of them (``self.add((self.a(x), self.b(y)))``)."""
        if not isinstance(node, cst.Call):
            return None
        found = self.applied_layer(node)
        if found is None:
            return None
        key, args = found
        inputs, exprs, nested = [], [], {}
        for a in args:
            if a.keyword is not None:
                if a.keyword.value in ("training", "mask"):
                    continue
                raise Unconvertible(f"a layer called with {a.keyword.value}=: not supported yet")
            if a.star:
                raise Unconvertible(f"a layer called with {a.star}{code_of(a.value).strip()[:40]}: not supported")
            group = a.value
            values = [el.value for el in group.elements] if isinstance(group, (cst.List, cst.Tuple)) else [group]
            for v in values:
                if isinstance(v, cst.Name) and v.value in self.symbolic:
                    inputs.append(v.value)
                    exprs.append(None)
                    continue
                read = used_names(v) & self.symbolic
                inner = self._inline_applications(v)
                if not read and not inner:
                    raise Unconvertible(f"a layer called on something that is not a graph tensor: {code_of(v).strip()[:60]}")
                if isinstance(v, cst.Subscript) and isinstance(v.value, cst.Name) and v.value.value in self.symbolic and not inner:
                    self.g.subscripts.add(id(v))
                inputs.append(sorted(read)[0] if read else "")
                exprs.append(v)
                if inner:
                    nested[len(inputs) - 1] = inner
        app = App(key, inputs, exprs, node)
        if nested:
            self.g.nested[id(node)] = nested
        return app


def _head(stmt) -> str:
    """A statement's code on one line (a compound statement's first line), for a message."""
    lines = [line.strip() for line in code_of(stmt).strip().splitlines() if line.strip() and not line.strip().startswith("#")]
    if isinstance(stmt, cst.BaseCompoundStatement):
        lines = lines[:1]
    text = " ".join(" ".join(lines).split()).replace("( ", "(").replace("{ ", "{").replace("[ ", "[")
    return text if len(text) <= 70 else text[:67] + "..."


def _structure(node):
    """(form, keys, values) of ``inputs=``/``outputs=``: a value, a list or tuple, a dict with string keys."""
    if isinstance(node, (cst.List, cst.Tuple)):
        if any(not isinstance(el, cst.Element) for el in node.elements):
            return None
        return "list", [], [el.value for el in node.elements]
    if isinstance(node, cst.Dict):
        keys, values = [], []
        for el in node.elements:
            if not (isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString)):
                return None
            keys.append(el.key.evaluated_value)
            values.append(el.value)
        return "dict", keys, values
    return "name", [], [node]


def _assignment(body, name: str):
    """The statements of ``body`` that assign ``name`` (a plain name target)."""
    return [
        s for s in body
        if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Assign)
        and any(isinstance(t.target, cst.Name) and t.target.value == name for t in s.body[0].targets)
    ]


def _inputs(ctx, g: InitGraph, body: list, index: int):
    """The graph's inputs: (form, keys, names), checked before the graph is traced (an input that
    is not a keras.Input is the reason to name), and the statement that gathered them, if any
    (``inputs = {"token_ids": token_ids, ...}``)."""
    inputs_node, _ = _model_args(g.call)
    gathered = None
    if isinstance(inputs_node, cst.Name):
        made = _assignment(body[:index], inputs_node.value)
        if len(made) == 1 and isinstance(made[0].body[0].value, (cst.Dict, cst.List, cst.Tuple)):
            uses = [s for s in body if s is not made[0] and inputs_node.value in used_names(s)]
            if uses == [g.statement]:
                gathered = made[0]
                inputs_node = made[0].body[0].value
    if isinstance(inputs_node, cst.Name):
        made = _assignment(body[:index], inputs_node.value)
        if len(made) == 1 and _backbone_input(g, made[0].body[0].value):
            return "backbone", [], [inputs_node.value], None
    shape = _structure(inputs_node)
    if shape is None or any(not isinstance(v, cst.Name) for v in shape[2]):
        raise Unconvertible("inputs= must be a keras.Input, or a list or a dict (string keys) of them")
    form, keys, values = shape
    names = [v.value for v in values]
    for name in names:
        made = _assignment(body[:index], name)
        value = made[-1].body[0].value if made else None
        if not (len(made) == 1 and isinstance(value, cst.Call) and resolve_call(ctx, value) in INPUTS):
            raise Unconvertible(
                f"input {name!r} is not a keras.Input made in __init__" + (f" ({_head(made[-1])})" if made else "")
                + ": the graph starts from another model or value"
            )
    return form, keys, names, gathered


def _backbone_input(g: InitGraph, value) -> bool:
    """``backbone.input`` (``backbone`` a parameter of __init__ that it keeps as ``self.backbone``)
    or ``self.backbone.input``: the graph starts from that model's inputs; g records the model."""
    if not (isinstance(value, cst.Attribute) and value.attr.value == "input"):
        return False
    owner = value.value
    params = {p.name.value for p in (*g.init.params.params, *g.init.params.kwonly_params)}
    stores = {}
    for stmt in g.init.body.body:
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
            small = stmt.body[0]
            attr = _self_attr(small.targets[0].target) if len(small.targets) == 1 else None
            if attr is not None:
                stores.setdefault(attr, []).append(small.value)
    if isinstance(owner, cst.Name) and owner.value in params:
        held = [a for a, values in stores.items() if any(isinstance(v, cst.Name) and v.value == owner.value for v in values)]
        if len(held) == 1 and all(isinstance(v, cst.Name) and v.value == owner.value for v in stores[held[0]]):
            g.backbone, g.backbone_attr = owner.value, held[0]
            return True
        return False
    attr = _self_attr(owner)
    if attr is not None and len(stores.get(attr, [])) == 1:
        g.backbone, g.backbone_attr = None, attr
        return True
    return False


def _trace(ctx, plan, g: InitGraph, known: dict) -> None:
    body = list(g.init.body.body)
    index = body.index(g.statement)
    form, keys, inputs, gathered = _inputs(ctx, g, body, index)
    g.input_form = "dict" if form == "dict" else "names"
    g.input_keys = keys
    if gathered is not None:
        g.removed.add(id(gathered))
    tracer = _InitTracer(ctx, g, known)
    started = None
    if form == "backbone":
        # forward() takes what the backbone takes (a tensor or a dict of them), of unknown shape
        started = _assignment(body[:index], inputs[0])[0]
        tracer.inputs[inputs[0]] = None
        tracer.input_statements[inputs[0]] = started
        tracer.symbolic.add(inputs[0])
    for stmt in body[:index]:
        if stmt is not gathered and stmt is not started:
            tracer.statement(stmt)
    for stmt in body[index + 1:]:
        if used_names(stmt) & tracer.graph_names():
            raise Unconvertible(f"the graph goes on after super().__init__(...): {_head(stmt)}")
        tracer.self_assignment(stmt)  # layers made after it: modules too
    _, outputs_node = _model_args(g.call)
    for name in inputs:
        if name not in tracer.inputs:
            raise Unconvertible(f"input {name!r} is not a keras.Input made in __init__")
    for name in tracer.inputs:
        if name not in inputs:
            raise Unconvertible(f"keras.Input {name!r} is not one of inputs=")
    shape = _structure(outputs_node)
    if shape is None:
        raise Unconvertible("outputs= must be graph tensors, or a list or a dict (string keys) of them")
    form, keys, values = shape
    g.output_form, g.output_keys = form, keys
    outputs = []
    for i, value in enumerate(values):
        if isinstance(value, cst.Name) and value.value in tracer.symbolic:
            outputs.append(value.value)
            continue
        name = _fresh(f"output_{i}" if len(values) > 1 else "outputs", tracer.graph_names() | used_names(g.init))
        fake = cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=value)])
        tracer.statement(fake)
        if not tracer.ops or tracer.ops[-1].statement is not fake:
            raise Unconvertible(f"outputs= must be graph tensors: {code_of(value).strip()[:60]}")
        g.fake.append(fake)
        outputs.append(name)
    # every graph statement goes to forward(), in order (what the outputs do not need too: it stays code)
    used_keys: list[int] = []
    for op in tracer.ops:
        for app in g.apps(op):
            if app.layer_key not in used_keys:
                used_keys.append(app.layer_key)
    for key, stmt in tracer.layer_statements.items():
        if key not in used_keys:
            raise Unconvertible(f"a layer made but not applied in the graph: {code_of(stmt).strip()[:60]}")
    self_keys = set(g.self_layers.values())
    list_keys = set(g.lists.values())
    order = [k for k in tracer.layer_order if k in used_keys or k in self_keys or k in list_keys]
    graph = Graph(plan.name, g.call, inputs, outputs, form == "name", list(tracer.ops),
                  {k: tracer.layers[k] for k in order}, order,
                  {k: tracer.var_of[k] for k in order if k in tracer.var_of})
    for name in inputs:
        graph.input_infos[name] = TensorInfo(tracer.inputs[name])
        g.removed.add(id(tracer.input_statements[name]))
        graph.input_calls[name] = tracer.input_statements[name].body[0].value
    for stmt in tracer.layer_statements.values():
        g.removed.add(id(stmt))
    for op in tracer.ops:
        g.removed.add(id(op.statement))
    for item in g.items:
        if isinstance(item, Compound):
            g.removed.add(id(item.node))
    ops = {id(op.statement) for op in tracer.ops} | {id(i.node) for i in g.items if isinstance(i, Compound)}
    for stmt in body[:index]:
        if id(stmt) in g.removed and id(stmt) not in ops:
            g.head_comments.extend(_comments(stmt))
    g.graph = graph
    _check_forward_calls(ctx, plan, g)  # a layer from another file is the reason to name, before sizes
    _plan_graph(ctx, graph, g)
    for attr, what in g.size_needed.items():
        if attr not in g.block_sizes:
            raise Unconvertible(
                f"{what} takes the size of its input in its constructor, and the graph applies it other than as"
                " `x = self.layer(x, ...)`, so the size is not known where it is made"
            )


def _fresh(base: str, taken: set[str]) -> str:
    name = base
    while name in taken:
        name += "_"
    return name


def _plan_graph(ctx, graph: Graph, g: InitGraph) -> None:
    """functional._plan, with layers applied to subscripts of graph tensors, and the layers
    made on self that the graph does not apply (their input is not known)."""
    infos = graph.infos
    for name in graph.inputs:
        x = graph.input_infos[name]
        if x.rank and x.rank >= 2 and _first_consumer_wants(graph, name) == "cf":
            x = TensorInfo(x.shape, "cf")
        graph.input_infos[name] = x
        infos[name] = x
    consumers = _consumers(graph)

    def plan(app: App) -> None:
        saved = list(app.inputs)
        nested = g.nested.get(id(app.call), {})
        for i, expr in enumerate(app.exprs):
            if expr is None:
                continue
            for inner in nested.get(i, []):
                plan(inner)
            key = f"<{id(expr)}>"
            if id(expr) in g.subscripts:
                infos[key] = _subscript_info(expr, infos[app.inputs[i]])
            else:
                infos[key] = _expression_info(ctx, expr, nested.get(i, []), infos)
            app.inputs[i] = key
        _plan_app(graph, app, infos, consumers)
        app.inputs[:] = saved

    def plan_op(op: Op) -> None:
        for app in ([op.app] if op.app else []) + op.inline:
            try:
                plan(app)
            except Unconvertible as exc:
                raise Unconvertible(f"{_graph_statement(ctx, op)}: {exc}") from None
        if op.app is not None:
            infos[op.target] = op.app.plan.out
            for name in op.states:
                infos[name] = op.app.plan.state_out or TensorInfo(None)
            return
        applied = _block_application(g, op)
        if applied is not None:
            _plan_block_application(g, op, applied, infos)
            return
        reads = [infos[n] for n in op.reads]
        layouts = {t.layout for t in reads} | {a.plan.out.layout for a in op.inline}
        if _elementwise(ctx, op.statement.body[0].value, op.inline) and len(layouts) <= 1:
            shapes = list(reads) + [a.plan.out for a in op.inline]
            infos[op.target] = TensorInfo(shapes[0].shape, shapes[0].layout) if shapes else TensorInfo(None)
            return
        for n, t in zip(op.reads, reads):
            if t.layout == "cf" and t.rank and t.rank >= 2:
                op.before[n] = "movedim(1, -1)"
        infos[op.target] = TensorInfo(None)

    def plan_items(items) -> None:
        for item in items:
            if isinstance(item, Op):
                plan_op(item)
            elif isinstance(item, Compound):
                plan_compound(item)

    def plan_compound(c: Compound) -> None:
        before = dict(infos)
        if c.kind == "for":
            # one pass planned: the layers of the next passes see the same tensors only if
            # the loop keeps the shapes of what it carries
            plan_items(c.branches[0])
            for name in sorted(c.assigned):
                if name in before and not _same_info(infos.get(name), before[name]):
                    if not c.applies:  # no Keras layer in it: what it carries has no planned size
                        infos[name] = TensorInfo(None, before[name].layout) if infos[name].layout == before[name].layout else infos[name]
                        continue
                    raise Unconvertible(
                        f"the loop ({_head(c.node)} ...) changes the shape or layout of {name}: each pass would"
                        " need layers of other sizes"
                    )
            return
        ends, seen = [], {}
        for i, branch in enumerate(c.branches):
            infos.clear()
            infos.update(before)
            plan_items(branch)
            seen.update(infos)
            if not c.dead[i]:
                ends.append(dict(infos))
        if not c.has_else:
            ends.append(before)
        infos.clear()
        infos.update(seen)
        infos.update(before)
        for name in sorted(c.assigned):
            values = [e[name] for e in ends if name in e]
            if not values:
                continue
            if any(v.layout != values[0].layout for v in values[1:]):
                raise Unconvertible(
                    f"{name} has another layout depending on the condition ({_head(c.node)} ...): the code after"
                    " it would need both axis orders"
                )
            # shapes that differ between the branches: a size known only when the model runs
            same = all(_same_info(v, values[0]) for v in values[1:])
            infos[name] = values[0] if same else TensorInfo(None, values[0].layout)

    plan_items(g.items)
    for attr, key in [*g.self_layers.items(), *g.lists.items()]:
        if key in graph.plans:
            continue
        layer = graph.layers[key]
        try:
            graph.plans[key] = plan_layer(layer, [TensorInfo(None)])
        except Unconvertible as exc:
            raise Unconvertible(f"self.{attr} ({layer.short}) is not applied in the graph, and {exc}") from None
    for attr, key in g.lists.items():
        lp = graph.plans[key].with_function_activation()  # as _attr_names makes it
        if len(lp.modules) != 1:
            raise Unconvertible(f"the layers of self.{attr} ({graph.layers[key].short}) become several modules each: not supported in a list yet")
        if lp.inits:
            raise Unconvertible(f"the layers of self.{attr} ({graph.layers[key].short}) have initializers: not supported in a list yet")


def _block_application(g: InitGraph, op: Op):
    """``x = self.norm(x)`` / ``x = layer(x, mask=m)`` (a loop variable over a list of converted
    classes): (attribute, its ClassPlan, the call) when the statement is one such application."""
    small = op.statement.body[0] if isinstance(op.statement, cst.SimpleStatementLine) and len(op.statement.body) == 1 else None
    call = small.value if isinstance(small, cst.Assign) and len(small.targets) == 1 else None
    if not isinstance(call, cst.Call):
        return None
    listed = _listed_block(g, call.func)
    if listed is not None:
        return listed, g.block_lists[listed][0], call
    attr = _self_attr(call.func)
    if attr in g.blocks:
        return attr, g.blocks[attr], call
    return None


def _plan_block_application(g: InitGraph, op: Op, applied, infos) -> None:
    """A converted class applied in the graph: the size of its input's last axis, where its
    __init__ takes it (keras-hub's PositionEmbedding, LlamaTransformerDecoder, LlamaLayerNorm),
    and what it gives: a tensor of its input's shape where its compute_output_shape() says so."""
    attr, block, call = applied
    first = next((a.value for a in call.args if a.keyword is None and not a.star), None)
    x = infos.get(first.value) if isinstance(first, cst.Name) else None
    if block.size_param:
        sizes = block.build.size_params if block.build is not None else [block.size_param]
        if len(sizes) > 1:
            raise Unconvertible(f"self.{attr} ({block.name}) takes the sizes of several inputs: not supported in a graph yet")
        last = x.shape[-1] if x is not None and x.shape and x.layout == "keras" else None
        if last is None or not isinstance(last, (int, Expr)):
            raise Unconvertible(
                f"self.{attr} ({block.name}) takes the size of its input as {block.size_param}=, and the graph does not"
                " know the size of the last axis of what it is applied to"
            )
        size = cst.Integer(str(last)) if isinstance(last, int) else last.node
        free = {n.value for n in _walk(size) if isinstance(n, cst.Name)}
        params = {p.name.value for p in (*g.init.params.params, *g.init.params.kwonly_params)}
        bound = {name for n in _walk(g.init.body) if isinstance(n, (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.For))
                 for name in _bound_names(n)}
        if not free <= params or free & bound:
            raise Unconvertible(
                f"self.{attr} ({block.name}) takes the size of its input as {block.size_param}=, which is"
                f" {code_of(size).strip()} there, not a parameter of __init__ where the layer is made"
            )
        known = g.block_sizes.get(attr)
        if known is not None and code_of(known).strip() != code_of(size).strip():
            raise Unconvertible(f"self.{attr} ({block.name}) is applied to tensors of different sizes")
        g.block_sizes[attr] = size
    if x is not None and x.layout == "keras" and block.output_layout == "keras" and block_keeps_shape(block):
        infos[op.target] = x
    else:
        infos[op.target] = TensorInfo(None)


def _bound_names(node) -> set[str]:
    """The plain names an assignment or a `for` binds (not attributes: self.hidden_dim = ...)."""
    targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
    out, stack = set(), list(targets)
    while stack:
        t = stack.pop()
        if isinstance(t, cst.Name):
            out.add(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            stack.extend(e.value for e in t.elements)
        elif isinstance(t, cst.StarredElement):
            stack.append(t.value)
    return out


def _same_info(a: TensorInfo | None, b: TensorInfo | None) -> bool:
    """The same tensor shape and layout (sizes given by source expressions compared as code)."""
    if a is None or b is None:
        return a is b
    if a.layout != b.layout or (a.shape is None) != (b.shape is None):
        return False
    if a.shape is None:
        return True
    return len(a.shape) == len(b.shape) and all(repr(x) == repr(y) for x, y in zip(a.shape, b.shape))


def _graph_statement(ctx, op: Op) -> str:
    """Which graph statement a planning problem is in, for the message."""
    line = ctx.scan.position(op.statement)[0]
    where = f"line {line}" if line else _head(op.statement)
    return f"in the graph ({where})"


def _expression_info(ctx, expr, inner: list[App], infos) -> TensorInfo:
    """What an expression a layer is applied to holds: elementwise code over tensors of one
    layout keeps their shape; anything else is of unknown shape, and must not read a
    channels-first tensor (its axes would be PyTorch's)."""
    # the names read outside the layers applied in it (their arguments are theirs)
    reads = [infos[n] for n in sorted(_names_outside(expr, {id(a.call) for a in inner})) if n in infos]
    outs = [a.plan.out for a in inner]
    tensors = reads + outs
    layouts = {t.layout for t in tensors}
    if _elementwise(ctx, expr, inner) and len(layouts) <= 1:
        return TensorInfo(tensors[0].shape, tensors[0].layout) if tensors else TensorInfo(None)
    if any(t.layout == "cf" and (t.rank is None or t.rank >= 2) for t in tensors):
        raise Unconvertible(f"a layer applied to {code_of(expr).strip()[:50]}, which reads channels-first tensors: not supported yet")
    return TensorInfo(None)


def _subscript_info(expr: cst.Subscript, x: TensorInfo) -> TensorInfo:
    """What ``x[:, 0, :]`` holds: a full slice keeps an axis, an index drops it."""
    if x.layout == "cf" and x.rank and x.rank >= 2:
        raise Unconvertible("a layer applied to a subscript of a channels-first tensor: not supported yet")
    elements = list(expr.slice)
    first = elements[0].slice if elements else None
    if not (isinstance(first, cst.Slice) and first.lower is None and first.upper is None and first.step is None):
        raise Unconvertible(f"a layer applied to {code_of(expr).strip()[:40]}, which indexes the batch axis")
    if x.shape is None:
        return TensorInfo(None)
    dims = list(x.shape)
    rest = elements[1:]
    taking = [e for e in rest if not (isinstance(e.slice, cst.Index) and isinstance(e.slice.value, cst.Ellipsis))]
    out, pos = [], 0
    for el in rest:
        s = el.slice
        if isinstance(s, cst.Index) and isinstance(s.value, cst.Ellipsis):
            n = len(dims) - len(taking)
            out.extend(dims[pos:pos + n])
            pos += n
        elif isinstance(s, cst.Index) and isinstance(s.value, cst.Name) and s.value.value == "None":
            out.append(1)  # a new axis takes none of x's
        elif isinstance(s, cst.Slice):
            full = s.lower is None and s.upper is None and s.step is None
            out.append(dims[pos] if pos < len(dims) and full else None)
            pos += 1
        else:
            pos += 1
    if pos > len(dims):
        raise Unconvertible(f"{code_of(expr).strip()[:40]} indexes more axes than the tensor has")
    return TensorInfo(tuple(out) + tuple(dims[pos:]))


def _check_class(ctx, plan, g: InitGraph) -> None:
    """What would leave Keras code behind in the converted class."""
    cls = plan.node
    graph = g.graph
    for name in ("call", "build"):
        if _method(cls, name) is not None:
            raise Unconvertible(f"a functional model that also defines {name}(): which one runs is Keras's business")
    kept = [f"self.{a} ({b.name}) stays Keras" for a, b in g.blocks.items() if b.problems or b.build_problem]
    kept += [f"the elements of self.{a} ({b.name}) stay Keras" for a, (b, _, _) in g.block_lists.items() if b.problems or b.build_problem]
    if kept:
        raise Unconvertible("; ".join(kept))  # a module holding a Keras layer: all or nothing
    known_layers = set(graph.layers)
    known_inputs = {id(c) for c in graph.input_calls.values()}
    assigned: set[str] = set()
    defined: set[str] = set()
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef):
            defined.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Assign, cst.AnnAssign)):
                    targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
                    for t in targets:
                        if isinstance(t, cst.Name):
                            defined.add(t.value)
    for node in _walk(cls.body):
        if isinstance(node, cst.Assign):
            for t in node.targets:
                for n in _walk(t.target):
                    if _self_attr(n):
                        assigned.add(_self_attr(n))
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and _self_attr(node.target):
            assigned.add(_self_attr(node.target))
    for node in _walk(cls.body):
        if isinstance(node, cst.Call):
            layer = _layer_call(ctx, node)
            if layer is not None and id(node) not in known_layers:
                line = ctx.scan.position(node)[0]
                raise Unconvertible(
                    f"a {layer.short} is made where the graph conversion does not follow it (line {line}: in a loop,"
                    " a list, a condition or another method)"
                )
            if resolve_call(ctx, node) in INPUTS and id(node) not in known_inputs:
                raise Unconvertible(f"a keras.Input outside the graph of __init__ (line {ctx.scan.position(node)[0]})")
    as_dtype = dtype_policy.dtype_reads(ctx, cls)  # self.compute_dtype as a dtype: torch's default
    for fn in cls.body.body:
        if not isinstance(fn, cst.FunctionDef) or fn.name.value == "get_config":
            continue
        for node in _walk(fn):
            if isinstance(node, cst.Attribute):
                if _self_attr(node) is not None:
                    attr = _self_attr(node)
                    if attr not in assigned and attr not in defined and attr not in MODULE_MEMBERS and id(node) not in as_dtype:
                        raise Unconvertible(
                            f"it reads self.{attr}, which its base {g.base} provides (an nn.Module has no such member)"
                        )
                elif _self_attr(node.value) in g.self_layers:
                    raise Unconvertible(
                        f"it uses self.{_self_attr(node.value)}.{node.attr.value}, a member of the Keras layer"
                        " (the module that replaces it has other members)"
                    )
                elif (
                    isinstance(node.value, cst.Call) and isinstance(node.value.func, cst.Name)
                    and node.value.func.value == "super" and node.attr.value != "__init__"
                ):
                    raise Unconvertible(f"it calls super().{node.attr.value}, which its base {g.base} provides")


def _check_forward_calls(ctx, plan, g: InitGraph) -> None:
    """forward() may call framework functions, builtins, functions of this file that make no
    Keras layer, converted modules and tensor methods; anything else may be Keras code."""
    graph = g.graph
    skip = set(graph.layers)
    pieces = [(op.statement, {id(a.call) for a in g.apps(op)}) for op in graph.ops]
    pieces += [(node, set()) for node in g.forward_code]
    for statement, apps in pieces:
        for node in _walk(statement):
            if not isinstance(node, cst.Call) or id(node) in skip or id(node) in apps:
                continue
            if resolve_call(ctx, node) is not None:
                continue
            func = node.func
            if _calls_backbone(g, func):
                continue  # the model the graph starts from: forward() calls its module
            listed = _listed_block(g, func)
            if listed is not None:  # an element of a list of converted classes: its module
                block = g.block_lists[listed][0]
                if block.problems or block.build_problem:
                    raise Unconvertible(f"the elements of self.{listed} ({block.name}) stay Keras")
                if block.input_layout != "keras" or block.output_layout != "keras":
                    raise Unconvertible(f"the elements of self.{listed} ({block.name}) are applied in the graph: a converted class with channels-first tensors there is not supported yet")
                if block.size_param:
                    g.size_needed[listed] = f"the elements of self.{listed} ({block.name})"
                continue
            element = _list_element(g, func)
            if element is not None:
                raise Unconvertible(element)
            attr = _self_attr(func)
            method = next((s for s in plan.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == attr), None)
            if method is not None and attr not in g.others and attr not in g.blocks:
                # a method of the class (a staticmethod helper): forward() calls it as __init__ did
                if any(isinstance(n, cst.Call) and (_layer_call(ctx, n) is not None or resolve_call(ctx, n) in INPUTS) for n in _walk(method)):
                    raise Unconvertible(f"the graph calls self.{attr}(), which makes Keras layers: build them in __init__ instead")
                continue
            if attr is not None:
                if attr in g.blocks:
                    block = g.blocks[attr]
                    if block.problems or block.build_problem:
                        raise Unconvertible(f"self.{attr} ({block.name}) stays Keras")
                    if block.input_layout != "keras" or block.output_layout != "keras":
                        raise Unconvertible(f"self.{attr} ({block.name}) is applied in the graph: a converted class with channels-first tensors there is not supported yet")
                    if block.size_param:
                        g.size_needed[attr] = f"self.{attr} ({block.name})"
                    continue
                held = g.others.get(attr)
                if isinstance(held, cst.Call):
                    origin = _imported_from(ctx, held.func)
                    what = f" (a {code_of(held.func).strip()}" + (f", from {origin})" if origin else ")")
                else:
                    what = f" ({_head(held)})" if held is not None else ""
                raise Unconvertible(
                    f"the graph applies self.{attr}{what}, which is not a Keras layer the converter knows"
                    " (a layer from another file stays Keras, and a Keras layer cannot run in forward())"
                )
            if isinstance(func, cst.Name):
                if hasattr(builtins, func.value):
                    continue
                local = next((s for s in ctx.module.body if isinstance(s, cst.FunctionDef) and s.name.value == func.value), None)
                if local is not None:
                    if any(isinstance(n, cst.Call) and (_layer_call(ctx, n) is not None or resolve_call(ctx, n) in INPUTS) for n in _walk(local)):
                        raise Unconvertible(f"the graph calls {func.value}(), which makes Keras layers: build them in __init__ instead")
                    continue
                raise Unconvertible(
                    f"the graph calls {func.value}(), defined in another file: whether it builds Keras layers is not known here"
                )
            if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value in graph.infos:
                continue  # a tensor method: converted by the rules
            raise Unconvertible(f"the graph calls {code_of(func).strip()[:40]}, which the converter does not know")


def _listed_block(g: InitGraph, func) -> str | None:
    """The list attribute ``func`` is an element of (a loop variable over it, ``self.xs[i]``),
    when that list holds converted classes of this file."""
    attr = None
    if isinstance(func, cst.Name) and func.value in g.loop_elements:
        attr = g.loop_elements[func.value]
    elif isinstance(func, cst.Subscript):
        attr = _self_attr(func.value)
    return attr if attr in g.block_lists else None


def _list_element(g: InitGraph, func) -> str | None:
    """Why the graph cannot apply ``func``, an element of a list of layers the converter does
    not know (a loop variable over it, or ``self.xs[i]``); None for anything else."""
    attr = None
    if isinstance(func, cst.Name) and func.value in g.loop_elements:
        attr = g.loop_elements[func.value]
    elif isinstance(func, cst.Subscript):
        attr = _self_attr(func.value)
    call = g.foreign_lists.get(attr) if attr is not None else None
    if call is None:
        return None
    what = code_of(call.func).strip()
    return (
        f"the graph applies the elements of self.{attr} (a {what}, made in __init__), which is not a Keras layer"
        " the converter knows (a layer from another file stays Keras, and a Keras layer cannot run in forward())"
    )


def _calls_backbone(g: InitGraph, func) -> bool:
    """``backbone(...)``, ``backbone.token_embedding(...)`` (or on ``self.backbone``), where the
    graph starts from that model's inputs."""
    if g.backbone_attr is None:
        return False
    head = func
    while isinstance(head, cst.Attribute) and _self_attr(head) is None:
        head = head.value
    if isinstance(head, cst.Name):
        return head.value == g.backbone
    return _self_attr(head) == g.backbone_attr


def _target_names(targets) -> list[str]:
    out = []
    for t in targets:
        if isinstance(t, cst.Name):
            out.append(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            out.extend(_target_names([el.value for el in t.elements]))
        elif isinstance(t, cst.StarredElement):
            out.extend(_target_names([t.value]))
    return out


def _stored_names(plan, g: InitGraph) -> None:
    """Names of __init__ that forward() reads become attributes (``self.cls_index``)."""
    graph = g.graph
    init = g.init
    params = [p for p in (*init.params.posonly_params, *init.params.params, *init.params.kwonly_params)]
    star = [p for p in (init.params.star_arg, init.params.star_kwarg) if isinstance(p, cst.Param)]
    local_sites: dict[str, int] = {}
    for p in (*params, *star):
        local_sites[p.name.value] = local_sites.get(p.name.value, 0) + 1
    for node in _walk(init.body):
        targets = []
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
        elif isinstance(node, (cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor)):
            targets = [node.target]
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            targets = [node.asname.name]
        for name in _target_names(targets):
            local_sites[name] = local_sites.get(name, 0) + 1
    graph_names = set(graph.infos) | set(graph.inputs) | {op.target for op in graph.ops}
    for op in graph.ops:
        graph_names.update(op.states)
    graph_names |= g.forward_bound
    reads: list[str] = []
    for node in [op.statement for op in graph.ops] + g.forward_code:
        for name in sorted(_names_outside(node, set(graph.layers))):
            if name in local_sites and name not in graph_names and name != "self" and name not in reads:
                reads.append(name)
    attrs_used = set()
    for node in _walk(plan.node.body):
        if _self_attr(node):
            attrs_used.add(_self_attr(node))
    own_store = {}
    for stmt in init.body.body:
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
            small = stmt.body[0]
            attr = _self_attr(small.targets[0].target) if len(small.targets) == 1 else None
            if attr is not None and isinstance(small.value, cst.Name):
                own_store.setdefault(attr, []).append(small.value.value)
    assigned_attrs: dict[str, int] = {}
    for node in _walk(plan.node.body):
        if isinstance(node, cst.Assign):
            for t in node.targets:
                if _self_attr(t.target):
                    assigned_attrs[_self_attr(t.target)] = assigned_attrs.get(_self_attr(t.target), 0) + 1
    for name in reads:
        if name == g.backbone and g.backbone_attr is not None:
            g.stored[name] = g.backbone_attr  # `self.backbone = backbone`: the model the graph starts from
            continue
        if own_store.get(name) == [name] and assigned_attrs.get(name) == 1 and local_sites.get(name) == 1:
            g.stored[name] = name  # `self.name = name` is there already
            continue
        attr = name if name not in attrs_used else _fresh("_" + name, attrs_used)
        attrs_used.add(attr)
        g.stored[name] = attr
        g.new_stores.append(name)


# -- the rewrite ---------------------------------------------------------------------

def _attr_names(plan, g: InitGraph) -> None:
    """Module attribute names: a layer made on self keeps its attribute (``self.norm``,
    ``self.head[0]`` for several modules); one made in the graph gets a new one."""
    graph = g.graph
    for key in graph.layer_order:
        graph.plans[key] = graph.plans[key].with_function_activation()
    for op in graph.ops:
        for app in g.apps(op):
            app.plan = graph.plans[app.layer_key]
    by_key = {k: a for a, k in g.self_layers.items()}
    taken = {_self_attr(n) for n in _walk(plan.node.body) if _self_attr(n)}
    taken |= {s.name.value for s in plan.node.body.body if isinstance(s, cst.FunctionDef)}
    taken |= set(g.stored.values())
    counters: dict[str, int] = {}
    list_of = {k: a for a, k in g.lists.items()}
    forward_names = set(g.forward_bound) | set(graph.infos) | set(graph.inputs)
    for op in graph.ops:
        forward_names |= used_names(op.statement)
    for node in g.forward_code:
        forward_names |= used_names(node)
    for key in graph.layer_order:
        lp = graph.plans[key]
        n = len(lp.modules)
        if key in list_of:  # the elements of an nn.ModuleList: self.X.0, self.X.1, ...
            graph.attrs[key] = [list_of[key]]
            g.paths[key] = [f"{list_of[key]}.*"]
            continue
        if key in g.loop_layers:  # made in a graph loop: an nn.ModuleList, one per pass
            hint = _HINTS.get(lp.modules[0].hint, lp.modules[0].hint) if lp.modules else "layer"
            given = graph.layers[key].values.get("name")
            if isinstance(given, cst.FormattedString):  # name=f"dense_{i}": dense
                head = "".join(p.value for p in given.parts if isinstance(p, cst.FormattedStringText))
                head = "".join(ch if ch.isalnum() else "_" for ch in head).strip("_")
                hint = head or hint
            attr = _fresh(f"{hint}_layers", taken)
            taken.add(attr)
            var = _fresh(hint, taken | forward_names)
            forward_names.add(var)
            graph.attrs[key] = [attr]
            g.paths[key] = [f"{attr}.*"]
            g.loop_names[key] = (attr, var)
            continue
        if key in by_key:
            attr = by_key[key]
            graph.attrs[key] = [attr] if n == 1 else [f"{attr}[{i}]" for i in range(n)]
            g.paths[key] = [attr] if n == 1 else [f"{attr}.{i}" for i in range(n)]
            continue
        names = []
        layer = graph.layers[key]
        for spec in lp.modules:
            base = graph.layer_vars.get(key) if n == 1 else None
            given = layer.values.get("name")
            if base is None and isinstance(given, cst.SimpleString) and n == 1:
                base = "".join(ch if ch.isalnum() else "_" for ch in given.evaluated_value)
            if base is None:
                hint = _HINTS.get(spec.hint, spec.hint)
                counters[hint] = counters.get(hint, 0) + 1
                base = f"{hint}{counters[hint]}"
            base = _fresh(base, taken)
            taken.add(base)
            names.append(base)
        graph.attrs[key] = names
        g.paths[key] = list(names)


def _fill(template: str, values: dict) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _apply(ctx, g: InitGraph, app: App) -> str:
    """How forward() applies a layer (functional._apply_code, with a self layer's chain of
    modules called as one: ``self.head(x)``)."""
    graph = g.graph
    lp = app.plan
    key = app.layer_key
    refs = {f"m{i}": f"self.{a}" for i, a in enumerate(graph.attrs[key])}
    if key in g.lists.values():  # an element of a list: called as the source calls it
        refs = {"m0": code_of(ctx.updated(app.call.func).visit(Rename(g.stored))).strip()}
    if key in g.loop_names:  # made in a graph loop: forward()'s loop variable over its nn.ModuleList
        refs = {"m0": g.loop_names[key][1]}
    args = []
    for i, name in enumerate(app.inputs):
        expr = app.exprs[i]
        if expr is None:
            text = name
        else:
            inner = {id(ctx.updated(a.call)): a for a in g.nested.get(id(app.call), {}).get(i, [])}
            rename = Rename(g.stored, None, inner, lambda a: _apply(ctx, g, a))
            text = code_of(ctx.updated(expr).visit(rename)).strip()
        if i in app.before:
            text = (text if expr is None else f"({text})") + f".{app.before[i]}"
        args.append(text)
    if lp.multi_input:
        expr = lp.apply
        for i, a in enumerate(args):
            expr = expr.replace("{x%d}" % i, a)
        return _fill(expr, refs)
    n = len(lp.modules)
    owner = next((a for a, k in g.self_layers.items() if k == key), None)
    if owner is not None and n > 1:
        chain = "{x}"
        for i in range(n):
            chain = f"{{m{i}}}({chain})"
        if chain in lp.apply:
            text = lp.apply.replace(chain, "{c}")
            if "{m" not in text:
                return _fill(text, {"c": f"self.{owner}({args[0]})"})
    return _fill(lp.apply, {**refs, "x": args[0]})


def _comments(stmt) -> list:
    return [line for line in getattr(stmt, "leading_lines", ()) if line.comment is not None]


def _statement(text: str) -> list:
    from ...rules import PLACEHOLDER

    return list(cst.parse_module(PLACEHOLDER.sub(r"__tp_\1__", text + "\n")).body)


def _forward(ctx, plan, g: InitGraph) -> cst.FunctionDef:
    graph = g.graph
    body: list = []
    if g.input_form == "dict":
        taken = set(graph.infos) | {op.target for op in graph.ops} | set(g.stored)
        for op in graph.ops:
            taken |= used_names(op.statement)
        g.dict_param = _fresh("inputs", taken)
        params = f"self, {g.dict_param}"
        for key, name in zip(g.input_keys, graph.inputs):
            body.extend(_statement(f"{name} = {g.dict_param}[{key!r}]"))
    else:
        params = ", ".join(["self", *graph.inputs])
    fakes = {id(f) for f in g.fake}

    def emit_op(op: Op) -> list:
        if op.app is not None:
            code = _apply(ctx, g, op.app)
            text = state_code(op, code) if op.states else f"{op.target} = {code}"
            made = _statement(text)
            made[0] = made[0].with_changes(leading_lines=_comments(op.statement))
            return made
        if id(op.statement) in fakes:
            small = op.statement.body[0]
            stmt = op.statement.with_changes(body=[small.with_changes(value=ctx.updated(small.value))])
        else:
            stmt = ctx.updated(op.statement)
        inline = {id(ctx.updated(a.call)): a for a in op.inline}
        stmt = stmt.visit(Rename(g.stored, op.before, inline, lambda a: _apply(ctx, g, a)))
        return [stmt.with_changes(leading_lines=_comments(stmt))]

    def emit(items) -> list:
        out: list = []
        for item in items:
            if isinstance(item, Op):
                out.extend(emit_op(item))
            elif isinstance(item, Compound):
                out.append(emit_compound(item))
            else:
                out.append(ctx.updated(item.statement).visit(Rename(g.stored)))
        return out or [cst.SimpleStatementLine(body=[cst.Pass()])]

    def block(original, items):
        return original.with_changes(body=emit(items))

    def emit_compound(c: Compound):
        node = c.node
        if c.kind == "for":
            new = node.with_changes(iter=ctx.updated(node.iter).visit(Rename(g.stored)), body=block(node.body, c.branches[0]))
            if not c.made:
                return new
            # over the nn.ModuleLists of the layers it made (with its own values if it reads them)
            lists = [f"self.{g.loop_names[k][0]}" for k in c.made]
            names = [g.loop_names[k][1] for k in c.made]
            if c.keep_target:
                target = code_of(node.target).strip()
                if isinstance(node.target, cst.Tuple) and not node.target.lpar:
                    target = f"({target})"
                header = f"for {', '.join([target, *names])} in zip({code_of(new.iter).strip()}, {', '.join(lists)}):"
            elif len(lists) == 1:
                header = f"for {names[0]} in {lists[0]}:"
            else:
                header = f"for {', '.join(names)} in zip({', '.join(lists)}):"
            made = cst.parse_statement(header + "\n    pass\n")
            return new.with_changes(target=made.target, iter=made.iter)
        # the if / elif / else chain, each test read as forward() sees it
        links, cur = [], node
        while isinstance(cur, cst.If):
            links.append(cur)
            cur = cur.orelse
        tail = None
        if isinstance(cur, cst.Else):
            tail = cur.with_changes(body=block(cur.body, c.branches[len(links)]))
        for i in range(len(links) - 1, -1, -1):
            link = links[i]
            tail = link.with_changes(
                test=ctx.updated(link.test).visit(Rename(g.stored)), body=block(link.body, c.branches[i]), orelse=tail
            )
        return tail

    body.extend(emit(g.items))
    outputs = graph.outputs
    if g.output_form == "dict":
        returns = "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(g.output_keys, outputs)) + "}"
    else:
        returns = ", ".join(outputs)
    body.extend(_statement(f"return {returns}"))
    if g.head_comments:
        body[0] = body[0].with_changes(leading_lines=[*g.head_comments, *body[0].leading_lines])
    fn = cst.parse_statement(f"def forward({params}):\n    pass\n")
    return fn.with_changes(body=fn.body.with_changes(body=body), leading_lines=[cst.EmptyLine()])


def _rewrite_init(ctx, plan, g: InitGraph, fn: cst.FunctionDef, holder) -> cst.FunctionDef:
    graph = g.graph
    replacements: dict[int, str] = {}
    after: dict[int, list[str]] = {}
    self_keys = set(g.self_layers.values())
    for attr, key in g.self_layers.items():
        lp = graph.plans[key]
        modules = [holder.add(spec.template, spec.subs, ctx) for spec in lp.modules]
        ctor = modules[0] if len(modules) == 1 else (
            "torch.nn.Sequential(" + ", ".join(modules) + ")" if modules else "torch.nn.Identity()"
        )
        replacements[id(ctx.updated(graph.layers[key].call))] = ctor
        refs = {f"m{i}": f"self.{a}" for i, a in enumerate(graph.attrs[key])}
        lines = lazy_inits(ctx, graph.layers[key].call, graph.layers[key].kind, lp, [_fill(i, refs) for i in lp.inits])
        if lines:
            after[id(g.self_statements[key])] = lines
    for attr, key in g.lists.items():
        spec = graph.plans[key].modules[0]
        replacements[id(ctx.updated(graph.layers[key].call))] = holder.add(spec.template, spec.subs, ctx)
    module_list = ctx.name("torch.nn.ModuleList")
    extra: list[str] = []  # where super().__init__(inputs=..., outputs=...) was
    loops: list[Compound] = []
    for key in graph.layer_order:
        if key in g.loop_layers:
            if not any(c is g.loop_layers[key] for c in loops):
                loops.append(g.loop_layers[key])
            continue
        if key in self_keys or key in g.lists.values():
            continue
        lp = graph.plans[key]
        for a, spec in zip(graph.attrs[key], lp.modules):
            extra.append(f"self.{a} = " + holder.add(spec.template, spec.subs, ctx))
        refs = {f"m{i}": f"self.{a}" for i, a in enumerate(graph.attrs[key])}
        extra.extend(lazy_inits(ctx, graph.layers[key].call, graph.layers[key].kind, lp, [_fill(i, refs) for i in lp.inits]))
    for c in loops:  # the layers a graph loop makes, one per pass: the same loop makes them here
        lines = [f"self.{g.loop_names[k][0]} = torch.nn.ModuleList()" for k in c.made]
        lines.append(f"for {code_of(c.node.target).strip()} in {code_of(ctx.updated(c.node.iter)).strip()}:")
        for k in c.made:
            spec = graph.plans[k].modules[0]
            lines.append(f"    self.{g.loop_names[k][0]}.append({holder.add(spec.template, spec.subs, ctx)})")
        extra.append("\n".join(lines))
    for name in g.new_stores:
        extra.append(f"self.{g.stored[name]} = {name}")

    sized: dict[int, tuple[str, cst.BaseExpression]] = {}
    for attr, size in g.block_sizes.items():
        made = g.block_lists[attr][1] if attr in g.block_lists else g.block_calls.get(attr)
        block = g.block_lists[attr][0] if attr in g.block_lists else g.blocks[attr]
        if made is not None:
            sized[id(ctx.updated(made))] = (block.size_param, size)

    class Ctor(cst.CSTTransformer):
        def leave_Call(self, original, updated):
            text = replacements.get(id(original))
            if text is not None:
                return template_node(text)
            if id(original) in sized:  # the input size its build() read, where the graph says it
                keyword, size = sized[id(original)]
                args = list(updated.args)
                if args:
                    args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                return updated.with_changes(args=[*args, cst.Arg(value=size, keyword=cst.Name(keyword),
                                                                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))])
            return updated

        def leave_Assign(self, original, updated):
            target = _self_attr(updated.targets[0].target) if len(updated.targets) == 1 else None
            if target not in g.list_makers or not isinstance(updated.value, (cst.List, cst.ListComp)):
                return updated
            if isinstance(updated.value, cst.List):  # self.X = []: filled by a loop
                return updated.with_changes(value=cst.Call(module_list))
            return updated.with_changes(value=cst.Call(module_list, args=[cst.Arg(updated.value)]))

    body: list = []
    carried: list = []
    original_body = list(g.init.body.body)
    docstring = (
        original_body and isinstance(original_body[0], cst.SimpleStatementLine)
        and isinstance(original_body[0].body[0], cst.Expr) and isinstance(original_body[0].body[0].value, cst.SimpleString)
    )

    def put(items: list) -> None:
        nonlocal carried
        if items and carried:
            items[0] = items[0].with_changes(leading_lines=[*carried, *items[0].leading_lines])
            carried = []
        body.extend(items)

    for i, stmt in enumerate(original_body):
        if stmt is g.statement:
            carried.extend(_comments(stmt))
            put([s for line in extra for s in _statement(line)])
            continue
        if id(stmt) in g.removed:
            continue  # its comments go to forward() with it
        new = ctx.results.get(id(stmt), stmt)
        if new is cst.RemovalSentinel.REMOVE:
            continue
        items = list(new.nodes) if isinstance(new, cst.FlattenSentinel) else [new]
        items = [item.visit(Ctor()) for item in items]
        for line in after.get(id(stmt), []):
            items.extend(_statement(line))
        put(items)
        if i == 0 and docstring:
            body.append(cst.parse_statement("super().__init__()\n"))
    if not docstring:
        first = cst.parse_statement("super().__init__()\n")
        body.insert(0, first)
    block = fn.body
    return fn.with_changes(body=block.with_changes(body=body, footer=[*carried, *block.footer]))


def rewrite_class(ctx, plan, original: cst.ClassDef, updated: cst.ClassDef, holder) -> cst.ClassDef:
    g = plan.graph
    graph = g.graph
    _attr_names(plan, g)
    ctx.converted(original, API, "nn.Module", "the graph built in __init__ becomes forward()")
    if g.foreign_base:
        ctx.warn(
            original, API,
            f"its base {g.foreign_base} is replaced by nn.Module: what that class adds (methods, properties,"
            " presets, weights loading) is not carried over",
        )
    else:
        for b in original.bases:
            ctx.consume_head(b.value)
    for key in graph.layer_order:
        layer = graph.layers[key]
        lp = graph.plans[key]
        target = ", ".join(spec.template.split("(", 1)[0].replace("torch.nn.", "nn.") for spec in lp.modules)
        ctx.converted(layer.call, layer.kind, target or "forward code")
        if isinstance(layer.call.func, (cst.Name, cst.Attribute)):
            ctx.consume_head(layer.call.func)
        for warning in lp.warnings:
            ctx.warn(layer.call, layer.kind, warning)
    for name, call in graph.input_calls.items():
        if not isinstance(call, cst.Call):  # backbone.input
            ctx.warn(
                call, "keras.Model.input",
                f"argument {name!r} of {plan.name}.forward(): what self.{g.backbone_attr} takes; self.{g.backbone_attr}"
                " must be a PyTorch module (the backbone converted from its own file), called as the Keras model was",
            )
            continue
        ctx.converted(call, "keras.Input", f"argument {name!r} of {plan.name}.forward()")
        ctx.consume_head(call.func)
    ctx.converted(g.call, "keras.Model.__init__", "super().__init__()", "moved first: nn.Module must be set up before modules are assigned; the graph becomes forward()")
    new = updated.with_changes(bases=with_mixins(ctx, original, updated, "torch.nn.Module", keep_unknown=False))
    body = []
    for stmt in new.body.body:
        if isinstance(stmt, cst.FunctionDef):
            name = stmt.name.value
            if name == "__init__":
                body.append(ctx.fill(_rewrite_init(ctx, plan, g, stmt, holder), **holder.subs))
                body.append(ctx.fill(_forward(ctx, plan, g)))
                continue
            if drop_method(ctx, original, stmt):
                continue
        body.append(stmt)
    new = new.with_changes(body=new.body.with_changes(body=body))
    ctx.mark_new(new)
    return new


# -- weight maps ----------------------------------------------------------------------

def entries(ctx, plan) -> list[dict]:
    g = plan.graph
    found = layer_entries(ctx, g.graph, g.paths)
    lists = set(g.lists.values())
    for key, entry in zip(g.graph.layer_order, found):
        if key in lists or key in g.loop_layers:
            # every element is made at the same place: "*" stands for its index (weights/transforms.py)
            entry["origin"] = [[*entry["origin"][:2], "*"]]
        if key in g.optional:
            entry["optional"] = True  # made only when its condition holds
    from . import subclass as _subclass  # (it imports this module)

    for attr, (block, call, stmt) in g.block_lists.items():
        origin = [[*list(ctx.scan.position(call, stmt))[:2], "*"]]
        found.extend(_subclass._entries(ctx, block, origin, f"{attr}.*."))
    for attr, block in g.blocks.items():
        # a converted class the graph applies once (`self.norm = RMSNorm(...)`): before, it had no
        # entry, and its weights were missing from the map
        call = g.block_calls.get(attr)
        if call is not None:
            origin = [list(ctx.scan.position(call, g.init))[:2]]
            found.extend(_subclass._entries(ctx, block, origin, f"{attr}."))
    return found


def model_info(ctx, plan) -> dict:
    g = plan.graph
    graph = g.graph
    outs = [graph.infos.get(n, TensorInfo(None)) for n in graph.outputs]
    return {
        "kind": "functional",
        "form": plan.name,
        "inputs": [
            {"name": n, "shape": list(graph.input_infos[n].shape) if graph.input_infos[n].shape else None, "layout": graph.input_infos[n].layout}
            for n in graph.inputs
        ],
        "input_keys": list(g.input_keys) if g.input_form == "dict" else None,
        "output_layout": outs[0].layout if outs else "keras",
        "output_layouts": [o.layout for o in outs],
        "output_rank": outs[0].rank if outs else None,
        "layers": entries(ctx, plan),
    }
