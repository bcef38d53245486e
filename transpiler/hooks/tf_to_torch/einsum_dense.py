"""keras.layers.EinsumDense -> the small ``EinsumDense`` module written once in the output.

PyTorch has no layer of the kind: attention layers written by hand use ``nn.Linear`` and
reshape, which changes the kernel's layout and the code around it. The conversion keeps
Keras's computation instead: ``torch.einsum`` with the same equation, a kernel laid out as
the equation's second operand (so the weights copy over as they are) and Keras's bias
shape. The kernel's sizes are worked out as Keras does when it builds the layer
(``_analyze_split_string``): an axis the output names takes its size from
``output_shape``, another from the input. Equations with ``...`` are reported.
"""

from __future__ import annotations

import json
import re

import libcst as cst

from ...engine.calls import Unconvertible, literal_value

_EQUATION = re.compile(r"([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)")


def _output_shape(layer) -> list:
    """output_shape as Keras takes it (an int, or one entry per output axis after the
    first): ints, None, or expressions (``self.num_heads``)."""
    from .keras_layers import Expr

    node = layer.values.get("output_shape")
    if node is None:
        raise Unconvertible("EinsumDense needs output_shape")
    elements = node.elements if isinstance(node, (cst.Tuple, cst.List)) else [node]
    out = []
    for element in elements:
        value = element.value if isinstance(element, cst.BaseElement) else element
        ok, literal = literal_value(value)
        if ok and (literal is None or isinstance(literal, int) and not isinstance(literal, bool)):
            out.append(literal)
        elif ok:
            raise Unconvertible(f"EinsumDense: output_shape entry {literal!r} is not a size")
        elif isinstance(element, cst.StarredElement):
            raise Unconvertible("EinsumDense: output_shape must list its sizes")
        else:
            out.append(Expr(layer.ctx.updated(value)))
    return out


def plan_einsum_dense(layer, x):
    from .keras_layers import (
        LayerPlan, ModuleSpec, TensorInfo, WeightMap, _initializers, _regularizer_warnings, _Subs,
        activation_name, with_activation,
    )
    from .training import need_snippet

    layer.reject("kernel_constraint", "bias_constraint", "lora_rank", "lora_alpha", "quantization_config", "activity_regularizer")
    equation = layer.literal("equation")
    match = _EQUATION.fullmatch(equation.replace(" ", "")) if isinstance(equation, str) else None
    if match is None:
        raise Unconvertible(f"EinsumDense: equation {equation!r} is not 'input,kernel->output' without '...'")
    inputs, kernel, outputs = match.groups()
    if x.shape is None or len(x.shape) != len(inputs) - 1:
        raise Unconvertible(f"EinsumDense: the input's rank is not known to be {len(inputs)} ({inputs})")
    output_shape = _output_shape(layer)
    if len(output_shape) != len(outputs) - 1:
        raise Unconvertible(f"EinsumDense: output_shape must give {len(outputs) - 1} sizes for '{outputs}' (every axis after the first)")
    in_size = dict(zip(inputs[1:], x.shape))
    out_size = dict(zip(outputs[1:], output_shape))
    for axis, size in list(out_size.items()):
        if size is None and axis in in_size:
            out_size[axis] = in_size[axis]
    kernel_shape = []
    for axis in kernel:
        size = out_size.get(axis) if axis in outputs else in_size.get(axis)
        if size is None:
            raise Unconvertible(f"EinsumDense: the size of kernel axis '{axis}' is not known statically")
        kernel_shape.append(size)
    s = _Subs()
    parts = [json.dumps(equation), s(tuple(kernel_shape))]
    bias_axes = layer.literal("bias_axes", None)
    if bias_axes is not None:
        if not isinstance(bias_axes, str) or any(a not in outputs[1:] for a in bias_axes):
            raise Unconvertible(f"EinsumDense: bias_axes {bias_axes!r} must name output axes after the first")
        first = min(outputs.find(a) for a in bias_axes)
        bias_shape = []
        for axis in outputs[first:]:
            size = out_size.get(axis) if axis in bias_axes else 1
            if size is None:
                raise Unconvertible(f"EinsumDense: the size of bias axis '{axis}' is not known statically")
            bias_shape.append(size)
        parts.append(s(tuple(bias_shape)))
    need_snippet(layer.ctx, "EinsumDense")
    plan = LayerPlan()
    plan.modules.append(ModuleSpec("einsum_dense", f"EinsumDense({', '.join(parts)})", s.subs))
    plan.weights = [WeightMap("kernel", "kernel")] + ([WeightMap("bias", "bias")] if bias_axes is not None else [])
    plan.out = TensorInfo(tuple(out_size[a] for a in outputs[1:]), "keras")
    _regularizer_warnings(layer, plan)
    _initializers(layer, plan, [("kernel_initializer", "kernel"), ("bias_initializer", "bias")])
    if len(kernel_shape) > 2 and "kernel_initializer" in layer.values:
        plan.warnings.append("kernel_initializer on a kernel of rank > 2: PyTorch's nn.init computes fan-in and fan-out "
                             "from other axes than Keras does (Keras: the last two axes times the others)")
    return with_activation(plan, activation_name(layer))
