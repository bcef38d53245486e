"""Planning the PyTorch form of one Keras layer, given what flows into it.

PyTorch layers need the sizes Keras infers (``nn.Linear(in, out)``), and PyTorch
works channels-first where Keras works channels-last. A plan says, for one
layer call and the tensor it receives:

* the modules to create (``nn.Conv2d(3, 32, 3)``, maybe a padding module first),
* how ``forward`` applies them (an expression over the input), and whether that
  is a plain chain of modules (then an ``nn.Sequential`` can hold it),
* what comes out (shape and layout), and
* how each Keras weight maps onto a PyTorch parameter (for the weight converter).

Shapes are Keras's (no batch dimension, channels last); a dimension is an int, a
Python expression (a size given by a variable) or None (unknown). A tensor's
``layout`` says how the PyTorch tensor holds it: "keras" (same order) or "cf"
(channels moved to dimension 1, as PyTorch's convolutions want).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, bind_args, literal_value
from ...frameworks import canonical
from . import data_format as formats

Dim = "int | str | None"


@dataclass
class TensorInfo:
    shape: tuple | None  # Keras shape without the batch dimension; None: unknown rank
    layout: str = "keras"  # "keras" or "cf"
    flat_from: tuple | None = None  # a channels-first Flatten's input shape (H, W, C)

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def channels(self):
        return None if not self.shape else self.shape[-1]


@dataclass
class WeightMap:
    """Keras weight ``keras`` of this layer -> PyTorch parameter ``torch`` of module ``module``."""

    keras: str
    torch: str
    transform: str = "copy"  # copy, transpose, conv, conv_transpose, depthwise, gru_gates, ...
    module: int = 0  # index into the plan's modules
    args: dict = field(default_factory=dict)


@dataclass
class ModuleSpec:
    hint: str  # a name for the attribute (conv, dense, pad...)
    template: str  # constructor, full names, {placeholders} for user expressions
    subs: dict = field(default_factory=dict)
    lazy: bool = False


@dataclass
class LayerPlan:
    modules: list[ModuleSpec] = field(default_factory=list)
    # forward expression; {x} is the input, {m0} {m1}... the modules
    apply: str = "{m0}({x})"
    # True when `apply` is just the modules in a row (nn.Sequential can hold them)
    chain: bool = True
    out: TensorInfo = field(default_factory=lambda: TensorInfo(None))
    weights: list[WeightMap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # statements run after the modules are created: "torch.nn.init.xavier_uniform_({m0}.weight)"
    inits: list[str] = field(default_factory=list)
    # several inputs (Add, Concatenate...): apply uses {x0} {x1}...
    multi_input: bool = False
    # the function form of an activation held as the last module (class code prefers F.relu(...))
    activation: str | None = None
    # an RNN with return_state=True: its states (h, or h and c), each of this shape
    states: list[str] = field(default_factory=list)
    state_out: TensorInfo | None = None

    @property
    def one_call(self) -> bool:
        """One module applied to the input as it is (``self.x(t)``): what a forward() call that
        serves another branch's class, or a list's element called as it stands, can be."""
        return self.apply == "{m0}({x})" and len(self.modules) == 1

    def with_function_activation(self) -> "LayerPlan":
        """The same plan with its activation module written as a function call in forward()."""
        if self.activation is None:
            return self
        index = len(self.modules) - 1
        head = f"{{m{index}}}("
        if not (self.apply.startswith(head) and self.apply.endswith(")")):
            return self
        inner = self.apply[len(head):-1]
        return dataclasses.replace(
            self,
            modules=self.modules[:-1],
            apply=self.activation.replace("{x}", inner),
            activation=None,
        )


@dataclass
class LayerCall:
    """A Keras layer constructor call as the source wrote it."""

    kind: str  # canonical name, e.g. keras.layers.Dense
    call: cst.Call
    rule: object
    ctx: object
    values: dict = field(default_factory=dict)  # source arg name -> original expression

    @classmethod
    def bind(cls, kind: str, call: cst.Call, rule, ctx) -> "LayerCall":
        args = bind_args(rule, call, call)
        return cls(kind, call, rule, ctx, {b.name: b.value for b in args.bound})

    @property
    def short(self) -> str:
        return self.kind.rsplit(".", 1)[-1]

    def has(self, name: str) -> bool:
        return name in self.values

    def literal(self, name: str, default=None):
        if name not in self.values:
            return default
        ok, value = literal_value(self.values[name])
        if ok:
            return value
        qual = self.qualname(name)
        if qual is not None:
            return qual
        found, value, why = runtime_format_value(self, name)
        if found:
            return value
        raise Unconvertible(
            f"{self.short}: argument '{name}' is computed at run time ({code_of(self.values[name]).strip()}); its value must be known to convert this layer{why}"
        )

    def qualname(self, name: str) -> str | None:
        node = self.values.get(name)
        if isinstance(node, (cst.Name, cst.Attribute)):
            qual = self.ctx.resolver.resolve_chain(node)
            return canonical(qual) if qual else None
        return None

    def dim(self, name: str, default=None):
        """An int, or the (converted) expression of a size given by a variable."""
        if name not in self.values:
            return default
        ok, value = literal_value(self.values[name])
        if ok and isinstance(value, int) and not isinstance(value, bool):
            return value
        if ok:
            raise Unconvertible(f"{self.short}: argument '{name}' must be an integer")
        return Expr(self.ctx.updated(self.values[name]))

    def number(self, name: str, default=None):
        """A number that means the same in PyTorch (a rate, an epsilon): the literal, or
        the (converted) expression that computes it (self.dropout, config.eps)."""
        if name not in self.values:
            return default
        ok, value = literal_value(self.values[name])
        if ok:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise Unconvertible(f"{self.short}: argument '{name}' must be a number")
            return value
        return Expr(self.ctx.updated(self.values[name]))

    def flag(self, name: str, default: bool):
        """A switch that means the same in PyTorch (use_bias -> bias): the literal, or the
        (converted) expression that computes it (self.use_bias); Keras and PyTorch both
        test only its truth."""
        node = self.values.get(name)
        if node is not None and not literal_value(node)[0] and self.qualname(name) is None:
            return Expr(self.ctx.updated(node))
        return self.literal(name, default)

    def tuple_arg(self, name: str, n: int, default):
        value = self.literal(name, default)
        if isinstance(value, int):
            return (value,) * n
        if isinstance(value, (tuple, list)) and len(value) == n and all(isinstance(v, int) for v in value):
            return tuple(value)
        raise Unconvertible(f"{self.short}: argument '{name}' must be an int or {n} ints")

    def sizes(self, name: str, n: int, default):
        """``tuple_arg``, or an :class:`Expr` for a value computed at run time (a variable
        holding an int or a tuple): Keras and PyTorch both take either, so it is written as
        it is where the conversion does not need the numbers themselves."""
        node = self.values.get(name)
        if node is not None and not literal_value(node)[0] and self.qualname(name) is None:
            return Expr(self.ctx.updated(node))
        return self.tuple_arg(name, n, default)

    def reject(self, *names: str, unless=None) -> None:
        """Arguments this conversion cannot honour, unless they have their default."""
        for name in names:
            if name in self.values:
                node = self.values[name]
                ok, value = literal_value(node)
                if ok and (value is None or (unless is not None and value == unless.get(name, object()))):
                    continue
                raise Unconvertible(f"{self.short}: argument '{name}={code_of(node).strip()}' is not supported")


class Expr:
    """A size given by an expression in the source (a variable, a call)."""

    def __init__(self, node: cst.BaseExpression) -> None:
        self.node = node

    def __repr__(self) -> str:
        return code_of(self.node).strip()


def _is_int(d) -> bool:
    return isinstance(d, int) and not isinstance(d, bool)


def prod(dims) -> "int | None":
    total = 1
    for d in dims:
        if not _is_int(d):
            return None
        total *= d
    return total


# -- activations -----------------------------------------------------------

# activation name -> (module template, function template)
ACTIVATIONS = {
    "relu": ("torch.nn.ReLU()", "torch.nn.functional.relu({x})"),
    "sigmoid": ("torch.nn.Sigmoid()", "torch.sigmoid({x})"),
    "tanh": ("torch.nn.Tanh()", "torch.tanh({x})"),
    "softmax": ("torch.nn.Softmax(dim=-1)", "torch.nn.functional.softmax({x}, dim=-1)"),
    "log_softmax": ("torch.nn.LogSoftmax(dim=-1)", "torch.nn.functional.log_softmax({x}, dim=-1)"),
    "elu": ("torch.nn.ELU()", "torch.nn.functional.elu({x})"),
    "selu": ("torch.nn.SELU()", "torch.nn.functional.selu({x})"),
    "gelu": ("torch.nn.GELU()", "torch.nn.functional.gelu({x})"),
    "silu": ("torch.nn.SiLU()", "torch.nn.functional.silu({x})"),
    "swish": ("torch.nn.SiLU()", "torch.nn.functional.silu({x})"),
    "softplus": ("torch.nn.Softplus()", "torch.nn.functional.softplus({x})"),
    "softsign": ("torch.nn.Softsign()", "torch.nn.functional.softsign({x})"),
    "relu6": ("torch.nn.ReLU6()", "torch.nn.functional.relu6({x})"),
    "leaky_relu": ("torch.nn.LeakyReLU(0.2)", "torch.nn.functional.leaky_relu({x}, 0.2)"),
    "hard_sigmoid": ("torch.nn.Hardsigmoid()", "torch.nn.functional.hardsigmoid({x})"),
    "mish": ("torch.nn.Mish()", "torch.nn.functional.mish({x})"),
    "exponential": (None, "torch.exp({x})"),
    "linear": (None, "{x}"),
}
_ACTIVATION_QUALNAMES = {
    "keras.activations.relu": "relu", "tensorflow.nn.relu": "relu",
    "keras.activations.sigmoid": "sigmoid", "tensorflow.nn.sigmoid": "sigmoid", "tensorflow.sigmoid": "sigmoid", "tensorflow.math.sigmoid": "sigmoid",
    "keras.activations.tanh": "tanh", "tensorflow.nn.tanh": "tanh", "tensorflow.tanh": "tanh", "tensorflow.math.tanh": "tanh",
    "keras.activations.softmax": "softmax", "tensorflow.nn.softmax": "softmax",
    "keras.activations.elu": "elu", "tensorflow.nn.elu": "elu",
    "keras.activations.selu": "selu", "tensorflow.nn.selu": "selu",
    "keras.activations.gelu": "gelu", "keras.activations.silu": "silu", "keras.activations.swish": "silu",
    "tensorflow.nn.silu": "silu", "tensorflow.nn.swish": "silu",
    "keras.activations.softplus": "softplus", "keras.activations.softsign": "softsign",
    "keras.activations.relu6": "relu6", "tensorflow.nn.relu6": "relu6",
    "keras.activations.linear": "linear", "keras.activations.hard_sigmoid": "hard_sigmoid",
    "keras.activations.mish": "mish", "keras.activations.log_softmax": "log_softmax",
    "keras.activations.leaky_relu": "leaky_relu",
}


class RuntimeActivation:
    """An activation the source chooses at run time (``activation=activation``, a name, a
    callable or None): the module ``get_activation(expr)`` (snippets.py) builds, with
    Keras's names mapped to PyTorch's modules."""

    def __init__(self, node: cst.BaseExpression) -> None:
        self.node = node


def activation_name(layer: LayerCall, arg: str = "activation") -> "str | RuntimeActivation | None":
    if arg not in layer.values:
        return None
    node = layer.values[arg]
    ok, value = literal_value(node)
    if ok:
        if value is None:
            return None
        if isinstance(value, str) and value in ACTIVATIONS:
            return value
        raise Unconvertible(f"{layer.short}: activation {value!r} has no conversion")
    qual = layer.qualname(arg)
    if qual in _ACTIVATION_QUALNAMES:
        return _ACTIVATION_QUALNAMES[qual]
    if qual is None and isinstance(node, (cst.Name, cst.Attribute, cst.Subscript, cst.Lambda)):
        # a variable (a constructor parameter, self.activation): its value is known only at run time
        from .training import need_snippet

        need_snippet(layer.ctx, "get_activation")
        return RuntimeActivation(layer.ctx.updated(node))
    raise Unconvertible(f"{layer.short}: activation {code_of(node).strip()} has no conversion")


def _with_runtime_activation(plan: LayerPlan, activation: RuntimeActivation, layout_dim) -> LayerPlan:
    """The module get_activation(...) builds, after the layer's own modules; it stays a module
    (forward() cannot name the constructor's argument)."""
    if layout_dim is None:
        raise Unconvertible(
            "the activation is chosen at run time and may work along an axis (softmax): the input's rank must be known"
        )
    dim = "" if layout_dim == -1 else f", dim={layout_dim}"
    plan.modules.append(ModuleSpec("activation", "get_activation({e0}" + dim + ")", {"e0": activation.node}))
    index = len(plan.modules) - 1
    plan.activation = None
    plan.apply = f"{{m{index}}}(" + plan.apply + ")"
    return plan


def with_activation(plan: LayerPlan, name: "str | RuntimeActivation | None", layout_dim: int | None = -1) -> LayerPlan:
    """Add the layer's activation: a module in a chain, or a function around the output."""
    if isinstance(name, RuntimeActivation):
        return _with_runtime_activation(plan, name, layout_dim)
    if name is None or name == "linear":
        return plan
    module, function = ACTIVATIONS[name]
    if name in ("softmax", "log_softmax") and layout_dim != -1:
        module = module.replace("dim=-1", f"dim={layout_dim}") if module else None
        function = function.replace("dim=-1", f"dim={layout_dim}")
    if plan.chain and module is not None:
        plan.modules.append(ModuleSpec(name, module))
        index = len(plan.modules) - 1
        plan.activation = function
        plan.apply = f"{{m{index}}}(" + plan.apply + ")"
    else:
        plan.apply = function.replace("{x}", plan.apply)
        plan.chain = False
    return plan


# -- initializers ------------------------------------------------------------

_INITIALIZERS = {
    "glorot_uniform": "torch.nn.init.xavier_uniform_({p})",
    "glorot_normal": "torch.nn.init.xavier_normal_({p})",
    "he_uniform": "torch.nn.init.kaiming_uniform_({p}, nonlinearity='relu')",
    "he_normal": "torch.nn.init.kaiming_normal_({p}, nonlinearity='relu')",
    "zeros": "torch.nn.init.zeros_({p})",
    "ones": "torch.nn.init.ones_({p})",
    "orthogonal": "torch.nn.init.orthogonal_({p})",
}
_INITIALIZER_QUALNAMES = {
    "keras.initializers.GlorotUniform": "glorot_uniform", "keras.initializers.GlorotNormal": "glorot_normal",
    "keras.initializers.HeUniform": "he_uniform", "keras.initializers.HeNormal": "he_normal",
    "keras.initializers.Zeros": "zeros", "keras.initializers.Ones": "ones",
    "keras.initializers.Orthogonal": "orthogonal",
}


def initializer_calls(layer: LayerCall, arg: str, param: str) -> tuple[str | None, str | None]:
    """(init template over '{p}', or None) for an explicit initializer; (None, reason) if impossible."""
    if arg not in layer.values:
        return None, None
    node = layer.values[arg]
    ok, value = literal_value(node)
    name = None
    if ok and isinstance(value, str):
        name = value
    elif isinstance(node, cst.Call) and not node.args and isinstance(node.func, (cst.Name, cst.Attribute)):
        qual = layer.ctx.resolver.resolve_chain(node.func)
        name = _INITIALIZER_QUALNAMES.get(canonical(qual)) if qual else None
    if name in _INITIALIZERS:
        return _INITIALIZERS[name].replace("{p}", param), None
    if isinstance(node, cst.Call) and isinstance(node.func, (cst.Name, cst.Attribute)):
        # keras.initializers.RandomNormal(stddev=0.02) and the like (initializers.py)
        from . import initializers

        qual = layer.ctx.resolver.resolve_chain(node.func)
        kind = initializers.KINDS.get(canonical(qual)) if qual else None
        if kind is not None:
            try:
                function, kwargs, caveats = initializers.plan(kind, initializers.bound_values(node, kind))
            except Unconvertible as exc:
                return None, f"{exc}; PyTorch's default initialisation is used"
            # converted as part of this layer: its own rule leaves the caveats out
            layer.ctx.facts.setdefault("layer_initializers", set()).add(id(node))
            return f"{function}({', '.join([param, *kwargs])})", "; ".join(caveats) or None
    return None, f"initializer {code_of(node).strip()} has no conversion; PyTorch's default initialisation is used"


# -- helpers -------------------------------------------------------------------

def _same_padding(size, k, s, d):
    """TensorFlow's 'same' padding for one spatial dimension: (before, after)."""
    if not _is_int(size):
        return None
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _conv_out(size, k, s, d, padding: str):
    if not _is_int(size):
        return None
    if padding == "same":
        return -(-size // s)
    if padding == "causal":
        return -(-size // s) if s == 1 else (size - 1) // s + 1
    return (size - d * (k - 1) - 1) // s + 1


def _spatial_rank(layer: LayerCall) -> int:
    for n in (1, 2, 3):
        if f"{n}D" in layer.short:
            return n
    return 2


def _expect_rank(layer: LayerCall, x: TensorInfo, rank: int) -> None:
    if x.rank is not None and x.rank != rank:
        raise Unconvertible(f"{layer.short} expects inputs of rank {rank + 1} (with the batch), got shape {x.shape}")


def data_format(layer: LayerCall) -> str:
    """'channels_first' or 'channels_last' (Keras's default); a computed value is reported."""
    if "data_format" not in layer.values:
        return "channels_last"
    node = layer.values["data_format"]
    if isinstance(node, cst.Call) and not node.args and isinstance(node.func, (cst.Name, cst.Attribute)):
        qual = layer.ctx.resolver.resolve_chain(node.func)
        if qual and canonical(qual) in ("keras.config.image_data_format", "keras.backend.image_data_format"):
            # Keras's configured format, read as its default (the call's own rule warns)
            return "channels_last"
    ok, fmt = literal_value(node)
    if not ok:
        ok, fmt, why = runtime_format_value(layer, "data_format")
    if not ok:
        raise Unconvertible(
            f"{layer.short}: data_format={code_of(layer.values['data_format']).strip()} is computed at run time "
            f"(it decides the layout); write 'channels_first' or 'channels_last'{why}"
        )
    if fmt is None:
        return "channels_last"
    if fmt not in ("channels_first", "channels_last"):
        raise Unconvertible(f"{layer.short}: data_format={fmt!r} is not a data format")
    return fmt


def runtime_format_value(layer: LayerCall, name: str) -> tuple[bool, object, str]:
    """(True, value, "") for an argument computed at run time from Keras's default data
    format (data_format.py), warned once per data format; else (False, None, why: "" or
    the reason the default cannot be assumed, to add to the layer's own)."""
    verdict = formats.value_of(layer.ctx, layer.values[name])
    if verdict.value is None:
        # where a data format or a channel axis comes from, when that is why it is not known
        return False, None, f" ({verdict.hint})" if verdict.hint and name in ("data_format", "axis") else ""
    if verdict.blocker is not None:
        return False, None, "; " + formats.blocked_note(verdict)
    value = "channels_last" if verdict.value in (formats.NONE, formats.DEFAULT) else verdict.value[1]
    if name == "data_format" and value not in ("channels_first", "channels_last"):
        return False, None, ""
    warned = layer.ctx.facts.setdefault("data_format_warned", set())
    key = verdict.key or id(layer.call)  # once per data format (its first layer), else per layer
    if key not in warned:
        warned.add(key)
        layer.ctx.warn(layer.call, layer.kind, f"{layer.short}: " + formats.default_note(verdict))
    return True, value, ""


def _channels_first(layer: LayerCall) -> None:
    data_format(layer)  # validated; channels-first layers get their view in plan_layer


def _activation_dim(layer: LayerCall) -> int:
    """The PyTorch dimension of a layer's softmax activation (Keras's last axis) on its
    channels-first output: the channels for a channels-last source, the last axis otherwise."""
    return -1 if data_format(layer) == "channels_first" else 1


def _dim_code(d) -> str:
    return repr(d) if _is_int(d) else ("{%s}" % id(d))


class _Subs:
    """Collects user expressions used in a template as placeholders."""

    def __init__(self) -> None:
        self.subs: dict[str, cst.BaseExpression] = {}

    def __call__(self, d) -> str:
        if _is_int(d):
            return repr(d)
        if isinstance(d, Expr):
            key = f"e{len(self.subs)}"
            self.subs[key] = d.node
            return "{" + key + "}"
        if isinstance(d, bool) or d is None or isinstance(d, (float, str)):
            return repr(d)
        if isinstance(d, tuple):
            return "(" + ", ".join(self(x) for x in d) + ("," if len(d) == 1 else "") + ")"
        raise Unconvertible(f"cannot write size {d!r}")


def _pair(values: tuple) -> str:
    return repr(values[0]) if len(set(values)) == 1 else repr(tuple(values))


def identity_module(plan: LayerPlan) -> LayerPlan:
    """A plan that passes its input on (Identity, a linear Activation) as an nn.Identity()
    module, where a module must stand for the layer (a layer made outside a model; one branch
    of an attribute whose other branch is a module); any other plan as it is."""
    if plan.modules or plan.apply != "{x}" or plan.multi_input:
        return plan
    return dataclasses.replace(plan, modules=[ModuleSpec("identity", "torch.nn.Identity()")], apply="{m0}({x})", chain=True)


# -- planners ------------------------------------------------------------------

def plan_dense(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    layer.reject("kernel_constraint", "bias_constraint", "lora_rank", "quantization_config", "activity_regularizer")
    units = layer.dim("units")
    if units is None:
        raise Unconvertible("Dense needs units")
    use_bias = layer.flag("use_bias", True)
    s = _Subs()
    in_features = x.channels
    if in_features is None and layer.has("input_dim"):
        in_features = layer.dim("input_dim")  # Keras 2's declared input size (Dense(8, input_dim=4))
    plan = LayerPlan()
    if in_features is None:
        template = f"torch.nn.LazyLinear({s(units)}{_bias_arg(use_bias, s)})"
        plan.modules.append(ModuleSpec("dense", template, s.subs, lazy=True))
        plan.warnings.append("the input size is not known statically: nn.LazyLinear infers it on the first call")
    else:
        template = f"torch.nn.Linear({s(in_features)}, {s(units)}{_bias_arg(use_bias, s)})"
        plan.modules.append(ModuleSpec("dense", template, s.subs))
    weights = [WeightMap("kernel", "weight", "transpose")]
    if x.flat_from is not None:
        weights = [WeightMap("kernel", "weight", "flatten_rows", args={"shape": list(x.flat_from)})]
    weights += _bias_weights(use_bias)
    plan.weights = weights
    plan.out = TensorInfo(None) if x.shape is None else TensorInfo(tuple(x.shape[:-1]) + (units,))
    _regularizer_warnings(layer, plan)
    _initializers(layer, plan, [("kernel_initializer", "weight"), ("bias_initializer", "bias")])
    return with_activation(plan, activation_name(layer))


def _bias_arg(use_bias, s: _Subs) -> str:
    """The module's bias argument for Keras's use_bias (a literal, or an Expr run time decides)."""
    if isinstance(use_bias, Expr):
        return f", bias={s(use_bias)}"
    return ", bias=False" if use_bias is False else ""


def _bias_weights(use_bias, module: int = 0) -> list[WeightMap]:
    if use_bias is False:
        return []
    # a bias decided at run time is there only when the Keras layer has one
    args = {"optional": True} if isinstance(use_bias, Expr) else {}
    return [WeightMap("bias", "bias", module=module, args=args)]


def _regularizer_warnings(layer: LayerCall, plan: LayerPlan) -> None:
    for name in [n for n in layer.values if n.endswith("_regularizer")]:
        ok, value = literal_value(layer.values[name])
        if ok and value is None:
            continue
        raise Unconvertible(
            f"{layer.short}: {name} has no place in a PyTorch layer; add the penalty to the loss (or use the optimizer's weight_decay for L2) by hand"
        )


def _initializers(layer: LayerCall, plan: LayerPlan, pairs, module: int = -1) -> None:
    index = module if module >= 0 else len(plan.modules) - 1
    for arg, param in pairs:
        template, problem = initializer_calls(layer, arg, "{m%d}.%s" % (index, param))
        if problem:
            plan.warnings.append(f"{arg}: {problem}")
        if template:  # an initializer converted with a caveat has both
            plan.inits.append(template)


def plan_conv(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    n = _spatial_rank(layer)
    _channels_first(layer)
    _expect_rank(layer, x, n + 1)
    layer.reject("kernel_constraint", "bias_constraint", "activity_regularizer")
    transpose = "Transpose" in layer.short
    filters = layer.dim("filters")
    kernel = layer.sizes("kernel_size", n, None)
    strides = layer.sizes("strides", n, 1)
    dilation = layer.sizes("dilation_rate", n, 1)
    groups = layer.dim("groups", 1)  # only PyTorch's module needs it: a computed one is passed on
    padding = str(layer.literal("padding", "valid")).lower()
    use_bias = layer.flag("use_bias", True)
    in_ch = x.channels
    spatial = x.shape[:-1] if x.shape else (None,) * n
    computed = [
        name for name, v in (("kernel_size", kernel), ("strides", strides), ("dilation_rate", dilation)) if isinstance(v, Expr)
    ]
    if computed:
        # sizes computed at run time: written as they are; only valid padding (and 'same'
        # with stride 1) is computed by PyTorch's conv without knowing them
        if not (padding == "valid" or padding == "same" and strides == (1,) * n and not transpose):
            values = ", ".join(f"{name}={code_of(layer.values[name]).strip()}" for name in computed)
            raise Unconvertible(
                f"{layer.short}: {values} {'are' if len(computed) > 1 else 'is'} computed at run time; with "
                f"padding={padding!r} {'their values' if len(computed) > 1 else 'its value'} must be known to convert this layer"
            )
        spatial = (None,) * n  # the output size is not known statically
    kernel_n = (None,) * n if isinstance(kernel, Expr) else kernel  # for the per-axis sizes below
    strides_n = (None,) * n if isinstance(strides, Expr) else strides
    dilation_n = (None,) * n if isinstance(dilation, Expr) else dilation
    s = _Subs()
    plan = LayerPlan()
    cls = ("ConvTranspose" if transpose else "Conv") + f"{n}d"
    extra = ""
    if dilation != (1,) * n:
        extra += f", dilation={s(dilation) if isinstance(dilation, Expr) else _pair(dilation)}"
    if groups != 1:
        extra += f", groups={s(groups)}"
    extra += _bias_arg(use_bias, s)
    out_spatial: list = []
    pad_module = None
    if transpose:
        output_padding = layer.literal("output_padding", None)
        if output_padding is not None:
            raise Unconvertible(f"{layer.short}: output_padding is not supported yet")
        if padding == "valid":
            pad_arg = ""
            out_spatial = [((sz - 1) * st + dl * (k - 1) + 1) if _is_int(sz) else None for sz, k, st, dl in zip(spatial, kernel_n, strides_n, dilation_n)]
        elif padding == "same":
            pads = []
            for k, st, dl in zip(kernel, strides, dilation):
                total = dl * (k - 1) + 1 - st
                if total < 0 or total % 2:
                    raise Unconvertible(f"{layer.short}: padding='same' with kernel {k} and stride {st} pads unevenly; PyTorch's ConvTranspose pads both sides alike")
                pads.append(total // 2)
            pad_arg = f", padding={_pair(tuple(pads))}" if any(pads) else ""
            out_spatial = [sz * st if _is_int(sz) else None for sz, st in zip(spatial, strides)]
        else:
            raise Unconvertible(f"{layer.short}: padding={padding!r} is not supported")
    else:
        if padding == "valid":
            pad_arg = ""
        elif padding == "same" and strides == (1,) * n:
            pad_arg = ", padding='same'"
        elif padding in ("same", "causal"):
            if padding == "causal":
                if n != 1:
                    raise Unconvertible("causal padding is only for Conv1D")
                pads = [((kernel[0] - 1) * dilation[0], 0)]
            else:
                pads = [_same_padding(sz, k, st, dl) for sz, k, st, dl in zip(spatial, kernel, strides, dilation)]
                if any(p is None for p in pads):
                    raise Unconvertible(
                        f"{layer.short}: padding='same' with stride > 1 needs the input size to be known statically (PyTorch's 'same' takes stride 1 only)"
                    )
            if all(a == b for a, b in pads):
                pad_arg = f", padding={_pair(tuple(a for a, _ in pads))}"
            else:
                pad_arg = ""
                flat = []
                for before, after in reversed(pads):
                    flat += [before, after]
                pad_module = ModuleSpec("pad", f"torch.nn.ZeroPad{n}d({tuple(flat)!r})" if n > 1 else f"torch.nn.ConstantPad1d({tuple(flat)!r}, 0.0)")
        else:
            raise Unconvertible(f"{layer.short}: padding={padding!r} is not supported")
        for sz, k, st, dl in zip(spatial, kernel_n, strides_n, dilation_n):
            out_spatial.append(_conv_out(sz, k, st, dl, padding))
    kernel_arg = s(kernel) if isinstance(kernel, Expr) else _pair(kernel)
    stride_arg = f", stride={s(strides) if isinstance(strides, Expr) else _pair(strides)}" if strides != (1,) * n else ""
    if in_ch is None:
        lazy = "torch.nn.Lazy" + cls
        template = f"{lazy}({s(filters)}, {kernel_arg}{stride_arg}{pad_arg}{extra})"
        plan.warnings.append(f"the number of input channels is not known statically: nn.Lazy{cls} infers it")
    else:
        template = f"torch.nn.{cls}({s(in_ch)}, {s(filters)}, {kernel_arg}{stride_arg}{pad_arg}{extra})"
    if pad_module is not None:
        plan.modules.append(pad_module)
        plan.apply = "{m1}({m0}({x}))"
    plan.modules.append(ModuleSpec("conv", template, s.subs, lazy=in_ch is None))
    conv_index = len(plan.modules) - 1
    transform = "conv_transpose" if transpose else "conv"
    plan.weights = [WeightMap("kernel", "weight", transform, module=conv_index)]
    plan.weights += _bias_weights(use_bias, module=conv_index)
    plan.out = TensorInfo(tuple(out_spatial) + (filters,), "cf")
    _regularizer_warnings(layer, plan)
    _initializers(layer, plan, [("kernel_initializer", "weight"), ("bias_initializer", "bias")], module=conv_index)
    return with_activation(plan, activation_name(layer), layout_dim=_activation_dim(layer))


def plan_depthwise(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    """DepthwiseConv1D/2D: a convolution with groups=in_channels. The input channels may be a
    size build() gives (`hidden`, written as it is)."""
    n = _spatial_rank(layer)
    _channels_first(layer)
    _expect_rank(layer, x, n + 1)
    layer.reject("depthwise_constraint", "bias_constraint", "activity_regularizer")
    kernel = layer.sizes("kernel_size", n, None)
    strides = layer.tuple_arg("strides", n, 1)
    dilation = layer.tuple_arg("dilation_rate", n, 1)
    mult = layer.literal("depth_multiplier", 1)
    padding = str(layer.literal("padding", "valid")).lower()
    use_bias = layer.literal("use_bias", True)
    in_ch = x.channels
    if not (_is_int(in_ch) or isinstance(in_ch, Expr)) or not _is_int(mult):
        raise Unconvertible(f"{layer.short} needs the number of input channels to be known statically")
    spatial = x.shape[:-1]
    plan = LayerPlan()
    pad_arg = ""
    if padding == "same":
        if strides == (1,) * n:
            pad_arg = ", padding='same'"
        elif isinstance(kernel, Expr):
            raise Unconvertible(f"{layer.short}: padding='same' with stride > 1 needs the kernel size to be known statically")
        else:
            pads = [_same_padding(sz, k, st, dl) for sz, k, st, dl in zip(spatial, kernel, strides, dilation)]
            if any(p is None for p in pads) or any(a != b for a, b in pads):
                raise Unconvertible(f"{layer.short}: padding='same' with stride > 1 pads unevenly or needs a known input size")
            pad_arg = f", padding={_pair(tuple(a for a, _ in pads))}"
    elif padding != "valid":
        raise Unconvertible(f"{layer.short}: padding={padding!r} is not supported")
    extra = f", stride={_pair(strides)}" if strides != (1,) * n else ""
    extra += f", dilation={_pair(dilation)}" if dilation != (1,) * n else ""
    extra += ", bias=False" if use_bias is False else ""
    s = _Subs()
    kernel_code = s(kernel) if isinstance(kernel, Expr) else _pair(kernel)
    if _is_int(in_ch):
        in_code, out_ch = str(in_ch), in_ch * mult
        out_code = str(out_ch)
    else:
        in_code = s(in_ch)
        out_ch = in_ch if mult == 1 else None
        out_code = in_code if mult == 1 else f"{in_code} * {mult}"
    plan.modules.append(ModuleSpec(
        "depthwise", f"torch.nn.Conv{n}d({in_code}, {out_code}, {kernel_code}{extra}{pad_arg}, groups={in_code})", s.subs,
    ))
    plan.weights = [WeightMap("kernel|depthwise_kernel", "weight", "depthwise")]
    if use_bias is not False:
        plan.weights.append(WeightMap("bias", "bias"))
    if isinstance(kernel, Expr):
        out_spatial = tuple(spatial) if padding == "same" else (None,) * n
    else:
        out_spatial = tuple(_conv_out(sz, k, st, dl, padding) for sz, k, st, dl in zip(spatial, kernel, strides, dilation))
    plan.out = TensorInfo(out_spatial + (out_ch,), "cf")
    _regularizer_warnings(layer, plan)
    return with_activation(plan, activation_name(layer), layout_dim=_activation_dim(layer))


def plan_separable(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    """SeparableConv1D/2D: a depthwise convolution (groups=in) then a pointwise one (kernel 1).
    A kernel size computed at run time is written as it is (ConvBERT's conv_kernel_size): the
    output keeps its length where the padding is 'same' (stride 1), else it is not known."""
    n = _spatial_rank(layer)
    _channels_first(layer)
    _expect_rank(layer, x, n + 1)
    kernel = layer.sizes("kernel_size", n, None)
    strides = layer.tuple_arg("strides", n, 1)
    dilation = layer.tuple_arg("dilation_rate", n, 1)
    mult = layer.literal("depth_multiplier", 1)
    filters = layer.dim("filters")
    padding = str(layer.literal("padding", "valid")).lower()
    use_bias = layer.literal("use_bias", True)
    in_ch = x.channels
    if in_ch is None or not isinstance(mult, int):
        raise Unconvertible(f"{layer.short} needs the number of input channels to be known statically")
    if padding == "same" and strides != (1,) * n:
        raise Unconvertible(f"{layer.short}: padding='same' with stride > 1 is not supported yet")
    pad_arg = ", padding='same'" if padding == "same" else ""
    extra = f", stride={_pair(strides)}" if strides != (1,) * n else ""
    extra += f", dilation={_pair(dilation)}" if dilation != (1,) * n else ""
    s = _Subs()
    kernel_code = s(kernel) if isinstance(kernel, Expr) else _pair(kernel)
    # the input channels: a number, or the size build() gives (`hidden`, written as it is)
    in_code = str(in_ch) if _is_int(in_ch) else s(in_ch)
    mid_code = str(in_ch * mult) if _is_int(in_ch) else (in_code if mult == 1 else f"{in_code} * {mult}")
    conv = f"torch.nn.Conv{n}d"
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("depthwise", f"{conv}({in_code}, {mid_code}, {kernel_code}{extra}{pad_arg}, groups={in_code}, bias=False)", s.subs))
    plan.modules.append(ModuleSpec("pointwise", f"{conv}({mid_code}, {s(filters)}, 1" + (", bias=False)" if use_bias is False else ")"), s.subs))
    plan.apply = "{m1}({m0}({x}))"
    plan.weights = [
        WeightMap("depthwise_kernel", "weight", "depthwise", module=0),
        WeightMap("pointwise_kernel", "weight", "conv", module=1),
    ]
    if use_bias is not False:
        plan.weights.append(WeightMap("bias", "bias", module=1))
    spatial = x.shape[:-1] if x.shape else (None,) * n
    if isinstance(kernel, Expr):
        out_spatial = tuple(spatial) if padding == "same" else (None,) * n
    else:
        out_spatial = tuple(_conv_out(sz, k, st, dl, padding) for sz, k, st, dl in zip(spatial, kernel, strides, dilation))
    plan.out = TensorInfo(out_spatial + (filters,), "cf")
    return with_activation(plan, activation_name(layer), layout_dim=_activation_dim(layer))


def plan_pool(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    n = _spatial_rank(layer)
    _channels_first(layer)
    _expect_rank(layer, x, n + 1)
    kind = "Max" if layer.short.startswith("Max") else "Avg"
    pool = layer.sizes("pool_size", n, 2)
    strides_node = layer.values.get("strides")
    strides = pool if strides_node is None or literal_value(strides_node) == (True, None) else layer.sizes("strides", n, 1)
    padding = str(layer.literal("padding", "valid")).lower()
    spatial = x.shape[:-1] if x.shape else (None,) * n
    s = _Subs()
    computed = [name for name, v in (("pool_size", pool), ("strides", strides)) if isinstance(v, Expr) and name in layer.values]
    if computed:
        # sizes computed at run time: written as they are; 'same' padding needs their values
        if padding != "valid":
            values = ", ".join(f"{name}={code_of(layer.values[name]).strip()}" for name in computed)
            raise Unconvertible(
                f"{layer.short}: {values} {'are' if len(computed) > 1 else 'is'} computed at run time; with "
                f"padding={padding!r} {'their values' if len(computed) > 1 else 'its value'} must be known to convert this layer"
            )
        spatial = (None,) * n  # the output size is not known statically
    extra = ""
    if not _same_sizes(strides, pool):
        extra += f", stride={s(strides) if isinstance(strides, Expr) else _pair(strides)}"
    if padding == "same":
        pads = [_same_padding(sz, k, st, 1) for sz, k, st in zip(spatial, pool, strides)]
        if any(p is None for p in pads):
            raise Unconvertible(f"{layer.short}: padding='same' needs the input size to be known statically")
        if any(a != b for a, b in pads):
            raise Unconvertible(f"{layer.short}: padding='same' pads unevenly here; PyTorch pools pad both sides alike")
        if any(a for a, _ in pads):
            extra += f", padding={_pair(tuple(a for a, _ in pads))}"
            if kind == "Avg":
                extra += ", count_include_pad=False"  # TensorFlow averages over real values only
    elif padding != "valid":
        raise Unconvertible(f"{layer.short}: padding={padding!r} is not supported")
    plan = LayerPlan()
    pool_arg = s(pool) if isinstance(pool, Expr) else _pair(pool)
    plan.modules.append(ModuleSpec("pool", f"torch.nn.{kind}Pool{n}d({pool_arg}{extra})", s.subs))
    if computed:
        out_spatial = spatial
    else:
        out_spatial = tuple(_conv_out(sz, k, st, 1, padding) for sz, k, st in zip(spatial, pool, strides))
    plan.out = TensorInfo(out_spatial + (x.channels,), "cf")
    return plan


def _same_sizes(strides, pool) -> bool:
    """Whether a pooling layer's strides are its pool size (PyTorch's default stride)."""
    if isinstance(strides, Expr) and isinstance(pool, Expr):
        # the same variable (strides=self.pool_size, pool_size=self.pool_size)
        return strides is pool or (
            isinstance(strides.node, (cst.Name, cst.Attribute)) and code_of(strides.node).strip() == code_of(pool.node).strip()
        )
    return strides == pool


def plan_global_pool(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    n = _spatial_rank(layer)
    _channels_first(layer)
    _expect_rank(layer, x, n + 1)
    kind = "Max" if "Max" in layer.short else "Avg"
    keepdims = layer.literal("keepdims", False)
    plan = LayerPlan()
    if x.layout == "cf":
        plan.modules.append(ModuleSpec("pool", f"torch.nn.Adaptive{kind}Pool{n}d(1)"))
        if keepdims:
            plan.out = TensorInfo((1,) * n + (x.channels,), "cf")
        else:
            plan.modules.append(ModuleSpec("flatten", "torch.nn.Flatten()"))
            plan.apply = "{m1}({m0}({x}))"
            plan.out = TensorInfo((x.channels,), "keras")
    else:  # a sequence (N, T, C): reduce over the time axis
        dims = tuple(range(1, n + 1))
        dim = dims[0] if n == 1 else dims
        func = "mean" if kind == "Avg" else "amax"
        plan.modules = []
        plan.apply = f"{{x}}.{func}(dim={dim!r}" + (", keepdim=True)" if keepdims else ")")
        plan.chain = False
        plan.out = TensorInfo(((1,) * n if keepdims else ()) + (x.channels,), "keras")
    return plan


def plan_flatten(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("flatten", "torch.nn.Flatten()"))
    size = prod(x.shape) if x.shape else None
    if x.layout == "cf" and x.rank and x.rank > 1:
        plan.out = TensorInfo((size,), "keras", flat_from=tuple(x.shape))
    else:
        plan.out = TensorInfo((size,), "keras")
    return plan


def plan_dropout(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    s = _Subs()
    rate = layer.number("rate")
    if rate is None:
        raise Unconvertible(f"{layer.short} needs rate")
    rate = s(rate)
    layer.reject("noise_shape")
    plan = LayerPlan()
    name = "Dropout"
    if layer.short.startswith("SpatialDropout"):
        n = _spatial_rank(layer)
        if x.layout != "cf" and n != 1:
            raise Unconvertible(f"{layer.short} on channels-last data")
        if n == 1 and x.layout != "cf":
            plan.modules.append(ModuleSpec("dropout", f"torch.nn.Dropout1d({rate})", s.subs))
            plan.apply = "{m0}({x}.transpose(1, 2)).transpose(1, 2)"
            plan.chain = False
            plan.out = x
            return plan
        name = f"Dropout{n}d"
    plan.modules.append(ModuleSpec("dropout", f"torch.nn.{name}({rate})", s.subs))
    plan.out = x
    return plan


def _keras_axis_to_torch(axis: int, x: TensorInfo) -> int:
    """A Keras axis (batch included) as a dimension of the PyTorch tensor."""
    if x.rank is None:
        if axis == -1 and x.layout == "keras":
            return -1
        raise Unconvertible("the axis cannot be placed: the input rank is not known statically")
    full = x.rank + 1
    if axis < 0:
        axis += full
    if x.layout != "cf":
        return axis if axis != full - 1 else -1
    if axis == 0:
        return 0
    if axis == full - 1:
        return 1
    return axis + 1


def plan_batchnorm(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    axis = layer.literal("axis", -1)
    if _bn_channels_first(layer, x):
        return _plan_batchnorm_cf(layer, x)
    if axis not in (-1, (x.rank if x.rank else -1)):
        raise Unconvertible("BatchNormalization over an axis other than the last (channels) one or axis=1")
    layer.reject("renorm", "synchronized", "beta_constraint", "gamma_constraint", unless={"renorm": False, "synchronized": False})
    momentum = layer.literal("momentum", 0.99)
    epsilon = layer.number("epsilon", 1e-3)
    center = layer.literal("center", True)
    scale = layer.literal("scale", True)
    if center != scale:
        raise Unconvertible("BatchNormalization with only one of center/scale: PyTorch's affine switches both")
    channels = x.channels
    if not _is_int(channels) and not isinstance(channels, Expr):
        raise Unconvertible("BatchNormalization needs the number of channels to be known statically")
    rank = x.rank
    plan = LayerPlan()
    s = _Subs()
    torch_momentum = _fold(1 - momentum)
    dims = {1: 1, 2: 1, 3: 2, 4: 3}.get(rank)
    if dims is None:
        raise Unconvertible("BatchNormalization on inputs of this rank")
    extra = f", eps={s(epsilon)}, momentum={torch_momentum!r}"
    if center is False:
        extra += ", affine=False"
    plan.modules.append(ModuleSpec("bn", f"torch.nn.BatchNorm{dims}d({s(channels)}{extra})", s.subs))
    if rank == 2 and x.layout != "cf":  # (N, T, C): PyTorch's BatchNorm1d wants (N, C, T)
        plan.apply = "{m0}({x}.transpose(1, 2)).transpose(1, 2)"
        plan.chain = False
    plan.weights = [] if center is False else [WeightMap("gamma", "weight"), WeightMap("beta", "bias")]
    plan.weights += [WeightMap("moving_mean", "running_mean"), WeightMap("moving_variance", "running_var")]
    plan.out = x if rank != 1 else TensorInfo(x.shape, "keras")
    plan.notes.append("momentum and epsilon are Keras's (PyTorch's momentum is 1 - Keras's)")
    return plan


def _bn_channels_first(layer: LayerCall, x: TensorInfo) -> bool:
    """BatchNormalization(axis=1) on data of rank > 2 (with the batch): channels-first data."""
    if "axis" not in layer.values:
        return False
    ok, axis = literal_value(layer.values["axis"])
    if not ok or not isinstance(axis, int) or isinstance(axis, bool):
        return False
    return x.rank is not None and x.rank >= 2 and (axis == 1 or axis == -(x.rank + 1) + 1)


def _plan_batchnorm_cf(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    """BatchNormalization(axis=1): Keras's order is PyTorch's (N, C, ...), the module applies as it is."""
    if x.layout != "keras":
        raise Unconvertible("BatchNormalization(axis=1) on a tensor held channels-first: move it to Keras's order first")
    view = TensorInfo(tuple(x.shape[1:]) + (x.shape[0],), "cf")
    rest = {k: v for k, v in layer.values.items() if k != "axis"}
    plan = plan_batchnorm(dataclasses.replace(layer, values=rest), view)
    plan.out = x
    return plan


def _fold(value: float) -> float:
    return float(f"{value:.12g}")


def plan_layernorm(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    axis = layer.literal("axis", -1)
    if axis not in (-1, x.rank):
        raise Unconvertible("LayerNormalization over an axis other than the last one is not supported yet")
    epsilon = layer.number("epsilon", 1e-3)
    center = layer.literal("center", True)
    scale = layer.literal("scale", True)
    if not center and not scale:
        extra = ", elementwise_affine=False"
    elif center and scale:
        extra = ""
    elif scale and not center:
        extra = ", bias=False"
    else:
        raise Unconvertible("LayerNormalization with center but no scale")
    s = _Subs()
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("norm", f"torch.nn.LayerNorm({s(x.channels)}, eps={s(epsilon)}{extra})", s.subs))
    if x.channels is None:
        raise Unconvertible("LayerNormalization needs the size of the last axis to be known statically")
    if x.layout == "cf" and x.rank and x.rank > 1:
        plan.apply = "{m0}({x}.movedim(1, -1)).movedim(-1, 1)"
        plan.chain = False
    plan.weights = []
    if scale:
        plan.weights.append(WeightMap("gamma", "weight"))
    if center:
        plan.weights.append(WeightMap("beta", "bias"))
    plan.out = x
    return plan


def plan_rmsnorm(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    """keras.layers.RMSNormalization -> nn.RMSNorm: x * rsqrt(mean(x²) + epsilon) * scale over
    the last axis in both (Keras on the torch backend calls F.rms_norm itself); Keras's
    epsilon (1e-6) is written out, PyTorch's default being the dtype's machine epsilon."""
    axis = layer.literal("axis", -1)
    epsilon = layer.number("epsilon", 1e-6)
    s = _Subs()
    if isinstance(axis, (list, tuple)) and len(axis) > 1:
        # trailing axes ([-2, -1]): nn.RMSNorm over those sizes, in Keras's order
        k = len(axis)
        trailing = x.rank is not None and sorted(a - x.rank - 1 if a > 0 else a for a in axis) == list(range(-k, 0))
        if not trailing or x.layout != "keras" or any(d is None for d in x.shape[-k:]):
            raise Unconvertible("RMSNormalization over several axes: only the last ones, with their sizes known")
        size = "(" + ", ".join(s(d) for d in x.shape[-k:]) + ")"
    else:
        if isinstance(axis, (list, tuple)):
            axis = axis[0]
        if axis not in (-1, x.rank):
            raise Unconvertible("RMSNormalization over an axis other than the last one is not supported yet")
        if x.channels is None:
            raise Unconvertible("RMSNormalization needs the size of the last axis to be known statically")
        size = s(x.channels)
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("norm", f"torch.nn.RMSNorm({size}, eps={s(epsilon)})", s.subs))
    if x.layout == "cf" and x.rank and x.rank > 1:
        plan.apply = "{m0}({x}.movedim(1, -1)).movedim(-1, 1)"
        plan.chain = False
    plan.weights = [WeightMap("scale", "weight")]
    plan.out = x
    return plan


def plan_embedding(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    layer.reject("embeddings_constraint", "weights", "lora_rank", "quantization_config")
    if layer.literal("mask_zero", False):
        raise Unconvertible("Embedding(mask_zero=True): PyTorch has no masks; pass a padding mask to the layers that need it")
    s = _Subs()
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("embedding", f"torch.nn.Embedding({s(layer.dim('input_dim'))}, {s(layer.dim('output_dim'))})", s.subs))
    plan.weights = [WeightMap("embeddings", "weight")]
    base = x.shape if x.shape is not None else (None,)
    plan.out = TensorInfo(tuple(base) + (layer.dim("output_dim"),), "keras")
    _regularizer_warnings(layer, plan)
    return plan


def plan_reversible_embedding(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    """keras.layers.ReversibleEmbedding -> the TiedEmbedding module written once in the
    output (snippets.py; not named after the Keras class, which the file may still import): nn.Embedding, and with reverse=True the projection back to the
    vocabulary (F.linear with the tied or the separate weight, then the soft cap)."""
    from .training import need_snippet

    layer.reject("embeddings_constraint", "reverse_dtype", "lora_rank", "quantization_config")
    if layer.literal("mask_zero", False):
        raise Unconvertible("ReversibleEmbedding(mask_zero=True): PyTorch has no masks; pass a padding mask to the layers that need it")
    s = _Subs()
    parts = [s(layer.dim("input_dim")), s(layer.dim("output_dim"))]
    for name in ("tie_weights", "logit_soft_cap"):
        if name in layer.values:
            ok, value = literal_value(layer.values[name])
            parts.append(f"{name}={value!r}" if ok else f"{name}={s(Expr(layer.ctx.updated(layer.values[name])))}")
    need_snippet(layer.ctx, "TiedEmbedding")
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("embedding", f"TiedEmbedding({', '.join(parts)})", s.subs))
    plan.weights = [WeightMap("embeddings", "weight")]
    tie = layer.values.get("tie_weights")
    if tie is not None and literal_value(tie) != (True, True):  # a separate output weight (or maybe one)
        plan.weights.append(WeightMap("reverse_embeddings", "reverse_weight", "transpose"))
    base = x.shape if x.shape is not None else (None,)
    plan.out = TensorInfo(tuple(base) + (layer.dim("output_dim"),), "keras")
    _regularizer_warnings(layer, plan)
    return plan


_RNN = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}


def plan_rnn(layer: LayerCall, x: TensorInfo, *, bidirectional: bool = False, merge: str = "concat") -> LayerPlan:
    kind = layer.short
    _expect_rank(layer, x, 2)
    if x.layout == "cf":
        raise Unconvertible(f"{kind} after a channels-first layer (Conv1D): transpose first")
    layer.reject("go_backwards", "stateful", "kernel_constraint", "recurrent_constraint", "bias_constraint", "activity_regularizer",
                 unless={"go_backwards": False, "stateful": False})
    return_state = bool(layer.literal("return_state", False))
    if return_state and (bidirectional or not getattr(layer, "states_ok", False)):
        raise Unconvertible(
            f"{kind}(return_state=True): converted only unidirectional, unpacked into names in a functional model "
            "(out, h, c = LSTM(n, return_state=True)(x)); unpack (output, state) from the PyTorch module by hand"
        )
    if layer.literal("dropout", 0.0) or layer.literal("recurrent_dropout", 0.0):
        raise Unconvertible(f"{kind} with dropout/recurrent_dropout: PyTorch's RNN modules drop between layers only")
    units = layer.dim("units")
    activation = layer.literal("activation", "tanh")
    if kind in ("LSTM", "GRU"):
        if layer.literal("recurrent_activation", "sigmoid") != "sigmoid" or activation != "tanh":
            raise Unconvertible(f"{kind} with non-default activations has no PyTorch module")
    extra = ""
    if kind == "SimpleRNN":
        if activation not in ("tanh", "relu"):
            raise Unconvertible(f"SimpleRNN(activation={activation!r}) has no PyTorch module")
        if activation == "relu":
            extra += ", nonlinearity='relu'"
    if kind == "GRU" and layer.literal("reset_after", True) is False:
        raise Unconvertible("GRU(reset_after=False) computes the candidate differently from PyTorch's GRU")
    use_bias = layer.literal("use_bias", True)
    if use_bias is False:
        extra += ", bias=False"
    if bidirectional:
        extra += ", bidirectional=True"
    in_size = x.channels
    if in_size is None:
        raise Unconvertible(f"{kind}: the input feature size is not known statically")
    s = _Subs()
    plan = LayerPlan()
    plan.modules.append(ModuleSpec(kind.lower(), f"torch.nn.{_RNN[kind]}({s(in_size)}, {s(units)}, batch_first=True{extra})", s.subs))
    sequences = layer.literal("return_sequences", False)
    width = units if not bidirectional else (units * 2 if _is_int(units) else None)
    if bidirectional and merge != "concat":
        raise Unconvertible(f"Bidirectional(merge_mode={merge!r}) is not supported yet")
    if sequences:
        plan.apply = "{m0}({x})[0]"
        plan.out = TensorInfo((x.shape[0], width), "keras")
    else:
        if bidirectional:
            # the final states of both directions, side by side: (2, N, H) -> (N, 2H)
            state = "[1][0]" if kind == "LSTM" else "[1]"
            plan.apply = "{m0}({x})" + state + ".transpose(0, 1).flatten(1)"
        else:
            plan.apply = "{m0}({x})[0][:, -1]"
        plan.out = TensorInfo((width,), "keras")
    plan.chain = False
    if return_state:
        # forward() unpacks the module's (output, states) itself: see functional.state_code
        plan.apply = "{m0}({x})"
        plan.states = ["h", "c"] if kind == "LSTM" else ["h"]
        plan.state_out = TensorInfo((units,), "keras")
    transform = {"LSTM": "rnn", "GRU": "gru", "SimpleRNN": "rnn"}[kind]
    suffixes = ["l0"] + (["l0_reverse"] if bidirectional else [])
    plan.weights = []
    for direction, suffix in enumerate(suffixes):
        prefix = "forward_layer/" if bidirectional and direction == 0 else ("backward_layer/" if bidirectional else "")
        plan.weights.append(WeightMap(prefix + "kernel", f"weight_ih_{suffix}", transform, args={"part": "input"}))
        plan.weights.append(WeightMap(prefix + "recurrent_kernel", f"weight_hh_{suffix}", transform, args={"part": "recurrent"}))
        if use_bias is not False:
            plan.weights.append(WeightMap(prefix + "bias", f"bias_ih_{suffix}", transform, args={"part": "bias", "hh": f"bias_hh_{suffix}"}))
    return plan


def plan_bidirectional(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    inner = layer.values.get("layer")
    if not isinstance(inner, cst.Call) or not isinstance(inner.func, (cst.Name, cst.Attribute)):
        raise Unconvertible("Bidirectional needs the wrapped layer written inline")
    qual = layer.ctx.resolver.resolve_chain(inner.func)
    kind = canonical(qual) if qual else None
    rule = layer.ctx.ruleset.lookup(kind) if kind else None
    if kind not in ("keras.layers.LSTM", "keras.layers.GRU", "keras.layers.SimpleRNN") or rule is None:
        raise Unconvertible("Bidirectional wraps only LSTM, GRU or SimpleRNN here")
    if layer.has("backward_layer"):
        raise Unconvertible("Bidirectional(backward_layer=...) is not supported")
    merge = layer.literal("merge_mode", "concat")
    inner_call = LayerCall.bind(kind, inner, rule, layer.ctx)
    layer.ctx.owned.add(id(inner))  # converted as part of this layer
    return plan_rnn(inner_call, x, bidirectional=True, merge=merge)


_ACTIVATION_LAYERS = {
    "ReLU": None, "LeakyReLU": None, "Softmax": None, "ELU": None, "Activation": None, "PReLU": None,
}


def plan_activation_layer(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    plan = LayerPlan()
    short = layer.short
    if short == "Activation":
        name = activation_name(layer, "activation")
        plan.modules = []
        plan.apply = "{x}"
        plan.out = x
        if isinstance(name, RuntimeActivation):  # softmax or not: its axis must be placed
            try:
                dim = _keras_axis_to_torch(-1, x)
            except Unconvertible:
                dim = None
        else:
            dim = _keras_axis_to_torch(-1, x) if name in ("softmax", "log_softmax") else -1
        return with_activation(plan, name, layout_dim=dim)
    if short == "ReLU":
        max_value = layer.literal("max_value", None)
        slope = layer.literal("negative_slope", 0.0)
        threshold = layer.literal("threshold", 0.0)
        if threshold:
            raise Unconvertible("ReLU(threshold=...) has no PyTorch module")
        if slope and max_value is not None:
            raise Unconvertible("ReLU with both negative_slope and max_value")
        if slope:
            module = f"torch.nn.LeakyReLU({float(slope)!r})"
        elif max_value is None:
            module = "torch.nn.ReLU()"
        elif max_value == 6:
            module = "torch.nn.ReLU6()"
        else:
            module = f"torch.nn.Hardtanh(0.0, {float(max_value)!r})"
    elif short == "LeakyReLU":
        slope = layer.literal("negative_slope", None)
        if slope is None:
            slope = layer.literal("alpha", 0.3)
        module = f"torch.nn.LeakyReLU({float(slope)!r})"
    elif short == "ELU":
        module = f"torch.nn.ELU({float(layer.literal('alpha', 1.0))!r})"
    elif short == "Softmax":
        dim = _keras_axis_to_torch(layer.literal("axis", -1), x)
        module = f"torch.nn.Softmax(dim={dim})"
    else:
        raise Unconvertible(f"{short} is not supported yet")
    plan.modules.append(ModuleSpec(short.lower(), module))
    plan.out = x
    return plan


def plan_reshape(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    target = layer.literal("target_shape")
    if not isinstance(target, (tuple, list)) or not all(isinstance(v, int) for v in target):
        raise Unconvertible("Reshape needs a literal target shape")
    target = tuple(target)
    if -1 in target and x.shape:
        size = prod(x.shape)
        known = prod([t for t in target if t != -1])
        if size is not None and known:
            target = tuple(size // known if t == -1 else t for t in target)
    plan = LayerPlan()
    if x.rank == 1:
        plan.modules.append(ModuleSpec("unflatten", f"torch.nn.Unflatten(1, {target!r})"))
    else:
        plan.apply = f"{{x}}.reshape(-1, *{target!r})"
        plan.chain = False
    plan.out = TensorInfo(target, "keras")
    return plan


def plan_permute(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    dims = layer.literal("dims")
    if x.layout == "cf":
        raise Unconvertible("Permute after a channels-first layer is not supported yet")
    plan = LayerPlan(chain=False)
    plan.apply = "{x}.permute(0, " + ", ".join(str(d) for d in dims) + ")"
    if x.shape:
        plan.out = TensorInfo(tuple(x.shape[d - 1] for d in dims), "keras")
    return plan


def plan_zero_padding(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    n = _spatial_rank(layer)
    _channels_first(layer)
    node = layer.values.get("padding")
    if node is not None and not literal_value(node)[0] and layer.qualname("padding") is None:
        return _zero_padding_at_run_time(layer, x, n)
    value = layer.literal("padding", 1)
    pairs = _pad_pairs(value, n, "padding")
    flat = []
    for before, after in reversed(pairs):
        flat += [before, after]
    plan = LayerPlan()
    module = f"torch.nn.ZeroPad{n}d({tuple(flat)!r})" if n > 1 else f"torch.nn.ConstantPad1d({tuple(flat)!r}, 0.0)"
    plan.modules.append(ModuleSpec("pad", module))
    spatial = x.shape[:-1] if x.shape else (None,) * n
    plan.out = TensorInfo(tuple((sz + a + b) if _is_int(sz) else None for sz, (a, b) in zip(spatial, pairs)) + (x.channels,), "cf")
    return plan


def _zero_padding_at_run_time(layer: LayerCall, x: TensorInfo, n: int) -> LayerPlan:
    """``ZeroPadding2D(padding=padding)``, its value known at run time: PyTorch's padding module
    takes it as it is. An int pads every side by it in both; a tuple, which Keras reads per axis
    and PyTorch per side, makes the module raise (except ZeroPadding1D's (left, right), read
    the same), so no tuple is silently read another way."""
    s = _Subs()
    value = s(layer.dim("padding"))
    module = f"torch.nn.ZeroPad{n}d({value})" if n > 1 else f"torch.nn.ConstantPad1d({value}, 0.0)"
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("pad", module, s.subs))
    plan.out = TensorInfo((None,) * n + (x.channels if x.shape else None,), "cf")
    node = layer.values["padding"]
    if n > 1 and not (isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.FloorDivide)):  # k // 2: a number
        plan.warnings.append(
            f"padding={code_of(node).strip()} is computed at run time: taken as one number for every"
            " side; a per-axis tuple must be written as PyTorch's (left, right, top, bottom)"
        )
    return plan


def _pad_pairs(value, n: int, name: str):
    if isinstance(value, int):
        return [(value, value)] * n
    if n == 1 and isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return [(int(value[0]), int(value[1]))]
    if isinstance(value, (tuple, list)) and len(value) == n:
        pairs = []
        for v in value:
            if isinstance(v, int):
                pairs.append((v, v))
            elif isinstance(v, (tuple, list)) and len(v) == 2:
                pairs.append((int(v[0]), int(v[1])))
            else:
                raise Unconvertible(f"unsupported {name} {value!r}")
        return pairs
    raise Unconvertible(f"unsupported {name} {value!r}")


def plan_cropping(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    n = _spatial_rank(layer)
    _channels_first(layer)
    pairs = _pad_pairs(layer.literal("cropping", 1 if n == 1 else ((0, 0),) * n), n, "cropping")
    plan = LayerPlan(chain=False)
    slices = []
    for before, after in pairs:
        slices.append(f"{before or ''}:{-after if after else ''}")
    plan.apply = "{x}[:, :, " + ", ".join(slices) + "]"
    spatial = x.shape[:-1] if x.shape else (None,) * n
    plan.out = TensorInfo(tuple((sz - a - b) if _is_int(sz) else None for sz, (a, b) in zip(spatial, pairs)) + (x.channels,), "cf")
    return plan


def plan_upsampling(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    n = _spatial_rank(layer)
    _channels_first(layer)
    size = layer.tuple_arg("size", n, 2)
    interpolation = layer.literal("interpolation", "nearest")
    mode = {"nearest": "nearest", "bilinear": "bilinear"}.get(interpolation)
    if mode is None or (mode == "bilinear" and n != 2):
        raise Unconvertible(f"{layer.short}(interpolation={interpolation!r}) is not supported")
    plan = LayerPlan()
    scale = size[0] if len(set(size)) == 1 else size
    extra = ", mode='bilinear'" if mode == "bilinear" else ""
    plan.modules.append(ModuleSpec("upsample", f"torch.nn.Upsample(scale_factor={scale!r}{extra})"))
    spatial = x.shape[:-1] if x.shape else (None,) * n
    plan.out = TensorInfo(tuple((sz * f) if _is_int(sz) else None for sz, f in zip(spatial, size)) + (x.channels,), "cf")
    return plan


def plan_rescaling(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    scale = layer.literal("scale")
    offset = layer.literal("offset", 0.0)
    plan = LayerPlan(chain=False)
    plan.apply = f"{{x}} * {scale!r}" + (f" + {offset!r}" if offset else "")
    plan.out = x
    return plan


def plan_identity(layer: LayerCall, x: TensorInfo) -> LayerPlan:
    return LayerPlan(apply="{x}", chain=False, out=x)


_MERGE = {"Add": " + ", "Subtract": " - ", "Multiply": " * "}


def plan_merge(layer: LayerCall, inputs: list[TensorInfo]) -> LayerPlan:
    plan = LayerPlan(chain=False, multi_input=True)
    short = layer.short
    first = inputs[0] if inputs else TensorInfo(None)
    names = [f"{{x{i}}}" for i in range(len(inputs))]
    layouts = {t.layout for t in inputs}
    if len(layouts) > 1:
        raise Unconvertible(f"{short}: inputs in different layouts")
    if short in _MERGE:
        if short == "Subtract" and len(inputs) != 2:
            raise Unconvertible("Subtract takes two inputs")
        plan.apply = _MERGE[short].join(names)
        plan.out = first
    elif short == "Average":
        plan.apply = "(" + " + ".join(names) + f") / {len(names)}"
        plan.out = first
    elif short in ("Maximum", "Minimum"):
        func = "torch.maximum" if short == "Maximum" else "torch.minimum"
        expr = names[0]
        for name in names[1:]:
            expr = f"{func}({expr}, {name})"
        plan.apply = expr
        plan.out = first
    elif short == "Concatenate":
        axis = layer.literal("axis", -1)
        dim = _keras_axis_to_torch(axis, first)
        plan.apply = "torch.cat([" + ", ".join(names) + f"], dim={dim})"
        if first.shape is not None and all(t.shape is not None for t in inputs):
            full_axis = axis if axis >= 0 else len(first.shape) + 1 + axis
            total = 0
            for t in inputs:
                d = t.shape[full_axis - 1]
                total = total + d if _is_int(d) and total is not None else None
            shape = list(first.shape)
            shape[full_axis - 1] = total
            plan.out = TensorInfo(tuple(shape), first.layout)
        else:
            plan.out = TensorInfo(None, first.layout)
    else:
        raise Unconvertible(f"{short} is not supported")
    return plan


def plan_mha(layer: LayerCall, inputs: list[TensorInfo]) -> LayerPlan:
    heads = layer.literal("num_heads")
    key_dim = layer.literal("key_dim")
    value_dim = layer.literal("value_dim", None)
    if layer.literal("output_shape", None) is not None or layer.literal("attention_axes", None) is not None:
        raise Unconvertible("MultiHeadAttention with output_shape or attention_axes")
    query = inputs[0]
    embed = query.channels
    if not _is_int(embed):
        raise Unconvertible("MultiHeadAttention needs the query's feature size to be known statically")
    if heads * key_dim != embed or (value_dim not in (None, key_dim)):
        raise Unconvertible(
            "MultiHeadAttention with num_heads * key_dim != the query's feature size has no nn.MultiheadAttention form"
        )
    for other in inputs[1:]:
        if other.channels != embed:
            raise Unconvertible("MultiHeadAttention with keys/values of another width than the query")
    dropout = layer.literal("dropout", 0.0)
    use_bias = layer.literal("use_bias", True)
    extra = (f", dropout={dropout!r}" if dropout else "") + (", bias=False" if use_bias is False else "")
    plan = LayerPlan(chain=False, multi_input=True)
    plan.modules.append(ModuleSpec("attention", f"torch.nn.MultiheadAttention({embed}, {heads}{extra}, batch_first=True)"))
    # Keras calls attention(query, value, key=value); PyTorch's order is (query, key, value)
    if len(inputs) == 2:
        plan.apply = "{m0}({x0}, {x1}, {x1}, need_weights=False)[0]"
    elif len(inputs) == 3:
        plan.apply = "{m0}({x0}, {x2}, {x1}, need_weights=False)[0]"
    else:
        raise Unconvertible("MultiHeadAttention takes query and value (and key)")
    plan.weights = [WeightMap("*", "*", "mha", args={"heads": heads, "key_dim": key_dim, "bias": use_bias is not False})]
    plan.out = query
    return plan


PLANNERS = {
    "dense": plan_dense,
    "conv": plan_conv,
    "depthwise": plan_depthwise,
    "separable": plan_separable,
    "pool": plan_pool,
    "global_pool": plan_global_pool,
    "flatten": plan_flatten,
    "dropout": plan_dropout,
    "batchnorm": plan_batchnorm,
    "layernorm": plan_layernorm,
    "rmsnorm": plan_rmsnorm,
    "embedding": plan_embedding,
    "reversible_embedding": plan_reversible_embedding,
    "rnn": plan_rnn,
    "bidirectional": plan_bidirectional,
    "activation": plan_activation_layer,
    "reshape": plan_reshape,
    "permute": plan_permute,
    "zero_padding": plan_zero_padding,
    "cropping": plan_cropping,
    "upsampling": plan_upsampling,
    "rescaling": plan_rescaling,
    "identity": plan_identity,
}
MULTI_PLANNERS = {"merge": plan_merge, "mha": plan_mha}
from .einsum_dense import plan_einsum_dense  # noqa: E402  (it reads this module's plan types)

PLANNERS["einsum_dense"] = plan_einsum_dense


# layers with a data_format: channels_first ones read Keras's order, which is PyTorch's
CF_SOURCE_PLANS = {"conv", "depthwise", "separable", "pool", "global_pool", "zero_padding", "cropping", "upsampling", "dropout", "flatten"}


def channels_first_source(layer: LayerCall, x: TensorInfo | None = None) -> bool:
    """The layer reads its input channels-first as Keras holds it (data_format="channels_first",
    BatchNormalization(axis=1)): the PyTorch tensor is taken in Keras's order, no move."""
    kind = layer.rule.data.get("plan")
    if kind == "batchnorm":
        return x is not None and _bn_channels_first(layer, x)
    if kind not in CF_SOURCE_PLANS or "data_format" not in layer.values:
        return False
    if kind == "dropout" and not layer.short.startswith("SpatialDropout"):
        return False
    try:
        return data_format(layer) == "channels_first"
    except Unconvertible:
        return False  # reported by the planner


def channels_first_view(layer: LayerCall, x: TensorInfo) -> TensorInfo:
    """A Keras-order tensor as the channels-first tensor a data_format="channels_first" layer
    reads: the same PyTorch tensor, its shape written as the planners take it (channels last)."""
    if layer.rule.data.get("plan") == "batchnorm" or x.layout != "keras" or not channels_first_source(layer, x):
        return x
    if x.shape is None:
        if layer.rule.data.get("plan") == "flatten":
            return x
        n = _spatial_rank(layer)
        return TensorInfo((None,) * (n + 1), "cf")
    if len(x.shape) < 2:
        return x
    return TensorInfo(tuple(x.shape[1:]) + (x.shape[0],), "cf")


def _keras_order(x: TensorInfo) -> TensorInfo:
    """A channels-first tensor's info in Keras's channels-first order (C, spatial...)."""
    if x.layout != "cf" or x.shape is None or len(x.shape) < 2:
        return TensorInfo(x.shape, "keras") if x.layout == "cf" else x
    return TensorInfo((x.shape[-1],) + tuple(x.shape[:-1]), "keras")


def wanted_layout(layer: LayerCall, x: TensorInfo | None = None) -> str:
    """'cf' (convolutions, pooling...), 'keras' (Dense, RNNs, channels-first sources...) or 'any' (elementwise)."""
    if channels_first_source(layer, x):
        return "keras"
    want = layer.rule.data.get("layout", "any")
    min_rank = layer.rule.data.get("cf_min_rank")
    if want == "cf" and min_rank and x is not None and x.rank is not None and x.rank < min_rank:
        return "any"
    return want


# layers that leave each feature where it is: a channels-first Flatten may pass
# through them to a Dense whose weight rows are reordered instead
ORDER_AGNOSTIC = {"dropout", "activation", "rescaling", "identity"}


def plan_layer(layer: LayerCall, inputs: list[TensorInfo]) -> LayerPlan:
    """The plan for ``layer`` on ``inputs``, which already are in the layout it wants."""
    kind = layer.rule.data.get("plan")
    if kind in MULTI_PLANNERS:
        return MULTI_PLANNERS[kind](layer, inputs)
    if kind not in PLANNERS:
        raise Unconvertible(f"{layer.short} has no layer plan")
    if len(inputs) != 1:
        raise Unconvertible(f"{layer.short} takes one input")
    x = inputs[0]
    if kind != "batchnorm" and channels_first_source(layer, x):
        if x.layout == "keras":
            x = channels_first_view(layer, x)
        plan = PLANNERS[kind](layer, x)
        plan.out = _keras_order(plan.out)  # its output is in Keras's (channels-first) order
        return plan
    return PLANNERS[kind](layer, x)


def lazy_inits(ctx, call, api: str, plan: LayerPlan, lines: list[str]) -> list[str]:
    """``lines`` (torch.nn.init calls on a layer's parameters), or none for a lazy module,
    whose parameters exist only after its first call (reported)."""
    if lines and any(spec.lazy for spec in plan.modules):
        ctx.warn(
            call, api,
            "its initializers are not applied: the module is lazy (its input size is not known here) and has"
            " no weights before its first call; PyTorch's default initialisation is used",
        )
        return []
    return lines
