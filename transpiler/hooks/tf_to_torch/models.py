"""Keras models -> PyTorch modules: Sequential models (list and ``.add`` forms).

The analyzer (run before the rewrite) finds each model, plans every layer with
the shapes flowing through it (keras_layers.py), and decides the form:

* ``nn.Sequential(...)`` when every layer is a chain of modules in one layout;
* otherwise a small ``nn.Module`` class with ``__init__`` and ``forward``, placed
  before the statement that builds the model.

A model with a layer that cannot be converted is left as it was, with the reason.
Each model also gets a weight map (``ctx.models``): which PyTorch parameter each
Keras weight becomes and how (transpose, kernel layout...), for the weight
converter and for ``verify``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import framework_calls, resolve_call
from .keras_layers import ORDER_AGNOSTIC, LayerCall, LayerPlan, TensorInfo, channels_first_view, identity_module, lazy_inits, plan_flatten, plan_layer, wanted_layout

SEQUENTIAL = {"keras.Sequential", "keras.models.Sequential"}
INPUTS = {"keras.Input", "keras.layers.Input"}
INPUT_LAYER = "keras.layers.InputLayer"


@dataclass
class Step:
    layer: LayerCall
    plan: LayerPlan
    before: str | None = None  # layout conversion of the input: "movedim(-1, 1)" ...
    attrs: list[str] = field(default_factory=list)  # attribute names of its modules (class form)


@dataclass
class ModelPlan:
    kind: str  # "sequential"
    name: str  # variable the model is assigned to
    input: TensorInfo
    steps: list[Step]
    chain: bool  # nn.Sequential can hold it
    class_name: str | None = None
    anchor: cst.CSTNode | None = None  # top-level statement the class goes before
    problem: str | None = None
    aliases: list[str] = field(default_factory=list)  # other variables holding it (`a = build()`)

    def info(self, ctx) -> dict:
        return model_info(self, ctx)


def _layout_change(current: TensorInfo, want: str):
    """(conversion expression or None, new tensor info)."""
    if want == "any" or not current.rank or current.rank < 2 or current.layout == want:
        return None, current
    if want == "cf":
        return "{x}.movedim(-1, 1)", TensorInfo(current.shape, "cf")
    return "{x}.movedim(1, -1)", TensorInfo(current.shape, "keras")


def plan_sequence(layers: list[LayerCall], x: TensorInfo) -> tuple[TensorInfo, list[Step], bool]:
    """Plan a Sequential's layers; the model input takes the layout its first layer wants."""
    first = x
    if x.rank and x.rank >= 2:
        for layer in layers:
            want = wanted_layout(layer, x)
            if want != "any":
                first = TensorInfo(x.shape, want)
                break
    current = first
    steps = []
    chain = True
    for i, layer in enumerate(layers):
        before, current = _layout_change(current, wanted_layout(layer, current))
        current = channels_first_view(layer, current)  # data_format="channels_first": no move
        if layer.rule.data.get("plan") == "flatten" and current.layout == "cf" and not _dense_follows(layers[i + 1:]):
            # the flattened features feed something that cares about their order:
            # flatten in Keras's (channels-last) order
            before = "{x}.movedim(1, -1)" if before is None else before + ".movedim(1, -1)"
            current = TensorInfo(current.shape, "keras")
            plan = plan_flatten(layer, current)
        else:
            plan = plan_layer(layer, [current])
        steps.append(Step(layer, plan, before))
        chain = chain and plan.chain and before is None and not plan.inits
        current = plan.out
    return first, steps, chain


def _dense_follows(rest: list[LayerCall]) -> bool:
    for layer in rest:
        kind = layer.rule.data.get("plan")
        if kind == "dense":
            return True
        if kind not in ORDER_AGNOSTIC:
            return False
    return False


def input_shape_of(layer: LayerCall) -> tuple | None:
    """The input shape a first layer declares (input_shape=, input_dim=, batch_input_shape=)."""
    if layer.has("input_shape"):
        shape = layer.literal("input_shape")
        return _shape_tuple(shape, layer)
    if layer.has("input_dim"):
        dim = layer.dim("input_dim")
        return (dim,)
    if layer.has("batch_input_shape"):
        shape = layer.literal("batch_input_shape")
        return _shape_tuple(shape, layer)[1:]
    return None


def _shape_tuple(value, layer) -> tuple:
    if isinstance(value, int):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(v if isinstance(v, int) else None for v in value)
    raise Unconvertible(f"{layer.short}: input shape {value!r} is not a literal tuple")


