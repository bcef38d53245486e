"""Item assignment on a tensor (``x[:, 0] = 0``, ``mask[i] += 1``).

PyTorch writes into the tensor; a TensorFlow tensor is immutable, so the same
statement fails at run time once ``x`` is a ``tf.Tensor``. There is no faithful
one-line rewrite in general (views of ``x`` would see the write in PyTorch), so
the statement is reported with what to write instead, never left silently broken. Two forms
convert exactly, the new tensor bound to the name as for in-place methods
(``x.add_(y)`` -> ``x = tf.math.add(x, y)``):

* ``x[x > t] = v`` on a name (the mask has x's shape):
  ``x = tf.where(x > t, tf.cast(v, x.dtype), x)``;
* a store through integers and slices (``x[:, 1:] = y``, ``x[i, 0] += 1``) into a name
  that no other name can see (below): ``x = slice_update(x, np.s_[:, 1:], y)``, with the
  ``slice_update`` helper (snippets.py) written into the file.

Rebinding the name is exact only where nothing else sees the old tensor. PyTorch's
store would show through every alias: a parameter (the caller's tensor), a view
another name holds (``y = x.view(-1)``, ``y = x``), a tensor kept in a list. So the
name must be a local variable of the function whose every binding makes a new tensor
(a constructor, ``clone``, arithmetic, ``new_zeros``...) or a view of itself
(``x = x.permute(...).contiguous()``), and no other name, container or attribute may
take it or a view of it.
"""

from __future__ import annotations

import re

import libcst as cst

from ...engine.types import is_tensor
from ...engine.walk import iter_nodes, source_children

REASON = (
    "TensorFlow tensors are immutable: build the new value (tf.where with a mask, "
    "tf.tensor_scatter_nd_update, tf.concat) or keep it in a tf.Variable and .assign"
)


# `...] = `, `...] += ` (not `==`): a cheap test before walking the module
_SUBSCRIPT_STORE = re.compile(r"\]\s*(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=)")


def analyze(ctx) -> None:
    """Put the statements that store into a subscript on the walk's paths (the scan only
    records framework names), so that on_statement sees them."""
    if not _SUBSCRIPT_STORE.search(ctx.scan.source):
        return
    paths = ctx.scan.path_ids

    def visit(node, ancestors):
        if isinstance(node, cst.SimpleStatementLine):
            if any(_subscript_targets(small) for small in node.body):
                paths.update(ancestors)
                paths.add(id(node))
            return
        if isinstance(node, (cst.BaseExpression, cst.Import, cst.ImportFrom)):
            return
        ancestors.append(id(node))
        for child in source_children(node):
            visit(child, ancestors)
        ancestors.pop()

    visit(ctx.module, [])


def _subscript_targets(small) -> list:
    if isinstance(small, cst.Assign):
        targets = [t.target for t in small.targets]
    elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
        targets = [small.target]
    else:
        return []
    return [t for t in targets if isinstance(t, cst.Subscript)]


def on_statement(transformer, original, updated):
    ctx = transformer.ctx
    if ctx.types is None:
        return None
    chain = None
    for small in original.body:
        for target in _subscript_targets(small):
            chain = chain or ctx.resolver.chain_of(tuple(transformer.stack))
            if is_tensor(ctx.types.kind_of(target.value, chain)):
                rewritten = _masked_store(ctx, original, updated, chain)
                reason = REASON
                if rewritten is None:
                    rewritten = _slice_store(ctx, transformer, original, updated, chain)
                    if isinstance(rewritten, str):
                        rewritten, reason = None, f"{rewritten}; TensorFlow tensors are immutable: build the new value or keep it in a tf.Variable"
                if rewritten is not None:
                    return rewritten
                ctx.unconverted(target, "tensor.__setitem__", reason)
    return None


def _number(node) -> bool:
    while isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        node = node.expression
    return isinstance(node, (cst.Integer, cst.Float))


