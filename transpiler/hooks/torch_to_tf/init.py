"""Weight re-initialisation (rules/torch_to_tf/init.toml): ``nn.init.*_(w)``, ``w.data.normal_()``.

PyTorch re-initialises a weight in place; a Keras weight is a variable, so the new value
is assigned to it: ``w.assign(...)``. A layer's weights are named by the isinstance check
around them (``if isinstance(m, nn.Linear):`` makes ``m.weight`` the Dense's ``kernel``,
engine/types.py narrows ``m``). Keras makes a layer's weights when the layer is built (its
first call, or ``build()``), so in ``__init__``, where the layers were just created, they
do not exist yet: there the initialiser belongs in the layer's constructor
(``kernel_initializer=``), and the statement is reported.

Fan-based initialisers become ``keras.initializers.VarianceScaling``: Keras reads the fans
from its own layout ((in, out) kernels, (kh, kw, in, out) convolution kernels) and they are
PyTorch's fans of the same weight, so the variance is the same (scale = gain²;
``untruncated_normal`` for kaiming/xavier normal, ``uniform`` for the uniform ones).
"""

from __future__ import annotations

import math

import libcst as cst

from ...engine.types import KIND_PARENTS
from ...frameworks import canonical
from .._util import Args, Unconvertible, code_of, literal_value

NOT_BUILT = (
    "in __init__ a Keras layer has no weights yet (Keras makes them when the layer is built, at its "
    "first call): give the layer kernel_initializer=/bias_initializer= (keras.initializers.RandomNormal, "
    "Zeros, VarianceScaling...) where it is created"
)
BUILT_WARNING = "Keras makes a layer's weights when the layer is built (its first call or build()): run this on a built layer"
# in-place methods that re-initialise a weight whatever its layout
_INIT_METHODS = {"zero_", "fill_", "normal_", "uniform_"}
_VARIABLE_KINDS = {"variable", "parameter"}


def _is_layer_kind(kind: str | None) -> bool:
    """A kind an isinstance check narrowed a module to (a Linear, a Conv2d...)."""
    while kind and kind != "module":
        kind = KIND_PARENTS.get(kind)
        if kind == "module":
            return True
    return False


def _chain(ctx, node):
    """The scopes ``node`` (original, a framework call or a method call) is in."""
    candidates = []
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute):
            candidates.append(func.attr)
        while isinstance(func, cst.Attribute):
            func = func.value
        candidates.append(func)
    for cand in candidates:
        hit = ctx.resolver.hit_of.get(id(cand))
        if hit is not None:
            return ctx.resolver.chain_of(hit.stack)
    return None


def _in_init(ctx) -> bool:
    for stmt in reversed(ctx.statement_stack):
        if isinstance(stmt, cst.FunctionDef):
            return stmt.name.value == "__init__"
    return False


def _strip_data(node):
    while isinstance(node, cst.Attribute) and node.attr.value == "data":
        node = node.value
    return node


def _is_init_function(ctx, func) -> bool:
    if not isinstance(func, (cst.Name, cst.Attribute)):
        return False
    qual = ctx.resolver.resolve_chain(func)
    return qual is not None and canonical(qual).startswith("torch.nn.init.")


def _statement_call(ctx):
    """The call a statement ``f(...)`` / ``x.m(...)`` consists of, or None."""
    stmt = ctx.statement_stack[-1] if ctx.statement_stack else None
    if (
        isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.Call)
    ):
        return stmt.body[0].value
    return None


