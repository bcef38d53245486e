"""Declared twins (``[tool.transpiler] twins``): a base class of another package with a twin
in PyTorch that takes the same constructor arguments (transformers' ``TFPreTrainedModel`` and
``PreTrainedModel``). The class planner (subclass.py) converts the classes on such a base as
modules and puts the twin in the base's place; this module answers which twin a base has and
spells it in the output."""

from __future__ import annotations

import libcst as cst

from ...engine.build import name_expr
from ...engine.spelling import ImportNeed
from ...engine.walk import top_level_imports
from .project_classes import imported_classes


def twin_of(ctx, base: tuple[str, str] | None) -> str | None:
    """The declared twin ([tool.transpiler] twins) of ``(name, module)``, a class of another
    package: the target framework's class taking the same arguments."""
    if base is None:
        return None
    name, module = base
    return ctx.facts.get("twins", {}).get(f"{module}.{name}")


def spell_twin(ctx, twin: str) -> cst.BaseExpression:
    """``transformers.modeling_utils.PreTrainedModel`` as ``PreTrainedModel``, imported from its
    module, unless the file binds that name to something else (then the full name)."""
    module, _, leaf = twin.rpartition(".")
    taken = {bound.value for _s, _a, bound in top_level_imports(ctx.module) if isinstance(bound, cst.Name)}
    for stmt in ctx.module.body:
        if isinstance(stmt, (cst.ClassDef, cst.FunctionDef)):
            taken.add(stmt.name.value)
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                    [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else [])
                taken.update(t.value for t in targets if isinstance(t, cst.Name))
    if leaf in taken:
        ctx.speller.needs.add(ImportNeed(twin.split(".")[0]))
        return name_expr(twin)
    ctx.speller.needs.add(ImportNeed(module, leaf))
    return cst.Name(leaf)


def names_twin(ctx, cls: cst.ClassDef) -> bool:
    """Whether ``cls`` names a class with a declared twin among its bases."""
    return any(twin is not None for twin in _base_twins(ctx, cls))


def _base_twins(ctx, cls: cst.ClassDef) -> list[str | None]:
    """The declared twin of each of ``cls``'s bases (None for the others)."""
    imported = imported_classes(ctx)
    out = []
    for base in cls.bases:
        twin = None
        if base.keyword is None and isinstance(base.value, cst.Name) and base.value.value in imported:
            module, name = imported[base.value.value]
            twin = twin_of(ctx, (name, module))
        out.append(twin)
    return out


def twin_bases(ctx, cls: cst.ClassDef, bases: list[cst.Arg]) -> tuple[list[cst.Arg], list[str]]:
    """``bases`` with each one naming a class with a declared twin replaced by the twin; the
    twins used."""
    out, used = [], []
    for twin, base in zip(_base_twins(ctx, cls), bases):
        if twin is None:
            out.append(base)
        else:
            out.append(base.with_changes(value=spell_twin(ctx, twin)))
            used.append(twin)
    return out, used
