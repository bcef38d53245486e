"""Subclassed Keras models and layers -> nn.Module classes.

``class Net(keras.Model)`` / ``class Block(keras.layers.Layer)`` become
``nn.Module`` subclasses: the layers made in ``__init__`` become modules (their
sizes from what flows into them in ``call``; unknown sizes give ``Lazy*``
modules, reported), ``call`` becomes ``forward`` without the ``training`` and
``mask`` arguments (``training`` reads ``self.training``), ``add_weight``
becomes ``nn.Parameter`` (or a buffer), and ``get_config`` is dropped (reported).
A ``build()`` that only builds sublayers with explicit shapes (HuggingFace's
pattern, subclass_build.py) disappears: its shapes become the input sizes of the
modules made in ``__init__``. Any other ``build()`` keeps the class as it was, reported.
A class whose ``__init__`` builds a functional graph and hands it to
``super().__init__(inputs=..., outputs=...)`` (keras-hub's backbones), whatever its base,
is planned and rewritten by subclass_graph.py.

In ``forward``, a convolution's output is channels-first. Reductions over
spatial axes written for Keras (``tf.reduce_mean(x, axis=[1, 2])``) get their
axes renumbered (``dim=[2, 3]``); elementwise code keeps the layout; anything
else reads the tensor moved back to Keras's order (``x.movedim(1, -1)``).
MultiHeadAttention and merge layers are called with several tensors. The class' other
methods apply layers that take Keras's order (Dense...) as forward() does; a class
without call() becomes an nn.Module without forward().
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import libcst as cst

from ...engine.build import code_of, template_node
from ...engine.calls import Unconvertible, literal_value
from ...engine.names import classify, dotted_name
from ...engine.query import resolve_call
from ...engine.walk import PathTransformer, module_assignments, paths_to, source_children, in_source_order as _walk, method_named as _method
from ...engine.scan import Hit
from .functional import ELEMENTWISE, used_names
from .keras_layers import LayerCall, LayerPlan, TensorInfo, identity_module, plan_layer, wanted_layout
from .models import _layer_call, _Placeholders, layer_entry, module_names, report_steps
from . import dtype_policy, initializers, layer_subclass, subclass_graph, subclass_sequence
from .subclass_build import BuildPlan, appended_lists, listed_appends, plan_build, settle_branches
from .subclass_init_builds import plan_init_builds
from .data_format import binding_counts
from .project_classes import foreign_plans, imported_classes, plain_import, with_mixins
from .signatures import drop_method
from .twins import names_twin, twin_bases, twin_of
from .subclass_graph import lazy_inits

BASES = {"keras.Model", "keras.models.Model", "keras.layers.Layer", "keras.engine.base_layer.Layer"}
# reductions whose axes follow the layout: axis argument name in the source call
AXIS_OPS = {
    "tensorflow.math.reduce_mean": "axis", "tensorflow.reduce_mean": "axis",
    "tensorflow.math.reduce_sum": "axis", "tensorflow.reduce_sum": "axis",
    "tensorflow.math.reduce_max": "axis", "tensorflow.reduce_max": "axis",
    "tensorflow.math.reduce_min": "axis", "tensorflow.reduce_min": "axis",
    "keras.ops.mean": "axis", "keras.ops.sum": "axis", "keras.ops.max": "axis",
}


# elementwise functions of two tensors (the one-tensor ones are functional.ELEMENTWISE)
ELEMENTWISE_BINARY = {
    "keras.ops.add", "keras.ops.subtract", "keras.ops.multiply", "tensorflow.add", "tensorflow.math.add",
    "tensorflow.subtract", "tensorflow.math.subtract", "tensorflow.multiply", "tensorflow.math.multiply",
}
ELEMENTWISE_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide)


# attributes of a Keras layer that an nn.Module does not have, read in call(); one that a
# framework call takes as its dtype becomes torch.get_default_dtype() (dtype_policy.py)
KERAS_ONLY_ATTRS = {"compute_dtype", "variable_dtype", "dtype_policy", "dtype"}


@dataclass
class Attr:
    name: str
    kind: str  # "layer", "block" (a converted subclass), "weight"
    layer: LayerCall | None = None
    call: cst.Call | None = None  # the constructor / add_weight call (original)
    plan: LayerPlan | None = None
    block: "ClassPlan | None" = None
    weight: dict = field(default_factory=dict)
    statement: cst.CSTNode | None = None  # the __init__ statement that makes it
    build_shape: tuple | None = None  # the Keras shape build() gives it (no batch dimension)
    block_size: cst.BaseExpression | None = None  # a block taking its input size: the size build() gives it
    from_build: bool = False  # a weight build() makes: the parameter goes at the end of __init__
    many: bool = False  # a list of converted subclasses (`[Block(...) for i in range(n)]`): an nn.ModuleList
    optional: bool = False  # made in a conditional expression (`Block(...) if flag else None`)
    layout: str | None = None  # a layer: the layout of what call() gives it, where planned there
    # the same attribute made in other branches of __init__'s `if`s (`if c: self.dense =
    # Dense(2 * d) else: self.dense = Dense(d)`; classes of the file in each): one module per
    # branch, applied alike (_plan_alternatives, _block_alternative check it)
    alternatives: list["Attr"] = field(default_factory=list)
    plan_inputs: list | None = None  # the tensors its plan was made for
    # `Dense(n) if flag else tf.identity`: the function on the other side (original), which
    # becomes an nn.Identity() module so that one forward() call serves both
    identity_side: cst.BaseExpression | None = None
    # an element of a list of the file's classes appended one by one (T5's block): its index
    # there, counting the elements before it made in any case, and the (call, statement) of
    # those before it made under a condition, each moving it one place on where it was made
    list_index: int | None = None
    list_after: list = field(default_factory=list)
    # the elements one call makes from list_index on (`*[Block(...) for i in range(n)]` after
    # the first, or appended by a loop): "*" in its origin, "*+list_index" in its module path
    list_rest: bool = False
    # a list of Keras layers written out and applied in order by a loop (subclass_sequence.py):
    # the layers (``layer`` is the first), their models.Step once planned, the layout the first wants
    elements: list[LayerCall] | None = None
    steps: list = field(default_factory=list)
    first_layout: str = "keras"
    element_shapes: dict = field(default_factory=dict)  # index -> the shape build() gives that element
    # such a list made under a condition: the other branches' values (`[tf.identity]`), which become None
    skipped: list = field(default_factory=list)


@dataclass
class ClassPlan:
    node: cst.ClassDef | None  # None: a class of another file of the run (project_classes.py)
    name: str
    is_model: bool
    attrs: dict[str, Attr] = field(default_factory=dict)
    input_layout: str = "keras"
    output_layout: str = "keras"
    call_params: list[str] = field(default_factory=list)
    # rewrites of forward: id(original call) -> conversion info
    app_before: dict[int, str] = field(default_factory=dict)  # application -> input conversion
    # application -> output conversion: a channels-first result put with Keras-layout tensors
    # in one elementwise expression (`self.conv_path(x) + self.shortcut(x)`)
    app_after: dict[int, str] = field(default_factory=dict)
    axis_remaps: dict[int, dict] = field(default_factory=dict)  # framework call -> {arg: new value}
    name_moves: dict[int, set] = field(default_factory=dict)  # statement id -> names to move to Keras order
    # statement id -> (target, source): `x = tf.transpose(x, perm=(0, 2, 3, 1))` whose result only
    # convolutions read: the channels-first tensor is the input as it came (the statement goes)
    to_channels_last: dict[int, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    build_problem: str | None = None  # build() does more than build sublayers: the class stays
    build: BuildPlan | None = None
    size_param: str | None = None  # build() read the input size: __init__ takes it as this keyword
    graph: "subclass_graph.InitGraph | None" = None  # __init__ builds a functional graph (subclass_graph.py)
    # call(self, query, key, value, mask, ...): a mask every caller must pass is an ordinary argument
    mask_arg: bool = False
    mask_default: bool = False  # call(self, x, mask=None): the mask is an ordinary argument all the same
    # a layer called with several tensors: id(original call) -> (its forward expression, which
    # of the call's arguments, training and mask left out, are its {x0} {x1}...)
    multi_apps: dict[int, tuple[str, list[int]]] = field(default_factory=dict)
    # the class' other methods that apply its layers (`def project(self, x): return self.dense(x)`)
    helpers: set[str] = field(default_factory=set)
    origin: str | None = None  # a class of another file of the run: its module
    # the loops applying a list of layers in order, in call()'s order: each as self.<name>(h)
    sequence_loops: list[cst.Call] = field(default_factory=list)
    # loops over a list of the file's classes, by their order in call(): the tensors moved before
    # the loop to the layout its elements take, as (name, "movedim(...)")
    loop_moves: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    shape_kept: bool = False  # such a class: its compute_output_shape() returns its input shape
    # such a class converts with its file, but not in the form this file can make it (problems)
    converts_elsewhere: bool = False
    # it derives from a class this run does not know (``(name, module)``): converted where it can
    # be and reported, as are the classes derived from it
    unknown_base: tuple[str, str] | None = None
    # a subclass of a Keras layer with a PyTorch class (layer_subclass.py): (check's info, rule table)
    layer_subclass: tuple | None = None
    # a class derived from one of the run that becomes a module, adding only helpers and Keras's
    # config methods (_module_base): that class's name; it is the base's plan otherwise
    derived_from: str | None = None
    # id(__init__ line) -> its `self.<layer>.build(shape)` call, which goes (subclass_init_builds.py)
    init_builds: dict[int, cst.Call] = field(default_factory=dict)
    # its forward() takes and gives Keras's layout even where its layers work channels-first: a
    # holder makes it or a layer by one conditional expression, which one forward() call applies
    keras_output: bool = False
    # the channels-first layers applied in other methods (_trace_helpers): there they take and
    # give Keras's layout, moved around the module call
    helper_cf: set[str] = field(default_factory=set)

    @property
    def dropped(self) -> tuple[str, ...]:
        """The keyword arguments forward() does not take (Keras's own)."""
        return ("training",) if self.mask_arg else ("training", "mask")


def _is_keras_class(ctx, cls: cst.ClassDef) -> tuple[bool, bool]:
    for base in cls.bases:
        api = resolve_call(ctx, base.value) if isinstance(base.value, (cst.Name, cst.Attribute)) else None
        if api in BASES:
            return True, api != "keras.layers.Layer" and api != "keras.engine.base_layer.Layer"
    return False, False


def analyze(ctx) -> None:
    plans: dict[int, ClassPlan] = ctx.facts.setdefault("class_plans", {})
    by_name: dict[str, ClassPlan] = dict(foreign_plans(ctx))
    classes = [s for s in ctx.module.body if isinstance(s, cst.ClassDef)]
    ctx.facts["keras_output"] = _keras_output_wanted(ctx, classes)
    looped = _loop_applied(classes)
    for stmt in _dependency_order(classes):
        if ctx.facts.get("twins") and names_twin(ctx, stmt):
            ctx.scan.path_ids.update((id(ctx.module), id(stmt)))  # its base becomes the twin (_twin_only)
        graph = subclass_graph.find(ctx, stmt)
        if graph is not None:
            # super().__init__(inputs=..., outputs=...): a functional model, whatever its base
            for base in stmt.bases:
                ctx.owned.add(id(base.value))
            plan = ClassPlan(stmt, stmt.name.value, True, graph=graph)
            subclass_graph.analyze(ctx, plan, by_name)
            plans[id(stmt)] = plan
            by_name[plan.name] = plan
            if not plan.problems:
                ctx.facts.setdefault("class_kinds", {})[plan.name] = "model"
            else:
                _keep(ctx, plan)
            continue
        keras_class, is_model = _is_keras_class(ctx, stmt)
        layer_rule = layer_subclass.layer_base(ctx, stmt) if not keras_class else None
        if layer_rule is not None:
            # class PositionalEmbedding(keras.layers.Embedding) -> (nn.Embedding)
            for base in stmt.bases:
                ctx.owned.add(id(base.value))
            plan = ClassPlan(stmt, stmt.name.value, False)
            try:
                info = layer_subclass.check(ctx, stmt, layer_rule)
                plan.layer_subclass = (info, layer_rule.data["subclass"])
                plan.call_params = info["params"][1:]
                ctx.facts.setdefault("class_kinds", {})[plan.name] = "layer"
            except Unconvertible as exc:
                plan.problems.append(str(exc))
                _keep(ctx, plan)
            plans[id(stmt)] = plan
            by_name[plan.name] = plan
            continue
        unknown = None
        if not keras_class:
            derived = _derived_reason(ctx, stmt, by_name)
            if derived is not None and derived[2] is not None and _unknown_base(ctx, stmt, by_name) is not None:
                # a Keras class by its call()/build(), on a base this run does not know: converted
                # as one where it can be (its base and super().__init__() as they are), else below
                unknown, derived = derived[2], None
                keras_class = True
            base_plan = _module_base(ctx, stmt, by_name) if derived is not None and not derived[1] and derived[2] is None else None
            if base_plan is not None:
                # class LlamaRotaryEmbedding(RotaryEmbedding) overriding helpers and Keras's
                # get_config(): a subclass of the module its base becomes, as it is
                plan = replace(
                    base_plan, node=stmt, name=stmt.name.value, derived_from=base_plan.name, origin=None,
                    converts_elsewhere=False, problems=[],
                )
                plans[id(stmt)] = plan
                by_name[plan.name] = plan
                ctx.facts.setdefault("class_kinds", {})[plan.name] = "model" if plan.is_model else "layer"
                ctx.scan.path_ids.update((id(ctx.module), id(stmt)))
                continue
            if derived is not None:
                reason, kept_base, unknown = derived
                for base in stmt.bases:
                    ctx.owned.add(id(base.value))  # reported with the class
                plan = ClassPlan(stmt, stmt.name.value, False, problems=[reason])
                plan.unknown_base = unknown
                plans[id(stmt)] = plan
                by_name[plan.name] = plan
                # reported even where the class holds no framework name (the walk follows those)
                ctx.scan.path_ids.update((id(ctx.module), id(stmt)))
                if kept_base:
                    _keep(ctx, plan)  # Keras code on a Keras base runs; PyTorch code there would not
            if not keras_class:
                continue
        for base in stmt.bases:
            if unknown is None:
                ctx.owned.add(id(base.value))  # the class handler rewrites the base
        owned = set(ctx.owned) if unknown is not None else None
        plan = _plan_keras_class(ctx, stmt, is_model, unknown, by_name)
        if (
            not plan.problems and plan.input_layout != plan.output_layout and plan.name in looped
            and plan.name not in ctx.facts["keras_output"]
        ):
            # applied in turn by a loop, it must give the layout it takes: Keras's
            ctx.facts["keras_output"].add(plan.name)
            plan = _plan_keras_class(ctx, stmt, is_model, unknown, by_name)
        plans[id(stmt)] = plan
        by_name[plan.name] = plan
        if not plan.problems and not plan.build_problem:
            ctx.facts.setdefault("class_kinds", {})[plan.name] = "model" if plan.is_model else "layer"
        elif unknown is not None:
            # converted where it can be: whether its base is a Keras class is not known
            detail = plan.build_problem or "; ".join(plan.problems)
            twin = twin_of(ctx, unknown)
            plan.problems = [
                f"it derives from {unknown[0]}, whose declared twin is {twin}, but its code does not convert: {detail}"
                if twin else _unknown_base_reason(*unknown) + f" ({detail})"
            ]
            plan.build_problem = None
            ctx.owned.intersection_update(owned)  # its layers convert one by one, as in any other code
            ctx.scan.path_ids.update((id(ctx.module), id(stmt)))
        else:
            _keep(ctx, plan)
    ctx.facts["class_plans_by_name"] = by_name


def _class_tables(ctx) -> dict[str, list]:
    """The module's tables of classes, ``NORM2FN = {"layer_norm": TFLayerNorm, "no_norm": TFNoNorm}``:
    name -> the table's values (dict, list or tuple literals of names and attributes)."""
    tables = ctx.facts.get("class_tables")
    if tables is None:
        tables = {}
        for _stmt, name, value in module_assignments(ctx.module):
            if isinstance(value, cst.Dict):
                values = [e.value for e in value.elements if isinstance(e, cst.DictElement)]
            elif isinstance(value, (cst.List, cst.Tuple)):
                values = [e.value for e in value.elements if isinstance(e, cst.Element)]
            else:
                continue
            if values and all(isinstance(v, (cst.Name, cst.Attribute)) for v in values):
                tables[name] = values
        ctx.facts["class_tables"] = tables
    return tables


def _table_kept(ctx, plan: ClassPlan, known: dict) -> str | None:
    """``self.LayerNorm = NORM2FN[config.normalization_type](...)``: the module holds whichever
    class the table gives at run time, so each must become a module. One that stays Keras (or a
    Keras layer, whose arguments cannot be mapped where they are not known) keeps the class
    Keras, as a class of the file it holds would (all or nothing)."""
    init = _method(plan.node, "__init__")
    tables = _class_tables(ctx) if init is not None else {}
    if not tables:
        return None
    for node in _walk(init.body):
        if not (isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.value, cst.Call)):
            continue
        func, name = node.value.func, _self_attr(node.targets[0].target)
        if not (name is not None and isinstance(func, cst.Subscript) and isinstance(func.value, cst.Name)
                and func.value.value in tables):
            continue
        table = func.value.value
        if name in plan.attrs:
            continue  # a table of the file's classes (_table_made): held like them
        for value in tables[table]:
            block = known.get(value.value) if isinstance(value, cst.Name) else None
            if block is not None and (block.problems or block.build_problem):
                return f"self.{name} ({block.name}, from the table {table}) stays Keras"
            api = resolve_call(ctx, value) if block is None else None
            if api is not None and api.startswith("keras."):
                return (
                    f"self.{name} is made by {code_of(func).strip()}, which may be {api}: a Keras layer chosen at run"
                    " time, whose arguments cannot be mapped to its PyTorch module's"
                )
    return None


def _kept_text(attr: Attr) -> str:
    """Why a class holding ``attr``, a class that does not convert here, stays Keras."""
    block = attr.block
    what = f"self.{attr.name} ({'a list of ' if attr.many else ''}{block.name}" + (f", from {block.origin}" if block.origin else "")
    if block.origin and block.converts_elsewhere:
        return f"{what}): {block.problems[0]}"
    return f"{what}) stays Keras"


