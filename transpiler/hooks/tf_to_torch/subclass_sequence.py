"""A list of Keras layers written out in ``__init__`` and applied one after another by a loop
in ``call()``: an ``nn.Sequential``.

transformers writes small stacks this way (RegNet's squeeze-and-excitation, GroupViT's
projection heads)::

    self.attention = [Conv2D(r, 1, activation="relu"), Conv2D(c, 1, activation="sigmoid")]
    ...
    for layer_module in self.attention:
        pooled = layer_module(pooled)

A plain list in an ``nn.Module`` does not register its modules, and a loop over the list
cannot apply a convolution in its own layout. Planned as one Keras Sequential (the layers in
order, the shapes flowing through them: models.plan_sequence), the attribute becomes
``nn.Sequential(nn.Conv2d(c, r, 1), nn.ReLU(), nn.Conv2d(r, c, 1), nn.Sigmoid())`` and the
loop ``pooled = self.attention(pooled)``; where the layers want different layouts the
modules are applied by index with the moves between them. Each element keeps its own entry
in the weight map (its origin is where it is written).
"""

from __future__ import annotations

import re

import libcst as cst

from ...engine.calls import Unconvertible
from ...engine.query import resolve_call
from ...engine.walk import in_source_order as _walk
from .keras_layers import LayerCall, LayerPlan, TensorInfo
from .models import layer_entry, plan_sequence
from .subclass_build import _self_attr


def loop_parts(stmt) -> tuple[str, str] | None:
    """``for layer in self.<name>: h = layer(h)`` (one statement, no ``else``): (name, h)."""
    if not (
        isinstance(stmt, cst.For) and stmt.orelse is None and not stmt.asynchronous
        and isinstance(stmt.target, cst.Name) and _self_attr(stmt.iter) is not None
        and isinstance(stmt.body, cst.IndentedBlock) and len(stmt.body.body) == 1
    ):
        return None
    line = stmt.body.body[0]
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Assign)):
        return None
    small = line.body[0]
    call = small.value
    if not (
        len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)
        and isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == stmt.target.value
        and len(call.args) == 1 and call.args[0].keyword is None and not call.args[0].star
        and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == small.targets[0].target.value
    ):
        return None
    return _self_attr(stmt.iter), small.targets[0].target.value


def written_sequence(ctx, cls: cst.ClassDef, name: str, value, layer_call) -> list[LayerCall] | None:
    """The layers of ``self.<name> = [Layer(...), ...]`` when every element is a Keras layer and
    the class reads the list only as such loops in call() (build() may build its elements,
    which subclass_build checks); None otherwise."""
    if not (isinstance(value, cst.List) and value.elements):
        return None
    layers = []
    for element in value.elements:
        if not isinstance(element, cst.Element):
            return None
        layer = layer_call(ctx, element.value)
        if layer is None:
            return None
        layers.append(layer)
    loops = 0
    for method in cls.body.body:
        if not isinstance(method, cst.FunctionDef) or method.name.value in ("__init__", "build"):
            continue
        reads = sum(1 for n in _walk(method.body) if _self_attr(n) == name)
        if not reads:
            continue
        if method.name.value != "call":
            return None
        found = [s for s in _walk(method.body) if isinstance(s, cst.For) and (parts := loop_parts(s)) is not None and parts[0] == name]
        if len(found) != reads:
            return None  # read other than as the loop
        loops += len(found)
    return layers if loops else None


# layers that work on any rank alike: the shape build() gives them says nothing of the rank
ANY_RANK = {"dense", "activation", "dropout", "identity", "layernorm", "rmsnorm", "rescaling"}


def input_shape(attr, x: TensorInfo) -> TensorInfo:
    """What the list is planned on: ``x`` where its size is known; else its rank (where known)
    with the size build() gives the first element. Where the rank is unknown too, the first
    element's build shape, or that of a later one that cares about rank (GroupViT's heads build
    their Dense with ``[None, None, None, d]`` and the BatchNormalization after it with
    ``(None, d)``, the rank they are applied to), the layers before it keeping the rank."""
    if x.channels is not None or attr.build_shape is None:
        return x
    size = attr.build_shape[-1]
    if x.shape is not None:
        return TensorInfo((*x.shape[:-1], size), x.layout)
    shape = attr.build_shape
    for index, layer in enumerate(attr.elements):
        kind = layer.rule.data.get("plan")
        built = attr.element_shapes.get(index) if index else attr.build_shape
        if kind not in ANY_RANK:
            if built is not None:
                shape = (*built[:-1], size)
            break
    return TensorInfo(shape, x.layout)


def other_branches(ctx, init: cst.FunctionDef, name: str, made: cst.Assign) -> list[cst.List] | None:
    """The other values ``__init__`` gives ``self.<name>`` where it makes the list under a
    condition: ``[tf.identity]`` (ConvNeXt's stages that do not downsample), or None; those
    lists, or None where any other value is given."""
    out = []
    for node in _walk(init.body):
        if not (isinstance(node, cst.Assign) and any(_self_attr(t.target) == name for t in node.targets)) or node is made:
            continue
        value = node.value
        if isinstance(value, cst.Name) and value.value == "None":
            continue
        if not (
            isinstance(value, cst.List) and value.elements
            and all(isinstance(e, cst.Element) and resolve_call(ctx, e.value) == "tensorflow.identity" for e in value.elements)
        ):
            return None
        out.append(value)
    return out


def synthetic_call(name: str, h: str) -> cst.Call:
    """``self.<name>(h)``: what the loop does, as one application the trace plans."""
    return cst.Call(cst.Attribute(cst.Name("self"), cst.Name(name)), args=[cst.Arg(cst.Name(h))])


def plan_elements(layers: list[LayerCall], x: TensorInfo) -> tuple[LayerPlan, list, str]:
    """The layers planned in order on ``x``: (their plan as one layer, the models.Step of each,
    the layout the first wants)."""
    first, steps, chain = plan_sequence(layers, x)
    modules, inits, warnings, expr = [], [], [], "{x}"
    for step in steps:
        offset = len(modules)

        def renumber(text: str) -> str:
            return re.sub(r"\{m(\d+)\}", lambda m: "{m" + str(int(m.group(1)) + offset) + "}", text)

        given = step.before.replace("{x}", expr) if step.before else expr
        expr = renumber(step.plan.apply).replace("{x}", given)
        modules.extend(step.plan.modules)
        inits.extend(renumber(i) for i in step.plan.inits)
        warnings.extend(step.plan.warnings)
    if not modules:
        raise Unconvertible("the list's layers make no module")
    plan = LayerPlan(modules=modules, apply=expr, chain=chain, out=steps[-1].plan.out, inits=inits, warnings=warnings)
    return plan, steps, first.layout


def entries(ctx, attr, prefix_origin: list, path: str) -> list[dict]:
    """The weight map's entries: one per element, at its own position, its modules at their
    index in the nn.Sequential."""
    out, offset = [], 0
    single = len(attr.plan.modules) == 1
    for step in attr.steps:
        n = len(step.plan.modules)
        paths = [path] if single else [f"{path}.{offset + i}" for i in range(n)]
        origin = prefix_origin + [list(ctx.scan.position(step.layer.call, attr.statement))]
        out.append(layer_entry(step.layer.short, origin, paths, step.plan))
        if attr.optional:
            out[-1]["optional"] = True  # made only where __init__'s condition holds
        offset += n
    return out
