"""Subclasses of a Keras layer that has a PyTorch class of its own: ``class
PositionalEmbedding(keras.layers.Embedding)`` becomes ``class PositionalEmbedding(nn.Embedding)``.

transformers' BART-family models write their learned position embeddings so (the PyTorch
twins subclass ``nn.Embedding`` the same way). The layer's rule says, in its ``data.subclass``
table, which PyTorch class it becomes, how the arguments of ``super().__init__`` map (by the
Keras name: ``input_dim`` -> ``num_embeddings``), which Keras arguments PyTorch does without
(``name``, ``dtype``), and what the layer's own attributes are called there
(``self.embeddings`` -> ``self.weight``). The class converts when:

* ``__init__`` calls ``super().__init__(...)`` once, as a statement of its own, with
  arguments the table maps (``**kwargs`` is Keras's ``name=``/``dtype=``: dropped);
* ``call()`` takes no ``training``/``mask`` and calls the layer as ``super().call(...)``
  (``super().forward(...)``); it becomes ``forward()``;
* no other method than ``__init__``, ``call`` and ``get_config`` (dropped) touches the layer:
  a ``build()`` is refused, and so is any other attribute of the layer than the table's.

Anything else is reported with the exact reason and the class stays Keras.
"""

from __future__ import annotations

import libcst as cst

from ...engine.calls import Unconvertible
from ...engine.query import resolve_call
from ...engine.walk import iter_nodes, method_named
from .project_classes import with_mixins

# the Keras attributes every layer has, which a module has under the same name or not at all
KERAS_LAYER_ATTRS = {"built", "dtype_policy", "compute_dtype", "variable_dtype", "trainable_weights", "non_trainable_weights", "weights"}


def layer_base(ctx, cls: cst.ClassDef):
    """The rule of the Keras layer ``cls`` derives from, when it has a ``data.subclass`` table."""
    for base in cls.bases:
        if base.keyword is None and isinstance(base.value, (cst.Name, cst.Attribute)):
            api = resolve_call(ctx, base.value)
            rule = ctx.ruleset.lookup(api) if api else None
            if rule is not None and rule.data.get("subclass"):
                return rule
    return None


def _is_super(node, method: str) -> bool:
    """``super().<method>``"""
    return (
        isinstance(node, cst.Attribute) and node.attr.value == method and isinstance(node.value, cst.Call)
        and isinstance(node.value.func, cst.Name) and node.value.func.value == "super" and not node.value.args
    )


# the layer's methods a subclass may override that its PyTorch class does not have
KERAS_ONLY_METHODS = ("build", "compute_output_shape", "compute_output_spec", "compute_mask")


def check(ctx, cls: cst.ClassDef, rule) -> dict:
    """What the rewrite needs, or Unconvertible with the reason the class stays Keras."""
    short = rule.source.rsplit(".", 1)[-1]
    init, call = method_named(cls, "__init__"), method_named(cls, "call")
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in KERAS_ONLY_METHODS:
            raise Unconvertible(f"it overrides {short}.{stmt.name.value}(), which its PyTorch class does not have")
    if call is None:
        raise Unconvertible(f"it does not define call(): what {short} computes stays Keras's")
    names = [p.name.value for p in call.params.params]
    if {"training", "mask"} & {p.name.value for p in (*call.params.params, *call.params.kwonly_params)}:
        raise Unconvertible("call() takes training or mask, which a subclass of a Keras layer keeps only in Keras")
    if call.params.star_arg is not cst.MaybeSentinel.DEFAULT or call.params.star_kwarg is not None:
        raise Unconvertible("call() takes *args or **kwargs")
    inits = [n for n in iter_nodes(init) if isinstance(n, cst.Call) and _is_super(n.func, "__init__")] if init is not None else []
    statements = [
        s for s in (init.body.body if init is not None else ())
        if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Expr)
        and isinstance(s.body[0].value, cst.Call) and _is_super(s.body[0].value.func, "__init__")
    ]
    if len(inits) != 1 or len(statements) != 1:
        raise Unconvertible(f"__init__ must call super().__init__(...) once, in a statement of its own, to give {short} its arguments")
    table = rule.data["subclass"]
    mapped = _map_args(inits[0], rule, table)
    # the layer's own members: the table's, or Keras's that a module does not have
    attributes = table.get("attributes", {})
    for node in iter_nodes(cls):
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Call) and isinstance(node.value.func, cst.Name) and node.value.func.value == "super":
            if node.attr.value not in ("__init__", "call"):
                raise Unconvertible(f"super().{node.attr.value}: only super().__init__ and super().call convert")
            continue
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
            if node.attr.value in KERAS_LAYER_ATTRS:
                raise Unconvertible(f"it reads self.{node.attr.value}, which a PyTorch module does not have")
    return {"args": mapped, "attributes": attributes, "params": names}