def _derived_reason(ctx, cls: cst.ClassDef, known: dict) -> tuple[str, bool, tuple[str, str] | None] | None:
    """Why ``cls``, derived from a Keras class other than Layer and Model, is not converted, and
    whether its base stays Keras (None for any other class): a Keras layer
    (``keras.layers.MultiHeadAttention``), a Keras class of this file, or of another file of the
    run (project_classes.py). Its methods override or extend the base's, whose attributes
    (``self._query_dense``) only the base knows. On a base that stays Keras the class stays
    whole, reported once (rather than a Keras class with PyTorch code inside); on a base that
    becomes a module, its code converts where it can and the class is reported, to finish by
    hand (call() -> forward()...)."""
    for base in cls.bases:
        value = base.value
        if base.keyword is not None or not isinstance(value, (cst.Name, cst.Attribute)):
            continue
        api = resolve_call(ctx, value)
        if api is not None and api.startswith("keras.layers.") and api not in BASES:
            return (
                f"it derives from {api}, whose own attributes and methods it overrides or extends;"
                " only subclasses of keras.layers.Layer and keras.Model are converted"
            ), True, None
        if not isinstance(value, cst.Name):
            continue
        base_plan = known.get(value.value)
        if base_plan is None and _converted_base(ctx, value.value) and any(
            _method(cls, m) is not None for m in ("call", "build")
        ):
            # converted already (a second run): what the first run said, so that it says it again
            base_plan = ClassPlan(None, value.value, False)
        if base_plan is not None and base_plan.unknown_base is not None and not _twin_converted(ctx, base_plan):
            return _unknown_base_reason(*base_plan.unknown_base, via=value.value), False, base_plan.unknown_base
        if base_plan is not None:
            where = f" of {base_plan.origin}" if base_plan.origin else " of this file"
            if (base_plan.problems or base_plan.build_problem) and not base_plan.converts_elsewhere:
                return f"it derives from {value.value} (a Keras class{where}, which stays Keras), whose methods it overrides or extends", True, None
            return (
                f"it derives from {value.value}, a class{where} that becomes a PyTorch module, and overrides its"
                " Keras methods: finish it by hand (call() -> forward(), build() -> __init__)"
            ), False, None
    if any(_method(cls, m) is not None for m in ("call", "build")) and _keras_evidence(ctx, cls, known):
        unknown = _unknown_base(ctx, cls, known)
        if unknown is not None:
            return _unknown_base_reason(*unknown), False, unknown
    return None


def _module_base(ctx, cls: cst.ClassDef, known: dict) -> "ClassPlan | None":
    """The plan of the class of the run that ``cls`` derives from and that becomes a module,
    when ``cls`` needs nothing more than that base: it overrides neither call() nor build()
    (its forward() and sizes are the base's), makes no layers or weights of its own (the
    base's weight map is its), and the base takes no input size in __init__ (which the
    derived class's super().__init__() would not pass)."""
    if any(_method(cls, m) is not None for m in ("call", "build")) or _keras_evidence(ctx, cls, known):
        return None
    bases = [b.value for b in cls.bases if b.keyword is None]
    if len(bases) != 1 or not isinstance(bases[0], cst.Name):
        return None
    base = known.get(bases[0].value)
    if (
        base is None or base.problems or base.build_problem or base.graph is not None
        or (base.unknown_base is not None and not _twin_converted(ctx, base))
        or base.layer_subclass is not None or base.size_param or base.name not in ctx.facts.get("class_kinds", {})
    ):
        return None
    return base


def _keras_evidence(ctx, cls: cst.ClassDef, known: dict) -> bool:
    """Whether ``cls`` acts as a Keras layer, beyond a method named call(): it has build(), or
    makes Keras layers, Keras classes of the run or weights (a plain class with a call() method
    is left alone)."""
    if _method(cls, "build") is not None:
        return True
    for node in _walk(cls.body):
        if not isinstance(node, cst.Call):
            continue
        if isinstance(node.func, cst.Name) and node.func.value in known:
            return True
        if _self_attr(node.func) == "add_weight":
            return True
        api = resolve_call(ctx, node.func) if isinstance(node.func, (cst.Name, cst.Attribute)) else None
        if api is not None and api.startswith("keras.layers."):
            return True
    return False


def _twin_converted(ctx, plan: "ClassPlan") -> bool:
    """Whether ``plan``'s class converts on the declared twin of its base."""
    return twin_of(ctx, plan.unknown_base) is not None and not plan.problems and not plan.build_problem


def _unknown_base_reason(name: str, module: str, via: str | None = None) -> str:
    return (
        f"it derives{f' (through {via})' if via else ''} from {name} (from {module}), a class this run does not know,"
        " so whether it is a Keras"
        " class is not known here; it has Keras's call()/build(): its code is converted where it can be and"
        f" the class is left to finish by hand (a PyTorch base for {name}, call() -> forward(), build() ->"
        " __init__), or convert that module in the same run"
    )


def _unknown_base(ctx, cls: cst.ClassDef, known: dict, seen: frozenset = frozenset()) -> tuple[str, str] | None:
    """(name, module) of the class imported from a module of the project (not a framework) that
    ``cls`` derives from, directly or through classes of this file that are not Keras classes
    (transformers' heads: TFBertForMaskedLM(TFBertPreTrainedModel), TFBertPreTrainedModel(TFPreTrainedModel)
    from modeling_tf_utils); None when every base is known."""
    classes = {s.name.value: s for s in ctx.module.body if isinstance(s, cst.ClassDef)}
    imported = {local: module for local, (module, _name) in imported_classes(ctx).items()}
    twinned = None  # a base with a declared twin: the class converts unless another base is unknown
    for base in cls.bases:
        value = base.value
        if base.keyword is not None or not isinstance(value, cst.Name) or value.value in known:
            continue
        name = value.value
        found = None
        if name in imported and not _converted_base(ctx, name) and not plain_import(ctx, name):
            found = name, imported[name]
        else:
            local = classes.get(name)
            if local is not None and name not in seen and not _is_keras_class(ctx, local)[0]:
                found = _unknown_base(ctx, local, known, seen | {cls.name.value})
        if found is not None and twin_of(ctx, found) is None:
            return found
        twinned = twinned or found
    return twinned


def _converted_base(ctx, name: str) -> bool:
    """Whether ``name`` is a class of this file that derives from torch.nn.Module."""
    for stmt in ctx.module.body:
        if isinstance(stmt, cst.ClassDef) and stmt.name.value == name:
            aliases = ctx.resolver.bindings.aliases  # the target's names too (`from torch import nn`)
            for b in stmt.bases:
                dotted = dotted_name(b.value) if isinstance(b.value, (cst.Name, cst.Attribute)) else None
                head, _, rest = (dotted or "").partition(".")
                if head in aliases and ".".join(filter(None, (aliases[head], rest))) == "torch.nn.Module":
                    return True
            return False
    return False


def _plan_keras_class(ctx, stmt: cst.ClassDef, is_model: bool, unknown, by_name: dict) -> ClassPlan:
    """The plan of a Keras class of the file: its attributes, build(), and call() traced."""
    plan = ClassPlan(stmt, stmt.name.value, is_model, unknown_base=unknown)
    try:
        _collect_attrs(ctx, plan, by_name)
    except Unconvertible as exc:
        plan.problems.append(str(exc))
    _plan_build(ctx, plan)
    plan_init_builds(ctx, plan, _method(plan.node, "__init__"), _self_attr)
    _check_block_sizes(plan)
    kept = [a for a in _with_alternatives(plan) if a.kind == "block" and (a.block.problems or a.block.build_problem)]
    if kept and not plan.problems:
        # a module holding a Keras layer runs under neither framework: all or nothing
        plan.problems.append("; ".join(_kept_text(a) for a in kept))
    tabled = _table_kept(ctx, plan, by_name)
    if tabled and not plan.problems:
        plan.problems.append(tabled)
    if not plan.problems:
        try:
            _trace_call(ctx, plan)
            _trace_helpers(ctx, plan)
            if not plan.build_problem:  # the class stays Keras anyway
                _plan_unapplied(plan)
        except Unconvertible as exc:
            plan.problems.append(str(exc))
    return plan


def _loop_applied(classes: list[cst.ClassDef]) -> set[str]:
    """The classes of the file that some ``call()`` applies in turn by a loop over a list
    (``for layer in self.layers: x = layer(x)``), as __init__ makes that list: they must give
    the layout they take (ConvNeXt's layer, channels-first in where its convolution starts,
    Keras's out where its residual sum ends)."""
    names = {c.name.value for c in classes}
    out = set()
    for cls in classes:
        call, init = _method(cls, "call"), _method(cls, "__init__")
        if call is None or init is None:
            continue
        for loop in _walk(call.body):
            if not isinstance(loop, cst.For):
                continue
            it = loop.iter
            if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "enumerate" and it.args:
                it = it.args[0].value
            listed = _self_attr(it)
            if listed is None:
                continue
            for stmt in _walk(init.body):
                if isinstance(stmt, cst.SimpleStatementLine) and any(_self_attr(n) == listed for n in _walk(stmt)):
                    out |= {
                        n.func.value for n in _walk(stmt)
                        if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value in names
                    }
    return out


def _keras_output_wanted(ctx, classes: list[cst.ClassDef]) -> set[str]:
    """The classes of the file that some ``__init__`` makes by one side of a conditional
    expression whose other side is a Keras layer (ResNet's ``ShortCut(...) if project else
    Activation("linear")``): the layer keeps Keras's layout, so the class must give it too.
    Also the classes written out together in one list (RegNet's Y layer: three convolution
    layers and a squeeze-and-excitation one, applied alike by a loop): one layout for all,
    Keras's, whatever each would take and give alone."""
    names = {c.name.value for c in classes}
    wanted = set()
    for cls in classes:
        init = _method(cls, "__init__")
        if init is None:
            continue
        for node in _walk(init.body):
            if isinstance(node, cst.List):
                listed = {
                    e.value.func.value for e in node.elements
                    if isinstance(e.value, cst.Call) and isinstance(e.value.func, cst.Name) and e.value.func.value in names
                }
                if len(listed) > 1:
                    wanted |= listed
            if not isinstance(node, cst.IfExp):
                continue
            sides = (node.body, node.orelse)
            blocks = [s.func.value for s in sides if isinstance(s, cst.Call) and isinstance(s.func, cst.Name) and s.func.value in names]
            if len(blocks) == 1 and any(isinstance(s, cst.Call) and _layer_call(ctx, s) is not None for s in sides):
                wanted.add(blocks[0])
    return wanted


def _dependency_order(classes: list[cst.ClassDef]) -> list[cst.ClassDef]:
    """The classes in file order, except that a class comes after the classes of the file its
    ``__init__`` makes (``self.patch_embeddings = TFViTPatchEmbeddings(...)`` defined further
    down): whether a class converts depends on whether those do."""
    by_name = {c.name.value: c for c in classes}
    done: list[cst.ClassDef] = []
    state: dict[str, int] = {}  # 1: being placed, 2: placed

    def place(cls: cst.ClassDef) -> None:
        name = cls.name.value
        if state.get(name):
            return  # placed, or a cycle: file order decides
        state[name] = 1
        for method in (_method(cls, "__init__"), _method(cls, "build")):  # build() may make layers too
            if method is None:
                continue
            for node in _walk(method.body):
                if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value in by_name:
                    place(by_name[node.func.value])
        state[name] = 2
        done.append(cls)

    for cls in classes:
        place(cls)
    place = None  # a recursive closure refers to itself: a reference cycle (docs/performance.md)
    return done


def _keep(ctx, plan: ClassPlan) -> None:
    """All or nothing: a class that stays Keras keeps its TensorFlow code too (tf.cast in
    its call() turned into torch code would run under neither). The converted subclasses
    it makes without their input size (see _check_block_sizes) stay Keras with it: a Keras
    layer cannot hold a module, and the size they would take is not known here."""
    stack = [plan.node.body]
    kept = ctx.facts.setdefault("kept_nodes", set())
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Call, cst.Name, cst.Attribute)):
            ctx.owned.add(id(node))
            kept.add(id(node))
        stack.extend(source_children(node))
    for attr in _with_alternatives(plan):
        block = attr.block
        if attr.kind == "block" and block.node is None:
            continue  # a class of another file converts with its file; its maker is reported
        if attr.kind == "block" and block.size_param and attr.block_size is None and not block.problems:
            block.problems.append(
                f"{plan.name}, which stays Keras, makes it (self.{attr.name}) without "
                + _sizes_text(block).replace(" as ", ", which it would take as ")
            )
            ctx.facts.get("class_kinds", {}).pop(block.name, None)
            _keep(ctx, block)


def _plan_build(ctx, plan: ClassPlan) -> None:
    """build() -> input sizes of the layers made in __init__, weights made at its end."""
    build, problem = plan_build(ctx, plan.node, _method(plan.node, "__init__"), plan.attrs)
    if build is None:
        return
    for name, shape in build.shapes.items():
        for attr in (plan.attrs[name], *plan.attrs[name].alternatives):
            attr.build_shape = shape
    for name, shapes in build.element_shapes.items():
        plan.attrs[name].element_shapes = shapes
    if problem is not None:
        plan.build_problem = problem  # the class stays as it was
        return
    for name, (call, stmt, args) in build.weights.items():
        plan.attrs[name] = Attr(name, "weight", call=call, weight=args, statement=stmt, from_build=True)
    for name, size in build.block_sizes.items():
        for attr in (plan.attrs[name], *plan.attrs[name].alternatives):
            attr.block_size = size
    plan.build = build
    plan.size_param = build.size_param
    # the class handler removes build(): the walk leaves what is in it alone, except the
    # statements that make layers, which move to __init__ (their layer calls are the class's)
    made = {id(node) for node in (*build.moved_nodes, *build.values)}
    for name in build.made:
        if plan.attrs[name].kind == "layer":
            ctx.owned.add(id(plan.attrs[name].call))
    stack = [build.fn]
    while stack:
        node = stack.pop()
        if id(node) in made:
            continue
        if isinstance(node, (cst.Call, cst.Name, cst.Attribute)):
            ctx.owned.add(id(node))
        stack.extend(source_children(node))


def _check_block_sizes(plan: ClassPlan) -> None:
    """A converted subclass that takes its input size in __init__ (its build() read it
    from the input shape) needs it where it is made: from the shape this class'
    build() gives it."""
    if plan.build_problem:
        return
    for attr in plan.attrs.values():
        if attr.kind == "block" and attr.block.size_param and attr.block_size is None:
            plan.problems.append(
                f"self.{attr.name} ({attr.block.name}) takes {_sizes_text(attr.block)}"
                f" (its build() reads {'them' if ' inputs ' in _sizes_text(attr.block) else 'it'} from the input shape),"
                f" and {plan.name} has no build() that gives"
                f" self.{attr.name} a shape"
            )


def _sizes_text(block: ClassPlan) -> str:
    """``the size of its input as input_dim=``, or of each input where build() took several shapes"""
    sizes = block.build.size_params if block.build is not None else [block.size_param]
    if len(sizes) > 1:
        return "the sizes of its inputs as " + ", ".join(f"{s}=" for s in sizes)
    return f"the size of its input as {sizes[0]}="


def _collect_attrs(ctx, plan: ClassPlan, known: dict[str, ClassPlan]) -> None:
    init = _method(plan.node, "__init__")
    if init is None:
        return
    aliases = _class_aliases(init, known)
    if aliases:
        _collect_attrs_of(ctx, plan, init, {**known, **{a: known[classes[0]] for a, classes in aliases.items()}})
        _alias_alternatives(plan, aliases, known)
    else:
        _collect_attrs_of(ctx, plan, init, known)


def _class_aliases(init: cst.FunctionDef, known: dict) -> dict[str, list[str]]:
    """``layer = XLayer if config.layer_type == "x" else YLayer`` in __init__ (transformers'
    RegNet and ResNet stages): the local -> the file's classes it may name, when it is bound
    only there."""
    bound = binding_counts(init.body)
    out = {}
    for stmt in _simple_statements(init.body):
        small = stmt.body[0] if len(stmt.body) == 1 else None
        if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
            continue
        local, value = small.targets[0].target.value, small.value
        sides = [value.body, value.orelse] if isinstance(value, cst.IfExp) else [value]
        if bound.get(local) == 1 and local not in known and all(isinstance(v, cst.Name) and v.value in known for v in sides):
            out[local] = list(dict.fromkeys(v.value for v in sides))
    return out


def _alias_alternatives(plan: ClassPlan, aliases: dict, known: dict) -> None:
    """Each module made by calling such a local: the other classes it may name are alternatives
    made at the same place (one of them is, in the Keras model: optional in the weight map)."""
    for attr in list(plan.attrs.values()):
        for made in [attr, *attr.alternatives]:
            func = made.call.func if made.kind == "block" and made.call is not None else None
            if not (isinstance(func, cst.Name) and func.value in aliases):
                continue
            for other in aliases[func.value][1:]:
                alt = _block_alternative(attr, made.call, known[other], made.statement, listed=attr.many)
                alt.optional = made.optional = True
                alt.list_index, alt.list_rest, alt.list_after = made.list_index, made.list_rest, list(made.list_after)
                attr.alternatives.append(alt)


