"""Planning the Keras form of one PyTorch module constructor.

Keras layers infer their input sizes, so ``nn.Linear(784, 128)`` is
``layers.Dense(128)``. What a plan has to decide is everything else:

* the Keras layer(s) to build (``nn.Conv2d(..., padding=2)`` is a
  ``ZeroPadding2D`` and a ``Conv2D`` in a ``keras.Sequential``), written as a
  template with full names and ``{placeholders}`` for the user's expressions;
* the layout the layer wants its input in: convolution-like layers work
  channels-last ("keras"), TensorFlow's native layout (Keras 3 on CPU TensorFlow
  runs ``channels_first`` convolutions only through oneDNN, and adds their
  biases along the wrong axis when a feature map is as wide as it has filters);
  layers that read the last axis (Linear, LayerNorm, RNNs, Flatten) want
  PyTorch's layout ("torch"); elementwise layers take either ("any");
* the weight map: which Keras weight each PyTorch parameter becomes, and how
  (transposed kernels, conv kernel layouts, gate orders, added RNN biases);
* whether calling it needs Keras's ``training`` flag (dropout, batch norm), and
  whether its call needs rewriting (RNNs return PyTorch's (output, states),
  attention takes (query, key, value)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, bind_args, literal_value
from ...engine.query import resolve_call

LAYOUTS = ("keras", "torch", "any")


@dataclass
class TorchLayer:
    """A PyTorch module constructor call as the source wrote it."""

    kind: str  # canonical name, e.g. torch.nn.Conv2d
    call: cst.Call
    rule: object
    ctx: object
    values: dict = field(default_factory=dict)  # source arg name -> original expression
    needed_literal: list = field(default_factory=list)  # arguments a plan asked for as literals, in vain

    @classmethod
    def bind(cls, ctx, call: cst.Call) -> "TorchLayer | None":
        if not isinstance(call, cst.Call):
            return None
        api = resolve_call(ctx, call)
        rule = ctx.ruleset.lookup(api) if api else None
        if rule is None or rule.hook != "layers.module":
            return None
        args = bind_args(rule, call, call)
        return cls(api, call, rule, ctx, {b.name: b.value for b in args.bound})

    @property
    def short(self) -> str:
        return self.kind.rsplit(".", 1)[-1]

    @property
    def plan_kind(self) -> str:
        return self.rule.data.get("plan", "")

    @property
    def rank(self) -> int | None:
        return self.rule.data.get("rank")

    def has(self, name: str) -> bool:
        return name in self.values and code_of(self.values[name]).strip() != "None"

    def literal(self, name: str, default=None):
        if name not in self.values:
            return default
        ok, value = literal_value(self.values[name])
        if ok:
            return value
        self.needed_literal.append(name)
        raise Unconvertible(
            f"{self.short}: argument '{name}' is computed at run time ({code_of(self.values[name]).strip()}); "
            "its value must be known to convert this layer"
        )

    def is_literal(self, name: str) -> bool:
        return name not in self.values or literal_value(self.values[name])[0]

    def expr(self, name: str) -> cst.BaseExpression:
        """The argument as the output writes it (converted)."""
        return self.ctx.updated(self.values[name])

    def tuple_arg(self, name: str, n: int, default):
        value = self.literal(name, default)
        if isinstance(value, bool):
            raise Unconvertible(f"{self.short}: argument '{name}' must be an int or {n} ints")
        if isinstance(value, int):
            return (value,) * n
        if isinstance(value, (tuple, list)) and len(value) == n and all(isinstance(v, int) for v in value):
            return tuple(value)
        raise Unconvertible(f"{self.short}: argument '{name}={value!r}' must be an int or {n} ints")

    def reject(self, name: str, *allowed, reason: str = "") -> None:
        """An argument this conversion cannot honour unless it has one of ``allowed``."""
        if name not in self.values:
            return
        ok, value = literal_value(self.values[name])
        if ok and (value is None or value in allowed):
            return
        text = code_of(self.values[name]).strip()
        if not ok:
            self.needed_literal.append(name)
        raise Unconvertible(f"{self.short}: argument '{name}={text}' is not supported" + (f": {reason}" if reason else ""))


@dataclass
class WeightSpec:
    """Keras weight ``weight`` of the plan's layer ``layer`` <- PyTorch parameters ``torch``."""

    torch: list[str]  # parameter names relative to the module: "weight", "bias_ih_l0"
    weight: str  # attribute path on the Keras layer: "kernel", "cell.kernel"
    transform: str = "copy"
    layer: str = ""  # index path inside the plan's keras.Sequential ("" for a single layer)
    args: dict = field(default_factory=dict)


@dataclass
class KerasPlan:
    layers: list[str]  # constructors (full names, {placeholders})
    subs: dict = field(default_factory=dict)
    weights: list[WeightSpec] = field(default_factory=list)
    wants: str = "any"  # the input layout it works on
    rank: int | None = None  # spatial dimensions, for moving between layouts
    out: str = "same"  # "keras", "torch" or "same" (as its input)
    training: bool = False
    apply: str = "plain"  # "plain", "rnn", "mha"
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def constructor(self) -> str:
        if len(self.layers) == 1:
            return self.layers[0]
        return "keras.Sequential([" + ", ".join(self.layers) + "])"

    def weight_entries(self, prefix_torch: str, prefix_keras: str) -> list[dict]:
        """Weight-map entries for this module at torch path ``prefix_torch``, Keras path ``prefix_keras``."""
        out = []
        for w in self.weights:
            layer = prefix_keras
            if w.layer != "":
                layer = f"{prefix_keras}.{w.layer}" if prefix_keras else w.layer
            torch_names = [f"{prefix_torch}.{t}" if prefix_torch else t for t in w.torch]
            out.append({"layer": layer, "weight": w.weight, "torch": torch_names, "transform": w.transform, "args": dict(w.args)})
        return out


