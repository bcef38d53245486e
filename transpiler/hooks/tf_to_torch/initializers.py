"""Keras initializer objects -> torch.nn.init functions.

A Keras initializer is an object called as ``init(shape, dtype)`` that gives a new
tensor; PyTorch's are functions that fill a given tensor in place
(``nn.init.normal_(param, std=0.02)``). Given to a layer that becomes a module
(``kernel_initializer=keras.initializers.RandomNormal(stddev=0.02)``), the
initializer becomes that call on the module's weight (keras_layers.py). Anywhere
else (keras-hub's ``def bert_kernel_initializer(stddev=0.02): return
keras.initializers.TruncatedNormal(stddev=stddev)``) the object becomes the function
with its arguments bound, ``functools.partial(nn.init.trunc_normal_, std=stddev, ...)``,
reported as a warning: it is called on a tensor, not with a shape.

Keras's defaults are written out where PyTorch's differ (stddev 0.05, not 1.0), and
the truncated normal keeps Keras's cut at two standard deviations from the mean
(trunc_normal_'s ``a``/``b`` are absolute bounds).
"""

from __future__ import annotations

import libcst as cst

from ...frameworks import canonical
from .._util import Args, Unconvertible, code_of, literal_value

# canonical source name -> kind
KINDS = {
    "keras.initializers.RandomNormal": "normal", "keras.initializers.random_normal": "normal",
    "tensorflow.random_normal_initializer": "normal",
    "keras.initializers.TruncatedNormal": "truncated", "keras.initializers.truncated_normal": "truncated",
    "tensorflow.compat.v1.truncated_normal_initializer": "truncated",
    "keras.initializers.RandomUniform": "uniform", "keras.initializers.random_uniform": "uniform",
    "tensorflow.random_uniform_initializer": "uniform",
    "keras.initializers.Constant": "constant", "keras.initializers.constant": "constant",
    "tensorflow.constant_initializer": "constant",
    "keras.initializers.Zeros": "zeros", "keras.initializers.zeros": "zeros", "tensorflow.zeros_initializer": "zeros",
    "keras.initializers.Ones": "ones", "keras.initializers.ones": "ones", "tensorflow.ones_initializer": "ones",
    "keras.initializers.GlorotUniform": "glorot_uniform", "keras.initializers.glorot_uniform": "glorot_uniform",
    "keras.initializers.GlorotNormal": "glorot_normal", "keras.initializers.glorot_normal": "glorot_normal",
}
# the source parameters of each kind, in order, with Keras's defaults
PARAMS = {
    "normal": [("mean", 0.0), ("stddev", 0.05), ("seed", None)],
    "truncated": [("mean", 0.0), ("stddev", 0.05), ("seed", None)],
    "uniform": [("minval", -0.05), ("maxval", 0.05), ("seed", None)],
    "constant": [("value", 0.0)],
    "zeros": [], "ones": [],
    "glorot_uniform": [("seed", None)], "glorot_normal": [("seed", None)],
}
FUNCTIONS = {
    "normal": "torch.nn.init.normal_", "truncated": "torch.nn.init.trunc_normal_",
    "uniform": "torch.nn.init.uniform_", "constant": "torch.nn.init.constant_",
    "zeros": "torch.nn.init.zeros_", "ones": "torch.nn.init.ones_",
    "glorot_uniform": "torch.nn.init.xavier_uniform_", "glorot_normal": "torch.nn.init.xavier_normal_",
}
VALUE_WARNING = (
    "a Keras initializer is called as init(shape, dtype) and gives a new tensor; {function} fills the tensor"
    " it is given in place: call it on the parameter (init(module.weight))"
)


def _number(node: cst.BaseExpression):
    ok, value = literal_value(node)
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def _term(node: cst.BaseExpression) -> str:
    text = code_of(node).strip()
    return text if isinstance(node, (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.Call, cst.Subscript)) else f"({text})"


def _bound(mean: cst.BaseExpression | None, std: cst.BaseExpression, sign: int) -> str:
    """mean + sign * 2 * std, folded where the values are literal numbers."""
    m = 0.0 if mean is None else _number(mean)
    s = _number(std)
    if m is not None and s is not None:
        return repr(round(m + sign * 2 * s, 12))
    two_std = f"2 * {_term(std)}"
    if mean is None or m == 0:
        return f"-{two_std}" if sign < 0 else two_std
    return f"{_term(mean)} {'-' if sign < 0 else '+'} {two_std}"


