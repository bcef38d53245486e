"""``self.<layer>.build(shape)`` written in ``__init__`` itself.

Keras-hub's newer blocks build their sublayers right where they make them::

    self.conv = keras.layers.Conv2D(filters=self.out_channels, ...)
    self.conv.build((None, dummy_t, dummy_f, self.in_channels))

In PyTorch a module is built when it is made: the shape's last size is the layer's
input size (``nn.Conv2d(self.in_channels, self.out_channels, ...)``) and the statement
goes. A converted subclass of the file is made with its sizes too: its build call goes,
giving the size where the class takes one (``input_dim=``). Left as it was, ``.build()``
on a module would raise AttributeError when the module is made.

Only a literal shape (or a local bound once to one) whose last size can be read where the
layer is made converts: numbers, ``__init__``'s parameters, and ``self.<attr>`` set before
the layer's statement. Anything else stays, reported where the engine meets it.
"""

from __future__ import annotations

import libcst as cst

from ...engine.build import code_of
from .data_format import binding_counts
from .keras_layers import Expr


def plan_init_builds(ctx, plan, init: cst.FunctionDef | None, self_attr) -> None:
    """Record on ``plan`` the __init__ build statements that go (``plan.init_builds``) and
    give the layers they build their input shapes."""
    if init is None:
        return
    params = {p.name.value for p in (*init.params.params, *init.params.kwonly_params)}
    bindings = binding_counts(init.body)
    for lines, outer in _blocks(list(init.body.body), []):
        for index, line in enumerate(lines):
            call = _build_call(line, self_attr)
            if call is None:
                continue
            name = self_attr(call.func.value)
            attr = plan.attrs.get(name)
            if attr is None or attr.many or attr.statement is None:
                continue
            made_at = next((i for i, s in enumerate(lines[:index]) if s is attr.statement), None)
            if made_at is None:
                continue  # made elsewhere: left as it is
            if attr.alternatives:
                continue  # made in several branches: one shape would not serve them all
            before = outer + lines[:made_at]
            # set before the layer is made, and not again until it is built
            self_attrs = _self_assigned(before, self_attr) - _self_assigned(lines[made_at + 1:index], self_attr)
            values = {n: v for n, v in _local_values(outer + lines[:index]).items() if bindings.get(n) == 1}
            readable = _Readable(
                {p for p in params if p not in bindings}, self_attrs,
                {n for n in _local_values(before) if bindings.get(n) == 1},
            )
            shape = _shape_elements(call.args[0].value, values)
            if shape is None:
                continue
            last = _readable_last(shape[-1], readable, values)
            if last is None:
                continue
            if attr.kind == "layer":
                if attr.build_shape is not None:
                    continue  # build() gives it one
                elements = shape[1:] if len(shape) > 1 else shape
                attr.build_shape = tuple(
                    int(e.value) if isinstance(e, cst.Integer) else None for e in elements[:-1]
                ) + (int(last.value) if isinstance(last, cst.Integer) else Expr(last),)
            elif attr.kind == "block":
                if getattr(attr.block, "size_param", None):
                    if attr.block_size is not None:
                        continue
                    attr.block_size = last
            else:
                continue
            plan.init_builds[id(line)] = call
            for node in (call, call.func, call.func.value):
                ctx.owned.add(id(node))


def _blocks(lines: list, outer: list):
    """__init__'s body and the bodies of its ``if``s, each with the statements run before it"""
    yield lines, outer
    for index, stmt in enumerate(lines):
        if isinstance(stmt, cst.If):
            branch = stmt
            while branch is not None:
                body = branch.body.body if isinstance(branch.body, cst.IndentedBlock) else []
                yield from _blocks(list(body), outer + lines[:index])
                orelse = branch.orelse
                if isinstance(orelse, cst.Else):
                    body = orelse.body.body if isinstance(orelse.body, cst.IndentedBlock) else []
                    yield from _blocks(list(body), outer + lines[:index])
                    orelse = None
                branch = orelse


def _build_call(line, self_attr) -> cst.Call | None:
    """``self.<name>.build(shape)`` alone on its line"""
    if not (isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1 and isinstance(line.body[0], cst.Expr)):
        return None
    call = line.body[0].value
    if not (isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and call.func.attr.value == "build"):
        return None
    if self_attr(call.func.value) is None or len(call.args) != 1 or call.args[0].star:
        return None
    if call.args[0].keyword is not None and call.args[0].keyword.value != "input_shape":
        return None
    return call


def _shape_elements(node, values: dict) -> list | None:
    """The elements of ``(None, t, f, self.c)``, of the tuple a local was bound to once, or of
    ``shape[:-1] + (n,)`` (the last size replaced)"""
    if isinstance(node, cst.Name) and node.value in values:
        node = values[node.value]
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
        head, tail = node.left, _shape_elements(node.right, values)
        if not (
            tail and isinstance(head, cst.Subscript) and len(head.slice) == 1 and isinstance(head.slice[0].slice, cst.Slice)
            and head.slice[0].slice.lower is None and head.slice[0].slice.step is None
            and code_of(head.slice[0].slice.upper).strip() == "-1"
        ):
            return None
        whole = _shape_elements(head.value, values)
        return whole[:-1] + tail if whole else None
    if not isinstance(node, (cst.Tuple, cst.List)) or any(isinstance(e, cst.StarredElement) for e in node.elements):
        return None
    return [e.value for e in node.elements] or None


def _readable_last(node, readable, values: dict):
    """The shape's last size as it reads where the layer is made: itself, or the value of a
    local bound once after the layer is made (``proj_in = d if d is not None else hidden``)"""
    if readable(node):
        return node
    if isinstance(node, cst.Name) and node.value in values and readable(values[node.value]):
        return values[node.value]
    return None


class _Readable:
    """Whether an expression means the same where the layer is made: numbers, parameters
    __init__ never rebinds, locals bound once before, ``self.<attr>`` set before, and
    attributes and arithmetic of those."""

    def __init__(self, params: set, self_attrs: set, locals_: set) -> None:
        self.names = params | locals_
        self.self_attrs = self_attrs

    def __call__(self, node) -> bool:
        if isinstance(node, cst.Integer):
            return True
        if isinstance(node, cst.Name):
            return node.value in self.names or node.value in ("None", "True", "False")
        if isinstance(node, cst.Attribute):
            if isinstance(node.value, cst.Name) and node.value.value == "self":
                return node.attr.value in self.self_attrs
            return self(node.value)
        if isinstance(node, cst.BinaryOperation):
            return self(node.left) and self(node.right)
        if isinstance(node, cst.IfExp):
            return self(node.test) and self(node.body) and self(node.orelse)
        if isinstance(node, cst.Comparison):
            return self(node.left) and all(self(c.comparator) for c in node.comparisons)
        if isinstance(node, cst.Subscript):
            return self(node.value) and all(
                isinstance(s.slice, cst.Index) and self(s.slice.value) for s in node.slice
            )
        return False


def _self_assigned(lines: list, self_attr) -> set:
    out = set()
    for line in lines:
        if isinstance(line, cst.SimpleStatementLine):
            for small in line.body:
                if isinstance(small, cst.Assign):
                    out.update(n for n in (self_attr(t.target) for t in small.targets) if n is not None)
    return out


def _local_values(lines: list) -> dict:
    """Locals a plain assignment among ``lines`` binds -> the value (the last one)"""
    return {
        t.target.value: small.value
        for line in lines if isinstance(line, cst.SimpleStatementLine)
        for small in line.body if isinstance(small, cst.Assign)
        for t in small.targets if isinstance(t.target, cst.Name)
    }