class Subs:
    """User expressions used in a constructor template, as placeholders."""

    def __init__(self) -> None:
        self.subs: dict[str, cst.BaseExpression] = {}

    def __call__(self, node: cst.BaseExpression) -> str:
        key = f"v{len(self.subs)}"
        self.subs[key] = node
        return "{" + key + "}"

    def arg(self, layer: TorchLayer, name: str) -> str:
        """A literal argument as its Python text, else a placeholder for the converted expression."""
        ok, value = literal_value(layer.values[name])
        if ok:
            return repr(value)
        return self(layer.expr(name))


def _pair(values: tuple) -> str:
    return repr(values[0]) if len(set(values)) == 1 else repr(tuple(values))


def to_keras_perm(rank: int) -> tuple:
    """Axes of a channels-first tensor with ``rank`` spatial dims, channels moved last."""
    return (0, *range(2, rank + 2), 1)


def to_torch_perm(rank: int) -> tuple:
    return (0, rank + 1, *range(1, rank + 1))


def permute_layer(rank: int, to: str) -> str:
    """A Keras Permute layer (batch axis excluded) between the two layouts."""
    perm = to_keras_perm(rank) if to == "keras" else to_torch_perm(rank)
    dims = tuple(p for p in perm[1:])
    return f"keras.layers.Permute({dims!r})"


# -- planners ------------------------------------------------------------------

