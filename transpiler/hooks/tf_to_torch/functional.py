"""Keras functional models (``keras.Input`` ... ``keras.Model(inputs, outputs)``) -> an nn.Module.

The statements before the ``keras.Model`` call, in the same block, that lead from
the inputs to the outputs are the graph. They become the class: every layer
becomes a module created in ``__init__`` (a layer object applied twice stays one
module), and ``forward`` replays the graph statements in order, with layers
called as ``self.<name>(...)`` and other tensor code converted by the rules. The
graph statements leave their block; the ``keras.Model(...)`` call becomes
``ClassName(...)`` (with the builder function's variables that the layers use as
constructor arguments).

Layouts: a tensor produced by a convolution is channels-first; before code that
is not a layer and might depend on the axis order (``tf.concat(..., axis=-1)``),
such tensors go back to Keras's order (``.movedim(1, -1)``), so the converted code
computes what the original did. Elementwise code keeps the layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible
from ...engine.query import framework_calls, resolve_call
from ...engine.types import scope_bindings
from ...engine.walk import child_nodes, in_source_order, iter_nodes
from . import data_format
from .keras_layers import ORDER_AGNOSTIC, LayerCall, LayerPlan, TensorInfo, channels_first_view, lazy_inits, plan_flatten, plan_layer, wanted_layout
from .models import INPUTS, _class_name, _fail, _input_from_call, _layer_call, _Placeholders, _taken_names, _top_statement, layer_entry

MODELS = {"keras.Model", "keras.models.Model"}
# keras.layers.add([a, b]) and friends: the merge layers as functions
MERGE_FUNCTIONS = {
    "keras.layers.add": "keras.layers.Add", "keras.layers.subtract": "keras.layers.Subtract",
    "keras.layers.multiply": "keras.layers.Multiply", "keras.layers.average": "keras.layers.Average",
    "keras.layers.maximum": "keras.layers.Maximum", "keras.layers.minimum": "keras.layers.Minimum",
    "keras.layers.concatenate": "keras.layers.Concatenate",
}
# framework functions that work element by element (keep shape and layout)
ELEMENTWISE = {
    "tensorflow.nn.relu", "tensorflow.nn.relu6", "tensorflow.nn.elu", "tensorflow.nn.selu", "tensorflow.nn.gelu",
    "tensorflow.nn.silu", "tensorflow.nn.swish", "tensorflow.nn.sigmoid", "tensorflow.nn.tanh", "tensorflow.sigmoid",
    "tensorflow.tanh", "tensorflow.math.sigmoid", "tensorflow.math.tanh", "tensorflow.nn.leaky_relu",
    "tensorflow.math.exp", "tensorflow.exp", "tensorflow.math.abs", "tensorflow.abs", "tensorflow.math.square",
    "tensorflow.square", "tensorflow.math.sqrt", "tensorflow.sqrt", "tensorflow.nn.softplus",
    "keras.activations.relu", "keras.activations.sigmoid", "keras.activations.tanh", "keras.activations.gelu",
    "keras.activations.silu", "keras.activations.swish", "keras.activations.elu", "keras.activations.selu",
    "keras.ops.relu", "keras.ops.sigmoid", "keras.ops.tanh", "keras.ops.exp", "keras.ops.abs", "keras.ops.square",
}


@dataclass
class App:
    """One application of a layer to graph tensors."""

    layer_key: int
    inputs: list[str]  # graph variables it reads (one per argument, in order)
    exprs: list  # per input: None, or an elementwise expression node over graph tensors
    call: cst.Call  # the application call (original)
    before: dict[int, str] = field(default_factory=dict)  # input index -> layout conversion
    plan: LayerPlan | None = None


@dataclass
class Op:
    statement: cst.SimpleStatementLine
    target: str
    app: App | None = None  # the whole value is one layer application
    inline: list[App] = field(default_factory=list)  # applications inside other code
    reads: list[str] = field(default_factory=list)  # graph variables the statement reads
    before: dict[str, str] = field(default_factory=dict)  # variable -> layout conversion (other code)
    states: list[str] = field(default_factory=list)  # an RNN's return_state names after the output


@dataclass
class Graph:
    name: str
    call: cst.Call
    inputs: list[str]
    outputs: list[str]
    single_output: bool
    ops: list[Op]
    layers: dict[int, LayerCall]
    layer_order: list[int]
    layer_vars: dict[int, str]
    input_infos: dict[str, TensorInfo] = field(default_factory=dict)
    infos: dict[str, TensorInfo] = field(default_factory=dict)
    plans: dict[int, LayerPlan] = field(default_factory=dict)
    attrs: dict[int, list[str]] = field(default_factory=dict)
    free: list[str] = field(default_factory=list)  # constructor parameters
    stored: list[str] = field(default_factory=list)  # constructor parameters forward() reads
    class_name: str = ""
    anchor: cst.CSTNode | None = None
    removed: list = field(default_factory=list)
    input_calls: dict = field(default_factory=dict)  # input name -> the keras.Input call


def _names(node) -> list[str] | None:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.List, cst.Tuple)):
        out = []
        for el in node.elements:
            if not isinstance(el.value, cst.Name):
                return None
            out.append(el.value.value)
        return out
    return None


def _model_args(call: cst.Call):
    inputs = outputs = None
    positional = [a for a in call.args if a.keyword is None]
    if positional:
        inputs = positional[0].value
    if len(positional) >= 2:
        outputs = positional[1].value
    for a in call.args:
        if a.keyword is not None and a.keyword.value == "inputs":
            inputs = a.value
        if a.keyword is not None and a.keyword.value == "outputs":
            outputs = a.value
    return inputs, outputs


def used_names(node) -> set[str]:
    """Names read in ``node`` (not attribute names, not keyword names)."""
    found = set()
    stack = [node]
    while stack:
        n = stack.pop()
        kind = type(n)
        if kind is cst.Name:
            found.add(n.value)
        elif kind is cst.Attribute or kind is cst.Arg:
            stack.append(n.value)  # the value only: not the attribute's or keyword's name
        else:
            stack.extend(child_nodes(n))
    return found


def _arithmetic(node) -> bool:
    if isinstance(node, (cst.Name, cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.BinaryOperation):
        return _arithmetic(node.left) and _arithmetic(node.right)
    if isinstance(node, cst.UnaryOperation):
        return _arithmetic(node.expression)
    return False


def analyze(ctx) -> None:
    plans = ctx.facts.setdefault("model_plans", {})
    removals = ctx.facts.setdefault("remove_statements", set())
    taken = _taken_names(ctx)
    for fc in framework_calls(ctx):
        if fc.api not in MODELS:
            continue
        inputs_node, outputs_node = _model_args(fc.call)
        if inputs_node is None or outputs_node is None:
            continue  # keras.Model() without a graph (a subclass' base, ...)
        ctx.owned.add(id(fc.call))
        try:
            graph = _trace(ctx, fc, inputs_node, outputs_node)
            _plan(ctx, graph)
        except Unconvertible as exc:
            _fail(ctx, fc.call, "keras.Model", str(exc))
            _keep_layers_before(ctx, fc)
            continue
        graph.class_name = _class_name(graph.name, taken)
        taken.add(graph.class_name)
        graph.anchor = _top_statement(fc.stack)
        plans[id(fc.call)] = graph
        for stmt in graph.removed:
            removals.add(id(stmt))


def _keep_layers_before(ctx, fc) -> None:
    """A model that stays Keras keeps its layers Keras too, also those the trace had not reached
    when it stopped (a PyTorch module applied to a Keras tensor runs under neither)."""
    block, statement = _block_of(fc.stack)
    if block is None:
        return
    body = list(block.body)
    for stmt in body[: body.index(statement)]:
        for node in iter_nodes(stmt):
            if isinstance(node, cst.Call) and _layer_call(ctx, node) is not None:
                ctx.owned.add(id(node))


def _block_of(stack):
    for i in range(len(stack) - 1, -1, -1):
        if isinstance(stack[i], (cst.IndentedBlock, cst.Module)):
            return stack[i], stack[i + 1] if i + 1 < len(stack) else None
    return None, None


def _scope_of(stack):
    for node in reversed(stack):
        if isinstance(node, (cst.FunctionDef, cst.Module)):
            return node
    return None


class _Tracer:
    """Reads a block's statements in order, collecting graph tensors and layer uses."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.symbolic: set[str] = set()
        # names the block assigns instances of the file's classes to (block = Block())
        self.instances: dict[str, str] = {}
        self.layer_vars: dict[str, int] = {}  # variable -> layer object id
        self.layers: dict[int, LayerCall] = {}
        self.layer_order: list[int] = []
        self.var_of: dict[int, str] = {}
        self.inputs: dict[str, tuple] = {}
        self.ops: list[Op] = []
        self.input_statements: dict[str, cst.CSTNode] = {}
        self.layer_statements: dict[int, cst.CSTNode] = {}

    def layer_of(self, func) -> int | None:
        if isinstance(func, cst.Call):
            layer = _layer_call(self.ctx, func)
            if layer is None:
                return None
            key = id(func)
            if key not in self.layers:
                self.layers[key] = layer
                self.layer_order.append(key)
                self.ctx.owned.add(key)
            return key
        if isinstance(func, cst.Name) and func.value in self.layer_vars:
            return self.layer_vars[func.value]
        return None

    def applied_layer(self, node: cst.Call):
        """(the key of the layer ``node`` applies, the arguments that carry its inputs), a
        merge function (``tf.concat([a, b], axis=1)``) becoming its layer; None for any
        other call."""
        key = self.layer_of(node.func)
        args = list(node.args)
        if key is None:
            api = resolve_call(self.ctx, node)
            if api not in MERGE_FUNCTIONS:
                return None
            rule = self.ctx.ruleset.lookup(MERGE_FUNCTIONS[api])
            layer = LayerCall(MERGE_FUNCTIONS[api], node, rule, self.ctx, {})
            for a in args[1:]:
                if a.keyword is not None and a.keyword.value == "axis":
                    layer.values["axis"] = a.value
            key = id(node)
            self.layers[key] = layer
            self.layer_order.append(key)
            self.ctx.owned.add(key)
            args = args[:1]
        return key, args

    def application(self, node) -> App | None:
        """A call that applies a layer to graph tensors, or None."""
        if not isinstance(node, cst.Call):
            return None
        found = self.applied_layer(node)
        if found is None:
            return None
        key, args = found
        inputs, exprs = [], []
        for a in args:
            if a.keyword is not None:
                if a.keyword.value in ("training", "mask"):
                    continue
                raise Unconvertible(f"a layer called with {a.keyword.value}=: not supported yet")
            names = _names(a.value)
            if names is not None and all(n in self.symbolic for n in names):
                inputs.extend(names)
                exprs.extend([None] * len(names))
                continue
            read = used_names(a.value) & self.symbolic
            if not read or not _arithmetic(a.value):
                raise Unconvertible(f"a layer called on something that is not a graph tensor: {code_of(a.value).strip()[:60]}")
            inputs.append(sorted(read)[0])
            exprs.append(a.value)
        return App(key, inputs, exprs, node)

    def statement(self, stmt) -> None:
        known = self.symbolic | set(self.layer_vars)
        used = used_names(stmt)
        simple = isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
        small = stmt.body[0] if simple else None
        if self._state_unpacking(stmt, small):
            return
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
            if used & known and not isinstance(small, cst.Expr):
                raise Unconvertible(f"only straight-line assignments can build a graph: {code_of(stmt).strip()[:60]}")
            return
        name = small.targets[0].target.value
        value = small.value
        api = resolve_call(self.ctx, value) if isinstance(value, cst.Call) else None
        if api in INPUTS:
            self.inputs[name] = _input_from_call(self.ctx, value)
            self.input_statements[name] = stmt
            self.symbolic.add(name)
            self.ctx.owned.add(id(value))
            return
        layer = _layer_call(self.ctx, value)
        if layer is not None:  # a layer object, applied later
            key = id(value)
            self.layers[key] = layer
            self.layer_order.append(key)
            self.var_of[key] = name
            self.layer_vars[name] = key
            self.layer_statements[key] = stmt
            self.ctx.owned.add(key)
            return
        app = self.application(value)
        if app is not None:
            self.ops.append(Op(stmt, name, app=app, reads=list(app.inputs)))
            self._bind(name)
            return
        reads = used & self.symbolic
        inline = self._inline_applications(value)
        if reads:
            self._refuse_objects_made_in_place(value)
        if reads or inline:
            self.ops.append(Op(stmt, name, inline=inline, reads=sorted(reads)))
            self._bind(name)
            return
        self.symbolic.discard(name)  # rebound to something else

    def _refuse_objects_made_in_place(self, value) -> None:
        """``h = Block()(inputs)``: an object made where the graph applies it would be made
        again at every forward() call, with new weights that no optimizer sees."""
        for node in in_source_order(value):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value not in self.layer_vars:
                made = self.instances.get(node.func.value)
                if made is not None:
                    raise Unconvertible(
                        f"the graph applies {node.func.value}, an instance of {made} (a class of this file): the model"
                        " would not hold its module (its weights not in model.parameters()); write the model as a"
                        f" subclass that makes it in __init__ (self.{node.func.value} = {made}(...))"
                    )
            if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Call)):
                continue
            inner = node.func
            if _layer_call(self.ctx, inner) is not None or resolve_call(self.ctx, inner) is not None:
                continue  # a Keras layer (a module in __init__) or a framework function's result
            made = code_of(inner).strip()[:60]
            raise Unconvertible(
                f"the graph applies {made}, made where it is applied: forward() would make a new one, with new"
                " weights, at every call; write the model as a subclass that makes it once in __init__"
            )

    def _state_unpacking(self, stmt, small) -> bool:
        """``out, h, c = keras.layers.LSTM(n, return_state=True)(x)``: one op, its states named."""
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, (cst.Tuple, cst.List))):
            return False
        names = _names(small.targets[0].target)
        if not names or len(names) < 2 or not isinstance(small.value, cst.Call):
            return False
        func = small.value.func
        layer = _layer_call(self.ctx, func) if isinstance(func, cst.Call) else (
            self.layers.get(self.layer_vars[func.value]) if isinstance(func, cst.Name) and func.value in self.layer_vars else None
        )
        if layer is None or layer.rule.data.get("plan") != "rnn":
            return False
        expected = 3 if layer.short == "LSTM" else 2
        if len(names) != expected:
            raise Unconvertible(f"{layer.short}(return_state=True) gives {expected} values; the statement unpacks {len(names)}")
        layer.states_ok = True
        app = self.application(small.value)
        if app is None:
            return False
        key = app.layer_key
        self.layers[key].states_ok = True
        self.ops.append(Op(stmt, names[0], app=app, reads=list(app.inputs), states=names[1:]))
        for name in names:
            self._bind(name)
        return True

    def _bind(self, name) -> None:
        self.symbolic.add(name)
        self.layer_vars.pop(name, None)

    def _inline_applications(self, value) -> list[App]:
        apps: list[App] = []
        tracer = self

        class V(cst.CSTVisitor):
            def visit_Call(self, node):
                app = tracer.application(node)
                if app is not None:
                    apps.append(app)
                    return False
                return True

        value.visit(V())
        return apps


