"""PyTorch modules -> Keras: ``nn.Module`` classes, ``nn.Sequential``, ``nn.ModuleList/Dict``.

A class derived from ``nn.Module`` becomes a ``keras.Model`` when it is a model
(nothing else builds it inside a module), or a ``keras.layers.Layer`` when it is
a building block of another module. Its ``__init__`` keeps its statements; the
layers it creates become Keras layers (torch_layers.py), parameters and buffers
become ``self.add_weight`` (trainable or not), ``nn.Sequential`` becomes
``keras.Sequential``, ``nn.ModuleList`` a list and ``nn.ModuleDict`` a dict
(Keras tracks the layers in both). ``forward`` becomes ``call`` (forward.py).

Every converted model also gets a weight map (``ctx.models``): for each Keras
weight, the state_dict entries it is made of, and how (see
transpiler/weights/torch_to_keras.py). Paths are module paths: the classes keep
their attribute names and their containers their order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import resolve_call
from ...engine.walk import in_source_order as _walk, method_named as _method, module_assignments
from .forward import ForwardPlan, Tracer, rewrite_call
from .torch_layers import KerasPlan, TorchLayer, closed, permute_layer, plan_layer

MODULE_BASES = {"torch.nn.Module", "torch.nn.modules.module.Module"}
SEQUENTIAL = {"torch.nn.Sequential", "torch.nn.modules.container.Sequential"}
MODULE_LIST = {"torch.nn.ModuleList", "torch.nn.modules.container.ModuleList"}
MODULE_DICT = {"torch.nn.ModuleDict", "torch.nn.modules.container.ModuleDict"}
PARAMETER = {"torch.nn.Parameter", "torch.nn.parameter.Parameter"}
# attributes Keras layers and models own: a PyTorch attribute of that name is renamed
RESERVED = {
    "layers", "weights", "variables", "trainable_variables", "trainable_weights", "non_trainable_variables",
    "non_trainable_weights", "input", "output", "losses", "metrics", "dtype", "path", "name", "built",
    "trainable", "optimizer", "loss", "input_spec", "dtype_policy", "compute_dtype", "variable_dtype",
    "supports_masking", "stateful", "compiled_loss", "compiled_metrics", "metrics_names", "distribute_strategy",
    "run_eagerly", "jit_compile", "quantization_mode",
}


@dataclass
class Element:
    key: str  # PyTorch index ("0") or ModuleDict key
    node: cst.BaseExpression  # the element expression (original)
    kind: str  # "layer", "block", "container", "other"
    layer: TorchLayer | None = None
    plan: KerasPlan | None = None
    block: "ClassInfo | None" = None
    container: "Container | None" = None
    keras_key: str = ""


@dataclass
class Container:
    kind: str  # "sequential", "list", "dict"
    call: cst.Call | None
    elements: list[Element] = field(default_factory=list)
    permutes: list[tuple[int, str]] = field(default_factory=list)  # (keras position, Permute layer)
    wildcard: bool = False  # a comprehension: its elements are indexed by "*"
    dynamic: bool = False  # elements not written out (nn.Sequential(*layers)): weights not mapped

    @property
    def needs_training(self) -> bool:
        return any(_element_training(e) for e in self.elements)


def _element_training(e: Element) -> bool:
    if e.plan is not None:
        return e.plan.training
    if e.block is not None:
        return e.block.needs_training
    if e.container is not None:
        return e.container.needs_training
    return False


@dataclass
class Member:
    name: str
    kind: str  # "layer", "sequential", "list", "dict", "block", "parameter", "buffer", "other_module"
    node: cst.BaseExpression | None = None  # the value (original)
    statement: cst.CSTNode | None = None
    layer: TorchLayer | None = None
    plan: KerasPlan | None = None
    plan_layout: str | None = None
    container: Container | None = None
    block: "ClassInfo | None" = None
    keras_name: str = ""
    rnn_states: bool = True
    persistent: bool = True
    assigned_twice: bool = False  # `self.x = A` and `self.x = B` (branches): PyTorch's layout in and out
    maybe_absent: bool = False  # assigned more than once (`else: self.x = None`): its weights may be absent
    # the other layers given to the same attribute (`if`/`else` branches, `A(...) if c else B(...)`)
    others: list = field(default_factory=list)

    @property
    def needs_training(self) -> bool:
        if self.plan is not None:
            return self.plan.training
        if self.container is not None:
            return self.container.needs_training
        if self.block is not None:
            return self.block.needs_training
        return False


@dataclass
class ClassInfo:
    node: cst.ClassDef
    name: str
    is_model: bool = True
    members: dict[str, Member] = field(default_factory=dict)
    forward: ForwardPlan | None = None
    problems: list[str] = field(default_factory=list)
    inherits: bool = False  # a base class of this file or a mixin: attributes may come from it
    loose: dict = field(default_factory=dict)  # attribute -> Sequential it is given besides its member value
    sequential: "Container | None" = None  # class C(nn.Sequential): the layers its super().__init__ gets
    sequential_call: cst.Call | None = None
    layer_base: tuple | None = None  # class C(nn.Embedding): (its rule, its plan, whether super().__init__ gives it)
    _training: bool | None = None
    _computing: bool = False

    def has_attribute(self, name: str) -> bool:
        """Whether the class defines or assigns ``self.<name>`` anywhere (a method, an attribute)."""
        for node in _walk(self.node):
            if isinstance(node, cst.FunctionDef) and node.name.value == name:
                return True
            if isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Attribute):
                t = node.target
                if isinstance(t.value, cst.Name) and t.value.value == "self" and t.attr.value == name:
                    return True
        return self.inherits

    @property
    def needs_training(self) -> bool:
        if self._training is not None:
            return self._training
        if self._computing:
            return False
        self._computing = True
        result = bool(self.forward and self.forward.uses_training) or any(m.needs_training for m in self.members.values())
        result = result or bool(self.sequential is not None and self.sequential.needs_training)
        self._computing = False
        self._training = result
        return result


def _is_module_class(ctx, cls: cst.ClassDef, known: dict) -> bool:
    for base in cls.bases:
        value = base.value
        if isinstance(value, (cst.Name, cst.Attribute)):
            if resolve_call(ctx, value) in MODULE_BASES or (resolve_call(ctx, value) in SEQUENTIAL and len(cls.bases) == 1):
                return True
            if isinstance(value, cst.Name) and value.value in known:
                return True
            if len(cls.bases) == 1 and _layer_base_rule(ctx, value) is not None:
                return True
    return False


# layer classes a class of the file may derive from: the Keras layer it derives from instead
# takes the same constructor (planned from super().__init__'s arguments) and call()
SUBCLASSABLE_PLANS = {"embedding"}


def _layer_base_rule(ctx, value):
    """The rule of a layer class ``value`` names (class C(nn.Embedding)) that a Keras
    class can stand for, else None."""
    if not isinstance(value, (cst.Name, cst.Attribute)):
        return None
    qual = resolve_call(ctx, value)
    rule = ctx.ruleset.lookup(qual) if qual else None
    if rule is None or rule.hook != "layers.module" or rule.data.get("plan") not in SUBCLASSABLE_PLANS or not rule.as_type:
        return None
    return rule


def _layer_subclass(ctx, info: "ClassInfo") -> None:
    """class C(nn.Embedding): keras.layers.Embedding's constructor gets what the rule makes
    of super().__init__(...)'s arguments; its weights are the Keras layer's."""
    rule = _layer_base_rule(ctx, info.node.bases[0].value)
    init = _method(info.node, "__init__")
    calls = [n for n in _walk(init) if isinstance(n, cst.Call) and _is_super_init(n)] if init is not None else []
    if len(calls) > 1:
        raise Unconvertible(f"a class derived from {rule.source.rsplit('.', 1)[-1]} calls super().__init__ more than once")
    if init is not None and not calls:
        raise Unconvertible(f"a class derived from {rule.source.rsplit('.', 1)[-1]} whose __init__ does not call super().__init__")
    plan = None
    if calls:
        call = calls[0]
        if any(a.star for a in call.args):
            raise Unconvertible("super().__init__(*args, **kwargs): the layer's arguments cannot be mapped")
        from ...engine.calls import bind_args

        bound = bind_args(rule, call, call)
        layer = TorchLayer(rule.source, call, rule, ctx, {b.name: b.value for b in bound.bound})
        plan = plan_layer(layer, "torch")
        if len(plan.layers) != 1 or not plan.layers[0].startswith(rule.as_type + "("):
            raise Unconvertible(f"{layer.short}'s arguments here make more than one Keras layer")
        weights = {w.torch[0] for w in plan.weights}
        for node in _walk(info.node):
            target = node.targets[0].target if isinstance(node, cst.Assign) and len(node.targets) == 1 else getattr(node, "target", None)
            if isinstance(node, (cst.Assign, cst.AugAssign, cst.AnnAssign)) and _self_attr_name(target) in weights:
                raise Unconvertible(
                    f"it replaces self.{_self_attr_name(target)}, the weight of the layer it derives from: a Keras layer makes "
                    "its weights when it is built; give the initial values with embeddings_initializer= instead"
                )
        for node in _walk(init):
            if isinstance(node, cst.Attribute) and _self_attr_name(node) in weights:
                raise Unconvertible(
                    f"__init__ reads self.{node.attr.value}: a Keras layer makes its weights when it is built (at its first call), "
                    "after __init__"
                )
        ctx.owned.add(id(call))
    else:  # built with the layer's own arguments: its weights, from a call that names them
        plan = plan_layer(TorchLayer(rule.source, cst.Call(func=cst.Name("_")), rule, ctx, {a: cst.Name(a) for a in rule.args[:2]}), "torch")
    info.layer_base = (rule, plan, bool(calls))


# -- analysis ---------------------------------------------------------------------

def analyze(ctx) -> None:
    classes: dict[str, ClassInfo] = {}
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.ClassDef) and _is_module_class(ctx, stmt, classes):
            classes[stmt.name.value] = ClassInfo(stmt, stmt.name.value)
            for base in stmt.bases:
                ctx.owned.add(id(base.value))
                if isinstance(base.value, (cst.Name, cst.Attribute)) and (
                    (isinstance(base.value, cst.Name) and base.value.value in classes) or resolve_call(ctx, base.value) is None
                ):
                    classes[stmt.name.value].inherits = True  # a class of this file or a mixin
    ctx.facts["torch_classes"] = classes
    for info in list(classes.values()):
        if len(info.node.bases) == 1 and _layer_base_rule(ctx, info.node.bases[0].value) is not None:
            try:
                _layer_subclass(ctx, info)
            except Unconvertible as exc:
                # not a module class of this file then: the base is reported with the reason,
                # and the modules that build it convert around it, as before
                del classes[info.name]
                base = info.node.bases[0].value
                ctx.owned.discard(id(base))
                ctx.facts.setdefault("layer_base_problems", {})[id(base)] = str(exc)
    layer_plans = ctx.facts.setdefault("layer_plans", {})
    containers = ctx.facts.setdefault("containers", {})
    for info in classes.values():
        try:
            _collect_members(ctx, info, classes)
        except Unconvertible as exc:
            info.problems.append(str(exc))
    _inherit(classes)
    for info in classes.values():
        if any(resolve_call(ctx, b.value) in SEQUENTIAL for b in info.node.bases if isinstance(b.value, (cst.Name, cst.Attribute))):
            try:
                _sequential_subclass(ctx, info, classes)
            except Unconvertible as exc:
                info.problems.append(str(exc))
    # a class built inside another module's __init__ is a building block: a Keras Layer
    for info in classes.values():
        init = _method(info.node, "__init__")
        if init is None:
            continue
        for node in _walk(init):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in classes and node.func.value != info.name:
                classes[node.func.value].is_model = False
    inheriting: list[ClassInfo] = []
    for info in _dependency_order(classes):
        if info.sequential is not None or info.problems:
            continue  # keras.Sequential's call()
        forward = _method(info.node, "forward")
        if forward is None:
            inheriting.append(info)  # forward() of a base class of this file, if any (below)
            continue
        try:
            info.forward = Tracer(ctx, info, forward).run()
        except Unconvertible as exc:
            info.problems.append(str(exc))
            continue
        for member in info.members.values():
            if member.kind != "layer":
                continue
            # another branch's layer too (member.others): PyTorch's layout in and out, as this one
            for each in (member, *member.others):
                if each.plan is None:
                    # never applied in forward(): keep PyTorch's layout in and out
                    try:
                        each.plan = closed(_torch_layout_plan(each.layer))
                    except Unconvertible as exc:
                        info.problems.append(str(exc))
                        break
                layer_plans[id(each.node)] = each.plan
    for info in inheriting:
        _inherited_forward(info, classes)
    for info in classes.values():
        if info.sequential is not None and not info.problems:
            try:
                _register_container(ctx, info.sequential, layer_plans, containers)
            except Unconvertible as exc:
                info.problems.append(str(exc))
        for member in info.members.values():
            if member.container is not None:
                try:
                    _register_container(ctx, member.container, layer_plans, containers)
                except Unconvertible as exc:  # a layer in it has no Keras equivalent
                    info.problems.append(str(exc))
                    break
    # an nn.Sequential in __init__ that no member keeps (`self.down` assigned a Sequential
    # in one branch and nn.Identity() in the other): its layers follow its own layouts
    loose = ctx.facts.setdefault("loose_containers", set())
    for info in classes.values():
        init = _method(info.node, "__init__")
        if init is None or info.problems:
            continue
        owners = {}  # id(value) -> attribute, for `self.x = nn.Sequential(...)`
        for node in _walk(init):
            if isinstance(node, cst.Assign) and len(node.targets) == 1:
                attr = _self_attr_name(node.targets[0].target)
                if attr is not None:
                    owners[id(node.value)] = attr
        for node in _walk(init):
            if isinstance(node, cst.Call) and id(node) not in containers and resolve_call(ctx, node) in SEQUENTIAL:
                try:
                    container = _container(ctx, "torch.nn.Sequential", node, classes)
                    if container.dynamic:
                        continue
                    _register_container(ctx, container, layer_plans, containers)
                except Unconvertible:
                    continue  # the hook reports it
                attr = owners.get(id(node))
                if attr is not None and attr in info.members and info.members[attr].assigned_twice:
                    info.loose[attr] = container  # its weights: the attribute's, where it is this one
                else:
                    loose.add(id(node))
    changed = True
    while changed:  # a module whose block stays PyTorch stays PyTorch too
        changed = False
        for info in classes.values():
            if info.problems:
                continue
            for member in info.members.values():
                failed = [b.name for b in _blocks_of(member) if b.problems]
                if failed:
                    info.problems.append(f"it builds {failed[0]}, which is not converted")
                    changed = True
                    break
            if info.sequential is not None and not info.problems:
                failed = [b.name for b in _container_blocks(info.sequential) if b.problems]
                if failed:
                    info.problems.append(f"it builds {failed[0]}, which is not converted")
                    changed = True
    for info in classes.values():
        if not info.problems:
            _move_inits(ctx, info)
    for info in classes.values():
        if info.problems:
            # all or nothing: the class stays PyTorch code, reported once on the class
            # (references too: torch.float32 or isinstance(x, torch.Tensor) in it stay PyTorch)
            for node in _walk(info.node):
                if isinstance(node, (cst.Call, cst.Name, cst.Attribute)):
                    ctx.owned.add(id(node))
    # kinds for type inference: instances, layers, forward's arguments
    instance_kinds = ctx.facts.setdefault("instance_kinds", {})
    attribute_kinds = ctx.facts.setdefault("attribute_kinds", {})
    param_kinds = ctx.facts.setdefault("param_kinds", {})
    layer_kinds: dict[str, set] = {}
    for info in classes.values():
        instance_kinds[id(info.node)] = "model" if info.is_model else "module"
        for member in info.members.values():
            if member.kind in ("layer", "sequential", "block"):
                attribute_kinds.setdefault(member.name, "module")
                layer_kinds.setdefault(member.name, set()).add(_layer_kind(member) if not info.problems else None)
            elif member.kind in ("parameter", "buffer"):
                # add_weight: a Keras variable (in-place methods on it assign to it)
                attribute_kinds.setdefault(member.name, "variable")
    for name, kinds in layer_kinds.items():
        if len(kinds) == 1 and None not in kinds and attribute_kinds.get(name) == "module":
            attribute_kinds[name] = kinds.pop()  # self.fc = nn.Linear(...) in every class: a Dense
    for info in classes.values():
        forward = _method(info.node, "forward")
        if forward is not None:
            for param in forward.params.params[1:]:
                # forward's inputs are tensors, but for flags and options (a default other
                # than None: output_attentions=False) or what an annotation says otherwise
                default = param.default
                if default is not None and not (isinstance(default, cst.Name) and default.value == "None"):
                    continue
                if param.annotation is not None:
                    continue  # the type flow reads the annotation itself
                param_kinds[id(param)] = "tensor"
    _module_level_models(ctx, classes, layer_plans, containers)
    _function_models(ctx, classes, layer_plans, containers)
    for name, (kind, value) in ctx.facts.get("torch_models", {}).items():
        if kind == "class" and (value.problems or not _all_ok(value)):
            continue
        ctx.models[name] = model_info(kind, value)


def _sequential_subclass(ctx, info: ClassInfo, classes: dict) -> None:
    """``class Head(nn.Sequential)`` whose __init__ hands its layers to ``super().__init__(...)``:
    a ``keras.Sequential`` subclass given the same layers (as a list)."""
    for stmt in info.node.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value != "__init__":
            raise Unconvertible(f"an nn.Sequential subclass with a method of its own ({stmt.name.value}) is not converted")
    init = _method(info.node, "__init__")
    if init is None or not isinstance(init.body, cst.IndentedBlock):
        raise Unconvertible("an nn.Sequential subclass without __init__ is not converted")
    calls = []
    for node in _walk(init.body):
        if isinstance(node, cst.AssignTarget) and _self_attr_name(node.target) is not None:
            raise Unconvertible("an nn.Sequential subclass that adds its layers as attributes is not converted: pass them to super().__init__()")
        if isinstance(node, cst.Call) and (
            _is_super_init(node)
            or (isinstance(node.func, cst.Attribute) and node.func.attr.value in ("add_module", "append", "extend", "insert")
                and isinstance(node.func.value, cst.Name) and node.func.value.value == "self")
        ):
            calls.append(node)
    top = [s.body[0].value for s in init.body.body if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Expr)]
    if len(calls) != 1 or calls[0].func.attr.value != "__init__" or not any(c is calls[0] for c in top):
        raise Unconvertible("an nn.Sequential subclass is converted where its __init__ makes one super().__init__(layers...) call")
    call = calls[0]
    if any(a.keyword is not None or a.star == "**" for a in call.args):
        raise Unconvertible("nn.Sequential with keyword arguments")
    if len(call.args) == 1 and not call.args[0].star and isinstance(call.args[0].value, cst.Call) and resolve_call(ctx, call.args[0].value) in ("collections.OrderedDict",):
        raise Unconvertible("nn.Sequential(OrderedDict(...)) is not converted yet: list the layers")
    info.sequential = _container(ctx, "torch.nn.Sequential", call, classes)
    info.sequential_call = call


def _inherited_forward(info: ClassInfo, classes: dict) -> None:
    """A class without forward() whose base (a class of this file) has one: the Keras class
    inherits call() too, which holds where the members forward() uses are the base's, or
    blocks and containers in their place (PyTorch's layout in and out, whatever they are)."""
    base, seen = info, set()
    while base is not None and _method(base.node, "forward") is None and base.name not in seen:
        seen.add(base.name)
        base = next((classes[b.value.value] for b in base.node.bases if isinstance(b.value, cst.Name) and b.value.value in classes), None)
    if base is None or base is info:
        info.problems.append("an nn.Module without forward()")
        return
    if base.problems or base.forward is None:
        info.problems.append(f"it inherits forward() from {base.name}, which is not converted")
        return
    for name, member in info.members.items():
        theirs = base.members.get(name)
        if theirs is member:
            continue
        if member.kind == "layer" or (theirs is not None and theirs.kind == "layer"):
            info.problems.append(f"it inherits forward() from {base.name} but makes self.{name} another layer: define forward() here")
            return
    info.forward = base.forward


def _move_inits(ctx, info: ClassInfo) -> None:
    """``nn.init.zeros_(self.fc.bias)`` after ``self.fc = nn.Linear(...)`` in __init__: the
    Keras layer takes it as its initializer (init.move_inits)."""
    from .init import move_inits

    init = _method(info.node, "__init__")
    if init is None or not isinstance(init.body, cst.IndentedBlock):
        return
    position = {id(stmt): i for i, stmt in enumerate(init.body.body)}
    assigned: dict[str, int] = {}
    for node in _walk(init.body):
        if isinstance(node, cst.AssignTarget) and isinstance(node.target, cst.Attribute):
            t = node.target
            if isinstance(t.value, cst.Name) and t.value.value == "self":
                assigned[t.attr.value] = assigned.get(t.attr.value, 0) + 1

    def members_before(stmt) -> dict:
        here = position.get(id(stmt), -1)
        return {
            m.name: m for m in info.members.values()
            if m.kind == "layer" and assigned.get(m.name) == 1 and -1 < position.get(id(m.statement), -1) < here
        }

    move_inits(ctx, info, resolve_call, members_before)


def _layer_kind(member: Member) -> str | None:
    """The kind an isinstance check would narrow this layer to (its rule's data.narrow), where
    it becomes one plain Keras layer whose weights are its own (no keras.Sequential around it)."""
    if member.kind != "layer" or member.layer is None or member.plan is None:
        return None
    if len(member.plan.layers) != 1 or any(w.layer != "" for w in member.plan.weights):
        return None
    return member.layer.rule.data.get("narrow")


def _all_ok(info: ClassInfo, seen=None) -> bool:
    """A class converts only if every class it builds does."""
    seen = seen or set()
    if info.name in seen:
        return True
    seen.add(info.name)
    if info.problems:
        return False
    for member in info.members.values():
        for block in _blocks_of(member):
            if not _all_ok(block, seen):
                return False
    return True


def _dependency_order(classes: dict[str, ClassInfo]) -> list[ClassInfo]:
    order: list[ClassInfo] = []
    seen: set[str] = set()

    def visit(info: ClassInfo, stack: set) -> None:
        if info.name in seen or info.name in stack:
            return
        stack = stack | {info.name}
        for member in info.members.values():
            for block in _blocks_of(member):
                visit(block, stack)
        seen.add(info.name)
        order.append(info)

    for info in classes.values():
        visit(info, set())
    visit = None  # a recursive closure refers to itself: a reference cycle (docs/performance.md)
    return order


def _blocks_of(member: Member):
    if member.block is not None:
        yield member.block
    if member.container is not None:
        yield from _container_blocks(member.container)


def _container_blocks(container: Container):
    for e in container.elements:
        if e.block is not None:
            yield e.block
        if e.container is not None:
            yield from _container_blocks(e.container)


def _collect_members(ctx, info: ClassInfo, classes: dict) -> None:
    init = _method(info.node, "__init__")
    if init is None:
        return
    seen: dict[str, int] = {}
    # statements under an `if` of __init__: what they make may be absent
    conditional = {id(n) for s in _walk(init.body) if isinstance(s, cst.If) for n in _walk(s) if isinstance(n, cst.SimpleStatementLine)}
    under_if: set[str] = set()
    for node in _walk(init.body):
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self":
                        seen[target.attr.value] = seen.get(target.attr.value, 0) + 1
                        if id(node) in conditional:
                            under_if.add(target.attr.value)
                        member = _member(ctx, target.attr.value, small.value, node, classes)
                        if member is None and isinstance(small.value, cst.IfExp):
                            member = _either(ctx, target.attr.value, small.value, node, classes)
                        if member is not None:
                            previous = info.members.get(member.name)
                            if previous is not None and previous.kind == "layer" and member.kind == "layer":
                                member.others = [*member.others, previous, *previous.others]
                            info.members[member.name] = member
                            member.assigned_twice = seen[member.name] > 1 or bool(member.others)
                elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                    buffer = _buffer(ctx, small.value, node)
                    if buffer is not None:
                        info.members[buffer.name] = buffer
    _appended(ctx, info, init, classes)
    for member in info.members.values():
        member.keras_name = member.name + "_" if member.name in RESERVED else member.name
        member.maybe_absent = seen.get(member.name, 0) > 1 or member.name in under_if or bool(member.others)


def _appended(ctx, info: ClassInfo, init, classes) -> None:
    """``self.convs = nn.ModuleList()`` then ``self.convs.append(nn.Conv2d(...))`` (in a loop):
    the list's elements are that one constructor, indexed "*" in the weight map."""
    sites: dict[str, list] = {}
    for node in _walk(init.body):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "append":
            owner = node.func.value
            if isinstance(owner, cst.Attribute) and isinstance(owner.value, cst.Name) and owner.value.value == "self" and node.args:
                sites.setdefault(owner.attr.value, []).append(node.args[0].value)
    for name, values in sites.items():
        member = info.members.get(name)
        if member is None or member.container is None or member.kind != "list":
            continue
        container = member.container
        if container.elements or not _one_constructor(values, classes):
            continue
        container.dynamic = False
        container.wildcard = True
        container.elements.append(_element(ctx, "*", values[0], classes))


def _one_constructor(values: list, classes: dict) -> bool:
    """One append site, or several that all make the same class of the file (RegNet's encoder:
    one stage appended, then more by a loop): one element entry, "*", serves every index."""
    if len(values) == 1:
        return True
    names = {v.func.value for v in values if isinstance(v, cst.Call) and isinstance(v.func, cst.Name)}
    return len(names) == 1 and len(values) == sum(isinstance(v, cst.Call) for v in values) and names <= set(classes)


def _inherit(classes: dict) -> None:
    """A class derived from a converted one has its base's members (then its own)."""
    done: set[str] = set()

    def visit(info: ClassInfo, stack: tuple = ()) -> None:
        if info.name in done or info.name in stack:
            return
        for base in info.node.bases:
            if isinstance(base.value, cst.Name) and base.value.value in classes:
                parent = classes[base.value.value]
                visit(parent, stack + (info.name,))
                info.members = {**parent.members, **info.members}
        done.add(info.name)

    for info in classes.values():
        visit(info)
    visit = None  # a recursive closure refers to itself: a reference cycle (docs/performance.md)


def _member(ctx, name: str, value, statement, classes) -> Member | None:
    layer = TorchLayer.bind(ctx, value) if isinstance(value, cst.Call) else None
    if layer is not None:
        member = Member(name, "layer", value, statement, layer)
        if layer.plan_kind == "rnn":
            member.rnn_states = _rnn_states_used(ctx, name, statement)
        return member
    if isinstance(value, cst.Call):
        api = resolve_call(ctx, value)
        if api in SEQUENTIAL | MODULE_LIST | MODULE_DICT:
            return Member(name, {**dict.fromkeys(SEQUENTIAL, "sequential"), **dict.fromkeys(MODULE_LIST, "list"), **dict.fromkeys(MODULE_DICT, "dict")}[api], value, statement, container=_container(ctx, api, value, classes))
        if api in PARAMETER:
            ctx.owned.add(id(value))
            return Member(name, "parameter", value, statement)
        if isinstance(value.func, cst.Name) and value.func.value in classes:
            return Member(name, "block", value, statement, block=classes[value.func.value])
    return None


def _torch_layout_plan(layer: TorchLayer) -> KerasPlan:
    """The layer planned to take and give PyTorch's layout (an RNN giving its states too)."""
    return plan_layer(layer, "torch", **({"states": True} if layer.plan_kind == "rnn" else {}))


def _either(ctx, name: str, value: cst.IfExp, statement, classes) -> Member | None:
    """``nn.LayerNorm(d) if flag else nn.Identity()``: the layer of one side, the other's in
    its ``others``, as for layers given to the attribute in two branches of __init__."""
    if not (isinstance(value.body, cst.Call) and isinstance(value.orelse, cst.Call)):
        return None
    first, second = _member(ctx, name, value.body, statement, classes), _member(ctx, name, value.orelse, statement, classes)
    if first is None or second is None or first.kind != "layer" or second.kind != "layer":
        return None
    first.others.append(second)
    return first


def _rnn_states_used(ctx, name: str, statement) -> bool:
    """Whether forward() reads the states an RNN returns (a multi-layer RNN gives only its output)."""
    cls = None
    for node in ctx.module.body:
        if isinstance(node, cst.ClassDef) and any(n is statement for n in _walk(node)):
            cls = node
    forward = _method(cls, "forward") if cls is not None else None
    if forward is None:
        return True
    def is_app(call) -> bool:
        func = call.func if isinstance(call, cst.Call) else None
        return isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self" and func.attr.value == name

    for node in _walk(forward):
        if isinstance(node, cst.Assign) and is_app(node.value):
            target = node.targets[0].target
            if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
                second = target.elements[1].value
                if not (isinstance(second, cst.Name) and second.value == "_"):
                    return True
            elif not isinstance(target, (cst.Tuple, cst.List)):
                return True  # the (output, states) pair kept whole
        if isinstance(node, cst.Subscript) and is_app(node.value):
            index = node.slice[0].slice if len(node.slice) == 1 else None
            if not (isinstance(index, cst.Index) and code_of(index.value).strip() == "0"):
                return True
    return False


def _buffer(ctx, call: cst.Call, statement) -> Member | None:
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self" and func.attr.value == "register_buffer"):
        return None
    args = {a.keyword.value if a.keyword else ("name", "tensor", "persistent")[i]: a.value for i, a in enumerate(call.args)}
    name_node = args.get("name")
    if not isinstance(name_node, cst.SimpleString):
        return None
    ok, persistent = literal_value(args["persistent"]) if "persistent" in args else (True, True)
    member = Member(name_node.evaluated_value, "buffer", call, statement)
    member.persistent = persistent is not False
    return member


def _container(ctx, api: str, call: cst.Call, classes) -> Container:
    kind = "sequential" if api in SEQUENTIAL else ("list" if api in MODULE_LIST else "dict")
    container = Container(kind, call)
    nodes: list[tuple[str, cst.BaseExpression]] = []
    if kind == "sequential":
        if any(a.star == "*" for a in call.args):
            container.dynamic = True
            return container
        for i, a in enumerate(call.args):
            if a.keyword is not None:
                raise Unconvertible("nn.Sequential with keyword arguments")
            nodes.append((str(i), a.value))
        if len(nodes) == 1 and isinstance(nodes[0][1], cst.Call) and resolve_call(ctx, nodes[0][1]) in ("collections.OrderedDict",):
            raise Unconvertible("nn.Sequential(OrderedDict(...)) is not converted yet: list the layers")
    elif call.args:
        arg = call.args[0].value
        if kind == "list" and isinstance(arg, (cst.List, cst.Tuple)):
            nodes = [(str(i), el.value) for i, el in enumerate(arg.elements)]
        elif kind == "list" and isinstance(arg, (cst.ListComp, cst.GeneratorExp)):
            container.wildcard = True
            nodes = [("*", arg.elt)]
        elif kind == "dict" and isinstance(arg, cst.Dict):
            for el in arg.elements:
                if not isinstance(el, cst.DictElement) or not isinstance(el.key, cst.SimpleString):
                    raise Unconvertible("nn.ModuleDict with keys that are not string literals")
                nodes.append((el.key.evaluated_value, el.value))
        else:
            container.dynamic = True
    for key, node in nodes:
        container.elements.append(_element(ctx, key, node, classes))
    return container


def _element(ctx, key: str, node, classes) -> Element:
    layer = TorchLayer.bind(ctx, node) if isinstance(node, cst.Call) else None
    if layer is not None:
        return Element(key, node, "layer", layer=layer)
    if isinstance(node, cst.Call):
        api = resolve_call(ctx, node)
        if api in SEQUENTIAL | MODULE_LIST | MODULE_DICT:
            return Element(key, node, "container", container=_container(ctx, api, node, classes))
        if isinstance(node.func, cst.Name) and node.func.value in classes:
            return Element(key, node, "block", block=classes[node.func.value])
    return Element(key, node, "other")


def plan_container(container: Container) -> None:
    """Element plans: a Sequential follows layouts from element to element; list and
    dict elements keep PyTorch's layout in and out (their applications are not followed)."""
    if container.elements and container.elements[0].plan is not None:
        return
    container.permutes = []
    if container.kind != "sequential":
        for e in container.elements:
            if e.kind == "layer":
                e.plan = closed(_torch_layout_plan(e.layer))
            elif e.kind == "container":
                plan_container(e.container)
            e.keras_key = e.key
        return
    layout, rank = "torch", None
    position = 0
    for e in container.elements:
        if e.kind == "layer":
            options = {"states": False} if e.layer.plan_kind == "rnn" else {}
            if e.layer.plan_kind == "upsample" and layout == "keras":
                options["rank"] = rank
            plan = plan_layer(e.layer, layout, **options)
            if plan.apply != "plain":
                if plan.apply == "rnn":
                    raise Unconvertible(f"{e.layer.short} inside nn.Sequential returns (output, states) in PyTorch; the next layer would get that tuple")
                raise Unconvertible(f"{e.layer.short} inside nn.Sequential: attention takes several inputs")
            wants = plan.wants
            if wants == "keras" and (layout != "keras" or rank != plan.rank):
                if layout == "keras":
                    container.permutes.append((position, permute_layer(rank, "torch")))
                    position += 1
                container.permutes.append((position, permute_layer(plan.rank, "keras")))
                position += 1
                layout, rank = "keras", plan.rank
            elif wants == "torch" and layout == "keras":
                container.permutes.append((position, permute_layer(rank, "torch")))
                position += 1
                layout, rank = "torch", None
            e.plan = plan
            if plan.out == "keras":
                layout, rank = "keras", plan.rank
            elif plan.out == "torch":
                layout, rank = "torch", None
        else:
            if layout == "keras":
                container.permutes.append((position, permute_layer(rank, "torch")))
                position += 1
                layout, rank = "torch", None
            if e.kind == "container":
                plan_container(e.container)
        e.keras_key = str(position)
        position += 1
    if layout == "keras":
        container.permutes.append((position, permute_layer(rank, "torch")))


def _register_container(ctx, container: Container, layer_plans: dict, containers: dict) -> None:
    plan_container(container)
    if container.call is not None:
        containers[id(container.call)] = container
    for e in container.elements:
        if e.plan is not None:
            layer_plans[id(e.node)] = e.plan
        if e.container is not None:
            _register_container(ctx, e.container, layer_plans, containers)


def _module_level_models(ctx, classes, layer_plans, containers) -> None:
    """Weight maps for models made at module level: ``net = Net()``, ``model = nn.Sequential(...)``."""
    models = ctx.facts.setdefault("torch_models", {})
    for stmt, name, value in module_assignments(ctx.module):
        value = _strip_moves(value)
        if not isinstance(value, cst.Call):
            continue
        if isinstance(value.func, cst.Name) and value.func.value in classes:
            models[name] = ("class", classes[value.func.value])
            continue
        built = _builder_class(ctx, value, classes)
        if built is not None:
            models[name] = ("class", built)
            continue
        api = resolve_call(ctx, value)
        if api in SEQUENTIAL:
            try:
                container = _container(ctx, api, value, classes)
                _register_container(ctx, container, layer_plans, containers)
            except Unconvertible as exc:
                ctx.facts.setdefault("container_failures", {})[id(value)] = str(exc)
                continue
            models[name] = ("sequential", container)
            for block in _container_blocks(container):
                block.is_model = block.is_model  # a block in a module-level Sequential stays as decided
            ctx.facts.setdefault("instance_names", {})[name] = "model"


def _builder_class(ctx, call: cst.Call, classes) -> "ClassInfo | None":
    """``mlp = build_mlp(12)``: a module-level function whose every return builds one converted class."""
    if not isinstance(call.func, cst.Name):
        return None
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == call.func.value:
            made = set()
            for node in _walk(stmt.body):
                if isinstance(node, cst.Return):
                    value = _strip_moves(node.value) if node.value is not None else None
                    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in classes):
                        return None
                    made.add(value.func.value)
            return classes[made.pop()] if len(made) == 1 else None
    return None