def _collect_attrs_of(ctx, plan: ClassPlan, init: cst.FunctionDef, known: dict[str, ClassPlan]) -> None:
    statements = [(stmt, False) for stmt in _simple_statements(init.body)]
    for stmt in init.body.body:
        if isinstance(stmt, cst.If):
            # if config.embedding_size != config.hidden_size: self.project = Dense(...)
            # (else: self.project = None; elif/else: Dense(...) with other arguments)
            statements.extend((inner, True) for inner in _branch_statements(stmt))
    _check_branch_values(ctx, statements, known)
    for stmt, conditional in statements:
        for small in stmt.body:
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                continue
            target = small.targets[0].target
            if not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == "self"):
                continue
            name = target.attr.value
            value = small.value
            optional = conditional
            made = _optional_value(value)
            if made is not None:
                # Dense(...) if add_pooling_layer else None: the module, or None, as in Keras
                value, optional = made, True
            first = plan.attrs.get(name)
            if first is None and _both_made(ctx, plan, name, value, stmt, known):
                continue
            if first is None and _table_made(ctx, plan, name, value, stmt, known):
                continue
            layer = _layer_call(ctx, value)
            if first is not None and (optional or first.optional):
                if layer is not None and first.kind == "layer":
                    # a layer in another branch: one more module, applied alike
                    first.optional = True
                    first.alternatives.append(Attr(name, "layer", layer, value, statement=stmt, optional=True))
                    ctx.owned.add(id(value))
                elif first.kind == "layer" and _block_call(value, known):
                    # Dense(...) in one branch, a class of the file in the other (ConvBERT's
                    # GroupedLinearLayer): _check_branch_values found them applied alike
                    first.optional = True
                    first.alternatives.append(Attr(name, "block", call=value, block=known[value.func.value], statement=stmt, optional=True))
                elif first.kind == "block" and not first.many and _block_call(value, known):
                    first.optional = True
                    first.alternatives.append(_block_alternative(first, value, known[value.func.value], stmt))
                continue  # assigned twice: the first stays, the class is decided by it
            if layer is not None:
                plan.attrs[name] = Attr(name, "layer", layer, value, statement=stmt, optional=optional)
                ctx.owned.add(id(value))
                continue
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in known:
                plan.attrs[name] = Attr(name, "block", call=value, block=known[value.func.value], statement=stmt, optional=optional)
                continue
            element = _block_list_element(value, known)
            if element is not None:
                # [Block(config, name=f"layer_._{i}") for i in range(n)]: an nn.ModuleList
                # (made under a condition too, as MobileBERT's extra feed-forward blocks are)
                plan.attrs[name] = Attr(name, "block", call=element, block=known[element.func.value], statement=stmt,
                                        many=True, optional=optional)
                continue
            if optional:
                continue
            if (
                isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute)
                and isinstance(value.func.value, cst.Name) and value.func.value.value == "self"
                and value.func.attr.value == "add_weight"
            ):
                plan.attrs[name] = Attr(name, "weight", call=value, weight=_weight_args(value))
                ctx.owned.add(id(value))
    for name, element, stmt in appended_lists(init, known, is_layer=lambda call: _layer_call(ctx, call) is not None):
        # self.blocks = [] filled by a loop of self.blocks.append(Block(...)): an nn.ModuleList
        if name in plan.attrs:
            continue
        layer = _layer_call(ctx, element)
        if layer is not None:
            # Keras layers appended in the loop (XLM's self.layer_norm1.append(LayerNormalization(...)))
            plan.attrs[name] = Attr(name, "layer", layer, element, statement=stmt, many=True)
            ctx.owned.add(id(element))
        else:
            plan.attrs[name] = Attr(name, "block", call=element, block=known[element.func.value], statement=stmt, many=True)
    for name, elements, stmt in listed_appends(init, known):
        # self.layer = [] then self.layer.append(A(...)), if c: self.layer.append(B(...)): an
        # nn.ModuleList of the file's classes, applied by index (self.layer[0](...)) as one form
        if name not in plan.attrs:
            plan.attrs[name] = _listed_blocks(name, elements, known)
    for stmt, _conditional in statements:
        for small in stmt.body:
            name = _self_attr(small.targets[0].target) if isinstance(small, cst.Assign) and len(small.targets) == 1 else None
            if name is None or name in plan.attrs:
                continue
            value = small.value
            parts = None if _conditional else _list_parts(init, small, name, known)
            if parts:
                # [Block(...), Other(...)] written out (RegNet's layers), then maybe more made by one
                # call each (`*[Block(...) for ...]`, `layers += [...]`, a loop's appends): an
                # nn.ModuleList of those modules, each at its index in the weight map
                plan.attrs[name] = _listed_blocks(name, [(call, _statement_of(init, call) or stmt, False) for call, _rest in parts], known)
                for attr, (_call, rest) in zip((plan.attrs[name], *plan.attrs[name].alternatives), parts):
                    attr.list_rest = rest
                continue
            if isinstance(value, cst.Name):
                # conv_layers = [...] (or [] filled by append) and then self.conv_layers = conv_layers
                local = value.value
                made = [
                    n.value for n in _walk(init.body) if isinstance(n, cst.Assign) and len(n.targets) == 1
                    and isinstance(n.targets[0].target, cst.Name) and n.targets[0].target.value == local
                ]
                if not made or not all(isinstance(m, (cst.List, cst.Tuple, cst.ListComp)) for m in made):
                    continue
                value = cst.List([cst.Element(m) for m in made] + [
                    cst.Element(n) for n in _walk(init.body) if isinstance(n, cst.Call)
                    and isinstance(n.func, cst.Attribute) and n.func.attr.value == "append"
                    and isinstance(n.func.value, cst.Name) and n.func.value.value == local
                ])
            if not isinstance(value, (cst.List, cst.Tuple)):
                continue
            layers = subclass_sequence.written_sequence(ctx, plan.node, name, value, _layer_call)
            skipped = subclass_sequence.other_branches(ctx, init, name, small) if layers else None
            if layers and skipped is not None and (_conditional or not skipped):
                # [Conv2D(...), Conv2D(...)] applied in order by a loop in call(): an nn.Sequential
                # (under a condition, the other branches' `[tf.identity]` or None: None, skipped)
                plan.attrs[name] = Attr(name, "layer", layers[0], value, statement=stmt, elements=layers,
                                        optional=_conditional, skipped=skipped)
                ctx.owned.update(id(layer.call) for layer in layers)
                continue
            # [Dense(4), Dense(4)], [Dense(4), *[Dense(4) for _ in range(n)]]: a plain list in an
            # nn.Module does not register its modules (their parameters would be lost)
            made = [n for n in _walk(value) if isinstance(n, cst.Call) and (
                _layer_call(ctx, n) is not None or (isinstance(n.func, cst.Name) and n.func.value in known)
            )]
            if made:
                raise Unconvertible(
                    f"self.{name} is a list of layers made other than as [Block(...) for i in range(n)] or by a loop of"
                    f" self.{name}.append(Block(...)), the forms that become an nn.ModuleList, nor a list of Keras layers"
                    f" that only `for layer in self.{name}: x = layer(x)` applies (an nn.Sequential); a plain list in an"
                    " nn.Module does not register its modules"
                )


def _list_parts(init: cst.FunctionDef, small: cst.Assign, name: str, known: dict) -> list | None:
    """The elements of ``self.<name> = ...`` as (constructor call, made again for the elements
    after it): a list of the file's classes written out, where a starred comprehension
    (``*[Block(...) for i in range(n)]``) may follow; or a local so made (``layers =
    [Block(...)]``, ``layers += [Block(...) for ...]``, then ``self.layers = layers``), and a
    loop after it that appends one element (``for ...: self.stages.append(Stage(...))``).
    None for any other form, or where __init__ does more with the list."""
    value = small.value
    body = list(init.body.body)
    pieces = []
    if isinstance(value, cst.Name):
        local = value.value
        for node in _walk(init.body):
            if isinstance(node, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value == local for t in node.targets):
                if len(node.targets) != 1 or pieces:
                    return None
                pieces.append(node.value)
            elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name) and node.target.value == local:
                if not isinstance(node.operator, cst.AddAssign) or not pieces:
                    return None
                pieces.append(node.value)
        reads = sum(1 for n in _walk(init.body) if isinstance(n, cst.Name) and n.value == local)
        if reads != len(pieces) + 1:
            return None  # bound, extended, read once by the assignment: nothing else
    elif isinstance(value, cst.List) and not value.elements:
        pieces = []  # self.stages = [] and then appends (RegNet's encoder)
    else:
        pieces = [value]
    parts = []
    for piece in pieces:
        if isinstance(piece, cst.ListComp):
            element = _block_list_element(piece, known)
            if element is None:
                return None
            parts.append((element, True))
            continue
        if not isinstance(piece, cst.List) or not piece.elements:
            return None
        for e in piece.elements:
            if isinstance(e, cst.StarredElement):
                element = _block_list_element(e.value, known)
                if element is None:
                    return None
                parts.append((element, True))
            elif _block_call(e.value, known):
                if parts and parts[-1][1]:
                    return None  # one written after a repeated one: its index is not known here
                parts.append((e.value, False))
            else:
                return None
    def block_append(line) -> cst.Call | None:
        """``self.<name>.append(Block(...))`` alone on its line: the Block call"""
        if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Expr)):
            return None
        call = line.body[0].value
        if (
            isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "append"
            and _self_attr(call.func.value) == name and len(call.args) == 1 and _block_call(call.args[0].value, known)
        ):
            return call.args[0].value
        return None

    # after the statement: self.<name>.append(Block(...)) (one element each), and loops whose
    # only statement is one (the elements from there on)
    stmt_index = next((i for i, s in enumerate(body) if isinstance(s, cst.SimpleStatementLine) and small in s.body), None)
    single = 0
    for later in body[stmt_index + 1:] if stmt_index is not None else []:
        element = block_append(later)
        if element is not None:
            if parts and parts[-1][1]:
                return None
            parts.append((element, False))
            single += 1
            continue
        if not (isinstance(later, cst.For) and later.orelse is None and isinstance(later.body, cst.IndentedBlock)):
            continue
        lines = later.body.body
        element = block_append(lines[0]) if len(lines) == 1 else None
        if element is not None:
            if parts and parts[-1][1]:
                return None
            parts.append((element, True))
    if not parts:
        return None
    # the list is read only as a whole (loops over it) besides these statements
    appends = sum(
        1 for n in _walk(init.body) if isinstance(n, cst.Call) and isinstance(n.func, cst.Attribute)
        and n.func.attr.value == "append" and _self_attr(n.func.value) == name
    )
    if appends != single + sum(1 for call, rest in parts if rest and not _in_pieces(call, pieces)):
        return None
    return parts


def _statement_of(init: cst.FunctionDef, node) -> cst.SimpleStatementLine | None:
    """The simple statement of __init__ (its body's, or a loop's there) that holds ``node``."""
    for stmt in init.body.body:
        lines = [stmt]
        if isinstance(stmt, cst.For) and isinstance(stmt.body, cst.IndentedBlock):
            lines = list(stmt.body.body)
        for line in lines:
            if isinstance(line, cst.SimpleStatementLine) and any(n is node for n in _walk(line)):
                return line
    return None


def _in_pieces(call, pieces) -> bool:
    return any(call is n for piece in pieces for n in _walk(piece))


def _listed_blocks(name: str, elements: list, known: dict) -> Attr:
    """The list ``self.<name>`` of the file's classes given one by one, ``elements`` their
    (constructor call, statement, made under a condition): the first as the list's Attr, the
    others its alternatives, each with its index (listed_appends' lists, lists written out)."""
    made, after = [], []
    for call, stmt, conditional in elements:
        block = known[call.func.value]
        if not made:
            attr = Attr(name, "block", call=call, block=block, statement=stmt, many=True)
        else:
            attr = _block_alternative(made[0], call, block, stmt, listed=True)
        attr.optional = conditional
        attr.list_index, attr.list_after = sum(not c for _, _, c in elements[:len(made)]), list(after)
        if conditional:
            after.append((call, stmt))
        made.append(attr)
    made[0].alternatives.extend(made[1:])
    return made[0]


def _block_list_element(value, known: dict) -> cst.Call | None:
    """``[Block(...) for i in range(n)]`` (one ``for``, no condition) with ``Block`` a class of the
    file: the element's constructor call."""
    if not (
        isinstance(value, cst.ListComp) and isinstance(value.elt, cst.Call) and isinstance(value.elt.func, cst.Name)
        and value.elt.func.value in known and value.for_in.inner_for_in is None and not value.for_in.ifs
        and not value.for_in.asynchronous
    ):
        return None
    return value.elt


def _branch_statements(stmt: cst.If):
    """The simple statements of an `if`'s branches, those of `if`s inside them too."""
    for block in (stmt.body, stmt.orelse.body if isinstance(stmt.orelse, cst.Else) else None):
        for inner in getattr(block, "body", ()):
            if isinstance(inner, cst.SimpleStatementLine):
                yield inner
            elif isinstance(inner, cst.If):
                yield from _branch_statements(inner)
    if isinstance(stmt.orelse, cst.If):
        yield from _branch_statements(stmt.orelse)


def _block_call(value, known: dict) -> bool:
    return isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in known


def _block_alternative(first: Attr, call: cst.Call, block: "ClassPlan", stmt, listed: bool = False) -> Attr:
    """``self.encoder = StableEncoder(...)`` in one branch, ``Encoder(...)`` in the other: the
    same forward() call serves both when they take and give the same layouts and arguments.
    The elements of a list (``listed``), each called where it is written (``self.layer[1](...)``),
    may take different arguments; the rest must be alike."""
    def form(b: "ClassPlan") -> tuple:
        sizes = tuple(b.build.size_params) if b.build is not None else ()
        params = () if listed else tuple(b.call_params)
        return b.input_layout, b.output_layout, b.mask_arg, params, b.size_param, sizes

    if form(block) != form(first.block):
        if listed:
            raise Unconvertible(
                f"self.{first.name} holds a {first.block.name} and a {block.name}, which take or give tensors"
                " differently (layouts, sizes or a mask; the elements of a list are called alike)"
            )
        raise Unconvertible(
            f"self.{first.name} is made as {first.block.name} in one branch of __init__ and {block.name} in another,"
            " which take or give tensors differently (one forward() call serves them all)"
        )
    return Attr(first.name, "block", call=call, block=block, statement=stmt, optional=True)


def _check_branch_values(ctx, statements, known: dict) -> None:
    """A layer the class makes under a condition is one module, or None where it is not made.
    Layers in several branches become one module per branch, which _plan_alternatives checks
    forward() applies alike. A layer in one branch and something else in another (a function,
    a class from elsewhere) needs a forward() per branch, which the converter does not write;
    a class of the file in one and a weightless layer that works in any layout (Identity,
    Activation, Dropout) in another convert each as they are. (A conditional expression of two
    values, `DropPath(p) if p else Identity()`, is not the class's own layer: each side
    converts as it is.)"""
    layers: dict[str, list] = {}
    others: dict[str, set] = {}
    for stmt, _branch in statements:
        for small in stmt.body:
            if not (isinstance(small, cst.Assign) and len(small.targets) == 1):
                continue
            name = _self_attr(small.targets[0].target)
            if name is None:
                continue
            value = _optional_value(small.value) or small.value
            if isinstance(value, cst.Name) and value.value == "None":
                continue
            layer = _layer_call(ctx, value)
            if layer is not None:
                layers.setdefault(name, []).append(layer)
            elif isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in known:
                others.setdefault(name, set()).add(value.func.value)
            else:
                others.setdefault(name, set()).add(code_of(value).strip())
    for name, made in layers.items():
        other = others.get(name)
        if not other:
            continue
        blocks_alike = all(
            o in known and known[o].input_layout == known[o].output_layout == "keras"
            and not known[o].problems and not known[o].build_problem
            for o in other
        )
        if blocks_alike and all(_neutral(layer) for layer in made):
            continue
        first = next((small for stmt, _ in statements for small in stmt.body if isinstance(small, cst.Assign)
                      and len(small.targets) == 1 and _self_attr(small.targets[0].target) == name), None)
        if blocks_alike and first is not None and _layer_call(ctx, _optional_value(first.value) or first.value) is not None and all(
            wanted_layout(layer, TensorInfo(None)) in ("keras", "any") and layer.rule.data.get("plan") not in ("merge", "mha")
            for layer in made
        ):
            continue  # a layer first, classes of the file in other branches: one module call each (_plan_alternatives)
        shown = ", ".join(sorted({layer.short for layer in made} | other))
        raise Unconvertible(
            f"self.{name} is made as different things in different places of __init__ ({shown}): one"
            " forward() expression cannot apply them all"
        )


def _neutral(layer: LayerCall) -> bool:
    """A layer without weights that works in either layout (Identity, Activation, Dropout)."""
    if wanted_layout(layer, TensorInfo(None)) != "any":
        return False
    try:
        return not plan_layer(layer, [TensorInfo(None)]).weights
    except Unconvertible:
        return False


def _both_made(ctx, plan: ClassPlan, name: str, value, stmt, known: dict) -> bool:
    """``LayerNormalization(...) if flag else Identity()``: two layers (or two classes of the
    file), one made by each side of a conditional expression, planned as layers made in two
    branches of ``__init__`` (``if flag: self.x = ... else: self.x = ...``); the expression
    stays, each side converted."""
    if not isinstance(value, cst.IfExp):
        return False
    body, orelse = value.body, value.orelse
    for made, other in ((body, orelse), (orelse, body)):
        layer = _layer_call(ctx, made) if isinstance(made, cst.Call) else None
        if layer is not None and isinstance(other, (cst.Name, cst.Attribute)) and resolve_call(ctx, other) == "tensorflow.identity":
            plan.attrs[name] = Attr(name, "layer", layer, made, statement=stmt, optional=True, identity_side=other)
            ctx.owned.update((id(made), id(other)))
            return True
    if not (isinstance(body, cst.Call) and isinstance(orelse, cst.Call)):
        return False
    layers = _layer_call(ctx, body), _layer_call(ctx, orelse)
    if all(layer is not None for layer in layers):
        first = Attr(name, "layer", layers[0], body, statement=stmt, optional=True)
        first.alternatives.append(Attr(name, "layer", layers[1], orelse, statement=stmt, optional=True))
        ctx.owned.update((id(body), id(orelse)))
    elif _block_call(body, known) and _block_call(orelse, known):
        first = Attr(name, "block", call=body, block=known[body.func.value], statement=stmt, optional=True)
        first.alternatives.append(_block_alternative(first, orelse, known[orelse.func.value], stmt))
    elif any(layer is not None for layer in layers) and (_block_call(body, known) or _block_call(orelse, known)):
        # `Project(...) if flag else Activation("linear")`: a layer on one side, a class of the
        # file on the other, planned as made in two branches when one forward() call serves both
        made, block_call = (body, orelse) if layers[0] is not None else (orelse, body)
        layer, block = _layer_call(ctx, made), known[block_call.func.value]
        if not (
            block.input_layout == block.output_layout == "keras" and not block.problems and not block.build_problem
            and _neutral(layer)
        ):
            raise Unconvertible(
                f"self.{name} is {block.name} or {layer.short} ({code_of(value.with_changes(lpar=[], rpar=[])).strip()}),"
                " which take or give tensors"
                " differently (layouts or weights): one forward() call cannot serve both"
            )
        first = Attr(name, "layer", layer, made, statement=stmt, optional=True)
        first.alternatives.append(Attr(name, "block", call=block_call, block=block, statement=stmt, optional=True))
        ctx.owned.add(id(made))
    elif any(layer is not None for layer in layers) or _block_call(body, known) or _block_call(orelse, known):
        # a layer or a class of the file on one side, anything else on the other
        raise Unconvertible(
            f"self.{name} is made by a conditional expression ({code_of(value.with_changes(lpar=[], rpar=[])).strip()})"
            " whose sides are not both"
            " layers or classes of the file: a module holding it would hold something else where the condition fails"
        )
    else:
        return False
    plan.attrs[name] = first
    return True


