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

A layer whose PyTorch class takes the input's size in its constructor (LayerNormalization:
``nn.LayerNorm(normalized_shape)``; the table's ``size``) converts when the subclass gives that
size in a ``build()`` that only calls ``super().build([..., size])`` (transformers' MobileBERT
``TFLayerNorm``): the size becomes the first argument of ``super().__init__`` and build() goes. A
subclass without call() is applied as the layer is: ``forward(self, inputs)`` (the table's ``call``,
Keras's parameter names, which callers may give by keyword) returns ``super().forward(inputs)``. Where
``__init__`` forwards its own ``**kwargs`` to the layer (``super().__init__(*args, **kwargs)``),
the table's ``defaults`` become keyword parameters of the class with Keras's defaults
(``epsilon=0.001``), passed on under PyTorch's names (``eps=epsilon``); its ``*args`` go (the
class then refuses positional arguments beyond its own, loudly). Both are warned about.

Anything else is reported with the exact reason and the class stays Keras.
"""

from __future__ import annotations

import libcst as cst

from ...engine.calls import Unconvertible
from ...engine.query import resolve_call
from ...engine.walk import iter_nodes, method_named
from .project_classes import with_mixins
from .signatures import removed_with

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
    table = rule.data["subclass"]
    init, call, build = method_named(cls, "__init__"), method_named(cls, "call"), method_named(cls, "build")
    size = _fixed_size(build) if build is not None and table.get("size") else None
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value in KERAS_ONLY_METHODS and not (stmt is build and size is not None):
            raise Unconvertible(f"it overrides {short}.{stmt.name.value}(), which its PyTorch class does not have")
    if table.get("size") and size is None:
        raise Unconvertible(
            f"{short} takes the size of its input from the input's shape (in build()), and its PyTorch class in its"
            f" constructor: give the class a build() that only calls super().build() with a fixed shape"
        )
    if call is None and not table.get("call"):
        raise Unconvertible(f"it does not define call(): what {short} computes stays Keras's")
    if call is not None:
        names = [p.name.value for p in call.params.params]
        if {"training", "mask"} & {p.name.value for p in (*call.params.params, *call.params.kwonly_params)}:
            raise Unconvertible("call() takes training or mask, which a subclass of a Keras layer keeps only in Keras")
        if call.params.star_arg is not cst.MaybeSentinel.DEFAULT or call.params.star_kwarg is not None:
            raise Unconvertible("call() takes *args or **kwargs")
    else:
        names = ["self", *table["call"]]  # applied as the layer is: forward() is the PyTorch class's
    inits = [n for n in iter_nodes(init) if isinstance(n, cst.Call) and _is_super(n.func, "__init__")] if init is not None else []
    statements = [
        s for s in (init.body.body if init is not None else ())
        if isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Expr)
        and isinstance(s.body[0].value, cst.Call) and _is_super(s.body[0].value.func, "__init__")
    ]
    if len(inits) != 1 or len(statements) != 1:
        raise Unconvertible(f"__init__ must call super().__init__(...) once, in a statement of its own, to give {short} its arguments")
    star = init.params.star_arg.name.value if isinstance(init.params.star_arg, cst.Param) else None
    double = init.params.star_kwarg.name.value if init.params.star_kwarg is not None else None
    forwarded = {
        a.star: a.value.value for a in inits[0].args if a.star and isinstance(a.value, cst.Name)
        and a.value.value == (star if a.star == "*" else double)
    }
    mapped = _map_args(inits[0], rule, table, dropped_star="*" in forwarded)
    given = {a.keyword.value for a in mapped if a.keyword is not None}
    params = {p.name.value for p in (*init.params.params, *init.params.kwonly_params)}
    # **kwargs forwarded: Keras's arguments the table maps become the class's keywords (Keras's default)
    keywords = {
        keras: default for keras, default in table.get("defaults", {}).items()
        if "**" in forwarded and table["args"][keras] not in given and keras not in params
    }
    mapped += [cst.Arg(cst.Name(keras), keyword=cst.Name(table["args"][keras])) for keras in keywords]
    if size is not None:
        mapped = [cst.Arg(size), *mapped]
    # the layer's own members: the table's, or Keras's that a module does not have
    attributes = table.get("attributes", {})
    for node in iter_nodes(cls):
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Call) and isinstance(node.value.func, cst.Name) and node.value.func.value == "super":
            if node.attr.value not in ("__init__", "call", *(("build",) if size is not None else ())):
                raise Unconvertible(f"super().{node.attr.value}: only super().__init__ and super().call convert")
            continue
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
            if node.attr.value in KERAS_LAYER_ATTRS:
                raise Unconvertible(f"it reads self.{node.attr.value}, which a PyTorch module does not have")
    return {"args": mapped, "attributes": attributes, "params": names, "keywords": keywords,
            "dropped_star": star if "*" in forwarded else None, "kwargs": "**" in forwarded}


def _fixed_size(build: cst.FunctionDef):
    """``def build(self, input_shape=None): super().build([None, None, self.feat_size])``: the
    last size of that fixed shape (None for any other build())."""
    body = [s for s in build.body.body if not (
        isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Expr)
        and isinstance(s.body[0].value, cst.SimpleString)
    )]
    if len(body) != 1 or not isinstance(body[0], cst.SimpleStatementLine) or len(body[0].body) != 1:
        return None
    small = body[0].body[0]
    call = small.value if isinstance(small, (cst.Expr, cst.Return)) else None
    if not (isinstance(call, cst.Call) and _is_super(call.func, "build") and len(call.args) == 1 and not call.args[0].star):
        return None
    shape = call.args[0].value
    if not isinstance(shape, (cst.List, cst.Tuple)) or not shape.elements:
        return None
    last = shape.elements[-1]
    if isinstance(last, cst.StarredElement):
        return None
    value = last.value
    simple = isinstance(value, (cst.Integer, cst.Name)) or (
        isinstance(value, cst.Attribute) and isinstance(value.value, cst.Name) and value.value.value == "self"
    )
    return value if simple else None


def _map_args(call: cst.Call, rule, table: dict, dropped_star: bool = False) -> list[cst.Arg]:
    """``super().__init__(num + 2, dim, **kwargs)`` -> the PyTorch class's arguments, by the Keras
    names the rule lists in order (positional) or by keyword."""
    order = list(rule.args)
    renames, ignored = table.get("args", {}), set(table.get("ignored", ()))
    out: list[cst.Arg] = []
    for i, arg in enumerate(call.args):
        if arg.star == "**":
            continue  # Keras's name=, dtype=, trainable=: a module takes none of them
        if arg.star and dropped_star:
            continue  # the class's own *args, which it no longer takes (check)
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


def _init_signature(fn: cst.FunctionDef, info: dict) -> cst.FunctionDef:
    """__init__ without the *args it no longer passes on, with the keywords it now takes."""
    params = fn.params
    kwonly = [*params.kwonly_params, *(cst.Param(cst.Name(k), default=cst.parse_expression(v)) for k, v in info.get("keywords", {}).items())]
    star = params.star_arg
    if info.get("dropped_star"):
        star = cst.MaybeSentinel.DEFAULT
    if kwonly and not isinstance(star, (cst.Param, cst.ParamStar)):
        star = cst.ParamStar()
    return fn.with_changes(params=params.with_changes(star_arg=star, kwonly_params=kwonly))


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
    base_short = table["base"].rsplit(".", 1)[-1]
    for stmt in updated.body.body:
        if isinstance(stmt, cst.FunctionDef):
            if drop_method(ctx, original, stmt):
                continue
            if stmt.name.value == "build":
                removed_with(ctx, method_named(original, "build"), "build()")
                continue  # its fixed shape is the size super().__init__ now gets
            if stmt.name.value == "__init__":
                stmt = _init_signature(stmt, info)
            if stmt.name.value == "call":
                stmt = stmt.with_changes(name=cst.Name("forward"))
            stmt = stmt.visit(Rewriter())
        body.append(stmt)
    if method_named(original, "call") is None:
        # applied as the Keras layer is, by its parameter names (self.LayerNorm(inputs=x)), which
        # the PyTorch class's forward() does not share
        params = ", ".join(info["params"][1:])
        body.append(cst.parse_statement(f"def forward(self, {params}):\n    return super().forward({params})\n"))
    base = table["base"]
    if info.get("dropped_star"):
        ctx.warn(original, "keras layer subclass", f"__init__ no longer takes *{info['dropped_star']}: the layer's positional arguments have no place in {base_short}'s; give them by keyword")
    if info.get("kwargs"):
        kept = ", ".join(f"{k}= (as {table['args'][k]}=)" for k in info.get("keywords", {})) or "none"
        ctx.warn(original, "keras layer subclass", f"__init__ passes on from its **kwargs only {kept}: the layer's other arguments given there are dropped")
    ctx.converted(original, "keras layer subclass", base.replace("torch.nn.", "nn."))
    for b in original.bases:
        ctx.consume_head(b.value)
    new = updated.with_changes(bases=with_mixins(ctx, original, updated, base), body=updated.body.with_changes(body=body))
    ctx.mark_new(new)
    return new