def _trace(ctx, fc, inputs_node, outputs_node) -> Graph:
    block, statement = _block_of(fc.stack)
    if block is None:
        raise Unconvertible("the model is not built in a block of statements")
    body = list(block.body)
    index = body.index(statement)
    inputs = _names(inputs_node)
    if inputs is None:
        raise Unconvertible("inputs= must be a name or a list of names")
    tracer = _Tracer(ctx)
    tracer.instances = _instances(ctx.module, body[:index])
    for stmt in body[:index]:
        tracer.statement(stmt)
    outputs = _names(outputs_node)
    if outputs is None:  # one inline expression: outputs=layers.Dense(1)(x)
        fake = cst.SimpleStatementLine(body=[cst.Assign(targets=[cst.AssignTarget(cst.Name("outputs"))], value=outputs_node)])
        tracer.statement(fake)
        if not tracer.ops or tracer.ops[-1].statement is not fake:
            raise Unconvertible("outputs= must be graph tensors")
        outputs = ["outputs"]
    for name in inputs:
        if name not in tracer.inputs:
            raise Unconvertible(f"input {name!r} is not a keras.Input of this block")
    # keep what the outputs need, walking back from them
    needed = set(outputs)
    kept: list[Op] = []
    for op in reversed(tracer.ops):
        if op.target in needed or needed & set(op.states):
            kept.append(op)
            needed.discard(op.target)
            needed.difference_update(op.states)
            needed.update(op.reads)
            for app in op.inline:
                needed.update(app.inputs)
    kept.reverse()
    missing = needed - set(inputs)
    if missing:
        raise Unconvertible(f"the outputs depend on {', '.join(sorted(missing))}, which is not computed from the inputs here")
    used_keys = []
    for op in kept:
        for app in ([op.app] if op.app else []) + op.inline:
            if app.layer_key not in used_keys:
                used_keys.append(app.layer_key)
    layer_order = [k for k in tracer.layer_order if k in used_keys]
    target = None
    if isinstance(statement, cst.SimpleStatementLine) and isinstance(statement.body[0], cst.Assign):
        t = statement.body[0].targets[0].target
        if isinstance(t, cst.Name):
            target = t.value
    if target is None:  # `return keras.Model(...)` in a builder function: named after it
        scope = _scope_of(fc.stack)
        target = scope.name.value if isinstance(scope, cst.FunctionDef) else "model"
    graph = Graph(target, fc.call, inputs, outputs, isinstance(outputs_node, cst.Name) or _names(outputs_node) is None,
                  kept, {k: tracer.layers[k] for k in layer_order}, layer_order,
                  {k: tracer.var_of[k] for k in layer_order if k in tracer.var_of})
    for name in inputs:
        graph.input_infos[name] = TensorInfo(tracer.inputs[name])
        graph.removed.append(tracer.input_statements[name])
        graph.input_calls[name] = tracer.input_statements[name].body[0].value
    for key in layer_order:
        if key in tracer.layer_statements:
            graph.removed.append(tracer.layer_statements[key])
    graph.removed.extend(op.statement for op in kept if op.statement in body)
    _constructor_arguments(graph, fc.stack, set(tracer.symbolic) | set(tracer.layer_vars))
    return graph


