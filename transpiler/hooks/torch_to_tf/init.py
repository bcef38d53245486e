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
from ...engine.walk import source_children
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


def _strip_to(node):
    """``w.data.to(torch.float32)`` -> ``w``: the variable under casts and ``.data``."""
    while True:
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "to":
            node = node.func.value
        elif isinstance(node, cst.Attribute) and node.attr.value == "data":
            node = node.value
        else:
            return node


def _data_assignment(ctx):
    """``w.data = nn.init.trunc_normal_(w.data.to(torch.float32), ...).to(w.dtype)`` (an
    initialiser run on a float32 copy, its result cast back and made the weight's data): the
    same as ``nn.init.trunc_normal_(w, ...)``. (the init call, ``w``), or None."""
    stmt = ctx.statement_stack[-1] if ctx.statement_stack else None
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
        return None
    assign = stmt.body[0]
    if len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if not (isinstance(target, cst.Attribute) and target.attr.value == "data"):
        return None
    call = assign.value
    if isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "to" and isinstance(call.func.value, cst.Call):
        call = call.func.value
    if not (isinstance(call, cst.Call) and call.args and call.args[0].keyword is None and _is_init_function(ctx, call.func)):
        return None
    weight = _strip_to(target)
    if code_of(_strip_to(call.args[0].value)).strip() != code_of(weight).strip():
        return None
    return call, weight


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
    assigned = _data_assignment(ctx)
    if assigned is not None:
        # the weight made the data of its own re-initialisation: both are the re-initialisation
        init_call, weight = assigned
        reinitialised = {id(weight), id(_strip_to(init_call.args[0].value))}
    parents: dict[int, cst.CSTNode] = {}
    found = []
    stack = list(roots)
    while stack:
        node = stack.pop()
        for child in source_children(node):
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
        if assigned is not None and id(node) in reinitialised:
            use = "init"
        elif isinstance(parent, cst.Attribute) and parent.value is top and parent.attr.value in ("dtype", "device"):
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


def _assigned(ctx, receiver: str, name: str) -> bool:
    """Whether the statement being converted assigns ``receiver.name`` (``self.decoder.bias = self.bias``)."""
    stmt = ctx.statement_stack[-1] if ctx.statement_stack else None
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, cst.Assign):
            for target in small.targets:
                t = target.target
                if isinstance(t, cst.Attribute) and t.attr.value == name and code_of(t.value).strip() == receiver:
                    return True
    return False


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
    if _assigned(ctx, code_of(x).strip(), name):
        raise Unconvertible(
            f"a Keras layer's {data['keras']} cannot be replaced by another variable (the layer makes its own when it is "
            "built): apply the shared variable in call() instead (e.g. self.decoder(x) + self.bias with use_bias=False)"
        )
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