def _function_models(ctx, classes, layer_plans, containers) -> None:
    """Sequentials built in functions (``return nn.Sequential(...)``): weight maps named ``fn()``."""
    models = ctx.facts.setdefault("torch_models", {})
    for stmt in ctx.module.body:
        if not isinstance(stmt, cst.FunctionDef):
            continue
        for node in _walk(stmt.body):
            if isinstance(node, cst.Return) and isinstance(node.value, cst.Call):
                value = _strip_moves(node.value)
                if resolve_call(ctx, value) in SEQUENTIAL and id(value) not in containers:
                    try:
                        container = _container(ctx, "torch.nn.Sequential", value, classes)
                        _register_container(ctx, container, layer_plans, containers)
                    except Unconvertible as exc:
                        ctx.facts.setdefault("container_failures", {})[id(value)] = str(exc)
                        continue
                    models[stmt.name.value + "()"] = ("sequential", container)


def _strip_moves(node):
    """``Net().to(device)`` / ``.cuda()`` / ``.float()``: the module itself."""
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in ("to", "cuda", "cpu", "float", "double", "train", "eval"):
        node = node.func.value
    return node


# -- weight maps --------------------------------------------------------------------

def class_entries(info: ClassInfo, torch_prefix: str, keras_prefix: str) -> tuple[list[dict], list[str]]:
    if info.sequential is not None:
        return container_entries(info.sequential, torch_prefix.rstrip("."), keras_prefix.rstrip("."))
    entries, notes = [], []
    if info.layer_base is not None:
        entries += info.layer_base[1].weight_entries(torch_prefix.rstrip("."), keras_prefix.rstrip("."))
    for member in info.members.values():
        t = f"{torch_prefix}{member.name}"
        k = f"{keras_prefix}{member.keras_name}"
        if member.kind == "layer" and member.plan is not None:
            entries += member.plan.weight_entries(t, k)
            for other in member.others:  # each branch's layer's weights, where it is the one made
                if other.plan is not None:
                    entries += [e for e in other.plan.weight_entries(t, k) if e not in entries]
        elif member.kind in ("parameter", "buffer"):
            if member.kind == "buffer" and not member.persistent:
                continue
            entries.append({"layer": keras_prefix.rstrip("."), "weight": member.keras_name, "torch": [t], "transform": "copy", "args": {}})
        elif member.kind == "block" and member.block is not None:
            e, n = class_entries(member.block, t + ".", k + ".")
            entries += e
            notes += n
        elif member.container is not None:
            e, n = container_entries(member.container, t, k)
            entries += e
            notes += n
    # an attribute given one module or another (branches): each one's weights, where present
    for name, container in info.loose.items():
        member = info.members[name]
        e, n = container_entries(container, f"{torch_prefix}{name}", f"{keras_prefix}{member.keras_name}")
        entries += e
        notes += n
    names = {f"{torch_prefix}{m.name}" for m in info.members.values() if m.assigned_twice or m.maybe_absent}
    for entry in entries:
        if any(t == n or t.startswith(n + ".") for t in entry["torch"] for n in names):
            entry["args"] = {**entry.get("args", {}), "optional": True}
    return entries, notes