def _constructor_arguments(graph: Graph, stack, graph_names: set[str]) -> None:
    """Variables of the builder function the graph uses become constructor arguments."""
    scope = _scope_of(stack)
    if not isinstance(scope, cst.FunctionDef):
        return
    local = set(scope_bindings(scope))
    in_layers = set()
    for layer in graph.layers.values():
        # not the data format and channel axis the modules no longer take (data_format.py)
        in_layers |= data_format.names_read(layer, used_names)
    in_forward = set()
    for op in graph.ops:
        in_forward |= _names_outside(op.statement, set(graph.layers))
    exclude = graph_names | set(graph.inputs) | {graph.name}
    free = ((in_layers | in_forward) & local) - exclude
    params = [p.name.value for p in (*scope.params.posonly_params, *scope.params.params, *scope.params.kwonly_params)]
    graph.free = [p for p in params if p in free] + sorted(free - set(params))
    graph.stored = [n for n in graph.free if n in in_forward - exclude]


def _names_outside(node, skip_ids: set[int]) -> set[str]:
    """Names read in ``node`` outside the layer constructor calls it contains."""
    found = set()

    class V(cst.CSTVisitor):
        def on_visit(self, n):
            if id(n) in skip_ids:
                return False
            return super().on_visit(n)

        def visit_Name(self, n):
            found.add(n.value)

        def visit_Attribute(self, n):
            n.value.visit(self)
            return False

        def visit_Arg(self, n):
            n.value.visit(self)
            return False

    node.visit(V())
    return found