def _pure(node) -> bool:
    """An index that may be written twice: names, attributes, literals, ``getattr(m, 'a', None)``."""
    if isinstance(node, (cst.Name, cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if isinstance(node, cst.Attribute):
        return _pure(node.value)
    if isinstance(node, cst.UnaryOperation):
        return _pure(node.expression)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "getattr":
        return all(_pure(a.value) for a in node.args)
    return False


def _assign_to_row(ctx, receiver, original_receiver, chain, template: str, **subs):
    """``w.data[i].zero_()`` on a layer's weight (the padding row of an embedding):
    ``w[i].assign(...)`` (a TensorFlow variable assigns to a slice of itself)."""
    if not (isinstance(original_receiver, cst.Subscript) and isinstance(receiver, cst.Subscript)):
        return None
    if len(receiver.slice) != 1 or not isinstance(receiver.slice[0].slice, cst.Index):
        return None
    variable, layer = _receiver_info(ctx, original_receiver.value, chain)
    if not (variable and layer) or _stopped(receiver.value) or _in_init(ctx):
        return None
    if not _pure(receiver.slice[0].slice.value) or not _pure(_strip_data(receiver.value)):
        return None
    _warn_built(ctx, original_receiver)
    # the row is written twice (assigned to, and read by the template): its index is pure
    marker = "_transpiler_row_"
    built = ctx.build("{self}.assign(" + template + ")", self=cst.Name(marker), **subs)

    class Row(cst.CSTTransformer):
        def leave_Name(self, original, updated):
            return receiver if updated.value == marker else updated

    return built.visit(Row())


def _warn_built(ctx, node) -> None:
    function = next((stmt for stmt in reversed(ctx.statement_stack) if isinstance(stmt, cst.FunctionDef)), None)
    warned = ctx.facts.setdefault("init_warned", set())
    if id(function) not in warned:  # once a function
        warned.add(id(function))
        ctx.warn(node, "variable.assign", BUILT_WARNING)


def assign_to_variable(ctx, receiver, original_receiver, chain, template: str, **subs):
    """``{receiver}.assign(template)`` where ``original_receiver`` is a variable (a parameter,
    a buffer, a layer's weight); None where it is not one."""
    if isinstance(original_receiver, cst.Subscript):
        return _assign_to_row(ctx, receiver, original_receiver, chain, template, **subs)
    variable, layer = _receiver_info(ctx, original_receiver, chain)
    if not variable:
        return None
    if _stopped(receiver):
        raise Unconvertible("the variable is read through tf.stop_gradient here (inside a GradientTape): assign to it outside the tape")
    if layer:
        if _in_init(ctx):
            raise Unconvertible(NOT_BUILT)
        _warn_built(ctx, original_receiver)
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


# trunc_normal_ cut this many standard deviations or more from the mean, on both sides, is an
# untruncated normal: the mass beyond 10 standard deviations is 1.5e-23 (2 * Phi(-10))
_UNTRUNCATED = 10.0
_TRUNC_DEFAULTS = {"mean": 0.0, "std": 1.0, "a": -2.0, "b": 2.0}


def _trunc_numbers(args) -> dict | None:
    """trunc_normal_'s mean, std, a and b where all are literals (or defaults), else None."""
    values = {}
    for name, default in _TRUNC_DEFAULTS.items():
        if name not in args:
            values[name] = default
            continue
        ok, value = _number_of(args[name])
        if not ok or not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        values[name] = float(value)
    return values if values["std"] > 0 else None


def _trunc_normal(ctx, a: Args, original, subs: dict) -> str:
    """``nn.init.trunc_normal_(w, mean, std, a, b)``: Keras's TruncatedNormal where the cut is at
    two standard deviations (a = mean - 2 std, b = mean + 2 std: the same distribution); an
    untruncated normal where it is 10 or more away on both sides (warned: the same but for a mass
    of 1.5e-23); else PyTorch's own sampler (a uniform draw between the bounds' CDFs through
    erfinv, clipped to [a, b]), written out."""
    known = _trunc_numbers(a)
    given = [name for name in _TRUNC_DEFAULTS if name in a]
    if "mean" in a and _number_of(a["mean"])[0] and _number_of(a["mean"])[1] == 0:
        given.remove("mean")  # mean=0.0: the default, written out
    for name in given:
        subs[name] = a[name]
    if known is not None:
        mean, std = known["mean"], known["std"]
        low, high = (known["a"] - mean) / std, (known["b"] - mean) / std
        if math.isclose(low, -2.0, rel_tol=1e-9) and math.isclose(high, 2.0, rel_tol=1e-9):
            mean_text = "mean={mean}, " if "mean" in given else ""
            std_text = "{std}" if "std" in given else "1.0"
            return f"keras.initializers.TruncatedNormal({mean_text}stddev={std_text})({{self}}.shape, {{self}}.dtype)"
        if low <= -_UNTRUNCATED and high >= _UNTRUNCATED:
            ctx.warn(
                original, "torch.nn.init.trunc_normal_",
                f"trunc_normal_ cuts at a={known['a']:g}, b={known['b']:g}: {min(-low, high):.3g} standard deviations "
                "from the mean or more, so an untruncated normal is the same distribution but for a mass of "
                "1.5e-23 (beyond 10 standard deviations)",
            )
            parts = "".join(f", {kw}={{{src}}}" for src, kw in (("mean", "mean"), ("std", "stddev")) if src in given)
            return f"tensorflow.random.normal(tensorflow.shape({{self}}){parts}, dtype={{self}}.dtype)"
    for name in given:
        if not _pure(a[name]):
            raise Unconvertible(
                f"argument '{name}' ({code_of(a[name]).strip()}) is read several times by the conversion: "
                "assign it to a variable first"
            )
    text = {name: "{" + name + "}" if name in given else repr(default) for name, default in _TRUNC_DEFAULTS.items()}
    mean, std, low, high = text["mean"], text["std"], text["a"], text["b"]

    def standardised(bound: str) -> str:
        return f"({bound} - {mean})" if "mean" in given else bound

    scale = f"{std} * 2.0**0.5" if "std" in given else "2.0**0.5"
    # PyTorch's sampler: uniform between erf of the standardised bounds, through erfinv
    return (
        f"tensorflow.clip_by_value({mean + ' + ' if 'mean' in given else ''}{scale} * tensorflow.math.erfinv("
        f"tensorflow.random.uniform(tensorflow.shape({{self}}), tensorflow.math.erf({standardised(low)} / ({scale})), "
        f"tensorflow.math.erf({standardised(high)} / ({scale})), dtype={{self}}.dtype)), {low}, {high})"
    )


def _number(value: float) -> str:
    text = f"{float(value):.12g}"
    return text if any(c in text for c in ".en") else text + ".0"


def nn_init(args, ctx, original):
    """``nn.init.normal_(w, mean, std)`` and friends, as a statement on a variable:
    ``w.assign(new value)`` (data.init says which)."""
    a = Args(args, ctx)
    t = a.require("tensor")
    how = args.rule.data["init"]
    assigned = _data_assignment(ctx) if original is not None else None
    if assigned is not None and assigned[0] is original:
        # w.data = nn.init.*_(w.data.to(torch.float32), ...).to(w.dtype): w re-initialised
        orig_t = assigned[1]
        t = ctx.results.get(id(orig_t), orig_t)
    elif original is None or _statement_call(ctx) is not original:
        raise Unconvertible("nn.init used as a value: the variable's assign() must be a statement of its own")
    else:
        orig_t = original.args[0].value if original.args and original.args[0].keyword is None else a["tensor"]
    if args.get("generator") is not None:
        raise Unconvertible("argument 'generator': TensorFlow draws from its own generators (tf.random.Generator)")
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
    elif how == "trunc_normal":
        template = _trunc_normal(ctx, a, original, subs)
    else:
        raise Unconvertible(f"nn.init: {how} has no conversion")
    chain = _chain(ctx, original)
    result = assign_to_variable(ctx, t, orig_t, chain, template, **subs)
    if result is not None and assigned is not None and assigned[0] is original:
        ctx.facts.setdefault("init_data_assignments", {})[id(ctx.statement_stack[-1])] = original
    if result is None:
        raise Unconvertible(
            f"cannot tell whether '{code_of(orig_t).strip()}' is a weight (a parameter, a buffer, or a layer's weight "
            "inside an isinstance check): a Keras weight is re-initialised with .assign(); or give the layer "
            "kernel_initializer=/bias_initializer= where it is created"
        )
    return result


# -- re-initialisation in __init__, moved into the layer's constructor ------------------------
#
# ``self.fc = nn.Linear(4, 2)`` then ``nn.init.zeros_(self.fc.bias)`` in the same __init__:
# Keras has no weights yet there, but the layer takes the initializer where it is made:
# ``layers.Dense(2, bias_initializer="zeros")``. The statement goes. Only statements of
# __init__'s own body (not in a loop or a branch), on a layer made by one plain Keras layer.

# what Keras layers start these weights at (PyTorch's Linear/Conv biases start random)
_KERAS_DEFAULTS = {"bias": "'zeros'", "beta": "'zeros'", "gamma": "'ones'"}


def _keras_initializer(how: str, args: dict) -> tuple[str, dict] | None:
    """The Keras initializer (template text, subs) of ``nn.init.<how>_`` with these
    (original, keyword-bound) arguments; None where there is none of the same distribution."""

    def number(name, default):
        if name not in args:
            return default
        ok, value = _number_of(args[name])
        return value if ok and isinstance(value, (int, float)) and not isinstance(value, bool) else None

    subs: dict = {}

    def arg(name, default: str) -> str:
        if name not in args:
            return default
        key = f"init{len(subs)}"
        subs[key] = args[name]
        return "{" + key + "}"

    if how == "normal":
        # Keras's mean is PyTorch's (0); its stddev is 0.05, PyTorch's 1
        mean = f"mean={arg('mean', '')}, " if "mean" in args else ""
        return f"keras.initializers.RandomNormal({mean}stddev={arg('std', '1.0')})", subs
    if how == "uniform":
        return f"keras.initializers.RandomUniform(minval={arg('a', '0.0')}, maxval={arg('b', '1.0')})", subs
    if how == "constant":
        if "val" not in args:
            return None
        ok, value = literal_value(args["val"])
        if ok and not isinstance(value, bool) and value in (0, 1):
            return ("'zeros'" if value == 0 else "'ones'"), subs
        return f"keras.initializers.Constant({arg('val', '0.0')})", subs
    if how in ("zeros", "ones"):
        return f"'{how}'", subs
    if how == "trunc_normal":
        # Keras's TruncatedNormal cuts at two standard deviations: only that cut is the same
        known = _trunc_numbers(args)
        if known is None:
            return None
        low, high = (known["a"] - known["mean"]) / known["std"], (known["b"] - known["mean"]) / known["std"]
        if not (math.isclose(low, -2.0, rel_tol=1e-9) and math.isclose(high, 2.0, rel_tol=1e-9)):
            return None
        mean = f"mean={arg('mean', '')}, " if "mean" in args else ""
        return f"keras.initializers.TruncatedNormal({mean}stddev={arg('std', '1.0')})", subs
    if how in ("xavier_uniform", "xavier_normal"):
        gain = number("gain", 1.0)
        if gain is None:
            return None
        mode, scale = "fan_avg", gain ** 2
    elif how in ("kaiming_uniform", "kaiming_normal"):
        ok_a, slope = _number_of(args["a"]) if "a" in args else (True, 0)
        ok_n, nonlinearity = literal_value(args["nonlinearity"]) if "nonlinearity" in args else (True, "leaky_relu")
        ok_m, mode = literal_value(args["mode"]) if "mode" in args else (True, "fan_in")
        if not (ok_a and ok_n and ok_m) or mode not in ("fan_in", "fan_out"):
            return None
        if nonlinearity == "leaky_relu":
            if not isinstance(slope, (int, float)):
                return None
            scale = 2.0 / (1 + slope ** 2)
        elif nonlinearity in _GAINS:
            scale = _GAINS[nonlinearity]
        else:
            return None
    else:
        return None
    distribution = "uniform" if how.endswith("uniform") else "untruncated_normal"
    return f'keras.initializers.VarianceScaling(scale={_number(scale)}, mode="{mode}", distribution="{distribution}")', subs


_METHOD_INITS = {"normal_": "normal", "uniform_": "uniform", "zero_": "zeros", "fill_": "constant"}
_INIT_PARAMS = {
    "normal": ["tensor", "mean", "std", "generator"], "uniform": ["tensor", "a", "b", "generator"],
    "constant": ["tensor", "val"], "zeros": ["tensor"], "ones": ["tensor"],
    "trunc_normal": ["tensor", "mean", "std", "a", "b", "generator"],
    "xavier_uniform": ["tensor", "gain", "generator"], "xavier_normal": ["tensor", "gain", "generator"],
    "kaiming_uniform": ["tensor", "a", "mode", "nonlinearity", "generator"],
    "kaiming_normal": ["tensor", "a", "mode", "nonlinearity", "generator"],
}


def _framework_free(node) -> bool:
    """An argument that reads nothing of the source framework (converted later than the layer)."""
    return "torch" not in code_of(node) and not isinstance(node, (cst.Lambda,))


def move_inits(ctx, info, resolve_call, members_before) -> None:
    """Move ``nn.init.*_(self.<layer>.weight|bias, ...)`` statements of ``info``'s __init__ into
    the layer's Keras constructor (``kernel_initializer=``...). ``members_before(stmt)`` gives
    the layer members assigned before the statement (name -> Member)."""
    _record_members(ctx)
    init = next((s for s in info.node.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None or not isinstance(init.body, cst.IndentedBlock):
        return
    moved = ctx.facts.setdefault("moved_inits", {}).setdefault(id(info.node), [])
    for stmt in init.body.body:
        if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr)):
            continue
        call = stmt.body[0].value
        if not isinstance(call, cst.Call) or any(a.star for a in call.args):
            continue
        api = resolve_call(ctx, call)
        args = list(call.args)
        if api and api.startswith("torch.nn.init.") and api.endswith("_"):
            how = api[len("torch.nn.init."):-1]
        elif not api and isinstance(call.func, cst.Attribute) and call.func.attr.value in _METHOD_INITS:
            # self.fc.weight.data.normal_(mean, std): the same as nn.init.normal_(self.fc.weight, mean, std)
            how = _METHOD_INITS[call.func.attr.value]
            api = "tensor." + call.func.attr.value
            args = [cst.Arg(call.func.value)] + args
        else:
            continue
        params = _INIT_PARAMS.get(how)
        if params is None:
            continue
        bound: dict = {}
        for i, a in enumerate(args):
            name = a.keyword.value if a.keyword is not None else (params[i] if i < len(params) else None)
            if name is None or name not in params:
                bound = {}
                break
            bound[name] = a.value
        if "tensor" not in bound or "generator" in bound:
            continue
        target = _strip_data(bound.pop("tensor"))
        if not (isinstance(target, cst.Attribute) and target.attr.value in ("weight", "bias")):
            continue
        owner = target.value
        if not (isinstance(owner, cst.Attribute) and isinstance(owner.value, cst.Name) and owner.value.value == "self"):
            continue
        member = members_before(stmt).get(owner.attr.value)
        if member is None or member.kind != "layer" or member.plan is None:
            continue
        plan = member.plan
        spec = next((w for w in plan.weights if w.torch == [target.attr.value]), None)
        if spec is None or "." in spec.weight or spec.args.get("optional"):
            continue
        if len(plan.layers) != 1 or any(w.layer != "" for w in plan.weights):
            continue  # one plain Keras layer (not a keras.Sequential with padding or Permutes)
        index = 0
        if not all(_framework_free(v) for v in bound.values()):
            continue
        found = _keras_initializer(how, bound)
        if found is None:
            continue
        text, subs = found
        keyword = f"{spec.weight}_initializer"
        layer_text = plan.layers[index]
        if keyword + "=" in layer_text or not layer_text.endswith(")"):
            continue
        if text == _KERAS_DEFAULTS.get(spec.weight):
            _own(ctx, call)
            moved.append((stmt, call, api, f"keras.layers' default {spec.weight} initializer"))
            continue
        renamed = {}
        for key, node in subs.items():
            new_key = f"i{len(plan.subs) + len(renamed)}"
            renamed[new_key] = node
            text = text.replace("{" + key + "}", "{" + new_key + "}")
        separator = "" if layer_text.endswith("()") else ", "
        plan.layers[index] = layer_text[:-1] + separator + f"{keyword}={text})"
        plan.subs.update(renamed)
        _own(ctx, call)
        moved.append((stmt, call, api, f"{keyword}="))


def on_statement(transformer, original, updated):
    """``w.data = nn.init.*_(w.data..., ...)...``: the statement is the variable's assign()."""
    ctx = transformer.ctx
    call = ctx.facts.get("init_data_assignments", {}).get(id(original))
    if call is None:
        return None
    converted = ctx.results.get(id(call))
    if converted is None:
        return None
    return ctx.mark_new(updated.with_changes(body=[cst.Expr(converted)]))


def _record_members(ctx) -> None:
    """What each member of each converted class of the file is (once, when the classes are
    settled), for ``m.fc.weight`` inside ``if isinstance(m, Block):`` (engine/types.py): the
    kind of a member made as one plain Keras layer (a Linear's Dense: linear_layer),
    ``variable`` for a parameter or buffer (add_weight), None for any other."""
    from .modules import _layer_kind

    if "member_kinds" in ctx.facts:
        return
    recorded = ctx.facts["member_kinds"] = {}
    for info in ctx.facts.get("torch_classes", {}).values():
        if info.problems:
            continue
        kinds = {}
        for member in info.members.values():
            if member.kind in ("parameter", "buffer"):
                kinds[member.name] = "variable"
            else:
                kinds[member.name] = None if member.assigned_twice else _layer_kind(member)
        recorded[id(info.node)] = kinds


def _own(ctx, call) -> None:
    """The statement goes as a whole: no rule converts (or reports) its parts."""
    stack = [call]
    while stack:
        node = stack.pop()
        ctx.owned.add(id(node))
        stack.extend(source_children(node))