def _uses(ctx, receiver: str, name: str) -> list[str]:
    """How the statement being converted uses ``receiver.name`` (each occurrence): "init" (the
    weight re-initialised: ``.normal_()``, ``nn.init.*_(...)``), "none" (``is None`` /
    ``is not None``, ``.dtype``: the same whatever the layout) or "other". Empty where the statement is one the walk does not read."""
    stmt = ctx.statement_stack[-1] if ctx.statement_stack else None
    if isinstance(stmt, cst.SimpleStatementLine):
        roots = list(stmt.body)
    elif isinstance(stmt, (cst.If, cst.While)):
        roots = [stmt.test]
    else:
        return []
    call = _statement_call(ctx)
    parents: dict[int, cst.CSTNode] = {}
    found = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        for child in node.children:
            parents[id(child)] = node
            stack.append(child)
        if isinstance(node, cst.Attribute) and node.attr.value == name and code_of(node.value).strip() == receiver:
            found.append(node)
    uses = []
    for node in found:
        top = node
        while isinstance(parents.get(id(top)), cst.Attribute) and parents[id(top)].value is top and parents[id(top)].attr.value == "data":
            top = parents[id(top)]
        parent = parents.get(id(top))
        use = "other"
        if isinstance(parent, cst.Attribute) and parent.value is top and parent.attr.value in ("dtype", "device"):
            use = "none"  # the same whatever the layout
        elif call is not None and isinstance(parent, cst.Attribute) and parent.value is top and call.func is parent:
            if parent.attr.value in _INIT_METHODS:
                use = "init"
        elif call is not None and isinstance(parent, cst.Arg) and call.args and call.args[0] is parent and _is_init_function(ctx, call.func):
            use = "init"
        elif (
            top is node and isinstance(parent, cst.Comparison) and parent.left is node and len(parent.comparisons) == 1
            and isinstance(parent.comparisons[0].operator, (cst.Is, cst.IsNot))
            and isinstance(parent.comparisons[0].comparator, cst.Name) and parent.comparisons[0].comparator.value == "None"
        ):
            use = "none"
        uses.append(use)
    return uses


def layer_weight(args, ctx, original):
    """``m.weight`` of a layer an isinstance check names: the Keras layer's weight
    (data.keras: kernel, embeddings, gamma...). A weight laid out otherwise in Keras
    (data.layout: a Dense's (in, out) kernel, a convolution's (kh, kw, in, out)) converts only
    where it is re-initialised or compared with None."""
    a = Args(args, ctx)
    x = a.require("self")
    data = args.rule.data
    name = args.rule.source
    uses = _uses(ctx, code_of(x).strip(), name)
    if not uses:
        raise Unconvertible(f"'{name}' used where the conversion does not follow it")
    if _in_init(ctx) and any(use != "init" for use in uses):
        raise Unconvertible(NOT_BUILT)
    if data.get("layout") and any(use == "other" for use in uses):
        raise Unconvertible(
            f"Keras's {data['keras']} is laid out {data['layout']}, PyTorch's {name} otherwise: only its "
            "re-initialisation and `is None` checks convert"
        )
    return ctx.build("{x}." + data["keras"], x=x)


def _receiver_info(ctx, node, chain) -> tuple[bool, bool]:
    """(a variable, a layer's weight) for the original expression ``node``."""
    if chain is None or ctx.types is None:
        return False, False
    kind = ctx.types.kind_of(node, chain)
    if kind not in _VARIABLE_KINDS:
        return False, False
    base = _strip_data(node)
    layer = isinstance(base, cst.Attribute) and _is_layer_kind(ctx.types.kind_of(base.value, chain))
    return True, layer


def _stopped(node) -> bool:
    return (
        isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "stop_gradient"
    )


def assign_to_variable(ctx, receiver, original_receiver, chain, template: str, **subs):
    """``{receiver}.assign(template)`` where ``original_receiver`` is a variable (a parameter,
    a buffer, a layer's weight); None where it is not one."""
    variable, layer = _receiver_info(ctx, original_receiver, chain)
    if not variable:
        return None
    if _stopped(receiver):
        raise Unconvertible("the variable is read through tf.stop_gradient here (inside a GradientTape): assign to it outside the tape")
    if layer:
        if _in_init(ctx):
            raise Unconvertible(NOT_BUILT)
        function = next((stmt for stmt in reversed(ctx.statement_stack) if isinstance(stmt, cst.FunctionDef)), None)
        warned = ctx.facts.setdefault("init_warned", set())
        if id(function) not in warned:  # once a function
            warned.add(id(function))
            ctx.warn(original_receiver, "variable.assign", BUILT_WARNING)
    return ctx.build("{self}.assign(" + template + ")", self=receiver, **subs)


def _number_of(node):
    """A number written as a literal or ``math.sqrt(literal)`` (kaiming_uniform_(w, a=math.sqrt(5)))."""
    ok, value = literal_value(node)
    if ok:
        return True, value
    if (
        isinstance(node, cst.Call) and len(node.args) == 1 and isinstance(node.func, cst.Attribute)
        and isinstance(node.func.value, cst.Name) and node.func.value.value == "math" and node.func.attr.value == "sqrt"
    ):
        ok, value = literal_value(node.args[0].value)
        if ok and isinstance(value, (int, float)) and value >= 0:
            return True, math.sqrt(value)
    return False, None