def _plan(ctx, graph: Graph) -> None:
    infos = graph.infos
    for name in graph.inputs:
        x = graph.input_infos[name]
        if x.rank and x.rank >= 2 and _first_consumer_wants(graph, name) == "cf":
            x = TensorInfo(x.shape, "cf")
        graph.input_infos[name] = x
        infos[name] = x
    flatten_consumers = _consumers(graph)
    for op in graph.ops:
        for app in ([op.app] if op.app else []) + op.inline:
            _plan_app(graph, app, infos, flatten_consumers)
        if op.app is not None:
            infos[op.target] = op.app.plan.out
            for name in op.states:
                infos[name] = op.app.plan.state_out or TensorInfo(None)
            continue
        reads = [infos[n] for n in op.reads]
        layouts = {t.layout for t in reads} | {a.plan.out.layout for a in op.inline}
        if _elementwise(ctx, op.statement.body[0].value, op.inline) and len(layouts) <= 1:
            shapes = [t for t in reads] + [a.plan.out for a in op.inline]
            infos[op.target] = TensorInfo(shapes[0].shape, shapes[0].layout) if shapes else TensorInfo(None)
            continue
        for n, t in zip(op.reads, reads):
            if t.layout == "cf" and t.rank and t.rank >= 2:
                op.before[n] = "movedim(1, -1)"
        infos[op.target] = TensorInfo(None)