def _map_args(call: cst.Call, rule, table: dict) -> list[cst.Arg]:
    """``super().__init__(num + 2, dim, **kwargs)`` -> the PyTorch class's arguments, by the Keras
    names the rule lists in order (positional) or by keyword."""
    order = list(rule.args)
    renames, ignored = table.get("args", {}), set(table.get("ignored", ()))
    out: list[cst.Arg] = []
    for i, arg in enumerate(call.args):
        if arg.star == "**":
            continue  # Keras's name=, dtype=, trainable=: a module takes none of them
        if arg.star:
            raise Unconvertible("super().__init__(*args): its arguments cannot be mapped")
        key = arg.keyword.value if arg.keyword is not None else (order[i] if i < len(order) else None)
        if key in ignored:
            continue
        if key not in renames:
            raise Unconvertible(
                f"super().__init__({key}=...): {rule.source.rsplit('.', 1)[-1]}'s {key} has no argument of"
                f" {table['base'].rsplit('.', 1)[-1]} to go to"
            )
        out.append(cst.Arg(arg.value, keyword=cst.Name(renames[key]) if arg.keyword is not None else None))
    # positional while the order matches the PyTorch class's, keywords after that
    targets = [renames[k] for k in order if k in renames]
    positional = True
    result = []
    for index, arg in enumerate(out):
        name = arg.keyword.value if arg.keyword is not None else targets[index] if index < len(targets) else None
        positional = positional and arg.keyword is None and index < len(targets) and targets[index] == name
        result.append(arg if positional else cst.Arg(arg.value, keyword=cst.Name(name)))
    return result


def rewrite(ctx, original: cst.ClassDef, updated: cst.ClassDef, info: dict, table: dict) -> cst.ClassDef:
    """The class on the PyTorch class: base, super().__init__ arguments, call() -> forward(),
    super().call -> super().forward, the layer's attributes under their PyTorch names."""
    from .signatures import drop_method

    init_args = info["args"]
    attributes = info["attributes"]

    class Rewriter(cst.CSTTransformer):
        def leave_Call(self, old, new):
            if _is_super(new.func, "__init__"):
                return new.with_changes(args=[a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in init_args])
            if _is_super(new.func, "call"):
                return new.with_changes(func=new.func.with_changes(attr=cst.Name("forward")))
            return new

        def leave_Attribute(self, old, new):
            if isinstance(new.value, cst.Name) and new.value.value == "self" and new.attr.value in attributes:
                return new.with_changes(attr=cst.Name(attributes[new.attr.value]))
            return new

    body = []
    for stmt in updated.body.body:
        if isinstance(stmt, cst.FunctionDef):
            if drop_method(ctx, original, stmt):
                continue
            if stmt.name.value == "call":
                stmt = stmt.with_changes(name=cst.Name("forward"))
            stmt = stmt.visit(Rewriter())
        body.append(stmt)
    base = table["base"]
    ctx.converted(original, "keras layer subclass", base.replace("torch.nn.", "nn."))
    for b in original.bases:
        ctx.consume_head(b.value)
    new = updated.with_changes(bases=with_mixins(ctx, original, updated, base), body=updated.body.with_changes(body=body))
    ctx.mark_new(new)
    return new