def _masked_store(ctx, original, updated, chain):
    """``x[x > t] = v`` on a name x: the mask compares x itself, so it has x's shape (PyTorch
    requires it), and the store is ``x = tf.where(x > t, tf.cast(v, x.dtype), x)``: the same
    values, v cast to x's dtype as PyTorch does. A value that is not a number written out must
    be one value (a Python number or a 0-d tensor; PyTorch also takes one value per selected
    element): known to be a tensor, it stays reported; otherwise the caveat is warned."""
    if len(original.body) != 1 or not isinstance(original.body[0], cst.Assign):
        return None
    assign, new = original.body[0], updated.body[0]
    if len(assign.targets) != 1:
        return None
    target = assign.targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and len(target.slice) == 1):
        return None
    index = target.slice[0].slice
    if not isinstance(index, cst.Index) or index.star is not None:
        return None
    mask = index.value
    name = target.value.value
    if not (
        isinstance(mask, cst.Comparison) and len(mask.comparisons) == 1
        and not isinstance(mask.comparisons[0].operator, (cst.In, cst.NotIn, cst.Is, cst.IsNot))
        and isinstance(mask.left, cst.Name) and mask.left.value == name
    ):
        return None
    value = assign.value
    if not _number(value):
        if is_tensor(ctx.types.kind_of(value, chain)):
            return None
        ctx.warn(target, "tensor.__setitem__", f"exact where the value is one number (a Python number or a 0-d tensor): "
                 f"PyTorch also takes one value per selected element of '{name}', which tf.where would broadcast otherwise")
    new_target = new.targets[0].target
    expr = ctx.build(
        "tensorflow.where({mask}, tensorflow.cast({value}, {x}.dtype), {x})",
        mask=new_target.slice[0].slice.value, value=new.value, x=cst.Name(name),
    )
    ctx.converted(target, "tensor.__setitem__", "tensorflow.where")
    line = updated.with_changes(body=[new.with_changes(targets=[cst.AssignTarget(target=cst.Name(name))], value=expr)])
    return ctx.mark_new(line)


# -- slice stores ---------------------------------------------------------------------------

# methods and functions whose result may share the receiver's memory (a view, or the
# receiver itself): a store into the result shows in the receiver too
_VIEWS = {
    "view", "view_as", "reshape", "reshape_as", "permute", "transpose", "t", "T", "mT", "H", "mH",
    "squeeze", "unsqueeze", "expand", "expand_as", "narrow", "select", "unfold", "flatten",
    "unflatten", "contiguous", "detach", "to", "type", "type_as", "float", "double", "half",
    "bfloat16", "long", "int", "short", "bool", "byte", "char", "cpu", "cuda", "as_strided",
    "diagonal", "split", "chunk", "unbind", "movedim", "moveaxis", "swapaxes", "swapdims",
    "real", "imag", "data", "view_as_real", "view_as_complex", "as_tensor", "from_numpy",
    "asarray", "meshgrid", "broadcast_to", "broadcast_tensors", "tensor_split", "hsplit",
    "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d", "numpy", "ravel",
    "align_to", "rename", "refine_names", "share_memory_", "pin_memory", "coalesce", "values",
    "indices", "crow_indices", "col_indices", "clone_",
}


def _root(expr):
    """The name a chain of attribute reads, subscripts and method calls starts from, with
    whether every step may share its memory (a view)."""
    view = True
    while True:
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        elif isinstance(expr, cst.Attribute):
            view = view and (expr.attr.value in _VIEWS or expr.attr.value.endswith("_"))
            expr = expr.value
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute):
            name = expr.func.attr.value
            view = view and (name in _VIEWS or name.endswith("_"))
            expr = expr.func.value
        else:
            return (expr.value if isinstance(expr, cst.Name) else None), view


def _fresh(ctx, expr, name: str, chain) -> bool:
    """Does ``expr`` (the value bound to ``name``) make a tensor that no other name sees?
    A view of ``name`` itself counts (``x = x.permute(1, 0)``): only ``name`` sees it."""
    if isinstance(expr, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison)):
        return True
    if isinstance(expr, cst.IfExp):
        return _fresh(ctx, expr.body, name, chain) and _fresh(ctx, expr.orelse, name, chain)
    if isinstance(expr, cst.Call):
        qual = ctx.resolver.resolve_chain(expr.func) if isinstance(expr.func, (cst.Name, cst.Attribute)) else None
        if qual is not None and qual.startswith("torch."):
            return qual.rsplit(".", 1)[-1] not in _VIEWS and "." not in qual[len("torch."):]
        if isinstance(expr.func, cst.Attribute):
            method = expr.func.attr.value
            if method in _VIEWS or method.endswith("_"):  # a view of a new tensor is new
                return _root(expr)[0] == name or _fresh(ctx, expr.func.value, name, chain)
            if method in _NEW or method.startswith("new_"):
                return True
            return is_tensor(ctx.types.kind_of(expr.func.value, chain))
        return False
    if isinstance(expr, (cst.Subscript, cst.Attribute)):
        return _root(expr)[0] == name or _fresh(ctx, expr.value, name, chain)
    return False