def plan(kind: str, values: dict) -> tuple[str, list[str], list[str]]:
    """(torch function, keyword arguments as code, caveats) for an initializer of ``kind``
    whose given arguments are ``values`` (source name -> node)."""
    function = FUNCTIONS[kind]
    kwargs: list[str] = []
    caveats: list[str] = []
    seed = values.get("seed")
    if seed is not None and code_of(seed).strip() != "None":
        caveats.append(f"seed={code_of(seed).strip()} dropped: seed torch's generator (torch.manual_seed) instead")
    if kind in ("normal", "truncated"):
        mean, std = values.get("mean"), values.get("stddev")
        if mean is not None and _number(mean) == 0:
            mean = None
        std_node = std if std is not None else cst.Float("0.05")
        if mean is not None:
            kwargs.append(f"mean={code_of(mean).strip()}")
        kwargs.append(f"std={code_of(std_node).strip()}")
        if kind == "truncated":
            # Keras redraws values more than two standard deviations from the mean
            kwargs += [f"a={_bound(mean, std_node, -1)}", f"b={_bound(mean, std_node, 1)}"]
    elif kind == "uniform":
        low, high = values.get("minval"), values.get("maxval")
        kwargs += [f"a={code_of(low).strip() if low is not None else '-0.05'}",
                   f"b={code_of(high).strip() if high is not None else '0.05'}"]
    elif kind == "constant":
        value = values.get("value")
        if value is not None and _number(value) is None and not (
            isinstance(value, cst.UnaryOperation) and _number(value.expression) is not None
        ) and not isinstance(value, (cst.Name, cst.Attribute)):
            raise Unconvertible(
                f"Constant({code_of(value).strip()}): torch.nn.init.constant_ fills with one number;"
                " copy an array in with `with torch.no_grad(): param.copy_(torch.as_tensor(value))`"
            )
        kwargs.append(f"val={code_of(value).strip() if value is not None else '0.0'}")
        if isinstance(value, (cst.Name, cst.Attribute)):
            caveats.append(
                f"Constant({code_of(value).strip()}): torch.nn.init.constant_ fills with one number,"
                " where Keras also broadcasts an array"
            )
    return function, kwargs, caveats


def bound_values(call: cst.Call, kind: str) -> dict:
    """The source call's arguments by parameter name (positional ones by their place)."""
    names = [n for n, _ in PARAMS[kind]]
    out, i = {}, 0
    for a in call.args:
        if a.star:
            raise Unconvertible("arguments given with * or **: write them out")
        if a.keyword is not None:
            if a.keyword.value not in names:
                raise Unconvertible(f"argument {a.keyword.value!r} is not one of {names}")
            out[a.keyword.value] = a.value
        else:
            if i >= len(names):
                raise Unconvertible("too many positional arguments")
            out[names[i]] = a.value
            i += 1
    return out


def initializer(args, ctx, original):
    """An initializer object as a value: the torch.nn.init function (with its arguments bound)."""
    qual = ctx.resolver.resolve_chain(original.func)
    kind = KINDS.get(canonical(qual)) if qual else None
    if kind is None:
        raise Unconvertible("no conversion rule for this initializer")
    Args(args, ctx)  # the rule's checks
    function, kwargs, caveats = plan(kind, bound_values(original, kind))
    source = canonical(qual)
    if id(original) in ctx.facts.get("layer_initializers", ()):
        # an argument of a layer that becomes a module: the layer's conversion writes the
        # torch.nn.init call (and its caveats); this expression does not stay
        return ctx.build(function)
    return _as_value(ctx, original, source, function, kwargs, caveats)


# the names keras.initializers.get takes (Keras 3), with Keras's defaults
NAMES = {
    "random_normal": "normal", "normal": "normal", "RandomNormal": "normal", "truncated_normal": "truncated", "TruncatedNormal": "truncated",
    "random_uniform": "uniform", "uniform": "uniform", "RandomUniform": "uniform",
    "zeros": "zeros", "zero": "zeros", "Zeros": "zeros", "ones": "ones", "one": "ones", "Ones": "ones",
    "glorot_uniform": "glorot_uniform", "GlorotUniform": "glorot_uniform",
    "glorot_normal": "glorot_normal", "GlorotNormal": "glorot_normal",
}


def get(args, ctx, original):
    """keras.initializers.get(identifier): a name written in the source becomes its torch.nn.init
    function, an initializer object passes through (its own rule converts it), None stays None;
    an identifier known only at run time (a constructor's argument) is reported."""
    a = Args(args, ctx)
    identifier = a.require("identifier")
    ok, value = literal_value(identifier)
    if ok and value is None:
        return identifier
    if ok and isinstance(value, str):
        if value not in NAMES:
            raise Unconvertible(f"initializer {value!r} has no conversion")
        function, kwargs, caveats = plan(NAMES[value], {})
        return _as_value(ctx, original, "keras.initializers.get", function, kwargs, caveats)
    node = args.get("identifier").original.value if args.get("identifier").original is not None else None
    if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
        qual = ctx.resolver.resolve_chain(node.func)
        if qual and canonical(qual) in KINDS:
            return identifier  # the initializer object, converted by its own rule
    raise Unconvertible(
        f"the initializer is chosen at run time ({code_of(identifier).strip()}: a name or an initializer object); "
        "PyTorch has no initializers by name: call the torch.nn.init function it stands for on the parameters by hand"
    )


