"""Hooks for the module rules (rules/torch_to_tf/layers.toml, modules.toml).

A layer class used as a value (``norm_layer=nn.BatchNorm2d``, ``partial(nn.LayerNorm,
eps=1e-6)``, ``activation_layer = nn.ReLU``) is called later with PyTorch's constructor
arguments. It becomes a small function written into the output file (a factory), named
in the rule's ``data.factory``: it takes the class's parameters (same names and
defaults) and returns the Keras layer the rule makes of that call, so the calls
(``norm_layer(planes)``) keep working. Its body is the rule's own plan for the call
``nn.BatchNorm2d(num_features, eps=eps, ...)``: each argument is passed on as the
run-time value it is; one the plan needs when the file is converted (BatchNorm's
``track_running_stats``) keeps PyTorch's default, and the factory raises for another value.
"""

from __future__ import annotations

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible
from .modules import layer_module
from .torch_layers import TorchLayer, closed, plan_layer


def module(args, ctx, original):
    """A PyTorch module constructor -> its Keras layer(s), as planned (torch_layers.py)."""
    return layer_module(args, ctx, original)


# -- a layer class used as a value: a factory ----------------------------------------

# builtins that look at a class rather than call it (isinstance(m, nn.ReLU) of a rule with no
# as_type, type(...), getattr(nn.ReLU, ...)) or keep it in a table (dict(relu=nn.ReLU))
_INTROSPECTION = {
    "isinstance", "issubclass", "type", "id", "hasattr", "getattr", "setattr", "str", "repr", "print", "vars", "dir",
    "dict", "list", "tuple", "set", "frozenset",
}


def _factory_use(stack) -> bool:
    """Whether the reference at the end of ``stack`` is handed on to be called later: a
    call's argument (``partial(nn.LayerNorm, eps=1e-6)``, ``norm_layer=nn.BatchNorm2d``),
    a parameter's default, the value of an assignment, through ``a if c else b``. Not a
    base class, a comparison (``type(m) is nn.ReLU``), a container's element (a table
    of classes may be read by isinstance checks), an attribute's receiver."""
    child = stack[-1]
    for i in range(len(stack) - 2, -1, -1):
        node = stack[i]
        if isinstance(node, cst.IfExp) and node.test is not child:
            child = node
            continue
        if isinstance(node, cst.Arg):
            call = stack[i - 1] if i >= 1 else None
            if not isinstance(call, cst.Call):
                return False  # a class statement's base
            func = call.func
            return not (isinstance(func, cst.Name) and func.value in _INTROSPECTION)
        if isinstance(node, cst.Param):
            return node.default is child
        if isinstance(node, cst.Assign):  # to names, not into a table (TABLE["relu"] = nn.ReLU)
            return node.value is child and all(isinstance(t.target, (cst.Name, cst.Attribute)) for t in node.targets)
        if isinstance(node, cst.AnnAssign):
            return node.value is child and isinstance(node.target, (cst.Name, cst.Attribute))
        return False
    return False


def _in_class_bases(stack) -> bool:
    return len(stack) >= 3 and isinstance(stack[-3], cst.ClassDef) and isinstance(stack[-2], cst.Arg)


