"""``forward`` -> ``call``: where tensors change layout, which calls need ``training``.

Convolution-like Keras layers work channels-last; everything else in a
PyTorch ``forward`` (``x.view(-1, 16 * 5 * 5)``, ``torch.cat(..., dim=1)``,
indexing, the value returned) means PyTorch's channels-first layout. The tracer
follows each local tensor's layout through ``forward`` and records the rewrites
that keep the computation the same:

* a tensor in PyTorch's layout going into a channels-last layer is transposed
  there (``tf.transpose(x, [0, 2, 3, 1])``), and back before code that depends on
  the axis order; elementwise code (activations, ``+``) keeps either layout;
  reductions and concatenations over literal axes are renumbered instead
  (``torch.cat([a, b], dim=1)`` on channels-last maps -> ``axis=-1``);
* before a loop (or ``with``/``try``) every channels-last tensor goes back to
  PyTorch's layout, so the loop body sees one layout whatever the iteration;
  after an ``if``, a name that ends in different layouts goes back too;
* layers that behave differently in training get ``training=training``;
* recurrent layers return PyTorch's ``(output, states)`` where the call's result
  is unpacked, and attention takes Keras's argument order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ...engine.build import code_of
from ...engine.calls import Unconvertible, literal_value
from ...engine.query import resolve_call
from ...engine.walk import source_children
from .torch_layers import TorchLayer, plan_layer, to_keras_perm, to_torch_perm

# PyTorch functions that work element by element: they keep the layout of their input
ELEMENTWISE = {
    "torch.relu", "torch.nn.functional.relu", "torch.nn.functional.relu6", "torch.nn.functional.elu",
    "torch.nn.functional.selu", "torch.selu", "torch.nn.functional.gelu", "torch.nn.functional.silu",
    "torch.sigmoid", "torch.nn.functional.sigmoid", "torch.tanh", "torch.nn.functional.tanh",
    "torch.nn.functional.leaky_relu", "torch.nn.functional.softplus", "torch.nn.functional.softsign",
    "torch.nn.functional.mish", "torch.nn.functional.hardsigmoid", "torch.nn.functional.dropout",
    "torch.exp", "torch.abs", "torch.square", "torch.sqrt", "torch.neg", "torch.log", "torch.clamp",
    "torch.add", "torch.sub", "torch.mul", "torch.div", "torch.maximum", "torch.minimum",
    "torch.nn.functional.logsigmoid",
}
ELEMENTWISE_METHODS = {"relu", "sigmoid", "tanh", "exp", "abs", "sqrt", "clamp", "neg", "float", "double", "contiguous", "clone", "detach"}
# reductions and concatenations whose axes can be renumbered: (dim argument name, position)
AXIS_FUNCTIONS = {
    "torch.cat": ("dim", 1), "torch.concat": ("dim", 1), "torch.concatenate": ("dim", 1),
    "torch.mean": ("dim", 1), "torch.sum": ("dim", 1), "torch.amax": ("dim", 1), "torch.amin": ("dim", 1),
}
AXIS_METHODS = {"mean": ("dim", 0), "sum": ("dim", 0), "amax": ("dim", 0), "amin": ("dim", 0)}

TORCH = "torch"
KERAS = "keras"
NONE = "none"


@dataclass
class Info:
    layout: str = TORCH  # "torch", "keras", or "none" (a number: no layout)
    rank: int | None = None  # spatial dims of a channels-last map


@dataclass
class Application:
    member: object  # modules.Member
    element: bool = False  # an element of a container (ModuleList, loop variable)


@dataclass
class ForwardPlan:
    wraps: dict = field(default_factory=dict)  # id(original expr) -> permutation
    apps: dict = field(default_factory=dict)  # id(original call) -> Application
    remaps: dict = field(default_factory=dict)  # id(original call) -> (dim arg name, position, new value)
    before: dict = field(default_factory=dict)  # id(original statement) -> [code lines]
    after: dict = field(default_factory=dict)  # id(original statement) -> [code lines]
    statements: dict = field(default_factory=dict)  # id(original statement) -> ("rnn"|"mha", info)
    subscripts: dict = field(default_factory=dict)  # id(original Subscript app[0]) -> ("rnn"|"mha", info)
    uses_training: bool = False
    taken: set = field(default_factory=set)  # names used in the function


def _self_attr(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _reads(fn: cst.FunctionDef, infos: dict) -> bool:
    """Whether the nested function reads a name of the enclosing forward() (a closure)."""
    own = {p.name.value for p in (*fn.params.params, *fn.params.kwonly_params, *fn.params.posonly_params)}
    for extra in (fn.params.star_arg, fn.params.star_kwarg):
        if isinstance(extra, cst.Param):
            own.add(extra.name.value)
    stack = [fn.body]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name) and n.value in infos and n.value not in own:
            return True
        stack.extend(source_children(n))
    return False


def _perm_code(perm: tuple) -> str:
    return "[" + ", ".join(str(p) for p in perm) + "]"


def _names_in(node) -> set[str]:
    found = set()

    class V(cst.CSTVisitor):
        def visit_Name(self, n):
            found.add(n.value)

    node.visit(V())
    return found


def _is_number(node) -> bool:
    if isinstance(node, cst.UnaryOperation):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float, cst.Imaginary))


def _targets(target) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        out = []
        for el in target.elements:
            out += _targets(el.value)
        return out
    if isinstance(target, cst.StarredElement):
        return _targets(target.value)
    return []


class Tracer:
    def __init__(self, ctx, cls, fn: cst.FunctionDef) -> None:
        self.ctx = ctx
        self.cls = cls  # modules.ClassInfo
        self.fn = fn
        self.plan = ForwardPlan()
        self.aliases: dict[str, object] = {}  # loop variable -> container member
        self.plan.taken = _names_in(fn)

    # -- statements ----------------------------------------------------------
    def run(self) -> ForwardPlan:
        params = [p.name.value for p in self.fn.params.params[1:]]
        infos = {name: Info(TORCH) for name in params}
        self.block(self.fn.body, infos)
        self._find_training(self.fn)
        return self.plan

    def _find_training(self, fn) -> None:
        plan = self.plan

        class V(cst.CSTVisitor):
            def visit_Attribute(self, node):
                if _self_attr(node) == "training":
                    plan.uses_training = True

        fn.visit(V())

    def block(self, block, infos: dict) -> None:
        for stmt in getattr(block, "body", ()):
            self.statement(stmt, infos)

    def statement(self, stmt, infos: dict) -> None:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.small(small, stmt, infos)
        elif isinstance(stmt, cst.If):
            self._if(stmt, infos)
        elif isinstance(stmt, (cst.For, cst.While, cst.With, cst.Try)) or type(stmt).__name__ == "TryStar":
            self._loop(stmt, infos)
        elif isinstance(stmt, cst.FunctionDef) and self._plain_helper(stmt, infos):
            # a helper of plain tensor code (`def shape(x): return x.view(bs, -1, h, d)`): its
            # body converts with the rules; it gets and reads PyTorch's layout
            infos.pop(stmt.name.value, None)
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            raise Unconvertible("a function or class defined inside forward() that uses self or forward()'s own tensors is not converted")
        else:
            self._loop(stmt, infos)

    def _plain_helper(self, fn: cst.FunctionDef, infos: dict) -> bool:
        """A function defined in forward() whose tensors are all in PyTorch's layout: it calls
        none of the module's layers (their layouts are followed only in forward itself), and
        it reads only its arguments (a call gives them in PyTorch's layout), plain attributes
        of self (``self.n_heads``), and names of forward() while none of them can be channels-last
        (the module has no convolution-like layer)."""
        if fn.decorators:
            return False
        members = self.cls.members
        stack = [fn.body]
        while stack:
            n = stack.pop()
            if isinstance(n, cst.Name) and n.value == "self":
                return False  # self passed on, or read otherwise than below
            if isinstance(n, cst.Attribute) and isinstance(n.value, cst.Name) and n.value.value == "self":
                if n.attr.value in members or n.attr.value == "training":
                    return False
                continue  # a plain attribute (not a layer): self.n_heads
            stack.extend(source_children(n))
        if not _reads(fn, infos):
            return True
        spatial = any(m.kind == "layer" and m.layer is not None and m.layer.rank is not None for m in members.values())
        return not spatial and not any(info.layout == KERAS for info in infos.values())

    def small(self, small, stmt, infos: dict) -> None:
        if isinstance(small, cst.Assign):
            if self._special_statement(small, stmt, infos):
                return
            info = self.expr(small.value, infos)
            for target in small.targets:
                t = target.target
                if isinstance(t, cst.Name):
                    infos[t.value] = info
                else:
                    self._unpack(t, small.value, info, infos)
                    for name in _targets(t):
                        infos.setdefault(name, Info(TORCH))
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            info = self.expr(small.value, infos)
            if isinstance(small.target, cst.Name):
                infos[small.target.value] = info
        elif isinstance(small, cst.AugAssign):
            target = small.target
            value = self.expr(small.value, infos)
            if isinstance(target, cst.Name):
                current = infos.get(target.value, Info(TORCH))
                layouts = {(i.layout, i.rank) for i in (current, value) if i.layout != NONE}
                if len(layouts) > 1 and current.layout == KERAS:
                    # `x += b` with a channels-last x and a PyTorch-layout b: an assignment
                    # target cannot be transposed in place, so x goes back first
                    name = target.value
                    self.plan.before.setdefault(id(stmt), []).append(
                        f"{name} = tf.transpose({name}, {_perm_code(to_torch_perm(current.rank))})"
                    )
                    current = Info(TORCH)
                infos[target.value] = self._combine([(target, current), (small.value, value)])
            else:
                self._move(small.value, value)
        elif isinstance(small, cst.Return) and small.value is not None:
            value = small.value
            items = [el.value for el in value.elements] if isinstance(value, cst.Tuple) else [value]
            for item in items:
                info = self.expr(item, infos)
                self._move(item, info)
        elif isinstance(small, cst.Expr):
            self.expr(small.value, infos)

    def _unpack(self, target, value, info, infos) -> None:
        if isinstance(value, (cst.Tuple, cst.List)) and isinstance(target, (cst.Tuple, cst.List)):
            for t, v in zip(target.elements, value.elements):
                if isinstance(t.value, cst.Name):
                    infos[t.value.value] = self.expr(v.value, infos)

    def _if(self, stmt: cst.If, infos: dict) -> None:
        self.expr(stmt.test, infos)
        left = dict(infos)
        self.block(stmt.body, left)
        right = dict(infos)
        orelse = stmt.orelse
        if isinstance(orelse, cst.Else):
            self.block(orelse.body, right)
        elif isinstance(orelse, cst.If):
            self._if(orelse, right)
        for name in set(left) | set(right):
            a, b = left.get(name), right.get(name)
            if a is not None and b is not None and (a.layout, a.rank) == (b.layout, b.rank):
                infos[name] = a
                continue
            # ends in different layouts: both branches leave it in PyTorch's layout
            for side, block in ((a, stmt.body), (b, orelse.body if isinstance(orelse, cst.Else) else None)):
                if side is not None and side.layout == KERAS:
                    if block is None or not block.body:
                        continue
                    last = block.body[-1]
                    self.plan.after.setdefault(id(last), []).append(
                        f"{name} = tf.transpose({name}, {_perm_code(to_torch_perm(side.rank))})"
                    )
            infos[name] = Info(TORCH)

    def _loop(self, stmt, infos: dict) -> None:
        # every channels-last tensor goes back to PyTorch's layout before the block
        moved = [name for name, info in infos.items() if info.layout == KERAS]
        for name in moved:
            self.plan.before.setdefault(id(stmt), []).append(
                f"{name} = tf.transpose({name}, {_perm_code(to_torch_perm(infos[name].rank))})"
            )
            infos[name] = Info(TORCH)
        if isinstance(stmt, cst.For):
            self._loop_alias(stmt)
            self.expr(stmt.iter, infos)
        elif isinstance(stmt, cst.While):
            self.expr(stmt.test, infos)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                self.expr(item.item, infos)
        inner = dict(infos)
        for block in self._blocks(stmt):
            self.block(block, inner)
            if block.body:
                # a name the body leaves channels-last goes back at the end of each pass
                last = block.body[-1]
                for name, info in inner.items():
                    if info.layout == KERAS:
                        self.plan.after.setdefault(id(last), []).append(
                            f"{name} = tf.transpose({name}, {_perm_code(to_torch_perm(info.rank))})"
                        )
                        inner[name] = Info(TORCH)
        for name in inner:
            infos[name] = Info(TORCH)

    def _blocks(self, stmt):
        body = getattr(stmt, "body", None)
        if isinstance(body, cst.IndentedBlock):
            yield body
        for handler in getattr(stmt, "handlers", ()) or ():
            yield handler.body
        for name in ("orelse", "finalbody"):
            part = getattr(stmt, name, None)
            if part is not None and isinstance(getattr(part, "body", None), cst.IndentedBlock):
                yield part.body

    def _loop_alias(self, stmt: cst.For) -> None:
        """``for layer in self.layers:`` -> calls of ``layer`` are calls of the container's elements."""
        it = stmt.iter
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Attribute) and it.func.attr.value == "values":
            it = it.func.value
        attr = _self_attr(it)
        member = self.cls.members.get(attr) if attr else None
        if member is not None and member.kind in ("list", "dict", "sequential") and isinstance(stmt.target, cst.Name):
            self.aliases[stmt.target.value] = member

    # -- expressions ---------------------------------------------------------
    def expr(self, node, infos: dict) -> Info:
        if node is None:
            return Info(NONE)
        if _is_number(node) or isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
            return Info(NONE)
        if isinstance(node, cst.Name):
            if node.value in ("None", "True", "False"):
                return Info(NONE)
            return infos.get(node.value, Info(TORCH))
        if isinstance(node, cst.Call):
            return self._call(node, infos)
        if isinstance(node, cst.BinaryOperation):
            return self._combine([(node.left, self.expr(node.left, infos)), (node.right, self.expr(node.right, infos))])
        if isinstance(node, cst.UnaryOperation):
            return self.expr(node.expression, infos)
        if isinstance(node, cst.Attribute) and _self_attr(node) == "training":
            return Info(NONE)
        return self._other(node, infos)

    def _combine(self, items) -> Info:
        """Elementwise code: one layout for all operands (PyTorch's when they differ)."""
        tensors = [(node, info) for node, info in items if info.layout != NONE]
        layouts = {(info.layout, info.rank) for _, info in tensors}
        if not tensors:
            return Info(NONE)
        if len(layouts) == 1:
            layout, rank = layouts.pop()
            return Info(layout, rank)
        for node, info in tensors:
            self._move(node, info)
        return Info(TORCH)

    def _move(self, node, info: Info) -> None:
        """``node`` is read where PyTorch's layout matters: a channels-last value goes back."""
        if info.layout == KERAS:
            self.plan.wraps[id(node)] = to_torch_perm(info.rank)

    def _to_keras(self, node, info: Info, rank: int) -> None:
        if info.layout != KERAS:
            self.plan.wraps[id(node)] = to_keras_perm(rank)

    def _other(self, node, infos: dict) -> Info:
        """Code that depends on the axis order: its tensor operands in PyTorch's layout."""
        if _batch_size(node):
            return Info(NONE)
        if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Call) and len(node.slice) == 1:
            app = self._member_call(node.value)
            index = node.slice[0].slice
            if (
                app is not None and not app.element and app.member.kind == "layer"
                and app.member.layer.plan_kind in ("rnn", "mha")
                and isinstance(index, cst.Index) and code_of(index.value).strip() in ("0", "1")
            ):
                # (output, states)[i]: what the Keras layer gives, shaped as PyTorch's
                self._application(node.value, app, infos)
                which = int(code_of(index.value).strip())
                self.plan.subscripts[id(node)] = (app.member.layer.plan_kind, app.member, which)
                return Info(TORCH)
        for child in _data_children(node):
            self._move(child, self.expr(child, infos))
        return Info(TORCH)

    def _call(self, node: cst.Call, infos: dict) -> Info:
        found = self._member_call(node)
        if found is not None:
            return self._application(node, found, infos)
        attr = _self_attr(node.func)
        if attr is not None and attr not in self.cls.members and not self.cls.has_attribute(attr):
            self.ctx.warn(node, "torch.nn.Module.forward",
                          f"self.{attr} is not created in {self.cls.name}.__init__ (the original raises AttributeError too)")
        api = resolve_call(self.ctx, node)
        if api is not None:
            rule = self.ctx.ruleset.lookup(api)
            data = rule.data if rule is not None else {}
            if api in ELEMENTWISE:
                args = [a.value for a in node.args if a.keyword is None or a.keyword.value in ("input", "other")]
                for a in node.args:
                    if a.keyword is not None and a.keyword.value not in ("input", "other"):
                        self._move(a.value, self.expr(a.value, infos))
                return self._combine([(a, self.expr(a, infos)) for a in args])
            if data.get("layout") == KERAS and node.args:
                self.ctx.facts.setdefault("keras_layout_calls", set()).add(id(node))
                first = node.args[0].value
                info = self.expr(first, infos)
                rank = data.get("rank", 2)
                if info.layout == KERAS and info.rank != rank:
                    self._move(first, info)
                    info = Info(TORCH)
                self._to_keras(first, info, rank)
                for a in node.args[1:]:
                    self._move(a.value, self.expr(a.value, infos))
                return Info(KERAS, rank)
            if api in AXIS_FUNCTIONS:
                return self._axis_call(node, AXIS_FUNCTIONS[api], infos, receiver=None)
            return self._other(node, infos)
        func = node.func
        if isinstance(func, cst.Attribute) and _self_attr(func) is None:
            name = func.attr.value
            if name in AXIS_METHODS:
                return self._axis_call(node, AXIS_METHODS[name], infos, receiver=func.value)
            if name in ELEMENTWISE_METHODS and not node.args:
                return self.expr(func.value, infos)
        return self._other(node, infos)

    def _axis_call(self, node: cst.Call, spec, infos, receiver) -> Info:
        dim_name, position = spec
        dim_node = None
        for i, a in enumerate(node.args):
            if (a.keyword is None and i == position) or (a.keyword is not None and a.keyword.value == dim_name):
                dim_node = a.value
        tensors = []
        if receiver is not None:
            tensors.append(receiver)
        else:
            first = node.args[0].value if node.args else None
            if isinstance(first, (cst.List, cst.Tuple)):
                tensors += [el.value for el in first.elements]
            elif first is not None:
                tensors.append(first)
        infos_ = [self.expr(t, infos) for t in tensors]
        ranks = {i.rank for i in infos_}
        ok, dims = literal_value(dim_node) if dim_node is not None else (False, None)
        all_keras = infos_ and all(i.layout == KERAS for i in infos_) and len(ranks) == 1
        keepdim = any(a.keyword is not None and a.keyword.value == "keepdim" and code_of(a.value).strip() == "True" for a in node.args)
        if all_keras and ok and dims is not None:
            rank = ranks.pop()
            full = rank + 2
            seq = list(dims) if isinstance(dims, (list, tuple)) else [dims]
            norm = [d + full if d < 0 else d for d in seq]
            # PyTorch axis -> channels-last axis
            mapping = {0: 0, 1: full - 1, **{k: k - 1 for k in range(2, full)}}
            if all(d in mapping for d in norm):
                new = [mapping[d] for d in norm]
                value = new if isinstance(dims, (list, tuple)) else new[0]
                if isinstance(dims, tuple):
                    value = tuple(new)
                self.plan.remaps[id(node)] = (dim_name, position, value)
                others = [a.value for a in node.args if a.value is not dim_node and a.value not in tensors and not (a.keyword is not None and a.keyword.value == "keepdim")]
                if receiver is None and node.args and isinstance(node.args[0].value, (cst.List, cst.Tuple)):
                    others = [a.value for a in node.args[1:] if a.value is not dim_node and not (a.keyword is not None and a.keyword.value == "keepdim")]
                for other in others:
                    self._move(other, self.expr(other, infos))
                if node.func and isinstance(node.func, cst.Attribute) and receiver is None and resolve_call(self.ctx, node) in ("torch.cat", "torch.concat", "torch.concatenate"):
                    return Info(KERAS, rank)
                reduced_channels = (full - 1) in new
                if keepdim or not reduced_channels and not (set(new) & set(range(1, full - 1))):
                    return Info(KERAS, rank)
                if keepdim:
                    return Info(KERAS, rank)
                if reduced_channels:
                    return Info(TORCH)
                # spatial axes reduced away: (N, C) or (N, ..., C) with fewer spatial dims
                left = rank - len([d for d in new if 1 <= d < full - 1])
                return Info(TORCH) if left == 0 else Info(KERAS, left)
        for t, i in zip(tensors, infos_):
            self._move(t, i)
        for a in node.args:
            if a.value not in tensors and not isinstance(a.value, (cst.List, cst.Tuple)):
                self._move(a.value, self.expr(a.value, infos))
        return Info(TORCH)

    # -- applications of the module's own layers ----------------------------------
    def _member_call(self, node: cst.Call):
        func = node.func
        attr = _self_attr(func)
        members = self.cls.members
        if attr is not None and attr in members and members[attr].kind in ("layer", "sequential", "block", "list", "dict", "other_module"):
            return Application(members[attr])
        if isinstance(func, cst.Subscript):
            attr = _self_attr(func.value)
            if attr is not None and attr in members and members[attr].kind in ("list", "dict", "sequential"):
                return Application(members[attr], element=True)
        if isinstance(func, cst.Name) and func.value in self.aliases:
            return Application(self.aliases[func.value], element=True)
        return None

    def _application(self, node: cst.Call, app: Application, infos: dict) -> Info:
        member = app.member
        self.plan.apps[id(node)] = app
        args = [a for a in node.args if a.keyword is None or a.keyword.value not in ("training",)]
        first = args[0].value if args else None
        if app.element or member.kind != "layer" or getattr(member, "assigned_twice", False):
            # containers, blocks, closed layers (and a layer the attribute is one of
            # several values of): PyTorch's layout in and out
            for a in args:
                self._move(a.value, self.expr(a.value, infos))
            if isinstance(node.func, cst.Subscript):
                self._other(node.func.slice[0].slice.value if node.func.slice else None, infos) if node.func.slice and isinstance(node.func.slice[0].slice, cst.Index) else None
            return Info(TORCH)
        x = self.expr(first, infos) if first is not None else Info(TORCH)
        if member.plan is None:
            layer: TorchLayer = member.layer
            options = {}
            if layer.plan_kind == "rnn":
                options["states"] = member.rnn_states
            if layer.plan_kind == "upsample" and x.layout == KERAS:
                options["rank"] = x.rank
            layout = x.layout if x.layout != NONE else TORCH
            member.plan = plan_layer(layer, layout, **options)
            member.plan_layout = layout
        plan = member.plan
        wants = plan.wants
        if wants == "any" and plan.rank is not None and member.plan_layout is not None:
            # BatchNorm1d/GroupNorm were built for the layout of their first input
            wants = member.plan_layout if member.plan_layout != "any" else "any"
        if first is not None:
            if wants == KERAS:
                if x.layout == KERAS and x.rank != plan.rank:
                    self._move(first, x)
                    x = Info(TORCH)
                self._to_keras(first, x, plan.rank)
                x = Info(KERAS, plan.rank)
            elif wants == TORCH:
                self._move(first, x)
                x = Info(TORCH)
        for a in args[1:]:
            self._move(a.value, self.expr(a.value, infos))
        for a in node.args:
            if a.keyword is not None and a.keyword.value != "training":
                self._move(a.value, self.expr(a.value, infos))
        if plan.out == KERAS:
            return Info(KERAS, plan.rank)
        if plan.out == TORCH:
            return Info(TORCH)
        return x

    def _special_statement(self, assign: cst.Assign, stmt, infos) -> bool:
        """``out, (h, c) = self.lstm(x)`` / ``out, w = self.attn(q, k, v)``."""
        value = assign.value
        if len(assign.targets) != 1:
            return False
        call = value
        if not isinstance(call, cst.Call):
            return False
        app = self._member_call(call)
        if app is None or app.element or app.member.kind != "layer" or app.member.layer.plan_kind not in ("rnn", "mha"):
            return False
        target = assign.targets[0].target
        kind = app.member.layer.plan_kind
        if not isinstance(target, (cst.Tuple, cst.List)) or len(target.elements) != 2:
            return False
        self._application(call, app, infos)
        self.plan.statements[id(stmt)] = (kind, {"target": target, "call": call, "member": app.member})
        for name in _targets(target):
            infos[name] = Info(TORCH)
        return True