# tensor methods that always make a new tensor, whatever the receiver is known to be
_NEW = {"clone", "new_zeros", "new_ones", "new_full", "new_empty", "new_tensor"}


_STORING_METHODS = {"append", "extend", "insert", "add", "update", "setdefault", "register_buffer", "put"}


def _alias_taken(scope, name: str, store) -> bool:
    """Does any other name, container or attribute of the function (or module) ``scope``
    take ``name``'s tensor or a view of it before the statement ``store`` (anywhere, where
    a loop holds the store: the next turn would see it)?"""
    before, in_loop = True, False
    order = [(child, False) for child in reversed([scope.body] if isinstance(scope, cst.FunctionDef) else list(scope.body))]
    while order:
        node, looped = order.pop()
        if node is store:
            before, in_loop = False, looped
            continue
        values = []
        if isinstance(node, cst.Assign):
            targets = [t.target for t in node.targets]
            values = [] if all(isinstance(t, cst.Name) and t.value == name for t in targets) else [node.value]
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            values = [] if isinstance(node.target, cst.Name) and node.target.value == name else [node.value]
        elif isinstance(node, cst.Call) and (
            isinstance(node.func, cst.Attribute) and node.func.attr.value in _STORING_METHODS
            or isinstance(node.func, cst.Name) and node.func.value == "setattr"
        ):
            values = [arg.value for arg in node.args]
        elif isinstance(node, (cst.NamedExpr, cst.Yield, cst.Lambda, cst.Global, cst.Nonlocal)):
            if _mentions(node, name):
                return True
        elif isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node is not scope and _mentions(node, name):
            return True  # a closure sees the name
        if any(_holds(value, name) for value in values) and (before or in_loop):
            return True
        looped = looped or isinstance(node, (cst.For, cst.While))
        order.extend((child, looped) for child in reversed(source_children(node)))
    return False


def _holds(value, name: str) -> bool:
    """Is ``value`` name's tensor, a view of it, or a display holding one?"""
    if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
        return any(_holds(e.value, name) for e in value.elements)
    if isinstance(value, cst.Dict):
        return any(_holds(e.value, name) for e in value.elements if isinstance(e, cst.DictElement))
    root, view = _root(value)
    return root == name and view


def _mentions(node, name: str) -> bool:
    return any(type(n) is cst.Name and n.value == name for n in iter_nodes(node))


def _index_ok(ctx, element, chain, aug: bool, unsure: list) -> bool:
    """An index TensorFlow's strided slicing takes as PyTorch does: an integer, a slice,
    ``...``, None. In an augmented store the index is written twice: nothing in it may call."""
    if aug and _calls(element.slice):
        return False
    sl = element.slice
    if isinstance(sl, cst.Slice):
        return True
    if sl.star is not None:
        return False
    value = sl.value
    if isinstance(_unsigned(value), cst.Integer) or isinstance(value, cst.Ellipsis):
        return True
    if isinstance(value, cst.Name) and value.value == "None":
        return True
    if isinstance(value, cst.Name) and _counter(ctx, value.value, chain):
        return True
    if isinstance(value, (cst.Name, cst.Attribute, cst.Subscript, cst.BinaryOperation)):
        kind = ctx.types.kind_of(value, chain)
        if kind in ("int", "index"):
            return True
        if kind is not None:
            return False
        unsure.append(value)
        return True
    return False


def _counter(ctx, name: str, chain) -> bool:
    """A name every binding of which is a loop over ``range(...)`` (an integer)."""
    sites = ctx.types._sites(chain[0]).get(name) if chain else None
    return bool(sites) and all(
        site.kind == "for" and not site.path and isinstance(site.expr, cst.Call)
        and isinstance(site.expr.func, cst.Name) and site.expr.func.value == "range"
        for site in sites
    )