def _input_from_call(ctx, call: cst.Call) -> tuple | None:
    """Shape of keras.Input(shape=...) / InputLayer(input_shape=...)."""
    for arg in call.args:
        name = arg.keyword.value if arg.keyword else "shape"
        if name in ("shape", "input_shape", "batch_shape"):
            ok, value = literal_value(arg.value)
            if not ok:
                return None
            if name == "batch_shape":
                value = tuple(value)[1:]
            if isinstance(value, int):
                value = (value,)
            return tuple(v if isinstance(v, int) else None for v in value)
    return None


# -- finding models --------------------------------------------------------

def _layer_call(ctx, node) -> LayerCall | None:
    if not isinstance(node, cst.Call):
        return None
    api = resolve_call(ctx, node)
    if api is None:
        return None
    rule = ctx.ruleset.lookup(api)
    if rule is None or rule.hook != "models.standalone_layer":
        return None
    return LayerCall.bind(api, node, rule, ctx)


def _assignment_target(stack) -> str | None:
    for node in reversed(stack[:-1]):
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            return node.targets[0].target.value
        if isinstance(node, cst.BaseStatement):
            return None
    return None


def _also_named(ctx, stack) -> list[str]:
    """`def mlp(): return keras.Sequential(...)` at the top level: `a = mlp()` holds one too."""
    from .functional import _results_of

    if len(stack) >= 3 and isinstance(stack[-2], cst.Return):
        for node in stack:
            if isinstance(node, cst.FunctionDef):
                return _results_of(ctx, node.name.value) if stack.index(node) <= 2 else []
    return []


def _top_statement(stack):
    for node in stack[1:]:
        if isinstance(node, cst.BaseStatement):
            return node
    return None


def analyze(ctx) -> None:
    plans: dict[int, ModelPlan] = ctx.facts.setdefault("model_plans", {})
    removals: set[int] = ctx.facts.setdefault("remove_statements", set())
    taken = _taken_names(ctx)
    for fc in framework_calls(ctx):
        if fc.api not in SEQUENTIAL:
            continue
        name = _assignment_target(fc.stack) or "model"
        elements = None
        call = fc.call
        if call.args and call.args[0].keyword is None or any(a.keyword and a.keyword.value == "layers" for a in call.args):
            arg = call.args[0] if call.args[0].keyword is None else next(a for a in call.args if a.keyword and a.keyword.value == "layers")
            if not isinstance(arg.value, (cst.List, cst.Tuple)):
                _fail(ctx, call, "keras.Sequential", "the layers are not written as a list here")
                continue
            elements = [el.value for el in arg.value.elements]
        adds = _add_statements(ctx, fc, name)
        if adds is None:
            adds = []
        calls = list(elements or []) + [a[1] for a in adds]
        ctx.owned.add(id(call))
        try:
            plan = _plan_sequential(ctx, name, calls)
        except Unconvertible as exc:
            # all or nothing: the layers and .add() calls stay as they are, with the reason
            _fail(ctx, call, "keras.Sequential", str(exc))
            for statement, _ in adds:
                ctx.owned.add(id(statement.body[0].value))
            for node in calls:
                ctx.owned.add(id(node))
            continue
        plan.anchor = _top_statement(fc.stack)
        if not plan.chain:
            plan.class_name = _class_name(name, taken)
            taken.add(plan.class_name)
        plans[id(call)] = plan
        for statement, layer_node in adds:
            removals.add(id(statement))
            ctx.owned.add(id(statement.body[0].value))  # the .add() call itself
        for node in calls:
            ctx.owned.add(id(node))
        ctx.models[name] = plan.info(ctx)
        plan.aliases = _also_named(ctx, fc.stack)
        for alias in plan.aliases:
            ctx.models[alias] = ctx.models[name]


def _fail(ctx, call, api, reason) -> None:
    ctx.facts.setdefault("model_failures", {})[id(call)] = (api, reason)


def _add_statements(ctx, fc, name: str):
    """[(statement, layer call)] for `name.add(layer)` statements right after the assignment."""
    assign_stmt = None
    for node in reversed(fc.stack):
        if isinstance(node, cst.SimpleStatementLine):
            assign_stmt = node
            break
    if assign_stmt is None:
        return None
    block = None
    for node in reversed(fc.stack):
        if isinstance(node, (cst.IndentedBlock, cst.Module)):
            block = node
            break
    body = list(block.body)
    try:
        start = body.index(assign_stmt)
    except ValueError:
        return None
    found = []
    for stmt in body[start + 1:]:
        call = _add_call(stmt, name)
        if call is None:
            break
        found.append((stmt, call))
    return found