def _table_made(ctx, plan: ClassPlan, name: str, value, stmt, known: dict) -> bool:
    """``self.norm = NORMS[kind](size, ...)`` with a table of the file's classes: planned as
    those classes made in branches of ``__init__`` (each optional in the weight map, one
    forward() call serving them all); the call stays as it is."""
    if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Subscript) and isinstance(value.func.value, cst.Name)):
        return False
    values = _class_tables(ctx).get(value.func.value.value, [])
    if not values or not all(isinstance(v, cst.Name) and v.value in known for v in values):
        return False
    blocks = list(dict.fromkeys(v.value for v in values))
    if any(known[b].problems or known[b].build_problem for b in blocks):
        return False  # _table_kept says which stays Keras
    first = Attr(name, "block", call=value, block=known[blocks[0]], statement=stmt, optional=True)
    for other in blocks[1:]:
        try:
            first.alternatives.append(_block_alternative(first, value, known[other], stmt))
        except Unconvertible:
            raise Unconvertible(
                f"self.{name} is made by {code_of(value.func).strip()}, as {blocks[0]} or {other}, which take or give"
                " tensors differently (one forward() call serves them all)"
            ) from None
    plan.attrs[name] = first
    return True


def _optional_value(value) -> cst.Call | None:
    """``Layer(...) if flag else None`` (either way round): the constructor call."""
    if not isinstance(value, cst.IfExp):
        return None
    made, other = value.body, value.orelse
    if isinstance(made, cst.Name) and made.value == "None":
        made, other = other, made
    if isinstance(made, cst.Call) and isinstance(other, cst.Name) and other.value == "None":
        return made
    return None


def _simple_statements(block):
    for stmt in getattr(block, "body", ()):
        if isinstance(stmt, cst.SimpleStatementLine):
            yield stmt


def _weight_args(call: cst.Call) -> dict:
    names = ["shape", "initializer", "dtype", "trainable", "name"]
    out = {}
    i = 0
    for a in call.args:
        key = a.keyword.value if a.keyword else (names[i] if i < len(names) else None)
        if a.keyword is None:
            i += 1
        if key:
            out[key] = a.value
    return out


# -- forward: shapes and layouts -------------------------------------------------

def _trace_call(ctx, plan: ClassPlan) -> None:
    call = _method(plan.node, "call")
    if call is None:
        # only its other methods use it (`rotary.table(n)`): an nn.Module without forward(),
        # which calling fails on as Keras's Layer.call does
        _check_own_attrs(plan)
        return
    params = [p.name.value for p in call.params.params]
    if not params or params[0] != "self":
        raise Unconvertible("call() must be a method")
    declared = {p.name.value for p in (*call.params.params, *call.params.kwonly_params)}
    # Keras passes its implicit mask to a `mask` parameter the caller leaves out; one without a
    # default, before the others, every caller passes: an ordinary tensor argument
    plan.mask_arg = any(p.name.value == "mask" and p.default is None for p in call.params.params)
    if not plan.mask_arg and "mask" in used_names(call.body) and any(p.name.value == "mask" and isinstance(p.default, cst.Name) and p.default.value == "None" for p in call.params.params):
        # mask=None: every caller this run converts must pass it (_check_mask_given), so Keras's
        # filling-in only reaches callers outside the run, which a warning tells of
        plan.mask_arg = plan.mask_default = True
    if "mask" in declared and not plan.mask_arg and "mask" in used_names(call.body):
        # forward() loses the mask parameter (PyTorch modules take no Keras mask), so a
        # call() that reads it cannot be converted as it is
        where = ""
        for node in _walk(call.body):
            if isinstance(node, (cst.If, cst.While)) and "mask" in used_names(node.test):
                where = f" ({'if' if isinstance(node, cst.If) else 'while'} {code_of(node.test).strip()}:)"
            elif isinstance(node, cst.SimpleStatementLine) and "mask" in used_names(node):
                where = f" ({code_of(node.body[0]).strip()})"
            if where:
                where = where if len(where) < 70 else where[:64] + "...)"
                break
        raise Unconvertible(
            f"call() reads its Keras mask argument{where}: Keras fills mask=None with the input's implicit mask"
            " where the caller leaves it out; declare it without a default (call(self, x, mask)) and pass it"
            " explicitly, and it converts as an ordinary argument"
        )
    assigned = {
        _self_attr(t.target) for n in _walk(plan.node) if isinstance(n, cst.Assign) for t in n.targets
    }
    as_dtype = dtype_policy.dtype_reads(ctx, plan.node)
    for node in _walk(call.body):
        attr = _self_attr(node)
        if attr in KERAS_ONLY_ATTRS and attr not in assigned and attr not in plan.attrs and id(node) not in as_dtype:
            # nn.Module has no such attribute: forward() would fail on it
            raise Unconvertible(
                f"call() reads self.{attr} other than as a dtype: a Keras layer attribute (its dtype policy) that"
                " nn.Module does not have; write the dtype (torch.float32) or take it as an argument"
            )
    tensors = [p for p in params[1:] if p not in plan.dropped]
    plan.call_params = tensors
    infos: dict[str, TensorInfo] = {}
    plan.keras_output = plan.name in ctx.facts.get("keras_output", ())
    # a class that must give Keras's layout takes it too (the other side of its holder's
    # conditional expression is given the same tensor)
    first_use = _first_layer_use(plan, call, tensors[0]) if tensors and not plan.keras_output else None
    for i, name in enumerate(tensors):
        layout = "cf" if i == 0 and first_use == "cf" else "keras"
        infos[name] = TensorInfo(None, layout)
    plan.input_layout = infos[tensors[0]].layout if tensors else "keras"
    out = _trace_block(ctx, plan, call.body, infos)
    plan.output_layout = out.layout if out is not None else "keras"
    looped = [n for n in _walk(call.body) if isinstance(n, cst.For) and _sequence_loop(plan, n) is not None]
    if len(looped) != len(plan.sequence_loops):
        # one inside another loop or block the trace does not follow: its layouts are not known there
        raise Unconvertible(
            "a list of layers applied in order is applied by a loop inside another loop or block of call(),"
            " where the layouts of its tensors are not traced"
        )
    elements = _list_element_names(plan, call)
    for node in _walk(call.body):
        if isinstance(node, cst.Call):
            attr = _list_attr(plan, node.func, elements)
            if attr is not None:
                _check_mask_given(attr, node)


def _first_layer_use(plan: ClassPlan, call, name: str) -> str | None:
    """The layout the first layer that reads ``name`` wants, when it reads the input as it
    came (``self.conv(x)``); one that reads it rearranged first (``self.conv(tf.transpose(x,
    ...))``) says nothing about the input's layout: it is taken as Keras holds it. So does
    one that reads the name after it is rebound (``x = tf.transpose(x, perm=(0, 2, 3, 1))``):
    it reads the new value, not the input."""
    rebound = object()

    def visit(node):
        if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.For, cst.NamedExpr)):
            # the value is read before the name is bound
            value = node.iter if isinstance(node, cst.For) else node.value
            found = visit(value) if value is not None else None
            if found is not None:
                return found
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            if any(name in _bound(t) for t in targets):
                return rebound
            if isinstance(node, cst.For):
                looped = _block_loop(plan, node)
                if looped is not None and any(
                    isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == looped[1]
                    and any(isinstance(a.value, cst.Name) and a.value.value == name for a in n.args)
                    for n in _walk(node.body)
                ):
                    return looped[0].block.input_layout  # for layer in self.layers: x = layer(x)
                return visit(node.body) or (visit(node.orelse) if node.orelse is not None else None)
            return None
        if isinstance(node, cst.Call):
            attr = _self_attr(node.func)
            if attr in plan.attrs and any(name in used_names(a.value) for a in node.args):
                if not any(isinstance(a.value, cst.Name) and a.value.value == name for a in node.args):
                    return rebound
                a = plan.attrs[attr]
                if a.kind == "layer":
                    want = wanted_layout(a.layer, TensorInfo((None, None, None)))
                    return want if want != "any" else rebound
                if a.kind == "block":
                    return a.block.input_layout
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            return None  # their own scope
        for child in source_children(node):
            found = visit(child)
            if found is not None:
                return found
        return None

    found = visit(call.body)
    return None if found is rebound else found


def _bound(target) -> set[str]:
    """The names an assignment target binds."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        return {n for e in target.elements for n in _bound(e.value)}
    if isinstance(target, cst.StarredElement):
        return _bound(target.value)
    return set()


def _self_attr(func) -> str | None:
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        return func.attr.value
    return None


def _trace_block(ctx, plan: ClassPlan, block, infos: dict[str, TensorInfo]) -> TensorInfo | None:
    result = None
    for index, stmt in enumerate(block.body):
        moved = _to_channels_last(ctx, plan, stmt, block.body[index + 1:], infos)
        if moved is not None:
            plan.to_channels_last[id(stmt)] = moved
            infos[moved[0]] = TensorInfo(None, "cf")
            continue
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Assign, cst.AugAssign, cst.AnnAssign)) or isinstance(small, cst.Return):
                    value = small.value
                    if value is None:
                        continue
                    info = _expr_info(ctx, plan, value, infos, stmt)
                    if isinstance(small, cst.Return):
                        if plan.keras_output and info.layout == "cf" and isinstance(value, cst.Name):
                            _move_all(plan, stmt, value, infos)  # return x.movedim(1, -1)
                            info = TensorInfo(info.shape, "keras")
                        elif plan.keras_output and info.layout == "cf" and isinstance(value, cst.Call):
                            # return self.norm(...).movedim(1, -1), return torch.relu(...).movedim(1, -1)
                            plan.app_after[id(value)] = "movedim(1, -1)"
                            info = TensorInfo(info.shape, "keras")
                        result = info
                    elif isinstance(small, cst.Assign):
                        for t in small.targets:
                            if isinstance(t.target, cst.Name):
                                infos[t.target.value] = info
                            elif isinstance(t.target, (cst.Tuple, cst.List)):
                                for el in t.target.elements:
                                    if isinstance(el.value, cst.Name):
                                        infos[el.value.value] = TensorInfo(None)
                    elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
                        infos[small.target.value] = infos.get(small.target.value, TensorInfo(None))
                elif isinstance(small, cst.Expr):
                    _expr_info(ctx, plan, small.value, infos, stmt)
        elif isinstance(stmt, cst.If):
            # both branches from the same state; a name that ends in different layouts is unknown
            left = dict(infos)
            r1 = _trace_block(ctx, plan, stmt.body, left)
            right = dict(infos)
            r2 = None
            orelse = stmt.orelse
            if isinstance(orelse, cst.Else):
                r2 = _trace_block(ctx, plan, orelse.body, right)
            elif isinstance(orelse, cst.If):
                r2 = _trace_block(ctx, plan, cst.IndentedBlock(body=[orelse]), right)
            for key in set(left) | set(right):
                infos[key] = _merged(left.get(key), right.get(key))
            result = r1 or r2 or result
        elif (looped := _block_loop(plan, stmt)) is not None:
            _trace_block_loop(plan, stmt, looped, infos)
        elif (sequence := _sequence_loop(plan, stmt)) is not None:
            # for layer in self.attention: h = layer(h): one application of the nn.Sequential
            name, h = sequence
            call = subclass_sequence.synthetic_call(name, h)
            plan.sequence_loops.append(call)
            infos[h] = _app_info(ctx, plan, plan.attrs[name], call, infos, stmt)
        elif isinstance(stmt, cst.BaseCompoundStatement):
            touched = {n for n in used_names(stmt)} & set(infos)
            if any(infos[n].layout == "cf" for n in touched):
                raise Unconvertible("loops or other blocks over channels-first tensors in call() are not converted yet")
    return result


LAYOUT_WORDS = {"cf": "channels-first", "keras": "Keras-layout"}


def _block_loop(plan: ClassPlan, stmt) -> tuple[Attr, str] | None:
    """``for layer in self.<list>:`` (or ``for i, layer in enumerate(self.<list>):``) over a list
    of the file's classes: (the list's Attr, the loop's name for an element)."""
    if not (isinstance(stmt, cst.For) and stmt.orelse is None):
        return None
    it, target = stmt.iter, stmt.target
    if (
        isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "enumerate" and len(it.args) == 1
        and isinstance(target, cst.Tuple) and len(target.elements) == 2
    ):
        it, target = it.args[0].value, target.elements[1].value
    attr = plan.attrs.get(_self_attr(it) or "")
    if attr is None or attr.kind != "block" or not isinstance(target, cst.Name):
        return None
    if not (attr.many or attr.list_index is not None):
        return None
    return attr, target.value


def _trace_block_loop(plan: ClassPlan, stmt: cst.For, looped: tuple[Attr, str], infos: dict) -> None:
    """A loop applying the elements of a list of the file's classes in turn: each takes what the
    one before gave, so the elements must give the layout they take. A tensor given to them in
    the other layout is moved once, before the loop (plan.loop_moves); what a channels-first
    loop gives stays channels-first. Where all is Keras's layout (transformers' encoders),
    nothing more is traced. ``looped``: _block_loop's (list, element name) for ``stmt``."""
    attr, var = looped
    blocks = [a.block for a in (attr, *attr.alternatives) if a.kind == "block"]
    takes = {b.input_layout for b in blocks}
    gives = {b.output_layout for b in blocks}
    names = ", ".join(sorted({b.name for b in blocks}))
    if len(takes) > 1 or takes != gives:
        raise Unconvertible(
            f"a loop applies the elements of self.{attr.name} ({names}) in turn, and they take"
            f" {' or '.join(LAYOUT_WORDS[t] for t in sorted(takes))} tensors but give"
            f" {' or '.join(LAYOUT_WORDS[g] for g in sorted(gives))} ones in PyTorch: each would be given the"
            " layout the one before gave"
        )
    layout = takes.pop()
    calls = [n for n in _walk(stmt.body) if isinstance(n, cst.Call) and isinstance(n.func, cst.Name) and n.func.value == var]
    moves = []
    for call in calls:
        given = [a.value for a in call.args if a.keyword is None and not a.star][:1]
        info = infos.get(given[0].value) if given and isinstance(given[0], cst.Name) else None
        if info is not None and info.layout != layout and (info.rank is None or info.rank >= 2):
            # x = x.movedim(1, -1) before the loop: the first element is given it as it takes it
            name = given[0].value
            if name not in {m[0] for m in moves}:
                moves.append((name, "movedim(1, -1)" if layout == "keras" else "movedim(-1, 1)"))
            infos[name] = TensorInfo(info.shape, layout)
    if moves:
        loops = [n for n in _walk(_method(plan.node, "call").body) if isinstance(n, cst.For) and _block_loop(plan, n)]
        plan.loop_moves[next(i for i, n in enumerate(loops) if n is stmt)] = moves
    if layout == "keras":
        return
    h = None
    for line in _walk(stmt.body):
        if isinstance(line, cst.Assign) and isinstance(line.value, cst.Call) and any(line.value is c for c in calls):
            args = [a for a in line.value.args if a.keyword is None or a.keyword.value not in ("training", "mask")]
            if (
                len(line.targets) == 1 and isinstance(line.targets[0].target, cst.Name) and args
                and isinstance(args[0].value, cst.Name) and args[0].value.value == line.targets[0].target.value
            ):
                h = line.targets[0].target.value
    given = infos.get(h) if h is not None else None
    if len(calls) != 1 or given is None or given.layout != layout:
        raise Unconvertible(
            f"a loop applies the elements of self.{attr.name} ({names}), which work on channels-first tensors in"
            " PyTorch, to a tensor whose layout is not known there (apply them as `x = layer(x)`)"
        )
    infos[h] = TensorInfo(None, layout)


def _merged(a: TensorInfo | None, b: TensorInfo | None) -> TensorInfo:
    """What a name holds after an ``if`` whose branches left it as ``a`` and ``b``: a size the
    branches disagree on is unknown (`if self.proj is not None: h = self.proj(h)` leaves h
    with either size), as is a layout they disagree on."""
    if a is None or b is None or a.layout != b.layout:
        return TensorInfo(None, "keras")
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return a if repr(a.shape) == repr(b.shape) else TensorInfo(None, a.layout)
    if repr(a.shape) == repr(b.shape):
        return a
    return TensorInfo(tuple(x if repr(x) == repr(y) else None for x, y in zip(a.shape, b.shape)), a.layout)


TRANSPOSES = {"tensorflow.transpose", "tensorflow.compat.v1.transpose", "tensorflow.linalg.transpose"}


def _to_channels_last(ctx, plan: ClassPlan, stmt, rest, infos) -> tuple[str, str] | None:
    """``x = tf.transpose(x, perm=(0, 2, 3, 1))`` (channels-first data made channels-last for
    a Keras convolution, rebinding the name), where every later read of ``x`` is a layer
    that wants channels-first: in PyTorch ``x`` already is what that layer takes, and the
    statement goes. (target, source), else None. (``y = tf.transpose(x, ...)`` stays, ``y``
    moved back where a layer reads it: ``y = x`` would only be another name for it.)"""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
        return None
    small = stmt.body[0]
    if len(small.targets) != 1 or not isinstance(small.targets[0].target, cst.Name) or not isinstance(small.value, cst.Call):
        return None
    call, target = small.value, small.targets[0].target.value
    if resolve_call(ctx, call) not in TRANSPOSES or len(call.args) != 2 or any(a.star for a in call.args):
        return None
    x, perm = call.args
    if x.keyword is not None or not isinstance(x.value, cst.Name) or (perm.keyword is not None and perm.keyword.value != "perm"):
        return None
    source = x.value.value
    if source != target:
        return None
    info = infos.get(source)
    ok, order = literal_value(perm.value)
    if info is None or info.layout != "keras" or not ok or not isinstance(order, (list, tuple)) or len(order) < 3:
        return None
    n = len(order)
    if list(order) != [0, *range(2, n), 1] or (info.rank is not None and info.rank != n - 1):
        return None
    reads = 0
    for later in rest:
        names = [node for node in _walk(later) if isinstance(node, cst.Name) and node.value == target]
        if not names:
            continue
        if not isinstance(later, cst.SimpleStatementLine):
            return None
        fed = 0
        for node in _walk(later):
            if isinstance(node, cst.Call):
                attr = plan.attrs.get(_self_attr(node.func) or "")
                if (
                    attr is not None and attr.kind == "layer" and len(node.args) == 1
                    and isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == target
                    and node.args[0].keyword is None and wanted_layout(attr.layer, TensorInfo((None,) * (n - 1))) == "cf"
                ):
                    fed += 1
        rebinds = any(
            isinstance(small2, cst.Assign) and any(target in _bound(t.target) for t in small2.targets)
            for small2 in later.body
        )
        if fed != len(names) - (1 if rebinds else 0):
            return None
        reads += fed
        if rebinds:
            break
    return (target, source) if reads else None