def _literal(a: Args, name: str, default):
    if name not in a:
        return default
    ok, value = _number_of(a[name])
    if not ok:
        raise Unconvertible(f"argument '{name}' is computed at run time ({code_of(a[name]).strip()}); its value must be known to convert")
    return value


_GAINS = {"linear": 1.0, "identity": 1.0, "sigmoid": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0,
          "conv_transpose1d": 1.0, "conv_transpose2d": 1.0, "conv_transpose3d": 1.0,
          "tanh": 25.0 / 9.0, "relu": 2.0, "selu": 9.0 / 16.0}


def _kaiming_scale(a: Args) -> float:
    """gain² of torch.nn.init.calculate_gain(nonlinearity, a)."""
    nonlinearity = _literal(a, "nonlinearity", "leaky_relu")
    slope = _literal(a, "a", 0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if slope is None else slope
        if not isinstance(slope, (int, float)):
            raise Unconvertible("argument 'a' must be a number")
        return 2.0 / (1 + slope ** 2)
    if nonlinearity not in _GAINS:
        raise Unconvertible(f"nonlinearity={nonlinearity!r} has no gain the conversion knows")
    return _GAINS[nonlinearity]


def _number(value: float) -> str:
    text = f"{float(value):.12g}"
    return text if any(c in text for c in ".en") else text + ".0"


def nn_init(args, ctx, original):
    """``nn.init.normal_(w, mean, std)`` and friends, as a statement on a variable:
    ``w.assign(new value)`` (data.init says which)."""
    a = Args(args, ctx)
    t = a.require("tensor")
    how = args.rule.data["init"]
    if original is None or _statement_call(ctx) is not original:
        raise Unconvertible("nn.init used as a value: the variable's assign() must be a statement of its own")
    if args.get("generator") is not None:
        raise Unconvertible("argument 'generator': TensorFlow draws from its own generators (tf.random.Generator)")
    orig_t = original.args[0].value if original.args and original.args[0].keyword is None else a["tensor"]
    subs = {}
    if how in ("normal", "uniform"):
        names = ("mean", "std") if how == "normal" else ("a", "b")
        keywords = ("mean", "stddev") if how == "normal" else ("minval", "maxval")
        parts = []
        for src, kw in zip(names, keywords):
            if src in a:
                subs[src] = a[src]
                parts.append(f", {kw}={{{src}}}")
        template = f"tensorflow.random.{how}(tensorflow.shape({{self}}){''.join(parts)}, dtype={{self}}.dtype)"
    elif how == "constant":
        subs["val"] = a.require("val")
        template = "tensorflow.fill(tensorflow.shape({self}), tensorflow.cast({val}, {self}.dtype))"
    elif how in ("zeros", "ones"):
        template = f"tensorflow.{how}_like({{self}})"
    elif how in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):
        if how.startswith("xavier"):
            gain = _literal(a, "gain", 1.0)
            if not isinstance(gain, (int, float)):
                raise Unconvertible("argument 'gain' must be a number")
            scale, mode = gain ** 2, "fan_avg"
        else:
            scale = _kaiming_scale(a)
            mode = _literal(a, "mode", "fan_in")
            if mode not in ("fan_in", "fan_out"):
                raise Unconvertible(f"mode={mode!r}: expected 'fan_in' or 'fan_out'")
        distribution = "uniform" if how.endswith("uniform") else "untruncated_normal"
        template = (
            f'keras.initializers.VarianceScaling(scale={_number(scale)}, mode="{mode}", '
            f'distribution="{distribution}")({{self}}.shape, {{self}}.dtype)'
        )
    else:
        raise Unconvertible(f"nn.init: {how} has no conversion")
    chain = _chain(ctx, original)
    result = assign_to_variable(ctx, t, orig_t, chain, template, **subs)
    if result is None:
        raise Unconvertible(
            f"cannot tell whether '{code_of(orig_t).strip()}' is a weight (a parameter, a buffer, or a layer's weight "
            "inside an isinstance check): a Keras weight is re-initialised with .assign(); or give the layer "
            "kernel_initializer=/bias_initializer= where it is created"
        )
    return result
