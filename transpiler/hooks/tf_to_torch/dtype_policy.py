"""A Keras layer's dtype policy read as a dtype -> ``torch.get_default_dtype()``.

Keras layers compute in ``self.compute_dtype`` and keep their weights in
``self.variable_dtype`` (``self.dtype``), both float32 under Keras's default policy;
keras-hub writes ``ops.cast(x, self.compute_dtype)`` and ``ops.zeros(shape,
dtype=self.compute_dtype)``. An nn.Module has no dtype policy: its tensors follow
torch's default dtype (float32 unless changed), and mixed precision is
``torch.autocast`` around the call, not a per-layer dtype. So such a read, where a
framework call takes it as its dtype, becomes ``torch.get_default_dtype()``, with a
warning. Any other read (compared with a string, handed to a function of the
project) is not converted: subclass.py keeps a class whose call() does that.
"""

from __future__ import annotations

import libcst as cst

from ...engine.walk import iter_nodes, paths_to
from ...frameworks import framework_of

# the attributes of a Keras layer that hold a dtype of its policy
POLICY_DTYPES = {"compute_dtype", "variable_dtype", "dtype"}
TARGET = "torch.get_default_dtype()"
WARNING = (
    "self.{attr} (the layer's dtype policy, float32 by default) becomes torch.get_default_dtype():"
    " a layer made with another dtype or a mixed-precision policy computes in torch's default dtype;"
    " use torch.autocast (or module.to(dtype)) for that"
)


def _self_attr(node) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _assigned(cls: cst.ClassDef) -> set[str]:
    """self.X names the class binds itself (then X is its own attribute)."""
    out = set()
    for n in iter_nodes(cls):
        targets = []
        if isinstance(n, cst.Assign):
            targets = [t.target for t in n.targets]
        elif isinstance(n, (cst.AnnAssign, cst.AugAssign)):
            targets = [n.target]
        for t in targets:
            for m in iter_nodes(t):
                attr = _self_attr(m)
                if attr:
                    out.add(attr)
    return out


def _dtype_position(ctx, call: cst.Call):
    """For a call of a source-framework API that takes a dtype: (its rule, the position of
    its dtype parameter or None where it has none by position); None for any other call."""
    qual = ctx.resolver.resolve_chain(call.func)
    if qual is None or framework_of(qual) != ctx.source_framework:
        return None
    rule = ctx.ruleset.lookup(qual)
    if rule is None:
        return None
    names = [a.lstrip("*") for a in rule.args]
    if "dtype" not in names:
        return None
    i = names.index("dtype")
    return rule, None if any(a.startswith("*") for a in rule.args[:i]) else i


def dtype_reads(ctx, cls: cst.ClassDef) -> dict[int, bool]:
    """The ``self.compute_dtype`` (variable_dtype, dtype) reads in ``cls`` that a framework
    call takes as its dtype (``dtype=self.compute_dtype``, ``ops.cast(x, self.compute_dtype)``),
    where the class does not bind that attribute itself: id -> whether it is rewritten
    (False for a layer constructor's dtype, which the layer's conversion drops)."""
    cache = ctx.facts.setdefault("_policy_dtype_reads", {})
    if id(cls) not in cache:
        cache[id(cls)] = _dtype_reads(ctx, cls)
    return cache[id(cls)]


def _dtype_reads(ctx, cls: cst.ClassDef) -> dict[int, bool]:
    calls = [n for n in iter_nodes(cls) if type(n) is cst.Call]
    if not any(_self_attr(a.value) in POLICY_DTYPES for n in calls for a in n.args):
        return {}
    own = _assigned(cls)
    found: dict[int, bool] = {}
    for n in calls:
        candidates = [
            (i, a) for i, a in enumerate(n.args) if _self_attr(a.value) in POLICY_DTYPES and _self_attr(a.value) not in own
        ]
        if not candidates:
            continue
        taken = _dtype_position(ctx, n)
        if taken is None:
            continue
        rule, position = taken
        rewrite = not rule.source.startswith("keras.layers.")
        for i, a in candidates:
            if a.star:
                continue
            if a.keyword is not None:
                if a.keyword.value == "dtype":
                    found[id(a.value)] = rewrite
            elif position is not None and i == position and all(b.keyword is None and not b.star for b in n.args[: i + 1]):
                found[id(a.value)] = rewrite
    return found


def analyze(ctx) -> None:
    """After subclass.analyze: the reads to rewrite, in the classes that become nn.Module."""
    reads: dict[int, str] = {}
    for plan in ctx.facts.get("class_plans", {}).values():
        if plan.problems or plan.build_problem:
            continue
        for node_id, rewrite in dtype_reads(ctx, plan.node).items():
            if rewrite:
                reads[node_id] = plan.name
    ctx.facts["policy_dtype_reads"] = reads
    if reads:  # the rewrite walks only the scan's paths: put the reads on them
        ctx.scan.path_ids.update(paths_to(ctx.module, lambda node: id(node) in reads))


def on_attribute(transformer, original, updated):
    if id(original) not in transformer.ctx.facts.get("policy_dtype_reads", {}):
        return None
    ctx = transformer.ctx
    attr = original.attr.value
    warned = ctx.facts.setdefault("policy_dtype_warned", set())
    owner = ctx.facts["policy_dtype_reads"][id(original)]
    if (owner, attr) not in warned:  # the caveat once per class and attribute
        warned.add((owner, attr))
        ctx.warn(original, f"keras.layers.Layer.{attr}", WARNING.format(attr=attr), TARGET)
    else:
        ctx.converted(original, f"keras.layers.Layer.{attr}", TARGET)
    return ctx.build(TARGET)