def _first_consumer_wants(graph: Graph, name: str) -> str:
    for op in graph.ops:
        apps = ([op.app] if op.app else []) + op.inline
        for app in apps:
            if name in app.inputs:
                return wanted_layout(graph.layers[app.layer_key], graph.input_infos[name])
        if name in op.reads:
            return "keras"
    return "keras"


def _consumers(graph: Graph) -> dict[str, list]:
    """variable -> the layers (or None for other code) that read it."""
    out: dict[str, list] = {}
    for op in graph.ops:
        for app in ([op.app] if op.app else []) + op.inline:
            for n in app.inputs:
                out.setdefault(n, []).append(graph.layers[app.layer_key])
        for n in op.reads:
            if op.app is None:
                out.setdefault(n, []).append(None)
    return out


def _plan_app(graph: Graph, app: App, infos, consumers) -> None:
    layer = graph.layers[app.layer_key]
    inputs = []
    keras_flatten = False
    for i, name in enumerate(app.inputs):
        t = infos[name]
        want = wanted_layout(layer, t)
        if want != "any" and t.rank and t.rank >= 2 and t.layout != want:
            app.before[i] = "movedim(-1, 1)" if want == "cf" else "movedim(1, -1)"
            t = TensorInfo(t.shape, want)
        t = channels_first_view(layer, t)  # data_format="channels_first": no move
        if layer.rule.data.get("plan") == "flatten" and t.layout == "cf" and t.rank and t.rank >= 2:
            target = _target_of(graph, app)
            if not _only_dense(target, graph, consumers):
                # flatten in Keras's order: something order-sensitive reads it
                app.before[i] = (app.before[i] + "." if i in app.before else "") + "movedim(1, -1)"
                t = TensorInfo(t.shape, "keras")
                keras_flatten = True
        inputs.append(t)
    if app.layer_key in graph.plans:
        app.plan = graph.plans[app.layer_key]  # a shared layer: the same modules
    elif keras_flatten:
        app.plan = plan_flatten(layer, inputs[0])
        graph.plans[app.layer_key] = app.plan
    else:
        app.plan = plan_layer(layer, inputs)
        graph.plans[app.layer_key] = app.plan