def _batch_size(node) -> bool:
    """``x.shape[0]`` / ``x.size(0)``: the batch size, the same in either layout."""
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute) and node.value.attr.value == "shape":
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            return code_of(node.slice[0].slice.value).strip() == "0"
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "size":
        return len(node.args) == 1 and code_of(node.args[0].value).strip() == "0"
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Name) and node.func.value == "len":
        return True
    return False


def _data_children(node):
    """The sub-expressions whose values ``node`` reads."""
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Attribute):
            yield node.func.value
        for a in node.args:
            yield a.value
    elif isinstance(node, cst.Attribute):
        yield node.value
    elif isinstance(node, cst.Subscript):
        yield node.value
        for el in node.slice:
            if isinstance(el.slice, cst.Index):
                yield el.slice.value
    elif isinstance(node, (cst.Tuple, cst.List, cst.Set)):
        for el in node.elements:
            yield el.value
    elif isinstance(node, cst.Dict):
        for el in node.elements:
            if isinstance(el, cst.DictElement):
                yield el.value
    elif isinstance(node, cst.Comparison):
        yield node.left
        for c in node.comparisons:
            yield c.comparator
    elif isinstance(node, cst.BooleanOperation):
        yield node.left
        yield node.right
    elif isinstance(node, cst.IfExp):
        yield node.test
        yield node.body
        yield node.orelse
    elif isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
        comp = node.for_in
        while comp is not None:
            yield comp.iter
            comp = comp.inner_for_in