def _expr_info(ctx, plan: ClassPlan, value, infos, stmt) -> TensorInfo:
    """What ``value`` computes; records the rewrites forward() needs."""
    if isinstance(value, cst.Name):
        return infos.get(value.value, TensorInfo(None))
    if isinstance(value, cst.Call):
        attr = _self_attr(value.func)
        if attr in plan.attrs and plan.attrs[attr].kind in ("layer", "block"):
            return _app_info(ctx, plan, plan.attrs[attr], value, infos, stmt)
        api = resolve_call(ctx, value)
        if api in AXIS_OPS:
            return _axis_op(ctx, plan, api, value, infos, stmt)
        if api in ELEMENTWISE or api in ELEMENTWISE_BINARY and all(a.keyword is None for a in value.args):
            args = [_expr_info(ctx, plan, a.value, infos, stmt) for a in value.args if a.keyword is None]
            operands = [a.value for a in value.args if a.keyword is None]
            return _same_shape(args, _same_layout(args, plan, stmt, value, infos, operands)) if args else TensorInfo(None)
    if isinstance(value, cst.BinaryOperation):
        left = _expr_info(ctx, plan, value.left, infos, stmt)
        right = _expr_info(ctx, plan, value.right, infos, stmt)
        out = _same_layout([left, right], plan, stmt, value, infos, [value.left, value.right])
        return _same_shape([left, right], out) if isinstance(value.operator, ELEMENTWISE_OPERATORS) else out
    if isinstance(value, cst.UnaryOperation):
        return _expr_info(ctx, plan, value.expression, infos, stmt)
    if isinstance(value, cst.Call) and _channels_first_sequential(ctx, plan, _self_attr(value.func)):
        raise Unconvertible(
            f"self.{_self_attr(value.func)}, a keras.Sequential whose first layer works on channels-first tensors in"
            " PyTorch, is applied in call(): its layout there is not traced yet; apply its layers in call()"
        )
    # anything else reads channels-first tensors in Keras's order; a layer applied inside it
    # is planned here, and one whose result is channels-first (a convolution) cannot be
    # moved back where it sits (tf.nn.avg_pool2d(self.conv(x), ...) would read NCHW as NHWC)
    for call in _nested_layer_calls(plan, value):
        if _expr_info(ctx, plan, call, infos, stmt).layout == "cf":
            raise Unconvertible(
                f"{code_of(call).strip()} gives channels-first data to {code_of(value.func).strip() if isinstance(value, cst.Call) else 'an expression'}, "
                "which reads it in Keras's order: assign the layer's result to a name first"
            )
    _move_all(plan, stmt, value, infos)
    return TensorInfo(None)


def _channels_first_sequential(ctx, plan: ClassPlan, name: str | None) -> bool:
    """Whether ``self.<name>`` is made in __init__ as a keras.Sequential that becomes an
    nn.Sequential whose first layer wants channels-first input (a convolution, padding)."""
    from .keras_layers import wanted_layout

    init = _method(plan.node, "__init__") if plan.node is not None else None
    if name is None or init is None:
        return False
    plans = ctx.facts.get("model_plans", {})
    for node in _walk(init.body):
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and _self_attr(node.targets[0].target) == name:
            model = plans.get(id(node.value))
            steps = getattr(model, "steps", None)
            if steps and wanted_layout(steps[0].layer) == "cf":
                return True
    return False


def _nested_layer_calls(plan: ClassPlan, value) -> list:
    """The outermost applications of the class's layers inside ``value`` (not in lambdas)."""
    found = []

    def visit(node):
        if isinstance(node, cst.Call):
            attr = _self_attr(node.func)
            if attr in plan.attrs and plan.attrs[attr].kind in ("layer", "block"):
                found.append(node)
                return
        if isinstance(node, (cst.Lambda, cst.FunctionDef)):
            return
        for child in source_children(node):
            visit(child)

    for child in source_children(value):
        visit(child)
    return found


def _same_shape(items: list[TensorInfo], out: TensorInfo) -> TensorInfo:
    """An elementwise result: the shape of its tensors where they all have the same known
    one (``x + self.attention(x)``: a LayerNormalization after it knows its size), or where
    the others' are not known and the known one's last size is not 1 (``inp + core_out``,
    ``core_out`` of a Dense: the sum broadcasts to that size)."""
    if out.layout != "keras" or not all(t.layout == "keras" for t in items):
        return out
    known = {repr(t.shape): t.shape for t in items if t.shape is not None}
    if len(known) != 1:
        return out
    shape = next(iter(known.values()))
    if all(t.shape is not None for t in items):
        return TensorInfo(shape, "keras")
    if shape and shape[-1] is not None and shape[-1] != 1:
        return TensorInfo(shape, "keras")
    return out


def _same_layout(items: list[TensorInfo], plan, stmt, node, infos, operands=None) -> TensorInfo:
    tensors = [t for t in items if t is not None]
    layouts = {t.layout for t in tensors if t.rank is None or t.rank >= 2 or t.layout == "cf"}
    if len(layouts) > 1:
        for info, operand in zip(items, operands or ()):
            # a layer's channels-first result among Keras-layout operands: moved where it is made
            # (a name holding one is moved for the statement, below)
            if info is not None and info.layout == "cf" and not isinstance(operand, cst.Name):
                if not (isinstance(operand, cst.Call) and _self_attr(operand.func) in plan.attrs):
                    raise Unconvertible(
                        f"{' '.join(code_of(node).split())[:80]}: puts a channels-first result"
                        f" ({' '.join(code_of(operand).split())[:40]}) with tensors in Keras's layout; assign it to a name first"
                    )
                plan.app_after[id(operand)] = "movedim(1, -1)"
        _move_all(plan, stmt, node, infos)
        return TensorInfo(None, "keras")
    layout = layouts.pop() if layouts else "keras"
    return TensorInfo(None, layout)


def _move_all(plan: ClassPlan, stmt, node, infos) -> None:
    names = {n for n in used_names(node) if n in infos and infos[n].layout == "cf"}
    if names:
        plan.name_moves.setdefault(id(stmt), set()).update(names)
        for n in names:
            infos[n] = infos[n]


def _applied_args(attr: Attr, args) -> list:
    """The arguments forward() passes on: a module takes no training= or mask= (a block keeps
    what its forward() still takes). A Keras layer's training flag given by position
    (`self.dropout(x, training)`, Dropout's call(inputs, training)) goes too."""
    dropped = attr.block.dropped if attr.kind == "block" else ("training", "mask")
    kept = [a for a in args if a.keyword is None or a.keyword.value not in dropped]
    if attr.kind == "layer":
        kept = [a for i, a in enumerate(kept) if not (
            i > 0 and a.keyword is None and not a.star and isinstance(a.value, cst.Name) and a.value.value == "training"
        )]
    return kept


def _app_info(ctx, plan: ClassPlan, attr: Attr, call: cst.Call, infos, stmt) -> TensorInfo:
    args = _applied_args(attr, call.args)
    if attr.kind == "layer" and _given_mask(attr, call, f"self.{attr.name}(...)") is not None:
        args = args[:1]  # Softmax's mask: applied around the module (_masked_softmax_code)
    if attr.kind == "block":
        return _block_app_info(ctx, plan, attr, call, args, infos, stmt)
    if attr.elements is not None:
        return _sequence_app_info(ctx, plan, attr, call, args, infos, stmt)
    if attr.layer.rule.data.get("plan") == "merge":
        return _merge_info(ctx, plan, attr, call, args, infos, stmt)
    if len(args) != 1 or attr.layer.rule.data.get("plan") == "mha":
        return _attention_info(ctx, plan, attr, call, args, infos, stmt)
    x = _expr_info(ctx, plan, args[0].value, infos, stmt)
    layer = attr.layer
    want = wanted_layout(layer, x)
    if want != "any" and x.layout != want and (x.rank is None or x.rank >= 2):
        plan.app_before[id(call)] = "movedim(-1, 1)" if want == "cf" else "movedim(1, -1)"
        x = TensorInfo(x.shape, want)
    if attr.layout != "cf":
        attr.layout = x.layout
    if attr.plan is None:
        if x.channels is None and attr.build_shape is not None:
            x = TensorInfo(attr.build_shape, x.layout)  # the shape build() gives it
        elif want == "cf" and x.shape is None:
            n = _conv_rank(layer)
            x = TensorInfo((None,) * (n + 1), "cf")
        elif x.shape is None:
            x = TensorInfo((None,) if want == "keras" and layer.rule.data.get("plan") == "dense" else None, x.layout)
        try:
            attr.plan, attr.plan_inputs = plan_layer(layer, [x]), [x]
        except Unconvertible:
            if x.channels is not None or want == "cf" or attr.alternatives or attr.many:
                raise
            # its input size is not known here (`if self.pre_lnorm: self.layer_norm(inp)`): a later
            # application may tell it (`self.layer_norm(inp + core_out)`); one that none tells is
            # reported where the class's unapplied layers are planned (_plan_unapplied)
            return TensorInfo(None, x.layout)
        _plan_alternatives(attr)
    return attr.plan.out if attr.plan.out.layout else TensorInfo(None)


def _sequence_app_info(ctx, plan: ClassPlan, attr: Attr, call: cst.Call, args, infos, stmt) -> TensorInfo:
    """A list of layers applied in order (subclass_sequence.py): planned once, on the shape the
    first application gives (or build() gave the first layer); moved to the layout the first
    layer wants."""
    x = _expr_info(ctx, plan, args[0].value, infos, stmt)
    if attr.plan is None:
        given = subclass_sequence.input_shape(attr, x)
        if given.shape is None and attr.layer.rule.data.get("plan") == "dense":
            given = TensorInfo((None,), x.layout)  # nn.LazyLinear, as for a Dense alone (reported)
        if given.shape is None:
            raise Unconvertible(
                f"self.{attr.name}, a list of layers applied in order, is given a tensor of unknown shape; build its first"
                " element with a shape in build()"
            )
        attr.plan, attr.steps, attr.first_layout = subclass_sequence.plan_elements(attr.elements, given)
        attr.plan_inputs = [given]
    if attr.first_layout != x.layout and (x.rank is None or x.rank >= 2):
        plan.app_before[id(call)] = "movedim(-1, 1)" if attr.first_layout == "cf" else "movedim(1, -1)"
    attr.layout = attr.first_layout
    out = attr.plan.out
    if attr.optional:
        # skipped where the list is None: what it gives is in the layout it was given
        if out.layout != x.layout and (out.rank is None or out.rank >= 2):
            plan.app_after[id(call)] = "movedim(1, -1)" if out.layout == "cf" else "movedim(-1, 1)"
        return _merged(x, TensorInfo(out.shape, x.layout))
    return out


# MultiHeadAttention.call's tensors, in its order, and the arguments whose default changes nothing
ATTENTION_TENSORS = ("query", "value", "key")
ATTENTION_DEFAULTS = {
    "query_mask": None, "value_mask": None, "key_mask": None, "attention_mask": None,
    "return_attention_scores": False, "use_causal_mask": False,
}


def _attention_info(ctx, plan: ClassPlan, attr: Attr, call: cst.Call, args, infos, stmt) -> TensorInfo:
    """``self.mha(query, value[, key])`` (positional or by name) in call(): the plan of
    nn.MultiheadAttention for these tensors, its forward() expression kept per call (the
    tensors it reads differ between calls)."""
    layer = attr.layer
    _single_module(attr)
    if layer.rule.data.get("plan") != "mha":
        raise Unconvertible(f"self.{attr.name} ({layer.short}) is called with several tensors; not supported yet")
    where = f"self.{attr.name}(...)"
    order: dict[str, int] = {}
    mask_at, causal = None, False
    for i, a in enumerate(args):
        name = a.keyword.value if a.keyword is not None else (ATTENTION_TENSORS[i] if i < 3 else None)
        if a.star or name is None:
            raise Unconvertible(f"{where}: MultiHeadAttention takes query, value and key here")
        if name in ATTENTION_TENSORS:
            order[name] = i
            continue
        ok, value = literal_value(a.value)
        if name == "attention_mask" and not ok:
            if not isinstance(a.value, (cst.Name, cst.Attribute)):
                raise Unconvertible(f"{where}: give attention_mask= as a name (it is read twice: None or a mask)")
            mask_at = i
            continue
        if name == "use_causal_mask" and ok and isinstance(value, bool):
            causal = value
            continue
        if name not in ATTENTION_DEFAULTS or not ok or value != ATTENTION_DEFAULTS[name]:
            # Keras's masks mean "attend" where PyTorch's mean "do not", with other shapes
            raise Unconvertible(f"{where}: MultiHeadAttention's {name}= has no conversion in a subclass yet")
    if "query" not in order or "value" not in order:
        raise Unconvertible(f"{where}: MultiHeadAttention needs query and value")
    names = [n for n in ATTENTION_TENSORS if n in order]
    inputs = []
    for n in names:
        info = _expr_info(ctx, plan, args[order[n]].value, infos, stmt)
        if info.layout == "cf":
            raise Unconvertible(f"{where}: MultiHeadAttention is given a channels-first tensor; not supported yet")
        inputs.append(info)
    query = args[order["query"]].value
    if attr.build_shape is not None and inputs[0].channels is None:
        inputs[0] = TensorInfo(attr.build_shape)  # the query's shape build() gives it
    for i, n in enumerate(names[1:], 1):
        other = args[order[n]].value
        if isinstance(query, cst.Name) and isinstance(other, cst.Name) and other.value == query.value:
            inputs[i] = inputs[0]  # self-attention: the same tensor
    try:
        found = plan_layer(layer, inputs)
    except Unconvertible as exc:
        raise Unconvertible(f"{where}: {exc}") from None
    if attr.plan is not None and [m.template for m in attr.plan.modules] != [m.template for m in found.modules]:
        raise Unconvertible(f"{where}: the calls of self.{attr.name} need different nn.MultiheadAttention modules")
    if attr.plan is None:
        attr.plan = found
    attr.layout = "keras"
    apply, slots = found.apply, [order[n] for n in names]
    if (mask_at is not None or causal) and not all(isinstance(args[order[n]].value, cst.Name) for n in names):
        raise Unconvertible(f"{where}: with a mask, give query and value as names (the mask reads their lengths)")
    if mask_at is not None or causal:
        apply = apply.replace("need_weights=False", f"attn_mask={_attention_mask_code(layer, names, mask_at, causal, len(slots))}, need_weights=False")
        if mask_at is not None:
            slots.append(mask_at)
        caveat = (
            "its mask becomes nn.MultiheadAttention's attn_mask (True where Keras's is False, one per head): a query"
            " whose keys are all masked gets NaN in PyTorch, where Keras's masked softmax spreads it evenly"
        )
        if caveat not in attr.plan.warnings:
            attr.plan.warnings.append(caveat)
    plan.multi_apps[id(call)] = (apply, slots, False)
    return found.out


def _attention_mask_code(layer, names: list[str], mask_at, causal: bool, slot: int) -> str:
    """nn.MultiheadAttention's attn_mask (True: do not attend; one (T, S) mask per batch element
    and head) for Keras's attention_mask (True: attend; (B, T, S)) and use_causal_mask."""
    heads = layer.literal("num_heads")
    value = "{x1}"
    length = f"{value}.shape[1]"
    causal_code = f"torch.ones({{x0}}.shape[1], {length}, dtype=torch.bool, device={{x0}}.device).triu(1)"
    if mask_at is None:
        return causal_code
    mask = "{x" + str(slot) + "}"
    blocked = f"~{mask}.bool().expand(-1, {{x0}}.shape[1], {length}).repeat_interleave({heads}, dim=0)"
    if causal:
        return f"({causal_code} if {mask} is None else ({blocked}) | {causal_code})"
    return f"(None if {mask} is None else {blocked})"


def _merge_info(ctx, plan: ClassPlan, attr: Attr, call: cst.Call, args, infos, stmt) -> TensorInfo:
    """``self.add([x, y])``, ``self.concat((a, b))``: the plan for these tensors, kept per call."""
    where = f"self.{attr.name}(...)"
    _single_module(attr)
    listed = args[0].value if len(args) == 1 and args[0].keyword is None and not args[0].star else None
    if not isinstance(listed, (cst.List, cst.Tuple)) or not listed.elements or any(
        isinstance(e, cst.StarredElement) for e in listed.elements
    ):
        raise Unconvertible(f"{where}: {attr.layer.short} is converted when given a list of tensors written out")
    inputs = [_expr_info(ctx, plan, e.value, infos, stmt) for e in listed.elements]
    moved = [isinstance(e.value, cst.Name) for e, t in zip(listed.elements, inputs) if t.layout == "cf"]
    if len({t.layout for t in inputs}) > 1 and all(moved):
        # as for x + y: the channels-first names are read in Keras's order
        _move_all(plan, stmt, listed, infos)
        inputs = [TensorInfo(t.shape, "keras") for t in inputs]
    try:
        found = plan_layer(attr.layer, inputs)
    except Unconvertible as exc:
        raise Unconvertible(f"{where}: {exc}") from None
    if attr.plan is None:
        attr.plan = found
    plan.multi_apps[id(call)] = (found.apply, list(range(len(inputs))), True)
    return found.out


def _block_tensor_arg(block: ClassPlan, args: list[cst.Arg]) -> int | None:
    """Which of ``args`` goes to the converted class' first tensor parameter."""
    first = block.call_params[0] if block.call_params else None
    for i, a in enumerate(args):
        if a.star:
            return None
        if (a.keyword is None and i == 0) or (a.keyword is not None and a.keyword.value == first):
            return i
    return None


def _block_app_info(ctx, plan: ClassPlan, attr: Attr, call: cst.Call, args, infos, stmt) -> TensorInfo:
    """A converted class called with its tensors (positional or by name): the first goes
    in the layout it wants, the others are taken in Keras's order."""
    _check_mask_given(attr, call)
    first = _block_tensor_arg(attr.block, args)
    for i, a in enumerate(args):
        info = _expr_info(ctx, plan, a.value, infos, stmt)
        if i == first:
            want = attr.block.input_layout
            if want != info.layout and (info.rank is None or info.rank >= 2):
                plan.app_before[id(call)] = "movedim(-1, 1)" if want == "cf" else "movedim(1, -1)"
        elif info.layout == "cf":
            raise Unconvertible(f"self.{attr.name} is given a channels-first tensor after its first argument; not supported yet")
    return TensorInfo(None, attr.block.output_layout)


# methods that are not the module's own code: what they apply is planned elsewhere, or they go
SPECIAL_METHODS = {"__init__", "build", "call", "get_config", "compute_output_shape", "compute_output_spec"}


def _helper_methods(cls: cst.ClassDef):
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value not in SPECIAL_METHODS:
            yield stmt