def _target_of(graph: Graph, app: App) -> str | None:
    for op in graph.ops:
        if op.app is app:
            return op.target
    return None


def _only_dense(name, graph: Graph, consumers) -> bool:
    """Every reader of ``name`` is a Dense (through order-agnostic layers)."""
    if name is None or name in graph.outputs:
        return False
    readers = consumers.get(name, [])
    if not readers:
        return False
    for layer in readers:
        if layer is None:
            return False
        kind = layer.rule.data.get("plan")
        if kind == "dense":
            continue
        if kind in ORDER_AGNOSTIC:
            target = next((op.target for op in graph.ops if op.app and graph.layers[op.app.layer_key] is layer), None)
            if not _only_dense(target, graph, consumers):
                return False
            continue
        return False
    return True


def _elementwise(ctx, value, inline: list[App]) -> bool:
    inline_ids = {id(a.call) for a in inline}

    def ok(node) -> bool:
        if id(node) in inline_ids:
            return True
        if isinstance(node, (cst.Name, cst.Integer, cst.Float)):
            return True
        if isinstance(node, cst.BinaryOperation):
            return ok(node.left) and ok(node.right)
        if isinstance(node, cst.UnaryOperation):
            return ok(node.expression)
        if isinstance(node, cst.Call):
            api = resolve_call(ctx, node)
            return api in ELEMENTWISE and all(a.keyword is None and ok(a.value) for a in node.args)
        return False

    return ok(value)


# -- code --------------------------------------------------------------------

_HINTS = {"dense": "fc", "conv": "conv", "bn": "bn", "pool": "pool", "dropout": "dropout", "flatten": "flatten"}


def _attr_names(graph: Graph) -> None:
    used: set[str] = set()
    counters: dict[str, int] = {}
    for key in graph.layer_order:
        plan = graph.plans[key]
        names = []
        layer = graph.layers[key]
        for spec in plan.modules:
            base = graph.layer_vars.get(key) if len(plan.modules) == 1 else None
            given = layer.values.get("name")
            if base is None and isinstance(given, cst.SimpleString) and len(plan.modules) == 1:
                base = "".join(ch if ch.isalnum() else "_" for ch in given.evaluated_value)
            if base is None:
                hint = _HINTS.get(spec.hint, spec.hint)
                counters[hint] = counters.get(hint, 0) + 1
                base = f"{hint}{counters[hint]}"
            while base in used:
                base += "_"
            used.add(base)
            names.append(base)
        graph.attrs[key] = names


def _apply_code(ctx, graph: Graph, app: App) -> str:
    plan = app.plan
    refs = {f"m{i}": f"self.{a}" for i, a in enumerate(graph.attrs[app.layer_key])}
    args = []
    for i, name in enumerate(app.inputs):
        expr = app.exprs[i]
        text = name if expr is None else code_of(ctx.updated(expr)).strip()
        if i in app.before:
            text = (text if expr is None else f"({text})") + f".{app.before[i]}"
        args.append(text)
    if plan.multi_input:
        expr = plan.apply
        for i, a in enumerate(args):
            expr = expr.replace("{x%d}" % i, a)
        return _fill(expr, refs)
    return _fill(plan.apply, {**refs, "x": args[0]})


