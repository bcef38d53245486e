"""Freezing a module's weights, and reading their dtype from inside the module.

``for p in self.encoder.parameters(): p.requires_grad = False`` is PyTorch's way to freeze
a submodule; Keras says it with one attribute: ``self.encoder.trainable = False``.
Keras's flag does one more thing: a frozen ``BatchNormalization`` also normalises with
its moving statistics (inference mode), where a PyTorch BatchNorm whose weights do not
train still uses the batch's in training mode; the conversion warns where the file has
batch normalisation. ``next(self.parameters()).dtype`` (the dtype of the module's weights)
is ``self.variable_dtype``.
"""

from __future__ import annotations

import libcst as cst

API = "model.parameters"


def _parameters_call(node) -> cst.BaseExpression | None:
    """The receiver of ``receiver.parameters()`` (no arguments), else None."""
    if (
        isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "parameters"
    ):
        receiver = node.func.value
        while isinstance(receiver, cst.Attribute):
            receiver = receiver.value
        if isinstance(receiver, cst.Name) and receiver.value == "self":
            return node.func.value
    return None


def _in_module_class(transformer) -> bool:
    classes = transformer.ctx.facts.get("torch_classes", {})
    return any(isinstance(n, cst.ClassDef) and n.name.value in classes for n in transformer.stack)


def _forget(ctx, statement, call) -> None:
    """The reports made about ``call`` while its statement was converted are moot: the
    statement is replaced as a whole."""
    apis = {f.api for f in ctx.findings if f.node is call}
    ctx.findings[:] = [f for f in ctx.findings if f.node is not call]
    todos = ctx.todos.get(id(statement))
    if todos:
        todos[:] = [t for t in todos if not any(t.startswith(f"# TODO(transpiler): {api}:") for api in apis)]


def _flag(body, name: str):
    """The literal True/False of ``name.requires_grad = flag`` / ``name.requires_grad_(flag)``,
    the loop's only statement; None otherwise."""
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return None
    line = body.body[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    small = line.body[0]
    target = value = None
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target, value = small.targets[0].target, small.value
        if not (isinstance(target, cst.Attribute) and target.attr.value == "requires_grad"):
            return None
        target = target.value
    elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        call = small.value
        if not (isinstance(call.func, cst.Attribute) and call.func.attr.value == "requires_grad_"):
            return None
        target = call.func.value
        value = call.args[0].value if len(call.args) == 1 and call.args[0].keyword is None else (None if call.args else cst.Name("True"))
    if not (isinstance(target, cst.Name) and target.value == name):
        return None
    if isinstance(value, cst.Name) and value.value in ("True", "False"):
        return value.value
    return None


def on_for(transformer, original, updated):
    """``for p in self[.sub].parameters(): p.requires_grad = flag`` -> ``self[.sub].trainable = flag``."""
    if original.orelse is not None or not isinstance(original.target, cst.Name):
        return None
    receiver = _parameters_call(original.iter)
    if receiver is None or not _in_module_class(transformer):
        return None
    flag = _flag(original.body, original.target.value)
    if flag is None:
        return None
    ctx = transformer.ctx
    _forget(ctx, original, original.iter)
    ctx.converted(original.iter, API, "keras.layers.Layer.trainable")
    if "BatchNorm" in ctx.scan.source:
        ctx.warn(original.iter, API, "Keras's trainable=False also runs the BatchNormalization layers inside in "
                 "inference mode (their moving statistics); PyTorch's frozen BatchNorm still normalises with "
                 "the batch's in training mode")
    line = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(cst.Attribute(value=receiver, attr=cst.Name("trainable")))], value=cst.Name(flag))],
        leading_lines=original.leading_lines,
    )
    return ctx.mark_new(line)


def on_attribute(transformer, original, updated):
    """``next(self.parameters()).dtype`` -> ``self.variable_dtype`` (the weights' dtype)."""
    if original.attr.value != "dtype":
        return None
    call = original.value
    if not (
        isinstance(call, cst.Call) and isinstance(call.func, cst.Name) and call.func.value == "next"
        and len(call.args) == 1 and call.args[0].keyword is None
    ):
        return None
    receiver = _parameters_call(call.args[0].value)
    if receiver is None or not (isinstance(receiver, cst.Name)) or not _in_module_class(transformer):
        return None
    ctx = transformer.ctx
    statement = ctx.statement_stack[-1] if ctx.statement_stack else None
    if statement is not None:
        _forget(ctx, statement, call.args[0].value)
    ctx.converted(original, API, "keras.layers.Layer.variable_dtype")
    return cst.Attribute(value=cst.Name("self"), attr=cst.Name("variable_dtype"))