def _trace_helpers(ctx, plan: ClassPlan) -> None:
    """Layers applied in the class' other methods (``def project(self, x): return
    self.dense(x)``) take what those read as Keras holds it: call() moves a channels-first
    tensor back before handing it to another method. A layer that works channels-first,
    or that call() gives a channels-first tensor, would need its layout traced there too."""
    for fn in _helper_methods(plan.node):
        for node in _walk(fn.body):
            if not isinstance(node, cst.Call):
                continue
            attr = plan.attrs.get(_self_attr(node.func) or "")
            if attr is None or attr.kind not in ("layer", "block") or attr.many:
                continue
            where = f"self.{attr.name}(...) in {fn.name.value}()"
            plan.helpers.add(fn.name.value)
            if attr.kind == "block":
                _check_mask_given(attr, node)
                if "cf" in (attr.block.input_layout, attr.block.output_layout):
                    raise Unconvertible(
                        f"{where}: {attr.block.name} takes or gives channels-first tensors, whose layout is traced"
                        " in call() only; apply it in call()"
                    )
                continue
            args = [a for a in node.args if a.keyword is None or a.keyword.value not in ("training", "mask")]
            if _given_mask(attr, node, where) is not None:
                args = args[:1]
            if len(args) != 1 or args[0].star or attr.layer.rule.data.get("plan") in ("merge", "mha"):
                raise Unconvertible(f"{where}: a layer called with other than one tensor outside call() is not converted yet")
            channels_first = wanted_layout(attr.layer, TensorInfo(None)) == "cf" or attr.layout == "cf"
            out = _app_info(ctx, plan, attr, node, {}, None)
            if channels_first:
                # the method reads and gives tensors as Keras holds them (call() moves them back
                # before handing them over): the module call alone works channels-first
                if out.layout != "cf" or out.flat_from is not None or attr.plan.multi_input:
                    raise Unconvertible(
                        f"{where}: {attr.layer.short} works on channels-first tensors in PyTorch, and what it gives"
                        " is not a channels-first tensor of the same kind; apply it in call()"
                    )
                plan.helper_cf.add(attr.name)


def _plan_unapplied(plan: ClassPlan) -> None:
    """The layers no method applies (held for another class, or unused), planned from the
    shape build() gives them: one that cannot be keeps the class Keras (all or nothing)."""
    for attr in plan.attrs.values():
        if attr.kind == "layer" and attr.plan is None and attr.elements is not None:
            raise Unconvertible(
                f"self.{attr.name}, a list of layers applied in order, is applied where call() is not traced"
                " (inside a loop or a with block)"
            )
        if attr.kind == "layer" and attr.plan is None:
            try:
                attr.plan_inputs = [TensorInfo(attr.build_shape)]
                attr.plan = plan_layer(attr.layer, attr.plan_inputs)
                _plan_alternatives(attr)
            except Unconvertible as exc:
                raise Unconvertible(f"self.{attr.name}: {exc}") from None


def _with_alternatives(plan: ClassPlan) -> list[Attr]:
    """The class's attributes, each followed by the ones made in other branches under its name."""
    return [a for attr in plan.attrs.values() for a in (attr, *attr.alternatives)]


def _single_module(attr: Attr) -> None:
    if attr.alternatives:
        raise Unconvertible(
            f"self.{attr.name} is made in several branches of __init__ and called with several tensors; not supported yet"
        )


def _plan_alternatives(attr: Attr) -> None:
    """A layer made in several branches: each branch's module is planned for the tensors the
    first one's was, and one forward() expression must apply them all. What they give is
    what they agree on (a Dense of 2 * d in one branch and of d in the other: a last axis of
    unknown size)."""
    # Identity in one branch, a module in another: nn.Identity(), so that one self.x(...) serves both
    attr.plan = identity_module(attr.plan)
    out = attr.plan.out
    if any(alt.kind == "block" for alt in attr.alternatives) and (not attr.plan.one_call or attr.plan.activation is not None):
        raise Unconvertible(
            f"self.{attr.name} is made as {attr.layer.short} in one branch of __init__ and as a class of the file in another:"
            f" one forward() call serves both only where {attr.layer.short} becomes one module call"
        )
    for alt in attr.alternatives:
        if alt.kind == "block":
            # a class of the file (keras layout in and out): what it gives is not known here
            out = TensorInfo(None, out.layout)
            continue
        try:
            alt.plan = identity_module(plan_layer(alt.layer, attr.plan_inputs))
        except Unconvertible as exc:
            raise Unconvertible(f"self.{attr.name} (in another branch of __init__): {exc}") from None
        if (alt.plan.apply, len(alt.plan.modules), alt.plan.out.layout) != (
            attr.plan.apply, len(attr.plan.modules), out.layout
        ):
            raise Unconvertible(
                f"self.{attr.name} is made in several branches of __init__ with arguments that PyTorch applies"
                " differently (one forward() expression serves them all)"
            )
        other = alt.plan.out
        if out.shape is not None and other.shape is not None and len(out.shape) == len(other.shape):
            shape = tuple(a if repr(a) == repr(b) else None for a, b in zip(out.shape, other.shape))
        else:
            shape = None
        out = TensorInfo(shape, out.layout)
    attr.plan = replace(attr.plan, out=out)
    layers = [a for a in (attr, *attr.alternatives) if a.kind == "layer"]
    if len({a.plan.activation for a in layers}) > 1:
        # Activation("gelu") in one branch, Activation("silu") in another: modules, not F.gelu(...)
        for a in layers:
            a.plan = replace(a.plan, activation=None)


def _check_own_attrs(plan: ClassPlan) -> None:
    """A class without call() is only used through its methods: each attribute they read
    on ``self`` must be the class' own; Keras's (``self.name``, ``self.built``) an
    nn.Module does not have."""
    own = set(plan.attrs)
    for stmt in plan.node.body.body:
        if isinstance(stmt, cst.FunctionDef):
            own.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            own |= {n for small in stmt.body if isinstance(small, (cst.Assign, cst.AnnAssign))
                    for t in (small.targets if isinstance(small, cst.Assign) else [small]) for n in _bound(t.target)}
    for node in _walk(plan.node):
        if isinstance(node, (cst.Assign, cst.AnnAssign, cst.AugAssign)):
            targets = [t.target for t in node.targets] if isinstance(node, cst.Assign) else [node.target]
            for target in targets:
                own |= {_self_attr(t) for t in _walk(target)} - {None}
    for fn in _helper_methods(plan.node):
        for node in _walk(fn.body):
            attr = _self_attr(node)
            if attr is not None and attr not in own:
                raise Unconvertible(
                    f"a Keras class without call(): its {fn.name.value}() reads self.{attr}, which the class does not"
                    " set (a Keras layer's own attribute, which an nn.Module does not have)"
                )


def _conv_rank(layer: LayerCall) -> int:
    for n in (1, 2, 3):
        if f"{n}D" in layer.short:
            return n
    return 2


def _axis_op(ctx, plan: ClassPlan, api: str, call: cst.Call, infos, stmt) -> TensorInfo:
    tensor_arg = call.args[0].value if call.args else None
    x = _expr_info(ctx, plan, tensor_arg, infos, stmt) if tensor_arg is not None else TensorInfo(None)
    if x.layout != "cf":
        return TensorInfo(None, "keras")
    axis_node = None
    for i, a in enumerate(call.args):
        if (a.keyword is None and i == 1) or (a.keyword is not None and a.keyword.value == AXIS_OPS[api]):
            axis_node = a.value
    ok, axis = literal_value(axis_node) if axis_node is not None else (False, None)
    rank = 3 if x.rank is None else x.rank  # images, unless the shape says otherwise
    if not ok or axis is None:
        _move_all(plan, stmt, call, infos)
        return TensorInfo(None, "keras")
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    full = rank + 1
    mapped = []
    for a in axes:
        a = a + full if a < 0 else a
        mapped.append(1 if a == full - 1 else (0 if a == 0 else a + 1))
    keepdims = any(k.keyword is not None and k.keyword.value == "keepdims" and code_of(k.value).strip() == "True" for k in call.args)
    plan.axis_remaps[id(call)] = mapped if isinstance(axis, (list, tuple)) else mapped[0]
    if not keepdims and {a + full if a < 0 else a for a in axes} == set(range(1, full - 1)):
        return TensorInfo(None, "keras")  # every spatial axis reduced: (N, C) in both layouts
    if keepdims or (full - 1) not in [a + full if a < 0 else a for a in axes]:
        return TensorInfo(None, "cf") if keepdims else TensorInfo(None, "cf" if (full - 1) not in axes else "keras")
    return TensorInfo(None, "keras")


# -- the rewrite -------------------------------------------------------------

def on_class(transformer, original, updated):
    ctx = transformer.ctx
    plan = ctx.facts.get("class_plans", {}).get(id(original))
    if plan is None:
        return _twin_only(ctx, original, updated)
    if plan.problems or plan.build_problem:
        if plan.build_problem:
            ctx.unconverted(original, "keras.layers.Layer.build", plan.build_problem)
        if plan.problems:
            api = subclass_graph.API if plan.graph is not None else "keras subclass"
            ctx.unconverted(original, api, "; ".join(plan.problems))
        return updated
    if plan.derived_from is not None:
        return _rewrite_derived(ctx, plan, original, updated)
    if plan.graph is not None:
        return subclass_graph.rewrite_class(ctx, plan, original, updated, _Placeholders())
    if plan.layer_subclass is not None:
        return layer_subclass.rewrite(ctx, original, updated, *plan.layer_subclass)
    twin = twin_of(ctx, plan.unknown_base)
    if twin is not None:
        # its base has a declared twin, a module class taking the same arguments
        new = updated.with_changes(bases=twin_bases(ctx, original, list(updated.bases))[0])
        ctx.converted(
            original, "keras subclass", f"nn.Module subclass ({twin})",
            f"derives from {plan.unknown_base[0]}, whose declared twin is {twin}",
        )
    elif plan.unknown_base is not None:
        # its code is a module's now; its base is the user's to replace
        name, module = plan.unknown_base
        new = updated
        ctx.unconverted(
            original, "keras subclass",
            f"it derives from {name} (from {module}), a class this run does not know: its code is converted as a"
            f" module's (forward(), sizes in __init__), and its bases and super().__init__() are as they were: give"
            f" it a PyTorch base in place of {name} (an nn.Module taking the same arguments), or convert that module"
            " in the same run",
        )
    else:
        new = updated.with_changes(bases=with_mixins(ctx, original, updated, "torch.nn.Module"))
        ctx.converted(original, "keras.Model" if plan.is_model else "keras.layers.Layer", "nn.Module")
    if plan.mask_default:
        ctx.warn(
            original, "keras.layers.Layer.call",
            "forward() takes mask=None as an ordinary argument; Keras filled a mask its caller left out with the"
            " input's implicit mask (from Embedding(mask_zero=True) or Masking): callers outside this run must pass it",
        )
    if plan.size_param and len(plan.build.size_params) > 1:
        ctx.warn(
            original, "keras.layers.Layer.build",
            "build() read the sizes of its inputs' last axes: __init__ takes them as "
            + ", ".join(f"{p}=" for p in plan.build.size_params)
            + f" (keywords); give them where {plan.name} is made",
        )
    elif plan.size_param:
        ctx.warn(
            original, "keras.layers.Layer.build",
            f"build() read the size of the input's last axis: __init__ takes it as {plan.size_param}= (keyword);"
            f" give it where {plan.name} is made",
        )
    for b in original.bases:
        ctx.consume_head(b.value)
    holder = _Placeholders()
    if plan.build is not None and plan.build.moved_lines:
        # the layers build() makes, converted where they are: they move to the end of __init__
        updated_build = next(s for s in new.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "build")
        plan.build.moved = [
            _as_buffer(ctx, updated_build.body.body[i], plan.build.buffers[i]) if i in plan.build.buffers
            else updated_build.body.body[i]
            for i in plan.build.moved_lines
        ]
    body = []
    for stmt in new.body.body:
        if isinstance(stmt, cst.FunctionDef):
            name = stmt.name.value
            # the layer templates (full names, placeholders) are only in these two:
            # filling them alone spares a walk over the rest of the class
            if name == "__init__":
                stmt = ctx.fill(_rewrite_init(ctx, plan, stmt, holder), **holder.subs)
            elif name == "call":
                stmt = ctx.fill(_rewrite_call(ctx, plan, stmt))
            elif name in plan.helpers:
                stmt = ctx.fill(_rewrite_helper(plan, stmt))
            elif drop_method(ctx, original, stmt):
                continue
            elif name == "build" and plan.build is not None:
                _drop_build(ctx, plan.build)
                if _method(plan.node, "__init__") is None and (plan.build.weights or plan.size_param or plan.build.moved_lines):
                    # what build() made goes into an __init__ of its own
                    init = cst.parse_statement("def __init__(self, **kwargs):\n    super().__init__()\n")
                    body.append(ctx.fill(_rewrite_init(ctx, plan, init, holder), **holder.subs))
                continue
        body.append(stmt)
    new = new.with_changes(body=new.body.with_changes(body=body))
    ctx.mark_new(new)
    return new


def _twin_only(ctx, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef | None:
    """A class that is not a Keras layer or model and names a base with a declared twin
    (``class TFBertPreTrainedModel(TFPreTrainedModel)``: class attributes only): the twin in
    the base's place, unless another base stays unknown."""
    bases, used = twin_bases(ctx, original, list(updated.bases))
    if not used:
        return None
    unknown = _unknown_base(ctx, original, ctx.facts.get("class_plans_by_name", {}))
    if unknown is not None and twin_of(ctx, unknown) is None:
        return None
    ctx.converted(original, "keras subclass", f"subclass of {used[0]}", "its base's declared twin")
    # its Keras-only methods go as a converted class's do (an input_signature of TensorSpec)
    body = [stmt for stmt in updated.body.body if not (isinstance(stmt, cst.FunctionDef) and drop_method(ctx, original, stmt))]
    return updated.with_changes(bases=bases, body=updated.body.with_changes(body=body))


def _rewrite_derived(ctx, plan: ClassPlan, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
    """A subclass of a converted class: its bases and methods stay, less Keras's config and
    shape methods (as in the base)."""
    body = [
        stmt for stmt in updated.body.body
        if not (isinstance(stmt, cst.FunctionDef) and drop_method(ctx, original, stmt))
    ]
    ctx.converted(original, "keras subclass", "nn.Module subclass", f"derives from {plan.derived_from}, which becomes an nn.Module")
    return updated.with_changes(body=updated.body.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])]))


def _drop_build(ctx, build: BuildPlan) -> None:
    ctx.converted(build.fn, "keras.layers.Layer.build", "(removed)", "the sizes it builds the layers with are their input sizes in __init__")
    for call in build.scopes:
        ctx.converted(call, "tensorflow.name_scope", "(removed)", "PyTorch names parameters after module attributes")
    for call in build.builds:
        ctx.converted(call, "layer.build", "(removed)", "PyTorch modules are made with their sizes")
    for stmt in build.dropped:
        ctx.converted(stmt, "keras.layers.Layer.build", "(removed)", "a shape only Keras's shape methods read")
    if not build.moved_lines:
        ctx.consume_subtree(build.fn)
        return
    # the statements that make layers move to __init__: their names stay in the output
    made = build.moved_nodes
    for hit in ctx.scan.hits:
        if any(n is build.fn for n in hit.stack) and not any(n is m for n in hit.stack for m in made):
            ctx.consumed.add(id(hit.name))
            ctx.consumed_log.append(id(hit.name))