def class_statements(ctx, graph: Graph) -> list:
    for key in graph.layer_order:
        graph.plans[key] = graph.plans[key].with_function_activation()
    for op in graph.ops:
        for app in ([op.app] if op.app else []) + op.inline:
            app.plan = graph.plans[app.layer_key]
    _attr_names(graph)
    holder = _Placeholders()
    init_lines = []
    for key in graph.layer_order:
        plan = graph.plans[key]
        for attr, spec in zip(graph.attrs[key], plan.modules):
            init_lines.append(f"self.{attr} = " + holder.add(spec.template, spec.subs, ctx))
        refs = {f"m{i}": f"self.{a}" for i, a in enumerate(graph.attrs[key])}
        layer = graph.layers[key]
        for init in lazy_inits(ctx, layer.call, layer.kind, plan, plan.inits):
            init_lines.append(_fill(init, refs))
    for name in graph.stored:
        init_lines.append(f"self.{name} = {name}")
    forward_statements: list = []
    for op in graph.ops:
        if op.app is not None and op.states:
            forward_statements.append(state_code(op, _apply_code(ctx, graph, op.app)))
            continue
        if op.app is not None:
            forward_statements.append(f"{op.target} = {_apply_code(ctx, graph, op.app)}")
            continue
        stmt = ctx.updated(op.statement)
        stmt = _rewrite_other(ctx, graph, stmt, op)
        forward_statements.append(stmt.with_changes(leading_lines=[l for l in stmt.leading_lines if l.comment is not None]))
    params = ", ".join(["self", *graph.free])
    returns = ", ".join(graph.outputs)
    body_init = "\n".join("        " + line for line in init_lines)
    text = (
        f"class {graph.class_name}(torch.nn.Module):\n"
        f"    def __init__({params}):\n"
        f"        super().__init__()\n" + (f"{body_init}\n" if body_init else "") + "\n"
        f"    def forward(self, {', '.join(graph.inputs)}):\n"
        f"        return {returns}\n"
    )
    cls = ctx.build_statements(text, **holder.subs)[0]
    body = []
    for item in forward_statements:
        body.extend(ctx.build_statements(item + "\n") if isinstance(item, str) else [item])
    init, forward = cls.body.body
    forward = forward.with_changes(body=forward.body.with_changes(body=body + list(forward.body.body)))
    return [cls.with_changes(body=cls.body.with_changes(body=[init, forward]))]


def state_code(op: Op, call: str) -> str:
    """An RNN with return_state: PyTorch's (output, h_n) / (output, (h_n, c_n)) unpacked into
    Keras's names; the states are (layers, N, H) where Keras's are (N, H), the output the last
    step unless return_sequences."""
    plan = op.app.plan
    out, states = op.target, op.states
    held = f"({', '.join(states)})" if len(states) > 1 else states[0]
    names, values = list(states), [s + "[-1]" for s in states]
    if plan.out.rank == 1:
        names, values = [out, *names], [f"{out}[:, -1]", *values]
    return f"{out}, {held} = {call}\n{', '.join(names)} = {', '.join(values)}"


def _fill(template: str, values: dict) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _rewrite_other(ctx, graph: Graph, stmt, op: Op):
    """Code that is not a layer, in forward(): inline layer calls become module calls,
    builder variables become attributes, channels-first tensors whose axis order
    may matter go back to Keras's order."""
    inline = {id(ctx.updated(app.call)): app for app in op.inline}
    stored = {name: name for name in graph.stored}
    return stmt.visit(Rename(stored, op.before, inline, lambda app: _apply_code(ctx, graph, app)))


class Rename(cst.CSTTransformer):
    """Names of __init__ that forward() reads -> their attributes; channels-first tensors
    that other code reads -> Keras's order; layers applied inside other code -> modules."""

    def __init__(self, stored: dict[str, str], before: dict[str, str] | None = None, inline: dict | None = None, apply=None):
        self.stored = stored
        self.before = before or {}
        self.inline = inline or {}
        self.apply = apply
        self.skip: set[int] = set()
        # names a lambda or comprehension inside binds for itself (lambda x: ..., [x for x in
        # ...]): there they are not the builder's variables
        self.shadowed: list[set[str]] = []

    def on_visit(self, node):
        if id(node) in self.inline:
            return False
        own = _own_names(node)
        if own is not None:
            self.shadowed.append(own)
        return super().on_visit(node)

    def on_leave(self, original, updated):
        if _own_names(original) is not None:
            self.shadowed.pop()
        app = self.inline.get(id(original))
        if app is not None:
            return cst.parse_expression(self.apply(app))
        return super().on_leave(original, updated)

    def visit_Attribute(self, node):
        self.skip.add(id(node.attr))

    def visit_Arg(self, node):
        if node.keyword is not None:
            self.skip.add(id(node.keyword))

    def visit_AssignTarget(self, node):
        self.skip.add(id(node.target))

    def leave_Name(self, original, updated):
        if id(original) in self.skip or any(original.value in names for names in self.shadowed):
            return updated
        if original.value in self.stored:
            return cst.Attribute(value=cst.Name("self"), attr=cst.Name(self.stored[original.value]))
        if original.value in self.before:
            return cst.parse_expression(f"{original.value}.{self.before[original.value]}")
        return updated