# -- the rewrite ----------------------------------------------------------------

def rewrite_call(ctx, cls, fn: cst.FunctionDef, original_fn: cst.FunctionDef, plan: ForwardPlan, training: bool) -> cst.FunctionDef:
    """The converted ``forward`` (``fn``, rules applied) as Keras's ``call``."""
    wraps, apps, remaps, before, after, statements, subscripts = {}, {}, {}, {}, {}, {}, {}
    for node in _walk(original_fn):
        key = id(node)
        new = id(ctx.updated(node))
        if key in plan.wraps:
            wraps[new] = plan.wraps[key]
            wraps[key] = plan.wraps[key]
        if key in plan.apps:
            apps[new] = plan.apps[key]
            apps[key] = plan.apps[key]
        if key in plan.remaps:
            remaps[new] = plan.remaps[key]
        if key in plan.before:
            before[new] = plan.before[key]
            before[key] = plan.before[key]
        if key in plan.after:
            after[new] = plan.after[key]
            after[key] = plan.after[key]
        if key in plan.statements:
            statements[new] = plan.statements[key]
            statements[key] = plan.statements[key]
        if key in plan.subscripts:
            subscripts[new] = plan.subscripts[key]
            subscripts[key] = plan.subscripts[key]
    params = fn.params
    if training and not any(p.name.value == "training" for p in params.params):
        new_param = cst.Param(name=cst.Name("training"), default=cst.Name("None"), equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
        items = list(params.params)
        if items:
            items[-1] = items[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        params = params.with_changes(params=[*items, new_param])
    fn = fn.with_changes(name=cst.Name("call"), params=params)
    taken = set(plan.taken)

    def spell(text: str) -> cst.BaseExpression:
        return ctx.build(text)

    def needs_training(app: Application) -> bool:
        return training and app.member.needs_training

    class Rewrite(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            if _self_attr(original) == "training":
                return cst.Name("training")
            attr = _self_attr(original)
            if attr is not None and attr in cls.members and cls.members[attr].keras_name != attr:
                return updated.with_changes(attr=cst.Name(cls.members[attr].keras_name))
            return updated

        def on_leave(self, original, updated):
            result = super().on_leave(original, updated)
            perm = wraps.get(id(original))
            if perm is not None and isinstance(result, cst.BaseExpression):
                result = ctx.build("tensorflow.transpose({x}, " + _perm_code(perm) + ")", x=result.with_changes(lpar=[], rpar=[]) if isinstance(result, cst.Name) else result)
            return result

        def leave_Call(self, original, updated):
            app = apps.get(id(original))
            if app is not None and needs_training(app) and not any(a.keyword is not None and a.keyword.value == "training" for a in updated.args):
                args = list(updated.args)
                if args:
                    args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                args.append(cst.Arg(keyword=cst.Name("training"), value=cst.Name("training"), equal=cst.AssignEqual(
                    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))))
                updated = updated.with_changes(args=args)
            remap = remaps.get(id(original))
            if remap is not None:
                updated = _apply_remap(updated, remap)
            return updated

        def leave_Subscript(self, original, updated):
            found = subscripts.get(id(original))
            if found is None:
                return updated
            kind, member, which = found
            call = updated.value
            return _output_only(ctx, kind, member, call, which)

        def leave_SimpleStatementLine(self, original, updated):
            special = statements.get(id(original))
            out = [updated]
            if special is not None:
                out = _special(ctx, special, updated, taken, needs_training)
            lines_before = before.get(id(original), [])
            lines_after = after.get(id(original), [])
            if not lines_before and not lines_after and special is None:
                return updated
            new = [_statement(ctx, line) for line in lines_before] + out + [_statement(ctx, line) for line in lines_after]
            return cst.FlattenSentinel(new)

        def _compound(self, original, updated):
            lines_before = before.get(id(original), [])
            lines_after = after.get(id(original), [])
            if not lines_before and not lines_after:
                return updated
            return cst.FlattenSentinel([_statement(ctx, line) for line in lines_before] + [updated] + [_statement(ctx, line) for line in lines_after])

        leave_For = leave_While = leave_With = leave_If = leave_Try = _compound

    return fn.visit(Rewrite()).visit(_BatchSize(ctx.spell("tensorflow.shape"), ctx.spell("tensorflow.transpose")))


class _BatchSize(cst.CSTTransformer):
    """``tf.shape(tf.transpose(x, p))[0]`` is ``tf.shape(x)[0]``: the batch axis stays first."""

    def __init__(self, shape: str, transpose: str) -> None:
        self.shape = shape
        self.transpose = transpose

    def leave_Subscript(self, original, updated):
        value = updated.value
        if not (len(updated.slice) == 1 and isinstance(updated.slice[0].slice, cst.Index)
                and code_of(updated.slice[0].slice.value).strip() == "0"):
            return updated
        if isinstance(value, cst.Call) and code_of(value.func).strip() == self.shape and len(value.args) == 1:
            inner = value.args[0].value
            if isinstance(inner, cst.Call) and code_of(inner.func).strip() == self.transpose and inner.args:
                perm = inner.args[1].value if len(inner.args) > 1 else None
                if perm is not None and code_of(perm).strip().startswith("[0,"):
                    return updated.with_changes(value=value.with_changes(args=[value.args[0].with_changes(value=inner.args[0].value)]))
        return updated


def _statement(ctx, line: str) -> cst.BaseStatement:
    line = line.replace("tf.transpose(", "tensorflow.transpose(").replace("tf.stack(", "tensorflow.stack(").replace("tf.reduce_mean(", "tensorflow.reduce_mean(")
    return ctx.build_statements(line)[0]


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(source_children(n))


def _apply_remap(call: cst.Call, remap) -> cst.Call:
    """Renumber the axis argument of a converted reduction/concatenation."""
    _dim_name, _position, value = remap
    text = repr(value)
    new_args = []
    done = False
    for a in call.args:
        key = a.keyword.value if a.keyword is not None else None
        if key in ("axis", "dim", "dims"):
            new_args.append(a.with_changes(value=cst.parse_expression(text)))
            done = True
        else:
            new_args.append(a)
    if not done:
        # positional axis: the second argument of the converted call
        positional = [i for i, a in enumerate(call.args) if a.keyword is None]
        if len(positional) >= 2:
            i = positional[1]
            new_args[i] = new_args[i].with_changes(value=cst.parse_expression(text))
    return call.with_changes(args=new_args)


def _unique(name: str, taken: set) -> str:
    candidate = name
    n = 2
    while candidate in taken:
        candidate = f"{name}{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _special(ctx, special, updated: cst.SimpleStatementLine, taken: set, needs_training) -> list:
    kind, info = special
    assign = updated.body[0]
    call = assign.value
    member = info["member"]
    target = info["target"]
    first, second = target.elements[0].value, target.elements[1].value
    plan = member.plan
    batch_first = plan.info.get("batch_first", True)
    lead = updated.leading_lines
    lines: list[str] = []
    holder = {}

    def code(node) -> str:
        key = f"n{len(holder)}"
        holder[key] = node
        return "{" + key + "}"

    args = [a for a in call.args if a.keyword is None]
    keywords = [a for a in call.args if a.keyword is not None]
    training_kw = ", training=training" if any(a.keyword.value == "training" for a in keywords) else ""
    func = code(call.func)
    out_name = code_of(first).strip()
    if kind == "rnn":
        x = code(args[0].value)
        if not batch_first:
            x = f"tensorflow.transpose({x}, [1, 0, 2])"
        initial = ""
        if len(args) > 1:
            states_node = args[1].value
            if isinstance(states_node, (cst.Tuple, cst.List)) and plan.info["kind"] == "LSTM" and len(states_node.elements) == 2:
                initial = _initial_state(plan, None, member, [code(e.value) for e in states_node.elements])
            else:
                initial = _initial_state(plan, code(states_node), member)
        application = f"{func}({x}{initial}{training_kw})"
        states = plan.info.get("states", True)
        lstm = plan.info["kind"] == "LSTM"
        second_code = code_of(second).strip()
        if not states:
            lines.append(f"{out_name} = {application}")
        elif second_code == "_":
            lines.append(f"{out_name}, *_ = {application}")
        else:
            name = _unique("states", taken)
            lines.append(f"{out_name}, *{name} = {application}")
            if lstm:
                if isinstance(second, (cst.Tuple, cst.List)) and len(second.elements) == 2:
                    h, c = (code_of(e.value).strip() for e in second.elements)
                    parts = []
                    if h != "_":
                        parts.append((h, f"tensorflow.stack({name}[0::2])"))
                    if c != "_":
                        parts.append((c, f"tensorflow.stack({name}[1::2])"))
                    if parts:
                        lines.append(", ".join(p[0] for p in parts) + " = " + ", ".join(p[1] for p in parts))
                else:
                    lines.append(f"{second_code} = (tensorflow.stack({name}[0::2]), tensorflow.stack({name}[1::2]))")
            else:
                lines.append(f"{second_code} = tensorflow.stack({name})")
        if not batch_first and out_name != "_":
            lines.append(f"{out_name} = tensorflow.transpose({out_name}, [1, 0, 2])")
    else:  # attention: PyTorch (query, key, value) -> Keras (query, value, key=key)
        named = {a.keyword.value: a.value for a in keywords}
        q = args[0].value if args else named.get("query")
        k = args[1].value if len(args) > 1 else named.get("key")
        v = args[2].value if len(args) > 2 else named.get("value")
        if q is None or k is None or v is None:
            raise Unconvertible("attention called without query, key and value")
        if "attn_mask" in named and code_of(named["attn_mask"]).strip() != "None":
            raise Unconvertible("MultiheadAttention(attn_mask=...): convert the mask by hand (Keras's attention_mask is True where attending is allowed)")
        need = named.get("need_weights")
        need_weights = need is None or code_of(need).strip() != "False"
        average = named.get("average_attn_weights")
        parts = []

        def t(node):
            c = code(node)
            return c if batch_first else f"tensorflow.transpose({c}, [1, 0, 2])"

        same_kv = code_of(k).strip() == code_of(v).strip()
        parts = [t(q), t(v)]
        if not same_kv:
            parts.append("key=" + t(k))
        if "key_padding_mask" in named and code_of(named["key_padding_mask"]).strip() != "None":
            parts.append("attention_mask=tensorflow.logical_not(" + code(named["key_padding_mask"]) + ")[:, None, :]")
        if "is_causal" in named and code_of(named["is_causal"]).strip() == "True":
            parts.append("use_causal_mask=True")
        second_code = code_of(second).strip()
        want_scores = need_weights and second_code != "_"
        if want_scores:
            parts.append("return_attention_scores=True")
        if training_kw:
            parts.append("training=training")
        application = f"{func}(" + ", ".join(parts) + ")"
        if want_scores:
            lines.append(f"{out_name}, {second_code} = {application}")
            if average is None or code_of(average).strip() != "False":
                lines.append(f"{second_code} = tensorflow.reduce_mean({second_code}, axis=1)")
        else:
            lines.append(f"{out_name} = {application}")
            if second_code != "_":
                lines.append(f"{second_code} = None")
        if not batch_first and out_name != "_":
            lines.append(f"{out_name} = tensorflow.transpose({out_name}, [1, 0, 2])")
    out = []
    for i, line in enumerate(lines):
        stmt = ctx.build_statements(line, **holder)[0]
        if i == 0:
            stmt = stmt.with_changes(leading_lines=lead)
        out.append(stmt)
    return out


def _output_only(ctx, kind: str, member, call: cst.Call, which: int = 0) -> cst.BaseExpression:
    """``self.lstm(x)[0]`` / ``self.attn(q, k, v)[0]``: the output alone; ``[1]``: the
    states (stacked as PyTorch's (layers * directions, batch, hidden)) or the attention
    weights (averaged over heads)."""
    plan = member.plan
    batch_first = plan.info.get("batch_first", True)
    args = [a for a in call.args if a.keyword is None]
    keywords = [a for a in call.args if a.keyword is not None and a.keyword.value == "training"]
    training = ", training=training" if keywords else ""
    holder = {"f": call.func}

    def t(node, key):
        holder[key] = node
        return "{" + key + "}" if batch_first else "tensorflow.transpose({" + key + "}, [1, 0, 2])"

    if kind == "rnn":
        if len(args) != 1:
            raise Unconvertible("an RNN called with initial states inside an expression: unpack its result in a statement")
        text = "{f}(" + t(args[0].value, "x") + training + ")"
        if which == 1:
            if plan.info["kind"] == "LSTM":
                return ctx.build(
                    "(lambda s: (tensorflow.stack(s[1::2]), tensorflow.stack(s[2::2])))(" + text + ")", **holder
                )
            return ctx.build("tensorflow.stack(" + text + "[1:])", **holder)
        if plan.info.get("states", True):
            text += "[0]"
    else:
        named = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        q = args[0].value if args else named.get("query")
        k = args[1].value if len(args) > 1 else named.get("key")
        v = args[2].value if len(args) > 2 else named.get("value")
        text = "{f}(" + t(q, "q") + ", " + t(v, "v")
        if code_of(k).strip() != code_of(v).strip():
            text += ", key=" + t(k, "k")
        if which == 1:
            return ctx.build("tensorflow.reduce_mean(" + text + ", return_attention_scores=True" + training + ")[1], axis=1)", **holder)
        text += training + ")"
    if not batch_first:
        text = "tensorflow.transpose(" + text + ", [1, 0, 2])"
    return ctx.build(text, **holder)


def _initial_state(plan, states_code: str | None, member, parts: list | None = None) -> str:
    kind = plan.info["kind"]
    bi = plan.info["bidirectional"]
    if plan.info.get("layers", 1) != 1:
        raise Unconvertible("initial states of a multi-layer RNN are not converted")
    if parts is not None:  # (h0, c0) written out
        h, c = parts
        if bi:
            return f", initial_state=[{h}[0], {c}[0], {h}[1], {c}[1]]"
        return f", initial_state=[{h}[0], {c}[0]]"
    if kind == "LSTM":
        if bi:
            return f", initial_state=[{states_code}[0][0], {states_code}[1][0], {states_code}[0][1], {states_code}[1][1]]"
        return f", initial_state=[{states_code}[0][0], {states_code}[1][0]]"
    if bi:
        return f", initial_state=[{states_code}[0], {states_code}[1]]"
    return f", initial_state=[{states_code}[0]]"