def _add_call(stmt, name: str):
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return None
    expr = stmt.body[0]
    if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
        return None
    call = expr.value
    func = call.func
    if (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and func.value.value == name
        and func.attr.value == "add"
        and len(call.args) == 1
        and call.args[0].keyword is None
    ):
        return call.args[0].value
    return None


def _plan_sequential(ctx, name: str, nodes: list) -> ModelPlan:
    shape = None
    layers: list[LayerCall] = []
    for i, node in enumerate(nodes):
        api = resolve_call(ctx, node) if isinstance(node, cst.Call) else None
        if api in INPUTS or api == INPUT_LAYER:
            if layers:
                raise Unconvertible("an Input in the middle of a Sequential model")
            shape = _input_from_call(ctx, node)
            ctx.owned.add(id(node))
            ctx.facts.setdefault("sequential_inputs", {}).setdefault(name, []).append((api, node))
            continue
        layer = _layer_call(ctx, node)
        if layer is None:
            text = code_of(node).strip()
            func = node.func if isinstance(node, cst.Call) else None
            if isinstance(func, cst.Name) and func.value not in _taken_names(ctx) and func.value not in dir(__builtins__):
                raise Unconvertible(f"element {i + 1} ({text[:60]}): '{func.value}' is not defined in this file (the original raises NameError too)")
            if isinstance(func, cst.Name) and func.value in ctx.facts.get("_class_names", ()):
                raise Unconvertible(f"element {i + 1} ({text[:60]}) is a layer class of this file: a Sequential of the file's "
                                    "own layers is not converted; make the model a class (or call the layers in a functional model)")
            raise Unconvertible(f"element {i + 1} ({text[:60]}) is not a Keras layer the rules know")
        if not layers and shape is None:
            shape = input_shape_of(layer)
        layers.append(layer)
    if not layers:
        raise Unconvertible("an empty Sequential model")
    x = TensorInfo(shape)
    try:
        first, steps, chain = plan_sequence(layers, x)
    except Unconvertible as exc:
        raise Unconvertible(str(exc)) from None
    return ModelPlan("sequential", name, first, steps, chain)


def _taken_names(ctx) -> set[str]:
    classes = ctx.facts.get("_class_names")
    if classes is None:
        classes = ctx.facts["_class_names"] = set(re.findall(r"\bclass\s+(\w+)", ctx.scan.source))
    taken = set(classes)
    for names in ctx.resolver.bindings.by_scope.values():
        taken.update(names)
    return taken


def _class_name(name: str, taken: set[str]) -> str:
    base = "".join(part.capitalize() for part in re.split(r"_+", name) if part) or "Model"
    if not base[0].isalpha():
        base = "Model" + base
    candidate = base
    n = 2
    while candidate in taken:
        candidate = f"{base}{n}"
        n += 1
    return candidate


# -- weight maps -------------------------------------------------------------

def layer_entry(keras_class: str, origin: list, paths: list[str], plan: LayerPlan) -> dict:
    """A weight map's entry for one Keras layer: where it was made, the PyTorch modules it
    became (``paths``, in the order of ``plan.modules``) and how each weight converts."""
    return {
        "keras_class": keras_class,
        "origin": origin,
        "modules": paths,
        "weights": [
            {"keras": w.keras, "torch": w.torch, "transform": w.transform, "module": paths[w.module] if paths else "", "args": w.args}
            for w in plan.weights
        ],
    }


def model_info(plan: ModelPlan, ctx) -> dict:
    layers = [
        layer_entry(step.layer.short, list(ctx.scan.position(step.layer.call)), module_paths(plan, step), step.plan)
        for step in plan.steps
    ]
    return {
        "kind": plan.kind,
        "form": "nn.Sequential" if plan.chain else plan.class_name,
        "inputs": [{"shape": list(plan.input.shape) if plan.input.shape else None, "layout": plan.input.layout}],
        "output_layout": plan.steps[-1].plan.out.layout if plan.steps else "keras",
        "output_rank": plan.steps[-1].plan.out.rank if plan.steps else None,
        "layers": layers,
    }


def module_paths(plan: ModelPlan, step: Step) -> list[str]:
    if plan.chain:
        offset = 0
        for s in plan.steps:
            if s is step:
                return [str(offset + i) for i in range(len(step.plan.modules))]
            offset += len(s.plan.modules)
    return list(step.attrs)


# -- code --------------------------------------------------------------------

class _Placeholders:
    def __init__(self) -> None:
        self.subs: dict[str, cst.BaseExpression] = {}

    def add(self, template: str, subs: dict, ctx) -> str:
        for key, node in subs.items():
            new_key = f"u{len(self.subs)}"
            self.subs[new_key] = ctx.updated(node)
            template = template.replace("{" + key + "}", "{" + new_key + "}")
        return template