def _rewrite_init(ctx, plan: ClassPlan, fn: cst.FunctionDef, holder) -> cst.FunctionDef:
    replacements: dict[int, str] = {}
    inits: dict[int, list[str]] = {}  # layer call -> its torch.nn.init statements, put after its statement
    # converted subclasses that take their input size: call -> (keyword, size)
    sized = {
        id(ctx.updated(a.call)): (a.block.size_param, a.block_size)
        for a in _with_alternatives(plan) if a.kind == "block" and a.block_size is not None
    }
    built: list[cst.SimpleStatementLine] = []  # the weights build() made
    branched: dict[str, cst.SimpleStatementLine] = {}  # ... under a condition
    for attr in _with_alternatives(plan):
        if attr.kind == "layer" and attr.elements is not None:
            replacements[id(ctx.updated(attr.call))] = _sequence_ctor(ctx, attr, holder, inits)
            for other in attr.skipped:
                replacements[id(ctx.updated(other))] = "None"
                for element in other.elements:
                    ctx.converted(
                        element.value, "tensorflow.identity", "None",
                        "the list applies nothing in this branch: None, which forward() skips",
                    )
                    ctx.consume_head(element.value)
            continue
        if attr.kind == "layer":
            if attr.plan is None:
                try:
                    attr.plan = plan_layer(attr.layer, [TensorInfo(attr.build_shape)])
                except Unconvertible as exc:
                    ctx.unconverted(attr.call, attr.layer.kind, str(exc))
                    continue
            if attr.many and (not attr.plan.one_call or attr.plan.inits):
                ctx.unconverted(
                    attr.call, attr.layer.kind,
                    f"the elements of self.{attr.name} are called as they are in forward(); {attr.layer.short} here becomes"
                    " more than one module call (an activation, a permute or initializers around it)",
                )
                continue
            if not attr.many:
                attr.plan = attr.plan.with_function_activation()
            modules = [holder.add(spec.template, spec.subs, ctx) for spec in attr.plan.modules]
            ctor = modules[0] if len(modules) == 1 else "torch.nn.Sequential(" + ", ".join(modules) + ")"
            if not modules:
                ctor = "torch.nn.Identity()"
            replacements[id(ctx.updated(attr.call))] = ctor
            if attr.identity_side is not None:
                replacements[id(ctx.updated(attr.identity_side))] = "torch.nn.Identity()"
                ctx.converted(attr.identity_side, "tensorflow.identity", "nn.Identity()", "the other side of a layer's conditional expression: a module, applied alike")
                ctx.consume_head(attr.identity_side)
            refs = {f"m{i}": (f"self.{attr.name}" if len(modules) == 1 else f"self.{attr.name}[{i}]") for i in range(len(modules))}
            lines = lazy_inits(ctx, attr.call, attr.layer.kind, attr.plan, [_fill(i, refs) for i in attr.plan.inits])
            if lines:
                inits[id(ctx.updated(attr.call))] = lines
            ctx.converted(attr.call, attr.layer.kind, ", ".join(module_names(attr.plan)) or "nn.Identity")
            ctx.consume_head(attr.call.func)
            for warning in attr.plan.warnings:
                ctx.warn(attr.call, attr.layer.kind, warning)
        elif attr.kind == "weight" and attr.from_build:
            param = template_node(_parameter(ctx, attr, holder))
            test = plan.build.conditions.get(attr.name)
            if test is not None:  # add_weight(...) if <setting> else None
                param = cst.IfExp(test=ctx.updated(test), body=param, orelse=cst.Name("None"))
            target = cst.AssignTarget(cst.Attribute(cst.Name("self"), cst.Name(attr.name)))
            line = cst.SimpleStatementLine([cst.Assign([target], param)])
            if attr.name in plan.build.branched:
                branched[attr.name] = line  # made under the `if` build() made it under
            else:
                built.append(line)
            # reported at its statement: the call itself is in build(), which is gone
            ctx.converted(attr.statement, "keras.layers.Layer.add_weight", "nn.Parameter", "made in __init__: its sizes are explicit")
            warning = plan.build.weight_warnings.get(attr.name) if plan.build is not None else None
            if warning:
                ctx.warn(attr.statement, "keras.layers.Layer.add_weight", warning)
        elif attr.kind == "weight":
            replacements[id(ctx.updated(attr.call))] = _parameter(ctx, attr, holder)
            ctx.converted(attr.call, "keras.layers.Layer.add_weight", "nn.Parameter")

    lists = {a.name for a in plan.attrs.values() if a.kind in ("block", "layer") and a.many}
    for attr in plan.attrs.values():
        if attr.kind in ("block", "layer") and attr.many:
            ctx.converted(attr.statement, "keras subclass", "nn.ModuleList", "a list of layers: PyTorch registers the modules of an nn.ModuleList")

    def wanted(node) -> bool:  # what Init rewrites: only the paths to these are walked
        kind = type(node)
        if kind is cst.Call:
            return id(node) in replacements or id(node) in sized or _is_super_init(node)
        if kind is cst.Name or kind is cst.Attribute or kind is cst.List:
            return id(node) in replacements  # tf.identity facing a layer, a list of layers applied in order
        return (
            kind is cst.Assign and len(node.targets) == 1 and isinstance(node.value, (cst.ListComp, cst.List, cst.Name))
            and _self_attr(node.targets[0].target) in lists
        )

    class Init(PathTransformer):
        def __init__(self, root):
            super().__init__(paths_to(root, wanted))
            self.pending: list[str] = []

        def leave_Assign(self, original, updated):
            if len(updated.targets) == 1 and _self_attr(updated.targets[0].target) in lists and isinstance(updated.value, cst.ListComp):
                return updated.with_changes(value=cst.Call(ctx.name("torch.nn.ModuleList"), args=[cst.Arg(updated.value)]))
            if len(updated.targets) == 1 and _self_attr(updated.targets[0].target) in lists and isinstance(updated.value, cst.Name):
                # layers = [...]; layers += [...]; self.layers = layers
                return updated.with_changes(value=cst.Call(ctx.name("torch.nn.ModuleList"), args=[cst.Arg(updated.value)]))
            if len(updated.targets) == 1 and _self_attr(updated.targets[0].target) in lists and isinstance(updated.value, cst.List):
                if updated.value.elements:  # [Block(...), Block(...)] written out (RegNet's layers)
                    return updated.with_changes(value=cst.Call(ctx.name("torch.nn.ModuleList"), args=[cst.Arg(updated.value)]))
                return updated.with_changes(value=cst.Call(ctx.name("torch.nn.ModuleList")))  # filled by the loop after it
            return updated

        def leave_SimpleStatementLine(self, original, updated):
            if not self.pending:
                return updated
            # the layer's initializers run right after the statement that makes it
            lines = [cst.parse_statement(line + "\n") for line in self.pending]
            self.pending = []
            return cst.FlattenSentinel([updated, *lines])

        def leave_Name(self, original, updated):  # tf.identity facing a layer: nn.Identity()
            text = replacements.get(id(original))
            return template_node(text) if text is not None else updated

        leave_Attribute = leave_Name

        def leave_List(self, original, updated):  # a list of layers applied in order: nn.Sequential
            text = replacements.get(id(original))
            if text is None:
                return updated
            self.pending.extend(inits.get(id(original), ()))
            return template_node(text)

        def leave_Call(self, original, updated):
            text = replacements.get(id(original))
            if text is not None:
                self.pending.extend(inits.get(id(original), ()))
                return template_node(text)  # its placeholders are filled with the whole class
            if id(original) in sized:
                keyword, size = sized[id(original)]
                # a block whose build() takes several shapes: keyword -> size (subclass_build._block_sizes)
                for keyword, size in (size.items() if isinstance(size, dict) else [(keyword, size)]):
                    updated = _with_size(updated, keyword, size)
                return updated
            if _is_super_init(original) and plan.unknown_base is None:
                return updated.with_changes(args=[])  # nn.Module.__init__ takes no Keras arguments
            return updated

    if plan.init_builds:
        fn = _without_init_builds(ctx, plan, fn)
    fn = Init(fn).transform(fn)
    moved = plan.build.moved if plan.build is not None else []
    if moved:  # the layers build() made (subclass_build._BuildWalker._make), converted with the others
        holder_fn = fn.with_changes(body=fn.body.with_changes(body=moved))
        moved = settle_branches(list(Init(holder_fn).transform(holder_fn).body.body), branched)
    sizes = []  # self.hidden_dim = hidden_dim: before the layers build() made, which may read them
    if plan.size_param:
        for name, size in plan.build.size_attrs.items():
            target = cst.AssignTarget(cst.Attribute(cst.Name("self"), cst.Name(name)))
            sizes.append(cst.SimpleStatementLine([cst.Assign([target], cst.Name(size))]))
        for size in plan.build.size_params:
            fn = fn.with_changes(params=_with_keyword(fn.params, size))
    if built or sizes or moved:
        fn = fn.with_changes(body=fn.body.with_changes(body=[*fn.body.body, *sizes, *moved, *built]))
    return fn


def _sequence_ctor(ctx, attr: Attr, holder, inits: dict) -> str:
    """``nn.Sequential(...)`` of a list of layers applied in order (subclass_sequence.py); each
    element is reported converted, the list as the nn.Sequential that registers them."""
    modules = [holder.add(spec.template, spec.subs, ctx) for spec in attr.plan.modules]
    refs = {"m0": f"self.{attr.name}"} if len(modules) == 1 else {f"m{i}": f"self.{attr.name}[{i}]" for i in range(len(modules))}
    lines = lazy_inits(ctx, attr.call, attr.layer.kind, attr.plan, [_fill(i, refs) for i in attr.plan.inits])
    if lines:
        inits[id(ctx.updated(attr.call))] = lines
    report_steps(ctx, attr.steps, "nn.Identity")
    if len(modules) == 1:
        form, why = module_names(attr.plan)[0], "a list of one layer applied by a loop: the module itself"
    elif attr.plan.chain:
        form, why = "nn.Sequential", "a list of layers applied in order by a loop: an nn.Sequential registers and applies them"
    else:
        form, why = "nn.ModuleList", (
            "a list of layers applied in order by a loop, with moves between them: an nn.ModuleList registers the"
            " modules, forward() applies them by index"
        )
    ctx.converted(attr.statement, "keras subclass", form, why)
    if len(modules) == 1:
        return modules[0]  # one module: itself (forward() calls self.<name>, as for a layer)
    if not attr.plan.chain:
        # moves between the modules: forward() applies them one by one, by index
        return "torch.nn.ModuleList([" + ", ".join(modules) + "])"
    return "torch.nn.Sequential(" + ", ".join(modules) + ")"


def _without_init_builds(ctx, plan: ClassPlan, fn: cst.FunctionDef) -> cst.FunctionDef:
    """__init__ less its ``self.<layer>.build(shape)`` lines (subclass_init_builds.py): the modules
    are made with those sizes. A comment above such a line stays, above the next one."""
    gone = {code_of(ctx.updated(call)) for call in plan.init_builds.values()}
    for call in plan.init_builds.values():
        ctx.converted(call, "layer.build", "(removed)", "PyTorch modules are made with their sizes")

    def block(node):
        body, carried = [], []
        for stmt in node.body:
            if (
                isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)
                and code_of(stmt.body[0].value) in gone
            ):
                carried.extend(line for line in stmt.leading_lines if line.comment is not None)
                continue
            if isinstance(stmt, cst.If):
                stmt = branch(stmt)
            if carried:
                stmt = stmt.with_changes(leading_lines=[*carried, *stmt.leading_lines])
                carried = []
            body.append(stmt)
        return node.with_changes(body=body or [cst.SimpleStatementLine([cst.Pass()])])

    def branch(stmt: cst.If) -> cst.If:
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            orelse = branch(orelse)
        elif isinstance(orelse, cst.Else) and isinstance(orelse.body, cst.IndentedBlock):
            orelse = orelse.with_changes(body=block(orelse.body))
        body = block(stmt.body) if isinstance(stmt.body, cst.IndentedBlock) else stmt.body
        return stmt.with_changes(body=body, orelse=orelse)

    return fn.with_changes(body=block(fn.body))


def _as_buffer(ctx, stmt, name: str):
    """``self.position_ids = <tensor>`` -> ``self.register_buffer("position_ids", <tensor>, persistent=False)``:
    a tensor of the module that moves with it to a device, and is not one of its weights."""
    value = stmt.body[0].value
    call = cst.Call(
        cst.Attribute(cst.Name("self"), cst.Name("register_buffer")),
        args=[
            cst.Arg(cst.SimpleString(f'"{name}"')), cst.Arg(value),
            cst.Arg(cst.Name("False"), keyword=cst.Name("persistent"),
                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))),
        ],
    )
    return stmt.with_changes(body=[cst.Expr(call)])


def _is_super_init(call: cst.Call) -> bool:
    """``super().__init__(...)``"""
    func = call.func
    return (
        isinstance(func, cst.Attribute) and func.attr.value == "__init__"
        and isinstance(func.value, cst.Call) and isinstance(func.value.func, cst.Name) and func.value.func.value == "super"
    )


def _with_size(call: cst.Call, keyword: str, value: cst.BaseExpression) -> cst.Call:
    """``Block(...)`` -> ``Block(..., keyword=value)``"""
    args = list(call.args)
    if args:
        args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    equal = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
    return call.with_changes(args=[*args, cst.Arg(value=value, keyword=cst.Name(keyword), equal=equal)])


def _with_keyword(params: cst.Parameters, name: str) -> cst.Parameters:
    """``params`` with a keyword-only parameter ``name`` (no default) after the others."""
    param = cst.Param(cst.Name(name))
    changes = {"kwonly_params": [*params.kwonly_params, param]}
    if params.star_arg is cst.MaybeSentinel.DEFAULT or params.star_arg is None:
        changes["star_arg"] = cst.ParamStar()
    return params.with_changes(**changes)


def _parameter(ctx, attr: Attr, holder) -> str:
    args = attr.weight
    shape = args.get("shape")
    if shape is None:
        raise Unconvertible("add_weight without a shape")
    shape_code = holder.add("{s}", {"s": shape}, ctx)
    init = args.get("initializer")
    ok, init_name = literal_value(init) if init is not None else (True, "glorot_uniform")
    trainable = args.get("trainable")
    ok_t, trainable_value = literal_value(trainable) if trainable is not None else (True, True)
    empty = f"torch.empty({shape_code})"
    listed = isinstance(shape, (cst.Tuple, cst.List)) and not any(isinstance(e, cst.StarredElement) for e in shape.elements)
    glorot = (
        initializers.glorot_uniform_value([holder.add("{s}", {"s": e.value}, ctx) for e in shape.elements])
        if listed else f"torch.nn.init.xavier_uniform_({empty})"
    )
    inits = {
        "zeros": f"torch.zeros({shape_code})", "ones": f"torch.ones({shape_code})",
        "glorot_uniform": glorot, "random_normal": f"torch.nn.init.normal_({empty}, std=0.05)",
        "random_uniform": f"torch.nn.init.uniform_({empty}, -0.05, 0.05)", "he_normal": f"torch.nn.init.kaiming_normal_({empty})",
    }
    value = inits.get(init_name if ok else None)
    if "value" in args:  # build() assigned it a value: the parameter is made with it
        value = holder.add("{v}", {"v": args["value"]}, ctx)
        if args.get("cast"):  # tf.cast(value, dtype=self.weight.dtype): the parameter's dtype
            value = f"torch.as_tensor({value}, dtype=torch.float32)"
    constant = initializers.constant_lambda(init)
    known = initializers.weight_kind(ctx, init) if value is None else None
    if known is not None and not all(initializers.plain(v) for v in known[1].values()):
        known = None  # an argument that computes: converted in place it would not mean the same
    if value is None and constant is not None:
        # lambda *a, **kw: math.log(1 / 0.07): one number, whatever the shape
        value = f"torch.nn.init.constant_({empty}, {holder.add('{v}', {'v': constant}, ctx)})"
    elif value is None and known is not None:
        kind, values = known
        value, caveats = initializers.parameter_value(kind, values, shape_code)
        for caveat in caveats:
            ctx.warn(attr.statement if attr.from_build else attr.call, "keras.layers.Layer.add_weight", caveat)
    elif value is None:
        value = glorot
        ctx.warn(attr.statement if attr.from_build else attr.call, "keras.layers.Layer.add_weight", f"initializer {code_of(init).strip() if init is not None else ''} has no conversion; Glorot uniform is used")
    if ok_t and trainable_value is False:
        return f"torch.nn.Parameter({value}, requires_grad=False)"
    return f"torch.nn.Parameter({value})"


def _fill(template: str, values: dict) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _layer_call_code(attr: Attr, x_code: str) -> str:
    """How forward() applies a converted layer attribute to ``x_code``."""
    plan = attr.plan
    n = len(plan.modules)
    if n == 0:
        return _fill(plan.apply, {"x": x_code})
    chain = "{x}"
    for i in range(n):
        chain = f"{{m{i}}}({chain})"
    if chain in plan.apply:  # the attribute (a module, or nn.Sequential of them) does the chain
        text = plan.apply.replace(chain, "{c}")
        if "{m" not in text:
            return _fill(text, {"c": f"self.{attr.name}({x_code})"})
    refs = {"m0": f"self.{attr.name}"} if n == 1 else {f"m{i}": f"self.{attr.name}[{i}]" for i in range(n)}
    return _fill(plan.apply, {**refs, "x": x_code})