def _signature(rule) -> list[tuple[str, str | None, str]]:
    """The factory's parameters, (name, default as code or None, star: "", "*" or "**"),
    from the rule's ``data.factory.signature`` (PyTorch's constructor's)."""
    text = rule.data["factory"]["signature"]
    fn = cst.parse_statement(f"def f({text}):\n    pass\n")
    params = fn.params
    out = [(p.name.value, code_of(p.default).strip() if p.default is not None else None, "") for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        out.append((params.star_arg.name.value, None, "*"))
    out += [(p.name.value, code_of(p.default).strip() if p.default is not None else None, "") for p in params.kwonly_params]
    if params.star_kwarg is not None:
        out.append((params.star_kwarg.name.value, None, "**"))
    return out


def _substitute(text: str, subs: dict) -> str:
    for key, node in subs.items():
        text = text.replace("{" + key + "}", code_of(node).strip())
    return text


def factory_code(rule, ctx, qual: str):
    """The factory's code for ``rule`` (full names; spelled when it is written), and the
    warnings its plan gives."""
    name = rule.data["factory"]["name"]
    short = qual.rsplit(".", 1)[-1]
    params = _signature(rule)
    defaults = {p: d for p, d, star in params if not star}
    fixed: dict[str, str] = {}  # parameters the plan needs as literals: PyTorch's default only
    while True:
        values = {p: cst.Name(p) for p, _, star in params if not star and p not in fixed and p in rule.args}
        layer = TorchLayer(qual, cst.Call(func=cst.Name(short)), rule, ctx, values)
        try:
            plan = plan_layer(layer, "torch", **({"states": True} if layer.plan_kind == "rnn" else {}))
            break
        except Unconvertible as exc:
            new = [p for p in layer.needed_literal if p in values]
            if not new:
                raise Unconvertible(f"used as a value (a factory of layers): {exc}") from None
            if defaults.get(new[0]) is None:  # no default: every call gives it
                raise Unconvertible(
                    f"used as a value (a factory of layers): its Keras form needs '{new[0]}' when the file is "
                    "converted, and a factory only gets it when it is called; convert this use by hand"
                ) from None
            fixed[new[0]] = defaults[new[0]]
    wrapped = closed(plan)
    constructor = _substitute(wrapped.constructor(), wrapped.subs)
    signature = rule.data["factory"]["signature"]
    lines = [
        f"def {name}({signature}):",
        f'    """{qual.replace("torch.nn.", "nn.")}(...) as a Keras layer: the same arguments, for code that passes the class on."""',
    ]
    for p, default in fixed.items():
        test = f"{p} is not {default}" if default in ("True", "False", "None") else f"{p} != {default}"
        lines += [
            f"    if {test}:",
            f'        raise NotImplementedError("{name}: only {p}={default} is converted")',
        ]
    lines.append(f"    return {constructor}")
    warnings = list(plan.warnings)
    caveats = []
    if wrapped is not plan:
        caveats.append("keeps PyTorch's channels-first layout in and out (Permute layers around the channels-last layer)")
    if plan.weights:
        caveats.append("has weights the weight map does not name (the converter does not follow the layers it makes)")
    if caveats:
        warnings.append(
            f"{short} passed on as a class becomes {name}, a function written into this file that takes {short}'s "
            f"arguments and returns the Keras layer; that layer " + " and ".join(caveats)
        )
    return name, "\n".join(lines) + "\n", warnings


def _need_factory(ctx, name: str, code: str, requires: list[str] | None = None) -> None:
    """Write the factory ``name`` into the file (reported where the file uses that name itself)."""
    from ..snippet_writer import need
    from .snippets import REGISTRY

    need(ctx, REGISTRY, name, code=code, requires=requires)


def module_value(rule, ctx, original, stack):
    """A layer class used as a value -> the name of its factory, written into the file
    (engine: ``data.value_hook``)."""
    qual = rule.source
    if _in_class_bases(stack):
        problem = ctx.facts.get("layer_base_problems", {}).get(id(original))
        if problem:
            raise Unconvertible(f"a class derived from {qual.rsplit('.', 1)[-1]}: {problem}")
        raise Unconvertible(
            f"a class derived from {qual.rsplit('.', 1)[-1]}: Keras layers differ in their constructors, weights and call(); "
            "derive from keras.layers.Layer and convert the class by hand"
        )
    if not _factory_use(stack):
        raise Unconvertible(
            "used as a class, not handed on to be called (in a table, a comparison or a type check, a function making "
            "the Keras layer would be wrong): convert this use by hand"
        )
    name, code, warnings = factory_code(rule, ctx, qual)
    _need_factory(ctx, name, code)
    for warning in warnings:
        ctx.warn(original, qual, warning, name)
    return cst.Name(name)


# -- torchvision's convolution blocks ---------------------------------------------------

CONV_NORM_ACTIVATION = '''
def NAME(
    in_channels, out_channels, kernel_size=3, stride=1, padding=None, groups=1,
    norm_layer=NORM, activation_layer=ACTIVATION, dilation=1, inplace=True, bias=None,
):
    """torchvision's SOURCE as a keras.Sequential: the convolution, then
    norm_layer(out_channels) and activation_layer() where they are not None."""
    if padding is None:
        if isinstance(kernel_size, int) and isinstance(dilation, int):
            padding = (kernel_size - 1) // 2 * dilation
        else:
            n = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else len(dilation)
            kernel_size = (kernel_size,) * n if isinstance(kernel_size, int) else tuple(kernel_size)
            dilation = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
            padding = tuple((k - 1) // 2 * d for k, d in zip(kernel_size, dilation))
    if bias is None:
        bias = norm_layer is None
    block = [CONV(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=bias)]
    if norm_layer is not None:
        block.append(norm_layer(out_channels))
    if activation_layer is not None:
        block.append(activation_layer() if inplace is None else activation_layer(inplace=inplace))
    return keras.Sequential(block)
'''


def conv_norm_activation(args, ctx, original):
    """torchvision.ops.Conv2dNormActivation(...) -> a call of the same name's factory, written
    into this file: a keras.Sequential of the convolution, the norm layer and the activation,
    made by the factories of nn.Conv2d, nn.BatchNorm2d and nn.ReLU (its defaults)."""
    rule = args.rule
    data = rule.data
    parts = {}
    for role in ("conv", "norm", "activation"):
        qual = data[role]
        part_rule = ctx.ruleset.lookup(qual)
        if part_rule is None or "factory" not in part_rule.data:
            raise Unconvertible(f"{qual} has no factory rule")
        parts[role] = factory_code(part_rule, ctx, qual)
    name = data["factory"]
    code = (
        CONV_NORM_ACTIVATION.replace("NAME", name).replace("SOURCE", rule.source.rsplit(".", 1)[-1])
        .replace("NORM", parts["norm"][0]).replace("ACTIVATION", parts["activation"][0]).replace("CONV", parts["conv"][0])
    )
    for role in ("conv", "norm", "activation"):
        part_name, part_code, _ = parts[role]
        _need_factory(ctx, part_name, part_code)
    _need_factory(ctx, name, code, requires=[parts[r][0] for r in ("conv", "norm", "activation")])
    ctx.warn(
        original, rule.source,
        f"becomes {name}(...), a function written into this file that builds a keras.Sequential of the same layers "
        "(torchvision's defaults: padding (kernel_size - 1) // 2 * dilation, a bias only without norm_layer); its layers keep "
        "PyTorch's channels-first layout in and out, and the weight map does not name their weights",
    )
    return args.call.with_changes(func=cst.Name(name))