def _unsigned(node):
    while isinstance(node, cst.UnaryOperation):
        node = node.expression
    return node


def _calls(node) -> bool:
    return any(type(n) is cst.Call for n in iter_nodes(node))


def _slice_store(ctx, transformer, original, updated, chain):
    """``x[:, 1:] = y`` / ``x[i] += v`` on a local name no other name sees (module docstring)
    -> ``x = slice_update(x, np.s_[:, 1:], y)``."""
    if len(original.body) != 1 or not isinstance(original.body[0], (cst.Assign, cst.AugAssign)):
        return None
    small, new = original.body[0], updated.body[0]
    aug = isinstance(small, cst.AugAssign)
    if not aug and len(small.targets) != 1:
        return None
    target = small.target if aug else small.targets[0].target
    if not isinstance(target, cst.Subscript) or not isinstance(target.value, cst.Name):
        return None
    name = target.value.value
    scope = next((n for n in reversed(transformer.stack) if isinstance(n, (cst.FunctionDef, cst.ClassDef))), ctx.module)
    if isinstance(scope, cst.ClassDef):
        return None
    sites = ctx.types._sites(scope).get(name)
    if not sites:
        return None
    reaching = ctx.types._reaching(scope, target.value, sites) if isinstance(scope, cst.FunctionDef) else None
    if reaching and all(site.kind == "value" and not site.path and _fresh(ctx, site.expr, None, chain) for site in reaching):
        sites = reaching  # the bindings that reach the store all make new tensors
    if any(site.kind == "param" for site in sites):
        return f"'{name}' is a parameter: the caller's tensor would see the store"
    if any(site.kind != "value" or site.path for site in sites) or not all(_fresh(ctx, site.expr, name, chain) for site in sites):
        return f"'{name}' may share its memory with another tensor (a view, a loop variable, a value from elsewhere), which would see the store"
    if _alias_taken(scope, name, original):
        return f"another name, container or attribute holds '{name}' or a view of it, and would see the store"
    unsure: list = []
    if not all(_index_ok(ctx, element, chain, aug, unsure) for element in target.slice):
        return "the index is not integers and slices (a tensor of indices or a mask of another shape)"
    new_target = new.target if aug else new.targets[0].target
    from .snippets import need_snippet

    try:
        need_snippet(ctx, "slice_update")
    except Exception:  # the file binds the name already: reported as before
        return None
    key = cst.Subscript(value=ctx.name("numpy.s_"), slice=new_target.slice)
    value = new.value
    if aug:
        operator = _BINARY[type(small.operator)]
        if isinstance(value, (cst.BinaryOperation, cst.BooleanOperation, cst.Comparison, cst.IfExp, cst.Lambda, cst.UnaryOperation)) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])  # x[k] *= a - b
        value = cst.BinaryOperation(left=new_target, operator=operator, right=value)
    for index in unsure:
        ctx.warn(index, "tensor.__setitem__", f"exact where '{cst.Module([]).code_for_node(index)}' is an integer "
                 "(TensorFlow's slicing takes integers, slices, ... and None; a tensor of indices or a mask raises an error)")
    call = cst.Call(func=cst.Name("slice_update"), args=[cst.Arg(cst.Name(name)), cst.Arg(key), cst.Arg(value)])
    ctx.converted(target, "tensor.__setitem__", "slice_update")
    line = updated.with_changes(body=[cst.Assign(targets=[cst.AssignTarget(target=cst.Name(name))], value=call)])
    return ctx.mark_new(line)


_BINARY = {
    cst.AddAssign: cst.Add(), cst.SubtractAssign: cst.Subtract(), cst.MultiplyAssign: cst.Multiply(),
    cst.DivideAssign: cst.Divide(), cst.FloorDivideAssign: cst.FloorDivide(), cst.ModuloAssign: cst.Modulo(),
    cst.PowerAssign: cst.Power(), cst.BitAndAssign: cst.BitAnd(), cst.BitOrAssign: cst.BitOr(),
    cst.BitXorAssign: cst.BitXor(), cst.LeftShiftAssign: cst.LeftShift(), cst.RightShiftAssign: cst.RightShift(),
    cst.MatrixMultiplyAssign: cst.MatrixMultiply(),
}