def plan_linear(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    units = s.arg(layer, "out_features") if "out_features" in layer.values else None
    if units is None:
        raise Unconvertible(f"{layer.short} needs out_features")
    if "bias" in layer.values and not layer.is_literal("bias"):
        # a flag computed at run time (bias=config.use_bias) means the same to Keras
        extra = f", use_bias={s.arg(layer, 'bias')}"
        bias_args = {"optional": True}
    else:
        extra = ", use_bias=False" if layer.literal("bias", True) is False else ""
        bias_args = {}
    plan = KerasPlan([f"keras.layers.Dense({units}{extra})"], s.subs, wants="torch", out="torch")
    plan.weights.append(WeightSpec(["weight"], "kernel", "linear"))
    if extra != ", use_bias=False":
        plan.weights.append(WeightSpec(["bias"], "bias", args=bias_args))
    return plan


def _conv_common(layer: TorchLayer, n: int, run_time: bool = False):
    """Kernel size, stride and dilation as tuples of ints; with ``run_time``, None for one
    computed at run time (Keras takes an int or a tuple of ints for each, as PyTorch does)."""
    def sizes(name, default):
        if run_time and not layer.is_literal(name):
            return None
        return layer.tuple_arg(name, n, default)

    kernel = sizes("kernel_size", None)
    stride = sizes("stride", 1)
    dilation = sizes("dilation", 1)
    if stride is not None and dilation is not None and any(v > 1 for v in stride) and any(v > 1 for v in dilation):
        raise Unconvertible(f"{layer.short}: Keras does not combine strides > 1 with dilation > 1")
    mode = layer.literal("padding_mode", "zeros")
    if mode != "zeros":
        raise Unconvertible(f"{layer.short}: padding_mode={mode!r} has no Keras layer (pad with tf.pad(mode='REFLECT'/'SYMMETRIC') first)")
    return kernel, stride, dilation


def plan_conv(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    if "kernel_size" not in layer.values or "out_channels" not in layer.values:
        raise Unconvertible(f"{layer.short} needs out_channels and kernel_size")
    # sizes computed at run time (kernel_size=patch_size) are passed on: Keras takes an int
    # or a tuple of ints where PyTorch does, and the weight layout does not depend on them
    kernel, stride, dilation = _conv_common(layer, n, run_time=True)
    s = Subs()
    filters = s.arg(layer, "out_channels")
    groups = layer.values.get("groups")
    pad_pairs = None
    keras_padding = "valid"
    if not layer.is_literal("padding"):
        # an int or a tuple of n ints: padded symmetrically, then a 'valid' convolution (exact)
        pad_pairs = s.arg(layer, "padding")
        kinds = "an int" if n == 1 else f"an int or a tuple of {n} ints"
        plan_warning = (
            f"padding={code_of(layer.values['padding']).strip()} is computed at run time: ZeroPadding{n}D then a 'valid' convolution, "
            f"exact for {kinds} (a string such as 'same' would fail when the layer is made)"
        )
    else:
        plan_warning = None
        padding = layer.literal("padding", 0)
        if padding == "same":
            keras_padding = "same"
        elif padding == "valid":
            pass
        else:
            pads = padding if isinstance(padding, (tuple, list)) else (padding,) * n
            if len(pads) != n or not all(isinstance(p, int) for p in pads):
                raise Unconvertible(f"{layer.short}: padding={padding!r} is not supported")
            if any(pads):
                # PyTorch pads symmetrically; Keras's 'same' puts an odd extra pixel at the end
                known = kernel is not None and stride is not None and dilation is not None
                if known and all(st == 1 for st in stride) and all(2 * p == d * (k - 1) for p, d, k in zip(pads, dilation, kernel)):
                    keras_padding = "same"
                else:
                    pad_pairs = _pair(tuple(pads))
    args = [filters, _pair(kernel) if kernel is not None else s.arg(layer, "kernel_size")]
    if stride is None:
        args.append("strides=" + s.arg(layer, "stride"))
    elif any(v != 1 for v in stride):
        args.append(f"strides={_pair(stride)}")
    if keras_padding != "valid":
        args.append(f"padding={keras_padding!r}")
    if dilation is None:
        args.append("dilation_rate=" + s.arg(layer, "dilation"))
    elif any(v != 1 for v in dilation):
        args.append(f"dilation_rate={_pair(dilation)}")
    if groups is not None and code_of(groups).strip() not in ("1",):
        args.append("groups=" + s.arg(layer, "groups"))
    bias_args = {}
    if "bias" in layer.values and not layer.is_literal("bias"):
        # a flag computed at run time (bias=bias) means the same to Keras
        args.append("use_bias=" + s.arg(layer, "bias"))
        use_bias = None
        bias_args = {"optional": True}
    else:
        use_bias = layer.literal("bias", True)
    if use_bias is False:
        args.append("use_bias=False")
    conv = f"keras.layers.Conv{n}D(" + ", ".join(args) + ")"
    layers = [conv]
    index = ""
    if pad_pairs is not None:
        layers.insert(0, f"keras.layers.ZeroPadding{n}D({pad_pairs})")
        index = "1"
    plan = KerasPlan(layers, s.subs, wants="keras", rank=n, out="keras")
    if plan_warning:
        plan.warnings.append(plan_warning)
    plan.weights.append(WeightSpec(["weight"], "kernel", "conv", index))
    if use_bias is not False:
        plan.weights.append(WeightSpec(["bias"], "bias", "copy", index, bias_args))
    return plan


def plan_conv_transpose(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    kernel, stride, dilation = _conv_common(layer, n)
    layer.reject("groups", 1, reason="Keras's transposed convolutions have no groups")
    s = Subs()
    filters = s.arg(layer, "out_channels")
    padding = layer.tuple_arg("padding", n, 0)
    output_padding = layer.tuple_arg("output_padding", n, 0)
    args = [filters, _pair(kernel)]
    if any(v != 1 for v in stride):
        args.append(f"strides={_pair(stride)}")
    # PyTorch's length is (in - 1) * stride + dilation * (kernel - 1) + 1 + output_padding;
    # Keras's 'valid' gives the same when output_padding is written out
    if any(output_padding) or any(k < st for k, st in zip(kernel, stride)):
        args.append(f"output_padding={_pair(output_padding)}")
    if any(v != 1 for v in dilation):
        args.append(f"dilation_rate={_pair(dilation)}")
    use_bias = layer.literal("bias", True)
    if use_bias is False:
        args.append("use_bias=False")
    layers = [f"keras.layers.Conv{n}DTranspose(" + ", ".join(args) + ")"]
    if any(padding):
        layers.append(f"keras.layers.Cropping{n}D({_pair(padding)})")
    index = "0" if len(layers) > 1 else ""
    plan = KerasPlan(layers, s.subs, wants="keras", rank=n, out="keras")
    plan.weights.append(WeightSpec(["weight"], "kernel", "conv", index))
    if use_bias is not False:
        plan.weights.append(WeightSpec(["bias"], "bias", "copy", index))
    return plan


def _pool_sizes(layer: TorchLayer, n: int):
    kernel = layer.tuple_arg("kernel_size", n, None)
    stride = layer.tuple_arg("stride", n, None) if layer.has("stride") else kernel
    args = [_pair(kernel)]
    if stride != kernel:
        args.append(f"strides={_pair(stride)}")
    return kernel, stride, args


def plan_max_pool(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    kernel, stride, args = _pool_sizes(layer, n)
    padding = layer.tuple_arg("padding", n, 0)
    layer.reject("dilation", 1)
    layer.reject("return_indices", False)
    ceil = layer.literal("ceil_mode", False) and any(st > 1 for st in stride)  # at stride 1 ceil is floor
    layers = [f"keras.layers.MaxPooling{n}D(" + ", ".join(args) + ")"]
    if ceil:
        # PyTorch keeps a last, partial window (ceil_mode): -inf pads on the right make it whole.
        # The window count is ceil((L + 2p - k) / s) + 1, which 'valid' pooling gives after
        # (k - L - 2p) mod s more pads; where p + s > k PyTorch may drop a window that would
        # start in the right padding, so only p + s <= k converts
        if not all(p + st <= k for p, st, k in zip(padding, stride, kernel)):
            raise Unconvertible(f"{layer.short}: ceil_mode=True with padding + stride > kernel_size (PyTorch drops a window that starts in the padding)")
        pairs = []
        for i, (p, st, k) in enumerate(zip(padding, stride, kernel)):
            extra = f"({k - 2 * p} - tensorflow.shape(x)[{i + 1}]) % {st}"
            pairs.append(f"[{p}, {p} + {extra}]" if p else f"[0, {extra}]")
        pads = "[[0, 0], " + ", ".join(pairs) + ", [0, 0]]"
        layers.insert(0, f"keras.layers.Lambda(lambda x: tensorflow.pad(x, {pads}, constant_values=float('-inf')))")
    elif any(padding):
        if all(st == 1 for st in stride) and all(2 * p == k - 1 for p, k in zip(padding, kernel)):
            # stride 1, symmetric: TensorFlow's 'same' pads the same way and ignores the pads
            layers = [f"keras.layers.MaxPooling{n}D(" + ", ".join(args + ["padding='same'"]) + ")"]
        else:
            # PyTorch pads with -inf on both sides: so does this, before a 'valid' pooling
            pads = [[0, 0], *[[p, p] for p in padding], [0, 0]]
            layers.insert(0, f"keras.layers.Lambda(lambda x: tensorflow.pad(x, {pads!r}, constant_values=float('-inf')))")
    return KerasPlan(layers, wants="keras", rank=n, out="keras")


def _same_average(layer: TorchLayer, n: int) -> KerasPlan | None:
    """``AvgPool2d(k, stride=1, padding=k // 2, count_include_pad=False)``: TensorFlow's 'same'
    average pooling pads the same way and divides by the values inside, as PyTorch does
    without counting the pads (for an odd k; PyTorch's output is one larger for an even one)."""
    if layer.literal("count_include_pad", True) is not False or not layer.has("padding"):
        return None
    if not (layer.has("stride") and layer.is_literal("stride") and layer.literal("stride") in (1, (1,) * n, [1] * n)):
        return None
    s = Subs()
    if layer.is_literal("kernel_size"):
        kernel = layer.tuple_arg("kernel_size", n, None)
        if layer.tuple_arg("padding", n, 0) != tuple((k - 1) // 2 for k in kernel) or not all(k % 2 for k in kernel):
            return None
        plan = KerasPlan([f"keras.layers.AveragePooling{n}D({_pair(kernel)}, strides=1, padding='same')"], wants="keras", rank=n, out="keras")
        return plan
    size = code_of(layer.values["kernel_size"]).strip()
    if code_of(layer.values["padding"]).replace(" ", "") != size.replace(" ", "") + "//2":
        return None
    plan = KerasPlan([f"keras.layers.AveragePooling{n}D({s.arg(layer, 'kernel_size')}, strides=1, padding='same')"], s.subs, wants="keras", rank=n, out="keras")
    plan.warnings.append(f"AvgPool{n}d(kernel_size={size}, padding={size} // 2): exact for an odd {size} (PyTorch's output is one larger for an even one)")
    return plan


def plan_avg_pool(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    layer.reject("ceil_mode", False, reason="Keras pooling rounds the output size down")
    layer.reject("divisor_override")
    same = _same_average(layer, n)
    if same is not None:
        return same
    _, _, args = _pool_sizes(layer, n)
    padding = layer.tuple_arg("padding", n, 0)
    layers = [f"keras.layers.AveragePooling{n}D(" + ", ".join(args) + ")"]
    if any(padding):
        if layer.literal("count_include_pad", True) is not True:
            raise Unconvertible(f"{layer.short}: padding with count_include_pad=False is not supported (but for an odd kernel at stride 1 with padding kernel // 2)")
        layers.insert(0, f"keras.layers.ZeroPadding{n}D({_pair(padding)})")
    return KerasPlan(layers, wants="keras", rank=n, out="keras")


def _adaptive_one(layer: TorchLayer, n: int) -> None:
    size = layer.literal("output_size")
    sizes = size if isinstance(size, (tuple, list)) else (size,) * n
    if len(sizes) != n or any(v != 1 for v in sizes):
        raise Unconvertible(f"{layer.short}({size!r}): only an output size of 1 (global pooling) has a Keras layer")


def plan_adaptive_avg_pool(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    _adaptive_one(layer, n)
    return KerasPlan([f"keras.layers.GlobalAveragePooling{n}D(keepdims=True)"], wants="keras", rank=n, out="keras")


def plan_adaptive_max_pool(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    _adaptive_one(layer, n)
    layer.reject("return_indices", False)
    return KerasPlan([f"keras.layers.GlobalMaxPooling{n}D(keepdims=True)"], wants="keras", rank=n, out="keras")


def plan_flatten(layer: TorchLayer, layout: str) -> KerasPlan:
    if layer.literal("start_dim", 1) != 1 or layer.literal("end_dim", -1) != -1:
        raise Unconvertible("Flatten with start_dim other than 1 or end_dim other than -1: use tf.reshape")
    # PyTorch flattens (C, H, W): a channels-last map is moved back first (by the model)
    return KerasPlan(["keras.layers.Flatten()"], wants="torch", out="torch")


def plan_unflatten(layer: TorchLayer, layout: str) -> KerasPlan:
    if layer.literal("dim") not in (1, -1):
        raise Unconvertible("Unflatten of a dimension other than 1: use tf.reshape")
    s = Subs()
    shape = s.arg(layer, "unflattened_size")
    return KerasPlan([f"keras.layers.Reshape({shape})"], s.subs, wants="torch", out="torch")


def plan_dropout(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    rate = s.arg(layer, "p") if "p" in layer.values else "0.5"
    return KerasPlan([f"keras.layers.Dropout({rate})"], s.subs, wants="any", training=True)


def plan_spatial_dropout(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    s = Subs()
    rate = s.arg(layer, "p") if "p" in layer.values else "0.5"
    return KerasPlan([f"keras.layers.SpatialDropout{n}D({rate})"], s.subs, wants="keras", rank=n, out="keras", training=True)


def _number(value) -> str:
    return repr(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else repr(value)


def _epsilon(layer: TorchLayer, s: Subs, default: float) -> str:
    """eps as Keras's epsilon: the same number, a literal or an expression
    (config.layer_norm_eps); PyTorch's default written out, as Keras's differs."""
    if "eps" in layer.values and not layer.is_literal("eps"):
        return s.arg(layer, "eps")
    return _number(layer.literal("eps", default))


def _affine_flag(layer: TorchLayer, s: Subs, name: str, default: bool):
    """A layer's affine flag: True or False where it is a literal; where it is a name computed at
    run time (a factory's parameter), its placeholder, given to Keras's center= and scale=."""
    if name in layer.values and not layer.is_literal(name) and isinstance(layer.values[name], (cst.Name, cst.Attribute)):
        return s.arg(layer, name)
    return layer.literal(name, default)


def _affine_args(affine) -> list[str]:
    if isinstance(affine, str):
        return [f"center={affine}", f"scale={affine}"]
    return [] if affine else ["center=False", "scale=False"]


def _affine_weights(affine) -> list[WeightSpec]:
    if affine is False:
        return []
    args = {"optional": True} if isinstance(affine, str) else {}
    return [WeightSpec(["weight"], "gamma", args=dict(args)), WeightSpec(["bias"], "beta", args=dict(args))]


def plan_batch_norm(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    s = Subs()
    eps = _epsilon(layer, s, 1e-5)
    if layer.rule.data.get("frozen"):
        # torchvision's FrozenBatchNorm2d: fixed statistics and affine parameters (buffers); a
        # Keras BatchNormalization that is not trainable runs in inference mode, also in training
        plan = KerasPlan([f"keras.layers.BatchNormalization(epsilon={eps}, trainable=False)"], s.subs, wants="keras", rank=layer.rank, out="keras")
        plan.weights += _affine_weights(True)
        plan.weights += [WeightSpec(["running_mean"], "moving_mean"), WeightSpec(["running_var"], "moving_variance")]
        return plan
    momentum_text = None
    if "momentum" in layer.values and not layer.is_literal("momentum"):
        # computed at run time (a factory's parameter, config.bn_momentum): Keras's is 1 - it
        node = layer.values["momentum"]
        value = s(layer.expr("momentum"))
        momentum_text = f"1 - {value}" if isinstance(node, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)) else f"1 - ({value})"
        momentum = 0.1
    else:
        momentum = layer.literal("momentum", 0.1)
    if momentum is None:
        raise Unconvertible(f"{layer.short}(momentum=None) keeps a cumulative average; Keras keeps only an exponential one")
    if layer.literal("track_running_stats", True) is not True:
        raise Unconvertible(f"{layer.short}(track_running_stats=False) normalises with batch statistics in evaluation too; Keras has no such mode")
    affine = _affine_flag(layer, s, "affine", True)
    args = []
    # BatchNorm1d takes (N, C) or (N, C, L); in PyTorch's layout its channels are axis 1
    wants = "keras"
    if n == 1:
        wants = "any"
        if layout != "keras":
            args.append("axis=1")
    from decimal import Decimal

    keras_momentum = float(Decimal("1") - Decimal(repr(float(momentum))))
    args.append(f"momentum={momentum_text or repr(keras_momentum)}")
    args.append(f"epsilon={eps}")
    args += _affine_args(affine)
    plan = KerasPlan(["keras.layers.BatchNormalization(" + ", ".join(args) + ")"], s.subs, wants=wants, rank=n, out="same" if n == 1 else "keras", training=True)
    plan.weights += _affine_weights(affine)
    plan.weights += [WeightSpec(["running_mean"], "moving_mean"), WeightSpec(["running_var"], "moving_variance")]
    plan.warnings.append(
        "PyTorch keeps the unbiased batch variance in running_var, Keras the biased one: evaluation after training drifts slightly"
    )
    return plan


def plan_layer_norm(layer: TorchLayer, layout: str) -> KerasPlan:
    shape_node = layer.values.get("normalized_shape")
    if shape_node is None:
        raise Unconvertible("LayerNorm needs normalized_shape")
    count = 1
    if isinstance(shape_node, (cst.Tuple, cst.List)):
        count = len(shape_node.elements)
    elif not isinstance(shape_node, (cst.Name, cst.Integer, cst.Attribute, cst.BinaryOperation, cst.Subscript)):
        raise Unconvertible("LayerNorm: normalized_shape must be an int or a literal tuple of sizes")
    s = Subs()
    eps = _epsilon(layer, s, 1e-5)
    affine = layer.literal("elementwise_affine", True)
    bias = layer.literal("bias", True)
    axis = "-1" if count == 1 else repr([-i for i in range(count, 0, -1)])
    args = [f"axis={axis}", f"epsilon={eps}"]
    if affine is False:
        args += ["center=False", "scale=False"]
    elif bias is False:
        args.append("center=False")
    plan = KerasPlan(["keras.layers.LayerNormalization(" + ", ".join(args) + ")"], s.subs, wants="torch", out="torch")
    if affine is not False:
        plan.weights.append(WeightSpec(["weight"], "gamma"))
        if bias is not False:
            plan.weights.append(WeightSpec(["bias"], "beta"))
    return plan


def plan_rms_norm(layer: TorchLayer, layout: str) -> KerasPlan:
    """nn.RMSNorm -> keras.layers.RMSNormalization: the same formula (Keras on the torch backend
    calls F.rms_norm). eps=None is PyTorch's machine epsilon of the input's dtype: float32's is
    written out, with a warning."""
    shape_node = layer.values.get("normalized_shape")
    if shape_node is None:
        raise Unconvertible("RMSNorm needs normalized_shape")
    count = len(shape_node.elements) if isinstance(shape_node, (cst.Tuple, cst.List)) else 1
    if layer.literal("elementwise_affine", True) is not True:
        raise Unconvertible("RMSNorm(elementwise_affine=False): Keras's RMSNormalization always has its scale (set it to ones and trainable=False)")
    s = Subs()
    machine_eps = "eps" not in layer.values or (layer.is_literal("eps") and layer.literal("eps") is None)
    eps = _number(1.1920928955078125e-07) if machine_eps else _epsilon(layer, s, None)
    axis = "-1" if count == 1 else repr([-i for i in range(count, 0, -1)])
    plan = KerasPlan([f"keras.layers.RMSNormalization(axis={axis}, epsilon={eps})"], s.subs, wants="torch", out="torch")
    plan.weights.append(WeightSpec(["weight"], "scale"))
    if machine_eps:
        plan.warnings.append("eps=None is the machine epsilon of the input's dtype in PyTorch: float32's (1.19e-7) is written out")
    return plan


def plan_group_norm(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    groups = s.arg(layer, "num_groups")
    eps = _epsilon(layer, s, 1e-5)
    affine = _affine_flag(layer, s, "affine", True)
    args = [groups]
    if layout != "keras":
        args.append("axis=1")
    args.append(f"epsilon={eps}")
    args += _affine_args(affine)
    plan = KerasPlan(["keras.layers.GroupNormalization(" + ", ".join(args) + ")"], s.subs, wants="any")
    plan.weights += _affine_weights(affine)
    return plan


def plan_instance_norm(layer: TorchLayer, layout: str) -> KerasPlan:
    """InstanceNorm: Keras's GroupNormalization with one group per channel (groups=-1)."""
    s = Subs()
    eps = _epsilon(layer, s, 1e-5)
    if layer.literal("track_running_stats", False) is not False:
        raise Unconvertible(
            f"{layer.short}(track_running_stats=True) normalises with running statistics in evaluation; "
            "Keras's GroupNormalization keeps none"
        )
    affine = _affine_flag(layer, s, "affine", False)
    args = ["groups=-1"]
    if layout != "keras":
        args.append("axis=1")
    args.append(f"epsilon={eps}")
    args += _affine_args(affine)
    plan = KerasPlan(["keras.layers.GroupNormalization(" + ", ".join(args) + ")"], s.subs, wants="any")
    if layer.rank == 1:
        plan.warnings.append("PyTorch takes a 2-D input as one (C, L) sample without its batch axis; Keras reads it as (N, C): give it 3-D")
    plan.weights += _affine_weights(affine)
    return plan


def plan_embedding(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    if "num_embeddings" not in layer.values or "embedding_dim" not in layer.values:
        raise Unconvertible("Embedding needs num_embeddings and embedding_dim")
    layer.reject("max_norm", reason="Keras embeddings do not renormalise rows")
    layer.reject("_weight", reason="build the layer, then assign the weights")
    layer.reject("scale_grad_by_freq", False)
    plan = KerasPlan([f"keras.layers.Embedding({s.arg(layer, 'num_embeddings')}, {s.arg(layer, 'embedding_dim')})"], s.subs, wants="torch", out="torch")
    plan.weights.append(WeightSpec(["weight"], "embeddings"))
    if layer.has("padding_idx"):
        plan.warnings.append(
            "padding_idx: Keras neither starts that row at zero nor keeps it out of training (mask_zero=True masks index 0 in RNNs instead)"
        )
    return plan


_RNN = {"LSTM": "LSTM", "GRU": "GRU", "RNN": "SimpleRNN"}


def plan_rnn(layer: TorchLayer, layout: str, *, states: bool = True) -> KerasPlan:
    kind = layer.short
    s = Subs()
    if "hidden_size" not in layer.values:
        raise Unconvertible(f"{kind} needs hidden_size")
    units = s.arg(layer, "hidden_size")
    num_layers = layer.literal("num_layers", 1)
    if not isinstance(num_layers, int) or num_layers < 1:
        raise Unconvertible(f"{kind}: num_layers must be a positive int")
    bidirectional = bool(layer.literal("bidirectional", False))
    batch_first = bool(layer.literal("batch_first", False))
    dropout = layer.literal("dropout", 0.0)
    layer.reject("proj_size", 0, reason="LSTM projections have no Keras layer")
    use_bias = layer.literal("bias", True)
    extra = ""
    if kind == "RNN":
        nonlinearity = layer.literal("nonlinearity", "tanh")
        if nonlinearity not in ("tanh", "relu"):
            raise Unconvertible(f"RNN(nonlinearity={nonlinearity!r})")
        if nonlinearity == "relu":
            extra += ", activation='relu'"
    if use_bias is False:
        extra += ", use_bias=False"
    if num_layers > 1 and states:
        raise Unconvertible(f"{kind}(num_layers={num_layers}): the states of every layer are used here; only the output of a multi-layer {kind} is converted")
    keras_kind = _RNN[kind]
    state_arg = ", return_state=True" if states else ""
    inner = f"keras.layers.{keras_kind}({units}, return_sequences=True{state_arg}{extra})"
    one = f"keras.layers.Bidirectional({inner})" if bidirectional else inner
    layers = []
    weights = []
    gates = "gru" if kind == "GRU" else ""
    bias_transform = "gru_bias" if kind == "GRU" else "rnn_bias"
    for index in range(num_layers):
        path = str(len(layers)) if num_layers > 1 else ""
        layers.append(one)
        if dropout and index < num_layers - 1:
            layers.append(f"keras.layers.Dropout({dropout!r})")
        directions = [("", "forward_layer.cell." if bidirectional else "cell.")]
        if bidirectional:
            directions.append(("_reverse", "backward_layer.cell."))
        for suffix, cell in directions:
            tag = f"l{index}{suffix}"
            weights.append(WeightSpec([f"weight_ih_{tag}"], cell + "kernel", "rnn_kernel", path, {"gates": gates} if gates else {}))
            weights.append(WeightSpec([f"weight_hh_{tag}"], cell + "recurrent_kernel", "rnn_kernel", path, {"gates": gates} if gates else {}))
            if use_bias is not False:
                weights.append(WeightSpec([f"bias_ih_{tag}", f"bias_hh_{tag}"], cell + "bias", bias_transform, path, {"gates": gates} if gates else {}))
    plan = KerasPlan(layers, s.subs, weights, wants="torch", out="torch", training=bool(dropout), apply="rnn")
    plan.info = {"kind": kind, "bidirectional": bidirectional, "batch_first": batch_first, "layers": num_layers, "states": states}
    if len(layers) > 1:
        plan.layers = ["keras.Sequential([" + ", ".join(layers) + "])"]
    return plan


def plan_mha(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    for name in ("add_bias_kv", "add_zero_attn"):
        layer.reject(name, False)
    for name in ("kdim", "vdim"):
        layer.reject(name, reason="keys and values of another width than the query are not supported yet")
    embed = layer.literal("embed_dim") if layer.is_literal("embed_dim") else None
    heads = layer.literal("num_heads") if layer.is_literal("num_heads") else None
    if embed is not None and heads is not None:
        key_dim = repr(embed // heads)
        heads_code = repr(heads)
    else:
        heads_code = s.arg(layer, "num_heads")
        key_dim = "{e} // {h}".replace("{e}", s.arg(layer, "embed_dim")).replace("{h}", heads_code)
    args = [heads_code, key_dim]
    dropout = layer.literal("dropout", 0.0)
    if dropout:
        args.append(f"dropout={dropout!r}")
    bias = layer.literal("bias", True)
    if bias is False:
        args.append("use_bias=False")
    plan = KerasPlan(["keras.layers.MultiHeadAttention(" + ", ".join(args) + ")"], s.subs, wants="torch", out="torch", training=bool(dropout), apply="mha")
    h = {"heads": heads} if heads is not None else {"reshape": True}
    for part, name in enumerate(("query", "key", "value")):
        plan.weights.append(WeightSpec(["in_proj_weight"], f"{name}_dense.kernel", "mha_in", args={"part": part, **h}))
        if bias is not False:
            plan.weights.append(WeightSpec(["in_proj_bias"], f"{name}_dense.bias", "mha_in_bias", args={"part": part, **h}))
    plan.weights.append(WeightSpec(["out_proj.weight"], "output_dense.kernel", "mha_out", args=dict(h)))
    if bias is not False:
        plan.weights.append(WeightSpec(["out_proj.bias"], "output_dense.bias"))
    plan.info = {"batch_first": bool(layer.literal("batch_first", False))}
    return plan


def plan_upsample(layer: TorchLayer, layout: str, rank: int | None = None) -> KerasPlan:
    if layer.has("size"):
        raise Unconvertible("Upsample(size=...): give scale_factor (Keras upsamples by integer factors)")
    scale = layer.literal("scale_factor", None)
    if scale is None:
        raise Unconvertible("Upsample needs scale_factor")
    mode = layer.literal("mode", "nearest")
    if isinstance(scale, (tuple, list)):
        rank = len(scale)
    n = rank or 2
    sizes = scale if isinstance(scale, (tuple, list)) else (scale,) * n
    if not all(float(v).is_integer() for v in sizes):
        raise Unconvertible(f"Upsample(scale_factor={scale!r}): Keras upsamples by integer factors only")
    sizes = tuple(int(v) for v in sizes)
    interpolation = {"nearest": "nearest", "bilinear": "bilinear"}.get(mode)
    if interpolation is None or (interpolation == "bilinear" and n != 2):
        raise Unconvertible(f"Upsample(mode={mode!r}) has no Keras layer for {n}-d inputs")
    if interpolation == "bilinear" and layer.literal("align_corners", None):
        raise Unconvertible("Upsample(align_corners=True) has no Keras equivalent")
    extra = ", interpolation='bilinear'" if interpolation == "bilinear" else ""
    plan = KerasPlan([f"keras.layers.UpSampling{n}D({_pair(sizes)}{extra})"], wants="keras", rank=n, out="keras")
    if rank is None and not isinstance(scale, (tuple, list)):
        plan.warnings.append("Upsample's input rank is not known here: 2-d images are assumed")
    return plan


def plan_zero_pad(layer: TorchLayer, layout: str) -> KerasPlan:
    n = layer.rank
    if layer.has("value") and layer.literal("value") not in (0, 0.0):
        raise Unconvertible(f"{layer.short}: padding with a value other than 0 (use tf.pad(..., constant_values=...))")
    value = layer.literal("padding")
    if isinstance(value, int):
        pairs = [(value, value)] * n
    elif isinstance(value, (tuple, list)) and len(value) == 2 * n and all(isinstance(v, int) for v in value):
        # PyTorch lists (left, right, top, bottom, front, back): last dimension first
        pairs = [(value[2 * i], value[2 * i + 1]) for i in range(n)][::-1]
    else:
        raise Unconvertible(f"{layer.short}: padding {value!r} is not supported")
    arg = repr(pairs[0]) if n == 1 else repr(tuple(pairs))
    if all(a == b for a, b in pairs) and len({a for a, _ in pairs}) == 1:
        arg = repr(pairs[0][0])
    return KerasPlan([f"keras.layers.ZeroPadding{n}D({arg})"], wants="keras", rank=n, out="keras")


def plan_identity(layer: TorchLayer, layout: str) -> KerasPlan:
    return KerasPlan(["keras.layers.Identity()"])


def plan_activation(layer: TorchLayer, layout: str) -> KerasPlan:
    return KerasPlan([layer.rule.data["keras"]])


def plan_leaky_relu(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    slope = s.arg(layer, "negative_slope") if "negative_slope" in layer.values else "0.01"
    return KerasPlan([f"keras.layers.LeakyReLU(negative_slope={slope})"], s.subs)


def plan_elu(layer: TorchLayer, layout: str) -> KerasPlan:
    s = Subs()
    alpha = s.arg(layer, "alpha") if "alpha" in layer.values else None
    return KerasPlan([f"keras.layers.ELU({'alpha=' + alpha if alpha else ''})"], s.subs)


def plan_gelu(layer: TorchLayer, layout: str) -> KerasPlan:
    mode = layer.literal("approximate", "none")
    if mode == "none":
        return KerasPlan(["keras.layers.Activation('gelu')"])
    if mode == "tanh":
        return KerasPlan(["keras.layers.Activation(lambda x: keras.activations.gelu(x, approximate=True))"])
    raise Unconvertible(f"GELU(approximate={mode!r})")


def plan_softplus(layer: TorchLayer, layout: str) -> KerasPlan:
    if layer.literal("beta", 1) != 1:
        raise Unconvertible("Softplus with beta other than 1")
    return KerasPlan(["keras.layers.Activation('softplus')"])


def plan_softmax(layer: TorchLayer, layout: str) -> KerasPlan:
    if not layer.has("dim"):
        raise Unconvertible(f"{layer.short} without dim (PyTorch picks one from the input's rank): give dim")
    s = Subs()
    dim = s.arg(layer, "dim")
    if layer.rule.data.get("log"):
        if dim in ("-1",):
            return KerasPlan(["keras.layers.Activation('log_softmax')"], wants="torch", out="torch")
        return KerasPlan([f"keras.layers.Activation(lambda x: keras.activations.log_softmax(x, axis={dim}))"], s.subs, wants="torch", out="torch")
    return KerasPlan([f"keras.layers.Softmax(axis={dim})"], s.subs, wants="torch", out="torch")


PLANNERS = {
    "linear": plan_linear, "conv": plan_conv, "conv_transpose": plan_conv_transpose,
    "max_pool": plan_max_pool, "avg_pool": plan_avg_pool, "adaptive_avg_pool": plan_adaptive_avg_pool,
    "adaptive_max_pool": plan_adaptive_max_pool, "flatten": plan_flatten, "unflatten": plan_unflatten,
    "dropout": plan_dropout, "spatial_dropout": plan_spatial_dropout, "batch_norm": plan_batch_norm,
    "layer_norm": plan_layer_norm, "rms_norm": plan_rms_norm, "group_norm": plan_group_norm, "embedding": plan_embedding,
    "instance_norm": plan_instance_norm,
    "rnn": plan_rnn, "mha": plan_mha, "upsample": plan_upsample, "zero_pad": plan_zero_pad,
    "identity": plan_identity, "activation": plan_activation, "leaky_relu": plan_leaky_relu,
    "elu": plan_elu, "gelu": plan_gelu, "softplus": plan_softplus, "softmax": plan_softmax,
}


def plan_layer(layer: TorchLayer, layout: str = "torch", **options) -> KerasPlan:
    """The Keras form of ``layer`` when its input arrives in ``layout``."""
    planner = PLANNERS.get(layer.plan_kind)
    if planner is None:
        raise Unconvertible(f"{layer.short} has no layer plan")
    plan = planner(layer, layout, **options)
    return plan


def closed(plan: KerasPlan) -> KerasPlan:
    """The plan for a layer whose input and output stay in PyTorch's layout (its
    applications are not followed): a channels-last layer between two Permutes."""
    if plan.wants != "keras" or plan.rank is None:
        return plan
    rank = plan.rank
    layers = [permute_layer(rank, "keras"), *plan.layers]
    if plan.out == "keras":
        layers.append(permute_layer(rank, "torch"))
    weights = []
    for w in plan.weights:
        inner = str(int(w.layer) + 1) if w.layer != "" else "1"
        weights.append(WeightSpec(w.torch, w.weight, w.transform, inner, w.args))
    return KerasPlan(
        ["keras.Sequential([" + ", ".join(layers) + "])"], plan.subs, weights, "torch", None, "torch",
        plan.training, plan.apply, plan.info, plan.warnings,
    )