def _rewrite_call(ctx, plan: ClassPlan, fn: cst.FunctionDef) -> cst.FunctionDef:
    params = fn.params
    kept = [p for p in params.params if p.name.value not in plan.dropped]
    kwonly = [p for p in params.kwonly_params if p.name.value not in plan.dropped]
    changes = {"params": kept, "kwonly_params": kwonly}
    if not kwonly and isinstance(params.star_arg, cst.ParamStar):
        changes["star_arg"] = cst.MaybeSentinel.DEFAULT  # a bare * with nothing after it
    last = changes["params"] if not kwonly and not isinstance(params.star_arg, cst.Param) and params.star_kwarg is None else None
    if last and (len(kept) != len(params.params) or len(kwonly) != len(params.kwonly_params)):
        last[-1] = last[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    fn = fn.with_changes(name=cst.Name("forward"), params=params.with_changes(**changes))
    original_call = _method(plan.node, "call")
    elements = _list_element_names(plan, original_call)
    remaps, befores, afters, moves, dropped_transposes, multis = {}, {}, {}, {}, {}, {}
    for node in _walk(original_call.body):
        if id(node) in plan.multi_apps:
            multis[id(ctx.updated(node))] = plan.multi_apps[id(node)]
        if id(node) in plan.axis_remaps:
            remaps[id(ctx.updated(node))] = plan.axis_remaps[id(node)]
        if id(node) in plan.app_before:
            befores[id(ctx.updated(node))] = plan.app_before[id(node)]
        if id(node) in plan.app_after:
            afters[id(ctx.updated(node))] = plan.app_after[id(node)]
        if id(node) in plan.name_moves:
            moves[id(ctx.updated(node))] = plan.name_moves[id(node)]
        if id(node) in plan.to_channels_last:
            dropped_transposes[id(ctx.updated(node))] = plan.to_channels_last[id(node)]
            ctx.converted(
                node, "tensorflow.transpose", "(removed)",
                "made channels-first data channels-last for the convolution that reads it; PyTorch's takes it as it came",
            )

    moved_names = {name for names in moves.values() for name in names}
    standing = _either_made(ctx, plan)

    def wanted(node) -> bool:  # what Forward rewrites: only the paths to these are walked
        kind = type(node)
        if kind is cst.Name:
            return node.value == "training" or node.value in moved_names
        if kind is cst.Call:
            attr = _self_attr(node.func)
            return (
                (attr in plan.attrs and plan.attrs[attr].kind in ("layer", "block") and not plan.attrs[attr].many)
                or _list_attr(plan, node.func, elements) is not None
                or id(node) in remaps
                or id(node) in afters
                or attr in standing
            )
        if kind is cst.For:
            return _sequence_loop(plan, node) is not None or _block_loop(plan, node) is not None
        return kind is cst.SimpleStatementLine and id(node) in dropped_transposes

    loops = list(plan.sequence_loops)

    class Forward(PathTransformer):
        def __init__(self):
            super().__init__(paths_to(fn, wanted))
            self.moving: list[set] = []
            self.stack: list[cst.CSTNode] = []  # from fn down to the node being visited
            self.shadowed: list[bool] = []  # per nested function/lambda: it binds its own `training`
            self.block_loops = 0  # loops over lists of the file's classes met so far (plan.loop_moves)
            self.loop_stack: list[int] = []

        def on_visit(self, node):
            self.stack.append(node)
            if isinstance(node, (cst.FunctionDef, cst.Lambda)) and node is not fn:
                self.shadowed.append(any(p.name.value == "training" for p in _all_params(node.params)))
            return super().on_visit(node)

        def on_leave(self, original, updated):
            result = super().on_leave(original, updated)
            self.stack.pop()
            if isinstance(original, (cst.FunctionDef, cst.Lambda)) and original is not fn:
                self.shadowed.pop()
            return result

        def _reads(self, name: cst.Name) -> bool:
            """A read of a variable (not a keyword, an attribute's name, a parameter, a target)."""
            return classify(Hit(name, tuple(self.stack))) == "load"

        def visit_SimpleStatementLine(self, node):
            self.moving.append(moves.get(id(node), set()))

        def leave_SimpleStatementLine(self, original, updated):
            self.moving.pop()
            moved = dropped_transposes.get(id(original))
            if moved is not None:
                target, source = moved
                return cst.RemoveFromParent()  # x = x
            return updated

        def visit_For(self, node):
            if _block_loop(plan, node) is not None:
                self.block_loops += 1
                self.loop_stack.append(self.block_loops - 1)

        def leave_For(self, original, updated):
            if _block_loop(plan, original) is not None:
                moves = plan.loop_moves.get(self.loop_stack.pop(), [])
                if not moves:
                    return updated
                # the tensors the loop gives its elements, moved once to the layout they take
                lines = [cst.parse_statement(f"{name} = {name}.{move}\n") for name, move in moves]
                lines[0] = lines[0].with_changes(leading_lines=updated.leading_lines)
                return cst.FlattenSentinel([*lines, updated.with_changes(leading_lines=())])
            # for layer in self.attention: h = layer(h) -> h = self.attention(h)
            if _sequence_loop(plan, original) is None or not loops:
                return updated
            call = loops.pop(0)
            name, h = subclass_sequence.loop_parts(original)
            x_code = h if id(call) not in plan.app_before else f"{h}.{plan.app_before[id(call)]}"
            code = _layer_call_code(plan.attrs[name], x_code)
            if id(call) in plan.app_after:
                code = f"{_operand(code)}.{plan.app_after[id(call)]}"
            if plan.attrs[name].optional:  # None where __init__'s condition does not hold
                text = f"if self.{name} is not None:\n    {h} = {code}\n"
            else:
                text = f"{h} = {code}\n"
            return cst.parse_statement(text).with_changes(leading_lines=updated.leading_lines)

        def leave_Name(self, original, updated):
            if original.value == "training" and not any(self.shadowed) and self._reads(original):
                return cst.parse_expression("self.training")
            if self.moving and original.value in self.moving[-1] and self._reads(original) and not self._moved_by_layer():
                return cst.parse_expression(f"{original.value}.movedim(1, -1)")
            return updated

        def _moved_by_layer(self) -> bool:
            """The name is read in the input of a layer whose application moves it already
            (befores: `self.query(x.movedim(1, -1))`): moving it for the statement too would undo that."""
            return any(isinstance(n, cst.Call) and id(n) in befores for n in self.stack[:-1])

        def leave_Call(self, original, updated):
            attr = _self_attr(original.func)
            if attr in plan.attrs and plan.attrs[attr].kind in ("layer", "block") and not plan.attrs[attr].many:
                applied = self._application(plan.attrs[attr], original, updated)
                after = afters.get(id(original))
                if after:
                    return cst.parse_expression(f"{_operand(code_of(applied).strip())}.{after}")
                return applied
            if _list_attr(plan, original.func, elements) is not None:
                # an element of a list of converted subclasses: forward() takes no training/mask
                dropped = _list_attr(plan, original.func, elements).block.dropped
                args = [a for a in updated.args if a.keyword is None or a.keyword.value not in dropped]
                if args and len(args) != len(updated.args):
                    args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(args=args)
            if attr in standing:
                # DropPath(p) if p > 0 else Identity(): a module either way, whose forward()
                # takes no Keras training/mask arguments
                args = [a for a in updated.args if a.keyword is None or a.keyword.value not in standing[attr]]
                if args and len(args) != len(updated.args):
                    args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(args=args)
            remap = remaps.get(id(original))
            if remap is not None:
                args = [
                    a.with_changes(value=cst.parse_expression(repr(remap)))
                    if a.keyword is not None and a.keyword.value in ("dim", "axis") else a
                    for a in updated.args
                ]
                updated = updated.with_changes(args=args)
            after = afters.get(id(original))
            if after:  # a framework call's channels-first result, given back in Keras's layout
                return cst.parse_expression(f"{_operand(code_of(updated).strip())}.{after}")
            return updated

        def _application(self, attr: Attr, original, updated):
            args = _applied_args(attr, updated.args)
            if not args:
                return updated.with_changes(args=args)
            first = _block_tensor_arg(attr.block, args) if attr.kind == "block" else 0
            if first is None:
                first = 0
            x = args[first].value
            x_code = code_of(x).strip()
            before = befores.get(id(original))
            if before:
                x_code = f"{_operand(x_code)}.{before}"
            if attr.kind == "block":
                # forward() takes the call's other tensors as they are (positional or by name)
                if before:
                    args[first] = args[first].with_changes(value=cst.parse_expression(x_code))
                args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(args=args)
            mask = _given_mask(attr, updated, "")
            if mask is not None:
                guarded = _not_none_names(fn).get(id(original), set())
                return cst.parse_expression(_masked_softmax_code(attr, x_code, mask, fn, guarded))
            if id(original) in multis:
                apply, order, listed = multis[id(original)]
                tensors = [e.value for e in args[0].value.elements] if listed else [a.value for a in args]
                codes = {f"x{i}": code_of(tensors[k]).strip() for i, k in enumerate(order)}
                return cst.parse_expression(_fill(apply, {"m0": f"self.{attr.name}", **codes}))
            if attr.plan is None:
                return cst.parse_expression(f"self.{attr.name}({x_code})")
            return cst.parse_expression(_layer_call_code(attr, x_code))

    return Forward().transform(fn)


def _sequence_loop(plan: ClassPlan, stmt) -> tuple[str, str] | None:
    """``for layer in self.<name>: h = layer(h)`` over a list of layers applied in order."""
    parts = subclass_sequence.loop_parts(stmt)
    if parts is None or getattr(plan.attrs.get(parts[0]), "elements", None) is None:
        return None
    return parts


def _either_made(ctx, plan: ClassPlan) -> dict[str, set[str]]:
    """The attributes __init__ makes by a conditional expression of two modules that are not
    planned as layers (``DropPath(p) if p > 0 else Identity()``, converted where they stand),
    with the Keras arguments their forward() calls lose: ``training`` and ``mask``, less those
    a converted class of the file keeps."""
    init = _method(plan.node, "__init__")
    plans = ctx.facts.get("class_plans_by_name") or {p.name: p for p in ctx.facts.get("class_plans", {}).values()}
    kinds = ctx.facts.get("class_kinds", {})
    out: dict[str, set[str]] = {}
    for node in _walk(init.body) if init is not None else ():
        if not (isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.value, cst.IfExp)):
            continue
        name = _self_attr(node.targets[0].target)
        if name is None or name in plan.attrs:
            continue
        dropped = {"training", "mask"}
        for side in (node.value.body, node.value.orelse):
            if isinstance(side, cst.Call) and isinstance(side.func, cst.Name) and side.func.value in kinds and side.func.value in plans:
                dropped &= set(plans[side.func.value].dropped)
            elif not (isinstance(side, cst.Call) and _layer_call(ctx, side) is not None):
                break
        else:
            out[name] = dropped
    return out


def _rewrite_helper(plan: ClassPlan, fn: cst.FunctionDef) -> cst.FunctionDef:
    """The layers another method applies (see _trace_helpers): as in forward(), without
    the Keras arguments ``training`` and ``mask``; its own ``training`` parameter stays."""

    def wanted(node) -> bool:
        attr = plan.attrs.get(_self_attr(node.func) or "") if type(node) is cst.Call else None
        return attr is not None and attr.kind in ("layer", "block") and not attr.many

    class Helper(PathTransformer):
        def leave_Call(self, original, updated):
            if not wanted(original):
                return updated
            attr = plan.attrs[_self_attr(original.func)]
            args = _applied_args(attr, updated.args)
            if attr.kind == "block" or attr.plan is None:
                if args and len(args) != len(updated.args):
                    args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(args=args)
            mask = _given_mask(attr, updated, "")
            if mask is not None:
                guarded = _not_none_names(fn).get(id(original), set())
                return cst.parse_expression(_masked_softmax_code(attr, code_of(args[0].value).strip(), mask, fn, guarded))
            x = code_of(args[0].value).strip()
            if attr.name in plan.helper_cf:
                applied = _layer_call_code(attr, f"{_operand(x)}.movedim(-1, 1)")
                return cst.parse_expression(f"{_operand(applied)}.movedim(1, -1)")
            return cst.parse_expression(_layer_call_code(attr, x))

    return Helper(paths_to(fn, wanted)).transform(fn)


def _operand(code: str) -> str:
    """``code`` as the receiver of a method call: in parentheses unless it is a name, call,
    attribute or subscript already"""
    node = cst.parse_expression(code)
    return code if isinstance(node, (cst.Name, cst.Call, cst.Attribute, cst.Subscript)) else f"({code})"


def _given_mask(attr: Attr, call: cst.Call, where: str) -> cst.BaseExpression | None:
    """The mask a call gives a Keras layer itself (``self.softmax(scores, mask)``,
    ``mask=...``): Softmax's converts (_masked_softmax_code); another layer's is reported,
    as it would otherwise be dropped with Keras's implicit one."""
    if attr.kind != "layer":
        return None
    given = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "mask"), None)
    positional = [a for a in call.args if a.keyword is None]
    if given is None and attr.layer.kind == "keras.layers.Softmax" and len(positional) == 2 and not positional[1].star:
        given = positional[1].value
    if given is None or (isinstance(given, cst.Name) and given.value == "None"):
        return None
    if attr.layer.kind != "keras.layers.Softmax":
        raise Unconvertible(f"{where}: the mask given to {attr.layer.short} has no conversion in a subclass yet")
    if any(isinstance(n, (cst.Call, cst.BinaryOperation, cst.UnaryOperation, cst.BooleanOperation, cst.Comparison,
                          cst.IfExp, cst.Lambda, cst.NamedExpr, cst.Await, cst.Yield, cst.BaseComp))
           for n in _walk(given)):
        raise Unconvertible(f"{where}: Softmax's mask {code_of(given).strip()} is read twice in PyTorch; assign it to a name first")
    return given


def _not_none_names(fn: cst.FunctionDef) -> dict[int, set[str]]:
    """id(call) -> the names an enclosing ``if name is not None:`` of ``fn`` vouches for."""
    out: dict[int, set[str]] = {}

    def visit(node, names: set[str]) -> None:
        if isinstance(node, cst.Call):
            out[id(node)] = names
        if isinstance(node, cst.If):
            test = node.test
            guarded = set(names)
            if (
                isinstance(test, cst.Comparison) and isinstance(test.left, cst.Name) and len(test.comparisons) == 1
                and isinstance(test.comparisons[0].operator, cst.IsNot)
                and isinstance(test.comparisons[0].comparator, cst.Name) and test.comparisons[0].comparator.value == "None"
            ):
                guarded.add(test.left.value)
            visit(node.test, names)
            visit(node.body, guarded)
            if node.orelse is not None:
                visit(node.orelse, names)
            return
        for child in source_children(node):
            visit(child, names)

    visit(fn.body, set())
    return out


def _masked_softmax_code(attr: Attr, x: str, mask: cst.BaseExpression, fn: cst.FunctionDef, guarded: set[str]) -> str:
    """Keras's Softmax with a mask: masked positions (mask <= 0.5 or False) take -1e9 before
    the softmax and 0 after it (Keras 3's rows that are all masked give zeros). A mask read
    from a parameter that defaults to None may be None, which Keras takes as no mask."""
    m = code_of(mask).strip()
    atom = isinstance(cst.parse_expression(x), (cst.Name, cst.Attribute, cst.Call, cst.Subscript))
    inner = _layer_call_code(attr, f"{x if atom else f'({x})'}.masked_fill({m} <= 0.5, -1e9)")
    code = f"{inner}.masked_fill({m} <= 0.5, 0.0)"
    root = mask
    while isinstance(root, (cst.Subscript, cst.Attribute)):
        root = root.value
    defaults_none = {
        p.name.value for p in _all_params(fn.params)
        if isinstance(p.default, cst.Name) and p.default.value == "None"
    }
    if isinstance(root, cst.Name) and root.value in defaults_none and root.value not in guarded:
        code = f"({code} if {root.value} is not None else {_layer_call_code(attr, x)})"
    return code


def _check_mask_given(attr: Attr, call: cst.Call) -> None:
    """A class whose call() takes `mask` as an ordinary argument must be given it: Keras
    fills a `mask` the caller leaves out with the input's implicit mask."""
    block = attr.block
    if not block.mask_arg:
        return
    index = block.call_params.index("mask") if "mask" in block.call_params else -1
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in call.args) or any(a.keyword is not None and a.keyword.value == "mask" for a in call.args):
        return
    if len(positional) <= index:
        raise Unconvertible(
            f"self.{attr.name} ({block.name}) is called without its mask argument, which Keras fills in with the"
            " input's implicit mask; pass the mask explicitly"
        )


def _list_element_names(plan: ClassPlan, call) -> dict[str, "Attr"]:
    """Loop variables that hold an element of a list of converted subclasses:
    ``for layer in self.layer``, ``for i, layer in enumerate(self.layer)``."""
    names: dict[str, Attr] = {}
    for node in _walk(call.body):
        if not isinstance(node, cst.For):
            continue
        it, target = node.iter, node.target
        if (
            isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "enumerate"
            and len(it.args) >= 1 and it.args[0].keyword is None and isinstance(target, cst.Tuple)
            and len(target.elements) == 2
        ):
            it, target = it.args[0].value, target.elements[1].value
        attr = plan.attrs.get(_self_attr(it) or "")
        if attr is not None and attr.kind == "block" and attr.many and isinstance(target, cst.Name):
            names[target.value] = attr
    return names


def _list_attr(plan: ClassPlan, func, names: dict) -> "Attr | None":
    """The list attribute when ``func`` is one of its elements: ``layer(...)`` for a loop
    variable over it, or ``self.layers[i](...)``."""
    if isinstance(func, cst.Name):
        return names.get(func.value)
    if isinstance(func, cst.Subscript):
        attr = plan.attrs.get(_self_attr(func.value) or "")
        if attr is not None and attr.kind == "block" and attr.many:
            return attr
    return None


def _all_params(params: cst.Parameters) -> list[cst.Param]:
    star = [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
    return [*params.posonly_params, *params.params, *params.kwonly_params, *star]


# -- weight maps for instances ----------------------------------------------------

def _entries(ctx, plan: ClassPlan, prefix_origin: list, prefix_path: str) -> list[dict]:
    if plan.graph is not None:
        # its layers are made before Keras's Model.__init__ runs: their origin is their own position
        found = subclass_graph.entries(ctx, plan)
        for entry in found:
            entry["modules"] = [prefix_path + m for m in entry["modules"]]
            for w in entry["weights"]:
                w["module"] = prefix_path + w["module"] if w["module"] else prefix_path.rstrip(".")
        return found
    out = []
    if plan.layer_subclass is not None:
        # the layer's own weights, under its PyTorch class's names
        module = prefix_path.rstrip(".")
        weights = plan.layer_subclass[1].get("weights", {})
        return [{
            "keras_class": plan.name, "origin": prefix_origin, "modules": [module],
            "weights": [{"keras": k, "torch": t, "transform": "copy", "module": module, "args": {}} for k, t in weights.items()],
        }]
    own = [a for a in plan.attrs.values() if a.kind == "weight"]
    if own:
        out.append({
            "keras_class": plan.name,
            "origin": prefix_origin,
            "modules": [prefix_path.rstrip(".")],
            "weights": [
                {
                    "keras": _weight_name(a), "torch": a.name, "transform": "copy", "module": prefix_path.rstrip("."),
                    # made under a condition of build() (`else: self.pos = None`): absent where it does not hold
                    "args": {"optional": True} if _conditional_weight(plan, a.name) else {},
                }
                for a in own
            ],
        })
        if all(_conditional_weight(plan, a.name) for a in own):
            out[-1]["optional"] = True  # every weight made under a condition: the layer may have none
    for attr in _with_alternatives(plan):
        origin = prefix_origin + [list(ctx.scan.position(attr.call, attr.statement))]
        path = prefix_path + attr.name
        if attr.kind == "layer" and attr.elements is not None and attr.plan is not None:
            out.extend(subclass_sequence.entries(ctx, attr, prefix_origin, path))
        elif attr.kind == "layer" and attr.plan is not None:
            if attr.many:  # each element made at the same place: "*" for its index (as for blocks)
                origin = prefix_origin + [[*origin[-1][:2], "*"]]
                path += ".*"
            n = len(attr.plan.modules)
            paths = [path] if n == 1 else [f"{path}.{i}" for i in range(n)]
            out.append(layer_entry(attr.layer.short, origin, paths, attr.plan))
            if attr.optional:
                out[-1]["optional"] = True  # made only when its condition holds
        elif attr.kind == "block" and attr.list_index is not None and attr.list_rest:
            # the elements one call makes from list_index on: the k-th made there is at list_index + k
            origin = prefix_origin + [[*origin[-1][:2], "*"]]
            found = _entries(ctx, attr.block, origin, f"{path}.*+{attr.list_index}.")
            if attr.optional:
                for entry in found:
                    entry["optional"] = True
            out.extend(found)
        elif attr.kind == "block" and attr.list_index is not None:
            # an element of a list appended one by one: its place there, "#" where elements made
            # under a condition before it move it (weights/transforms.py counts those the Keras
            # model has)
            found = _entries(ctx, attr.block, origin, f"{path}.{'#' if attr.list_after else attr.list_index}.")
            after = [prefix_origin + [list(ctx.scan.position(c, s))] for c, s in attr.list_after]
            for entry in found:
                if after:
                    entry["after"] = {"base": attr.list_index, "origins": after}
                if attr.optional:
                    entry["optional"] = True
            out.extend(found)
        elif attr.kind == "block":
            if attr.many:
                # every element is made at the same place: the weight map has one entry per
                # place, "*" standing for the element's index (weights/transforms.py expands it)
                origin = prefix_origin + [[*origin[-1][:2], "*"]]
                path += ".*"
            found = _entries(ctx, attr.block, origin, path + ".")
            if attr.optional:
                for entry in found:
                    entry["optional"] = True  # made only when its condition holds
            out.extend(found)
    return out


def _conditional_weight(plan: ClassPlan, name: str) -> bool:
    """A weight build() makes under a condition (in an `if`, or by a conditional expression)."""
    return plan.build is not None and (name in plan.build.branched or name in plan.build.conditions)


def _weight_name(attr: Attr) -> str:
    node = attr.weight.get("name")
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value
    return attr.name


def finish_models(transformer, original, updated):
    """Weight maps for the module-level instances of converted classes (``net = Net()``)."""
    ctx = transformer.ctx
    by_name = ctx.facts.get("class_plans_by_name", {})
    for stmt in original.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
            continue
        small = stmt.body[0]
        value = small.value
        if not (isinstance(value, cst.Call) and isinstance(value.func, cst.Name) and value.func.value in by_name):
            continue
        plan = by_name[value.func.value]
        if plan.problems or plan.node is None or not isinstance(small.targets[0].target, cst.Name):
            continue
        position = list(ctx.scan.position(value, stmt))
        if position == [0, 0]:
            continue
        if plan.graph is not None:
            ctx.models[small.targets[0].target.value] = subclass_graph.model_info(ctx, plan)
            continue
        ctx.models[small.targets[0].target.value] = {
            "kind": "subclass",
            "form": plan.name,
            "inputs": [{"name": n, "shape": None, "layout": plan.input_layout if i == 0 else "keras"} for i, n in enumerate(plan.call_params)],
            "output_layout": plan.output_layout,
            "output_rank": None,
            "layers": _entries(ctx, plan, [position], ""),
        }
    return None