def sequential_expression(ctx, plan: ModelPlan) -> cst.BaseExpression:
    holder = _Placeholders()
    modules = []
    for step in plan.steps:
        for spec in step.plan.modules:
            modules.append(holder.add(spec.template, spec.subs, ctx))
    text = "torch.nn.Sequential(" + ", ".join(modules) + ("," if len(modules) > 1 else "") + ")"
    return ctx.build(text, **holder.subs)


_HINTS = {"dense": "fc", "conv": "conv", "bn": "bn", "pool": "pool", "dropout": "dropout", "flatten": "flatten"}


def class_statements(ctx, plan: ModelPlan) -> list:
    holder = _Placeholders()
    counters: dict[str, int] = {}
    init_lines = []
    forward = []
    for step in plan.steps:
        step.plan = step.plan.with_function_activation()
        step.attrs = []
        for spec in step.plan.modules:
            hint = _HINTS.get(spec.hint, spec.hint)
            counters[hint] = counters.get(hint, 0) + 1
            attr = f"{hint}{counters[hint]}"
            step.attrs.append(attr)
            init_lines.append(f"self.{attr} = " + holder.add(spec.template, spec.subs, ctx))
        refs = {f"m{i}": f"self.{a}" for i, a in enumerate(step.attrs)}
        for init in lazy_inits(ctx, step.layer.call, step.layer.kind, step.plan, step.plan.inits):
            init_lines.append(_fill(init, refs))
        expr = "x"
        if step.before:
            expr = step.before.replace("{x}", expr)
        forward.append("x = " + _fill(step.plan.apply, {**refs, "x": expr}))
    body_init = "\n".join("        " + line for line in init_lines)
    body_forward = "\n".join("        " + line for line in forward)
    text = (
        f"class {plan.class_name}(torch.nn.Module):\n"
        f"    def __init__(self):\n"
        f"        super().__init__()\n{body_init}\n\n"
        f"    def forward(self, x):\n{body_forward}\n"
        f"        return x\n"
    )
    return ctx.build_statements(text, **holder.subs)


def _fill(template: str, values: dict) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


# -- handlers ------------------------------------------------------------------

def on_call(transformer, original, updated):
    ctx = transformer.ctx
    if id(original) in ctx.facts.get("kept_nodes", ()):
        return None  # in a class that stays Keras (subclass._keep): it stays with it
    failure = ctx.facts.get("model_failures", {}).get(id(original))
    if failure is not None:
        api, reason = failure
        ctx.unconverted(original, api, reason)
        return updated
    plan = ctx.facts.get("model_plans", {}).get(id(original))
    if not isinstance(plan, ModelPlan):
        return None
    report_steps(ctx, plan.steps, "forward code")
    for api, node in ctx.facts.get("sequential_inputs", {}).get(plan.name, []):
        ctx.converted(node, api, "the model's input shape (no module)")
    ctx.consume_subtree(original)
    if plan.chain:
        ctx.converted(original, "keras.Sequential", "torch.nn.Sequential")
        return sequential_expression(ctx, plan)
    statements = class_statements(ctx, plan)
    ctx.facts.setdefault("classes_before", {}).setdefault(id(plan.anchor), []).extend(statements)
    ctx.models[plan.name] = plan.info(ctx)  # the attribute names are known now
    for alias in plan.aliases:
        ctx.models[alias] = ctx.models[plan.name]
    ctx.converted(original, "keras.Sequential", plan.class_name)
    return cst.Call(func=cst.Name(plan.class_name))


def module_names(plan: LayerPlan) -> list[str]:
    """The PyTorch classes a layer's plan makes (``nn.Conv2d``, ``nn.ReLU``), for the report."""
    return [spec.template.split("(", 1)[0].replace("torch.nn.", "nn.") for spec in plan.modules]


def report_steps(ctx, steps: list[Step], empty: str) -> None:
    """Each layer of a sequence reported converted (to ``empty`` where it makes no module), its
    warnings with it."""
    for step in steps:
        ctx.converted(step.layer.call, step.layer.kind, ", ".join(module_names(step.plan)) or empty)
        ctx.consume_head(step.layer.call.func)
        for warning in step.plan.warnings:
            ctx.warn(step.layer.call, step.layer.kind, warning)