def _as_value(ctx, original, source: str, function: str, kwargs: list[str], caveats: list[str]):
    """The torch.nn.init function (its arguments bound) standing for a Keras initializer object."""
    if kwargs:
        from ...engine.spelling import ImportNeed

        ctx.speller.needs.add(ImportNeed("functools"))
        code = f"functools.partial({function}, {', '.join(kwargs)})"
    else:
        code = function
    for caveat in caveats:
        ctx.warn(original, source, caveat)
    ctx.warn(original, source, VALUE_WARNING.format(function=function.replace("torch.nn.init.", "nn.init.")))
    return ctx.build(code)


# -- the first value of a weight made with add_weight -------------------------

# what an initializer's arguments may be made of where the weight is made: numbers, names,
# attributes and arithmetic (a call may compute anything, and a TensorFlow one would stay)
_PLAIN = (
    cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.BinaryOperation, cst.UnaryOperation, cst.Subscript,
    cst.SubscriptElement, cst.Index, cst.Dot, cst.LeftParen, cst.RightParen, cst.BaseBinaryOp, cst.BaseUnaryOp,
    cst.LeftSquareBracket, cst.RightSquareBracket, cst.BaseParenthesizableWhitespace,
)


def plain(node: cst.BaseExpression) -> bool:
    """Numbers, names, attributes, indexing and arithmetic: a value that means the same where
    the weight is made."""
    from ...engine.walk import in_source_order

    return all(isinstance(n, _PLAIN) for n in in_source_order(node))


def constant_lambda(node) -> cst.BaseExpression | None:
    """``lambda *a, **kw: math.log(1 / 0.07)``: an initializer that ignores the shape and dtype it
    is given and returns one number; that number, else None."""
    if not isinstance(node, cst.Lambda):
        return None
    params = node.params
    if params.params or params.posonly_params or params.kwonly_params:
        return None
    return node.body


def weight_kind(ctx, init: cst.BaseExpression | None):
    """(kind, values) of the initializer ``init`` given to add_weight: a name ("zeros"), an
    initializer object of a known kind (keras.initializers.Constant(0.1), tf.zeros_initializer());
    None where it has no conversion (an initializer chosen at run time, a function of the project)."""
    if init is None:
        return "glorot_uniform", {}
    ok, value = literal_value(init)
    if ok:
        return (NAMES[value], {}) if isinstance(value, str) and value in NAMES else None
    if isinstance(init, cst.Call) and isinstance(init.func, (cst.Name, cst.Attribute)):
        qual = ctx.resolver.resolve_chain(init.func)
        kind = KINDS.get(canonical(qual)) if qual else None
        if kind is None:
            return None
        try:
            values = bound_values(init, kind)
        except Unconvertible:
            return None
        return kind, values
    return None


def parameter_value(kind: str, values: dict, shape: str) -> tuple[str, list[str]]:
    """(the tensor a weight of ``shape`` (code) starts as, caveats) for an initializer of
    ``kind``: torch.zeros/torch.ones, else the torch.nn.init function on an empty tensor."""
    if kind == "zeros":
        return f"torch.zeros({shape})", []
    if kind == "ones":
        return f"torch.ones({shape})", []
    function, kwargs, caveats = plan(kind, values)
    return f"{function}({', '.join([f'torch.empty({shape})', *kwargs])})", caveats


def glorot_uniform_value(sizes: list[str]) -> str:
    """Keras's Glorot uniform for a weight of these sizes (code): nn.init.xavier_uniform_ where
    it means the same (two axes); else uniform within Keras's limit, whose fans Keras computes
    otherwise (one axis: n each, where xavier_uniform_ raises; more: the last two axes times the
    others, where PyTorch takes the first two times the rest)."""
    shape = "(" + ", ".join(sizes) + ("," if len(sizes) == 1 else "") + ")"
    if len(sizes) == 2:
        return f"torch.nn.init.xavier_uniform_(torch.empty({shape}))"
    terms = [s if s.isidentifier() or s.isdigit() else f"({s})" for s in sizes]
    if not terms:
        fans = "2"
    elif len(terms) == 1:
        fans = f"2 * {terms[0]}"
    else:
        fans = f"({terms[-2]} + {terms[-1]})" + "".join(f" * {t}" for t in terms[:-2])
    limit = f"(6 / ({fans})) ** 0.5"
    return f"torch.nn.init.uniform_(torch.empty({shape}), -{limit}, {limit})"