def container_entries(container: Container, torch_prefix: str, keras_prefix: str) -> tuple[list[dict], list[str]]:
    entries, notes = [], []
    if container.dynamic:
        notes.append(f"{torch_prefix}: the container's layers are not written out here; their weights are not mapped")
        return entries, notes
    for e in container.elements:
        t = f"{torch_prefix}.{e.key}" if torch_prefix else e.key
        k = f"{keras_prefix}.{e.keras_key}" if keras_prefix else e.keras_key
        if e.plan is not None:
            entries += e.plan.weight_entries(t, k)
        elif e.block is not None:
            sub, n = class_entries(e.block, t + ".", k + ".")
            entries += sub
            notes += n
        elif e.container is not None:
            sub, n = container_entries(e.container, t, k)
            entries += sub
            notes += n
        else:
            notes.append(f"{t}: not a layer the converter knows; its weights are not mapped")
    return entries, notes


def model_info(kind: str, value) -> dict:
    if kind == "class":
        entries, notes = class_entries(value, "", "")
        return {
            "kind": "torch_module", "form": ("keras.Model" if value.is_model else "keras.layers.Layer") + " subclass " + value.name,
            "class": value.name, "training": value.needs_training, "weights": entries, "notes": notes,
            "unmapped": [m.keras_name for m in value.members.values() if m.kind == "buffer" and not m.persistent],
        }
    entries, notes = container_entries(value, "", "")
    return {"kind": "torch_module", "form": "keras.Sequential", "class": None, "training": value.needs_training, "weights": entries, "notes": notes, "unmapped": []}