def on_block(transformer, original, updated):
    """Drop statements folded into a model (``model.add(...)``, a functional graph) and
    put generated classes before the statements that use them.

    Works from the original statements: one that the walk never visited (it holds
    no framework name, like ``shortcut = x``) can be folded into a model too.
    """
    ctx = transformer.ctx
    removals = ctx.facts.get("remove_statements", ())
    before = ctx.facts.get("classes_before", {})
    if not any(id(s) in removals or id(s) in before for s in original.body):
        return None
    body = []
    carried: list = []  # comments above removed statements
    for stmt in original.body:
        classes = before.get(id(stmt))
        if classes:
            for cls in classes:
                lines = [cst.EmptyLine()] * 2 if body else []
                cls = cls.with_changes(leading_lines=[*lines, *carried, *cls.leading_lines])
                carried = []
                ctx.mark_new(cls)
                body.append(cls)
        if id(stmt) in removals:
            ctx.results.setdefault(id(stmt), stmt)
            ctx.consume_subtree(stmt)
            carried.extend(line for line in stmt.leading_lines if line.comment is not None)
            continue
        new = ctx.results.get(id(stmt), stmt)
        if new is cst.RemovalSentinel.REMOVE:
            continue
        items = list(new.nodes) if isinstance(new, cst.FlattenSentinel) else [new]
        for item in items:
            if classes and item is items[0]:
                kept = [line for line in item.leading_lines if line.comment is not None]
                item = item.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine(), *kept])
            if carried:
                item = item.with_changes(leading_lines=[*carried, *item.leading_lines])
                carried = []
            body.append(item)
    if isinstance(updated, cst.Module):
        return updated.with_changes(body=body, footer=[*carried, *updated.footer])
    if not body:
        body = [cst.SimpleStatementLine(body=[cst.Pass()])]
    return updated.with_changes(body=body, footer=[*carried, *updated.footer])


def standalone_layer(args, ctx, original):
    """A layer created outside any model the converter understands."""
    layer = LayerCall.bind(args.rule.source, original, args.rule, ctx)
    try:
        plan = plan_layer(layer, [TensorInfo(None)])
    except Unconvertible as exc:
        raise Unconvertible(f"{exc} (a layer outside a model: its input is unknown)") from None
    plan = identity_module(plan)  # passes its input on (Identity, a linear Activation)
    if plan.multi_input:
        raise Unconvertible(
            "a merge layer outside a model the converter follows (its inputs are unknown): convert it where its"
            " model is built, where it becomes an operation on its inputs (x + y, torch.cat(...))"
        )
    if not plan.modules or not plan.chain:
        raise Unconvertible("this layer becomes more than one module; convert it where its model is built")
    if plan.inits:  # torch.nn.init calls on its parameters, statements the expression cannot hold
        raise Unconvertible("its initializers become torch.nn.init calls on the module's parameters; convert it where its model is built")
    # one module, or the modules of a chain (a Dense and its activation) in an nn.Sequential
    parts, subs = [], {}
    for i, spec in enumerate(plan.modules):
        text = spec.template
        for key, value in spec.subs.items():
            text = text.replace("{" + key + "}", "{m%d_%s}" % (i, key))
            subs[f"m{i}_{key}"] = ctx.updated(value)
        parts.append(text)
    for warning in plan.warnings:
        ctx.warn(original, args.rule.source, warning)
    if plan.weights and _applied_in_function(ctx, original):
        ctx.warn(
            original, args.rule.source,
            "made and applied where it stands, inside a function: every call makes a new module with new weights,"
            " which no model registers (nothing trains or saves them). Where a Keras functional model is built by"
            " calling this function, these layers are that model's: make the modules in an nn.Module's __init__"
            " and apply them in its forward()",
        )
    if len(parts) == 1:
        return ctx.build(parts[0], **subs)
    return ctx.build("torch.nn.Sequential(" + ", ".join(parts) + ")", **subs)


def _applied_in_function(ctx, call: cst.Call) -> bool:
    """``Dense(4)(x)`` in a function of the module (not a method: a class has its own rules)."""
    stacks = ctx.facts.get("_call_stacks")
    if stacks is None:
        stacks = ctx.facts["_call_stacks"] = {id(fc.call): fc.stack for fc in framework_calls(ctx)}
    stack = stacks.get(id(call))
    if not stack or len(stack) < 2:
        return False
    parent = stack[-2]
    return (
        isinstance(parent, cst.Call) and parent.func is call
        and any(isinstance(n, cst.FunctionDef) for n in stack) and not any(isinstance(n, cst.ClassDef) for n in stack)
    )


def standalone_input(args, ctx, original):
    raise Unconvertible("keras.Input outside a functional model the converter understands")


def unplanned_model(args, ctx, original):
    raise Unconvertible("a model built in a way the converter does not follow (write its layers in a list or with .add right after it)")