def _instances(module: cst.Module, statements) -> dict[str, str]:
    """``name -> class`` for the names ``statements`` assign an instance of a class of this
    file to (``block = Block()``)."""
    classes = {c.name.value for c in module.body if isinstance(c, cst.ClassDef)}
    found = {}
    for stmt in statements:
        for node in iter_nodes(stmt):
            if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call) and isinstance(node.value.func, cst.Name):
                if node.value.func.value in classes:
                    for t in node.targets:
                        if isinstance(t.target, cst.Name):
                            found[t.target.value] = node.value.func.value
    return found


def _own_names(node) -> set[str] | None:
    """The names a lambda (its parameters) or a comprehension (its loop targets) binds in its
    own scope; None for other nodes."""
    if isinstance(node, cst.Lambda):
        params = node.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        every += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
        return {p.name.value for p in every}
    if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
        names: set[str] = set()
        loop = node.for_in
        while loop is not None:
            names |= {n.value for n in _target_names(loop.target)}
            loop = loop.inner_for_in
        return names
    return None


def _target_names(target) -> list:
    if isinstance(target, cst.Name):
        return [target]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for e in target.elements for n in _target_names(e.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def layer_entries(ctx, graph: Graph, paths_of: dict) -> list[dict]:
    """The weight map's entry of each layer of ``graph``: where it was made, the modules it
    became (``paths_of``: layer key -> their attribute paths) and how its weights go there."""
    layers = []
    for key in graph.layer_order:
        layer = graph.layers[key]
        plan = graph.plans[key]
        layers.append(layer_entry(layer.short, list(ctx.scan.position(layer.call)), paths_of.get(key, []), plan))
    return layers


def finish_info(ctx, graph: Graph) -> dict:
    layers = layer_entries(ctx, graph, graph.attrs)
    outs = [graph.infos[n] for n in graph.outputs]
    return {
        "kind": "functional",
        "form": graph.class_name,
        "inputs": [
            {"name": n, "shape": list(graph.input_infos[n].shape) if graph.input_infos[n].shape else None, "layout": graph.input_infos[n].layout}
            for n in graph.inputs
        ],
        "output_layout": outs[0].layout if outs else "keras",
        "output_layouts": [o.layout for o in outs],
        "output_rank": outs[0].rank if outs else None,
        "layers": layers,
        "constructor": graph.free,
    }


def _results_of(ctx, function: str) -> list[str]:
    out = []
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
            small = stmt.body[0]
            value = small.value
            if (
                isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == function
                and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
            ):
                out.append(small.targets[0].target.value)
    return out


def on_call(transformer, original, updated):
    ctx = transformer.ctx
    graph = ctx.facts.get("model_plans", {}).get(id(original))
    if not isinstance(graph, Graph):
        return None
    for key in graph.layer_order:
        layer = graph.layers[key]
        plan = graph.plans[key]
        target = ", ".join(spec.template.split("(", 1)[0].replace("torch.nn.", "nn.") for spec in plan.modules)
        ctx.converted(layer.call, layer.kind, target or "forward code")
        if isinstance(layer.call.func, (cst.Name, cst.Attribute)):
            ctx.consume_head(layer.call.func)
        for warning in plan.warnings:
            ctx.warn(layer.call, layer.kind, warning)
    for name, call in graph.input_calls.items():
        ctx.converted(call, "keras.Input", f"argument {name!r} of {graph.class_name}.forward()")
    statements = class_statements(ctx, graph)
    ctx.facts.setdefault("classes_before", {}).setdefault(id(graph.anchor), []).extend(statements)
    info = finish_info(ctx, graph)
    ctx.models[graph.name] = info
    if isinstance(graph.anchor, cst.FunctionDef):
        # `mlp = build_mlp(12)` at the top level holds this model too
        for var in _results_of(ctx, graph.anchor.name.value):
            ctx.models[var] = info
    ctx.converted(original, "keras.Model", graph.class_name)
    ctx.consume_head(original.func)
    return cst.Call(func=cst.Name(graph.class_name), args=[cst.Arg(cst.Name(n)) for n in graph.free])