# -- hooks for the rules ----------------------------------------------------------------

def _build(ctx, plan: KerasPlan) -> cst.BaseExpression:
    subs = {k: ctx.updated(v) for k, v in plan.subs.items()}
    return ctx.build(plan.constructor(), **subs)


def layer_module(args, ctx, original):
    """A PyTorch module constructor -> its Keras layer (hook ``layers.module``)."""
    plan = ctx.facts.get("layer_plans", {}).get(id(original))
    if plan is None:
        layer = TorchLayer.bind(ctx, original)
        plan = _torch_layout_plan(layer)
        if plan.wants == "keras":
            plan = closed(plan)
            plan.warnings = [*plan.warnings, "a channels-last layer outside a model the converter follows: it is wrapped in Permute layers to take and give PyTorch's channels-first layout"]
    for warning in plan.warnings:
        ctx.warn(original, args.rule.source, warning)
    return _build(ctx, plan)


def sequential(args, ctx, original):
    failure = ctx.facts.get("container_failures", {}).get(id(original))
    if failure:
        raise Unconvertible(failure)
    rebuilt = False
    container = ctx.facts.get("containers", {}).get(id(original))
    if container is None:
        container = _container(ctx, "torch.nn.Sequential", original, ctx.facts.get("torch_classes", {}))
        plan_container(container)
        for e in container.elements:
            if e.plan is not None:
                ctx.facts.setdefault("layer_plans", {})[id(e.node)] = e.plan
        if any(e.kind == "layer" and e.plan.wants == "keras" for e in container.elements) or container.permutes:
            # the elements were converted already, each on its own (between two Permutes):
            # they are built again from this container's plan, which follows its layouts
            ctx.warn(original, "torch.nn.Sequential", "built where the converter does not follow it into a model: its weights are not mapped")
            rebuilt = True
    elif id(original) in ctx.facts.get("loose_containers", ()):
        ctx.warn(original, "torch.nn.Sequential", "built where the converter does not follow it into a model: its weights are not mapped")
    if container.dynamic:
        if any(a.star == "**" or a.keyword is not None for a in original.args):
            raise Unconvertible("nn.Sequential with keyword arguments")
        ctx.warn(original, "torch.nn.Sequential", "the layers are built elsewhere: channels-last layers among them are wrapped in Permute layers, and their weights are not mapped")
        if len(original.args) == 1:
            # keras.Sequential takes any iterable of layers: nn.Sequential(*layers) -> keras.Sequential(layers)
            return ctx.build("keras.Sequential({layers})", layers=ctx.updated(original.args[0].value))
        subs = {f"e{i}": ctx.updated(a.value) for i, a in enumerate(original.args)}
        items = [("*" if a.star == "*" else "") + "{e" + str(i) + "}" for i, a in enumerate(original.args)]
        return ctx.build("keras.Sequential([" + ", ".join(items) + "])", **subs)
    subs = {}
    items = []
    permutes = dict(container.permutes)
    position = 0
    for e in container.elements:
        while position in permutes:
            items.append(permutes[position])
            position += 1
        key = f"e{len(subs)}"
        subs[key] = _build(ctx, e.plan) if rebuilt and e.kind == "layer" and e.plan is not None else ctx.updated(e.node)
        items.append("{" + key + "}")
        position += 1
    while position in permutes:
        items.append(permutes[position])
        position += 1
    return ctx.build("keras.Sequential([" + ", ".join(items) + "])", **subs)


def module_list(args, ctx, original):
    if not original.args:
        return cst.List([])
    value = ctx.updated(original.args[0].value)
    if isinstance(value, cst.GeneratorExp):
        return cst.ListComp(elt=value.elt, for_in=value.for_in)
    if isinstance(value, cst.Tuple):
        return cst.List(elements=value.elements)
    if isinstance(value, (cst.List, cst.ListComp)):
        return value
    return ctx.build("list({x})", x=value)


def module_dict(args, ctx, original):
    if not original.args:
        return cst.Dict([])
    value = ctx.updated(original.args[0].value)
    if isinstance(value, cst.Dict):
        return value
    return ctx.build("dict({x})", x=value)


def base_module(args, ctx, original):
    raise Unconvertible("nn.Module used outside a class definition")


# -- the class rewrite -------------------------------------------------------------------

def on_class(transformer, original, updated):
    ctx = transformer.ctx
    info: ClassInfo | None = ctx.facts.get("torch_classes", {}).get(original.name.value)
    if info is None or info.node is not original:
        return None
    ctx.facts.setdefault("converted_classes", set()).add(id(original))
    if info.problems:
        ctx.unconverted(original, "torch.nn.Module subclass", "; ".join(info.problems))
        return updated
    base = "keras.Model" if info.is_model else "keras.layers.Layer"
    if info.sequential is not None:
        base = "keras.Sequential"
    if info.layer_base is not None:
        base = info.layer_base[0].as_type
    bases, placed = [], False
    for b, ob in zip(updated.bases, original.bases):
        framework = ob.keyword is None and isinstance(ob.value, (cst.Name, cst.Attribute)) and resolve_call(ctx, ob.value) is not None
        if not framework:
            bases.append(b)  # a class of this file, or a mixin of methods: kept
        elif not placed:
            bases.append(b.with_changes(value=ctx.name(base)))
            placed = True
    if bases:
        bases[-1] = bases[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    new = updated.with_changes(bases=bases)
    for b in original.bases:
        ctx.consume_head(b.value)
    ctx.converted(original, "torch.nn.Module", base, "" if info.is_model else "a building block of another module")
    training = info.needs_training
    body = []
    for stmt, orig_stmt in zip(new.body.body, original.body.body):
        if isinstance(stmt, cst.FunctionDef):
            if stmt.name.value == "__init__":
                stmt = _rewrite_init(ctx, info, stmt)
            elif stmt.name.value == "forward":
                try:
                    stmt = rewrite_call(ctx, info, stmt, orig_stmt, info.forward, training)
                except Unconvertible as exc:
                    ctx.unconverted(original, "torch.nn.Module.forward", str(exc))
                    return updated
            else:
                stmt = _rename_reserved(info, stmt)
            stmt = stmt.visit(_ForwardCalls())
        body.append(stmt)
    new = new.with_changes(body=new.body.with_changes(body=body))
    if info.layer_base is not None:
        new = _layer_subclass_weights(ctx, info, new)
    for member in info.members.values():
        if member.keras_name != member.name:
            ctx.warn(member.statement, "torch.nn.Module", f"attribute '{member.name}' is reserved by Keras layers: renamed '{member.keras_name}'")
    new = _two_blank_lines(ctx, original, new)
    ctx.mark_new(new)
    return new


def _two_blank_lines(ctx, original, new):
    """A rewritten top-level class stands two blank lines below what precedes it (as black
    puts it; the import rewrite would otherwise replace the node to add them)."""
    if not any(stmt is original for stmt in ctx.module.body) or ctx.module.body[0] is original:
        return new
    lines = list(new.leading_lines)
    blank = 0
    while blank < len(lines) and lines[blank].comment is None:
        blank += 1
    if blank >= 2:
        return new
    return new.with_changes(leading_lines=[cst.EmptyLine()] * (2 - blank) + lines)


def finish_classes(transformer, original, updated):
    """Module handler: convert the classes the walk did not visit (``class Child(Base)`` with no
    framework name in it), and own nothing else."""
    ctx = transformer.ctx
    classes = ctx.facts.get("torch_classes", {})
    done = ctx.facts.setdefault("converted_classes", set())
    pending = [s for s in original.body if isinstance(s, cst.ClassDef) and s.name.value in classes
               and classes[s.name.value].node is s and id(s) not in done]
    if not pending:
        return None
    body = list(updated.body)
    for stmt in pending:
        current = ctx.results.get(id(stmt), stmt)
        index = next((i for i, n in enumerate(body) if n is current), None)
        if index is None:
            continue
        new = on_class(transformer, stmt, current)
        if new is not None and new is not current:
            body[index] = new
    return updated.with_changes(body=body)


class _ForwardCalls(cst.CSTTransformer):
    """``super().forward(x)`` / ``self.forward(x)`` -> ``.call(x)``."""

    def leave_Attribute(self, original, updated):
        if original.attr.value != "forward":
            return updated
        value = original.value
        is_super = isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value == "super"
        is_self = isinstance(value, cst.Name) and value.value == "self"
        return updated.with_changes(attr=cst.Name("call")) if is_super or is_self else updated


def _rename_reserved(info: ClassInfo, fn):
    renames = {m.name: m.keras_name for m in info.members.values() if m.keras_name != m.name}
    if not renames:
        return fn

    class R(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            attr = _self_attr_name(original)
            if attr in renames:
                return updated.with_changes(attr=cst.Name(renames[attr]))
            return updated

    return fn.visit(R())


def _self_attr_name(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _rewrite_init(ctx, info: ClassInfo, fn: cst.FunctionDef) -> cst.FunctionDef:
    replacements: dict[int, cst.BaseExpression] = {}
    buffers: dict[int, cst.BaseStatement] = {}
    for member in info.members.values():
        if member.kind == "parameter":
            replacements[id(ctx.updated(member.node))] = parameter(ctx, member, member.node.args[0].value if member.node.args else None, _requires_grad(member.node))
            ctx.converted(member.node, "torch.nn.Parameter", "self.add_weight")
            ctx.consume_head(member.node.func)
        elif member.kind == "buffer":
            call = member.node
            tensor = call.args[1].value if len(call.args) > 1 else None
            stmt = ctx.build_statements(f"self.{member.keras_name} = " + "{w}", w=parameter(ctx, member, tensor, False))[0]
            buffers[id(member.statement)] = stmt
            ctx.converted(call, "torch.nn.Module.register_buffer", "self.add_weight(trainable=False)")
    renames = {m.name: m.keras_name for m in info.members.values() if m.keras_name != m.name}
    # nn.Embedding(..., padding_idx=p): Keras's Embedding has none; the value is kept on the
    # layer (`self.emb.padding_idx = p`), where `m.padding_idx` reads it (init.toml)
    after: dict[int, cst.BaseStatement] = {}
    for member in info.members.values():
        layer = member.layer
        if member.kind != "layer" or layer is None or layer.plan_kind != "embedding" or not layer.has("padding_idx"):
            continue
        pad = layer.values["padding_idx"]
        if not isinstance(pad, (cst.Name, cst.Attribute, cst.Integer, cst.UnaryOperation)):
            continue  # evaluated once in PyTorch: not written twice
        stmt = ctx.build_statements(f"self.{member.keras_name}.padding_idx = " + "{p}", p=ctx.updated(pad))[0]
        after[id(member.statement)] = stmt
        after[id(ctx.updated(member.statement))] = stmt

    # nn.init statements now the layers' initializers (_move_inits): they go
    moved: set[int] = set()
    for stmt, call, api, target in ctx.facts.get("moved_inits", {}).get(id(info.node), []):
        moved |= {id(stmt), id(ctx.updated(stmt))}
        ctx.converted(call, api, target)
        ctx.consume_head(call.func)

    class Init(cst.CSTTransformer):
        def leave_Call(self, original, updated):
            new = replacements.get(id(original))
            if new is None and info.sequential is not None and _is_super_init(original):
                # class C(nn.Sequential): super().__init__(a, b) -> super().__init__([a, b])
                return updated.with_changes(args=[cst.Arg(_layer_list(ctx, info.sequential, info.sequential_call))])
            if new is None and info.layer_base is not None and info.layer_base[2] and _is_super_init(original):
                # class C(nn.Embedding): super().__init__(n + 2, d) -> keras.layers.Embedding's arguments
                built = _build(ctx, info.layer_base[1])
                ctx.converted(original, info.layer_base[0].source + ".__init__", info.layer_base[0].as_type)
                return updated.with_changes(args=built.args)
            return new if new is not None else updated

        def leave_SimpleStatementLine(self, original, updated):
            for key in (id(original),):
                if key in buffers:
                    return buffers[key].with_changes(leading_lines=original.leading_lines)
                if key in after:
                    return cst.FlattenSentinel([updated, after[key]])
            if key in moved:
                return cst.RemovalSentinel.REMOVE  # now the layer's initializer (_move_inits)
            return updated

        def leave_Attribute(self, original, updated):
            attr = _self_attr_name(original)
            if attr in renames:
                return updated.with_changes(attr=cst.Name(renames[attr]))
            return updated

    # buffers are found by their original statements
    originals = {id(ctx.updated(m.statement)): buffers[id(m.statement)] for m in info.members.values() if id(m.statement) in buffers}
    buffers.update(originals)
    return fn.visit(Init())


def _layer_subclass_weights(ctx, info: ClassInfo, new: cst.ClassDef) -> cst.ClassDef:
    """class C(nn.Embedding): self.weight is the Keras layer's weight (self.embeddings)."""
    rule, plan, _ = info.layer_base
    names = {w.torch[0]: w.weight for w in plan.weights if len(w.torch) == 1 and w.layer == ""}
    for warning in plan.warnings:
        ctx.warn(info.node, rule.source, warning)

    class W(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            attr = _self_attr_name(original)
            if attr in names:
                return updated.with_changes(attr=cst.Name(names[attr]))
            return updated

    return new.visit(W()) if names else new


def _is_super_init(call: cst.Call) -> bool:
    func = call.func
    return (
        isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call)
        and isinstance(func.value.func, cst.Name) and func.value.func.value == "super"
    )


def _layer_list(ctx, container: Container, call: cst.Call) -> cst.BaseExpression:
    """The list keras.Sequential takes for nn.Sequential's arguments (Permute layers where a
    channels-last layer meets one that reads PyTorch's layout); ``*layers`` alone: the list itself."""
    if container.dynamic:
        if len(call.args) == 1:
            return ctx.updated(call.args[0].value)
        subs = {f"e{i}": ctx.updated(a.value) for i, a in enumerate(call.args)}
        items = [("*" if a.star == "*" else "") + "{e" + str(i) + "}" for i, a in enumerate(call.args)]
        return ctx.build("[" + ", ".join(items) + "]", **subs)
    subs, items = {}, []
    permutes = dict(container.permutes)
    position = 0
    for e in container.elements:
        while position in permutes:
            items.append(permutes[position])
            position += 1
        key = f"e{len(subs)}"
        subs[key] = ctx.updated(e.node)
        items.append("{" + key + "}")
        position += 1
    while position in permutes:
        items.append(permutes[position])
        position += 1
    return ctx.build("[" + ", ".join(items) + "]", **subs)


def _requires_grad(call: cst.Call) -> bool:
    for i, a in enumerate(call.args):
        if (a.keyword is not None and a.keyword.value == "requires_grad") or (a.keyword is None and i == 1):
            return code_of(a.value).strip() != "False"
    return True


_INITIALIZERS = {
    "torch.zeros": "'zeros'", "torch.ones": "'ones'", "torch.empty": "'zeros'",
    "torch.randn": "keras.initializers.RandomNormal(stddev=1.0)",
    "torch.rand": "keras.initializers.RandomUniform(0.0, 1.0)",
}


def parameter(ctx, member: Member, value, trainable: bool) -> cst.BaseExpression:
    """``nn.Parameter(torch.zeros(3))`` / a buffer -> ``self.add_weight(shape=..., initializer=...)``."""
    name = member.keras_name
    flag = "" if trainable else ", trainable=False"
    if isinstance(value, cst.Call):
        api = resolve_call(ctx, value)
        if api in _INITIALIZERS:
            sizes = [a.value for a in value.args if a.keyword is None]
            keywords = {a.keyword.value: a.value for a in value.args if a.keyword is not None}
            if "size" in keywords:
                sizes = [keywords["size"]]
            if len(sizes) == 1 and isinstance(sizes[0], (cst.Tuple, cst.List)):
                shape = "{s0}"
            else:
                shape = "(" + ", ".join("{s%d}" % i for i in range(len(sizes))) + ("," if len(sizes) == 1 else "") + ")"
            subs = {f"s{i}": ctx.updated(s) for i, s in enumerate(sizes)}
            return ctx.build(f"self.add_weight(shape={shape}, initializer={_INITIALIZERS[api]}{flag}, name={name!r})", **subs)
        if api == "torch.full":
            positional = [a.value for a in value.args if a.keyword is None]
            if len(positional) >= 2:
                return ctx.build(
                    "self.add_weight(shape={s}, initializer=keras.initializers.Constant({v})" + flag + f", name={name!r})",
                    s=ctx.updated(positional[0]), v=ctx.updated(positional[1]),
                )
    if value is None:
        raise Unconvertible(f"{name}: a parameter without a value")
    converted = ctx.updated(value)
    # any other tensor: a variable holding it (Keras tracks variables set as attributes)
    return ctx.build("keras.Variable({v}" + flag + f", name={name!r})", v=converted)
