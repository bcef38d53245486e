"""Keras classes of other files of the run (transpiler/project.py), as this file sees them.

A class the file imports from a module of the run is given to the subclass conversion as a
plan without a body (``ClassPlan.node`` is None): whether it converts, the sizes its
constructor takes, its call()'s parameters. A class that stays Keras keeps the classes that
make it Keras too (a module cannot hold a Keras layer); one that takes its input size is
given it from the shape the maker's build() gives it, as a class of the same file is.
"""

from __future__ import annotations

import libcst as cst

from ...engine.names import absolute_import, dotted_name, package_of
from ...engine.query import resolve_call
from ...engine.walk import method_named, top_level_imports
from ...project import ClassSummary, module_name


def imported_classes(ctx) -> dict[str, tuple[str, str]]:
    """``local name -> (module, name)`` for the names the file imports from modules that are
    not a framework's (``from keras_hub.src.layers.x import PositionEmbedding``)."""
    found = ctx.facts.get("project_imports")
    if found is None:
        found = ctx.facts["project_imports"] = {}
        imports = [
            (statement, alias, bound) for statement, alias, bound in top_level_imports(ctx.module)
            if isinstance(statement, cst.ImportFrom) and isinstance(bound, cst.Name) and isinstance(alias.name, cst.Name)
            and resolve_call(ctx, bound) is None
        ]
        # the file's package (looked up on disk) resolves its relative imports
        package = package_of(ctx.filename) if any(statement.relative for statement, _, _ in imports) else None
        for statement, alias, bound in imports:
            module = dotted_name(statement.module) if statement.module is not None else None
            absolute = absolute_import(package, module, len(statement.relative))
            if absolute:
                found[bound.value] = (absolute, alias.name.value)
    return found


def foreign_plans(ctx) -> dict:
    """The plans of the classes the file imports that the run's index knows, by local name."""
    from .subclass import ClassPlan

    plans = ctx.facts.get("foreign_plans")
    if plans is not None:
        return plans
    plans = ctx.facts["foreign_plans"] = {}
    index = ctx.facts.get("project")
    if not index:
        return plans
    for local, (module, name) in imported_classes(ctx).items():
        summary = index.get(module, name)
        if summary is None or summary.plain or f"{module}.{name}" in ctx.facts.get("twins", {}):
            continue  # a declared twin stands for the class, whatever its own file makes of it
        plan = ClassPlan(None, local, summary.is_model, origin=summary.module, shape_kept=summary.keeps_shape)
        plan.unknown_base = summary.unknown_base
        if summary.converts and len(summary.size_params) > 1:
            # its build() read the sizes of several inputs: a maker's build() must give each
            # (subclass_build.py), which needs that build()'s parameters
            plan.converts_elsewhere = True
            plan.problems.append(
                f"its PyTorch form takes the sizes of its inputs as {', '.join(p + '=' for p in summary.size_params)}"
                " (keywords), which a class of another file is not given yet"
            )
        elif summary.converts:
            plan.size_param = summary.size_params[0] if summary.size_params else None
            plan.call_params = list(summary.call_params)
            plan.mask_arg = summary.mask_arg
            plan.input_layout = summary.input_layout
            plan.output_layout = summary.output_layout
            ctx.facts.setdefault("class_kinds", {})[local] = "model" if summary.is_model else "layer"
        else:
            plan.problems.append(summary.reason or "it stays Keras")
        plans[local] = plan
    return plans


def plain_import(ctx, local: str) -> bool:
    """Whether ``local``, imported from a module of the run, is a plain mixin there."""
    index = ctx.facts.get("project")
    found = imported_classes(ctx).get(local) if index else None
    summary = index.get(*found) if found else None
    return summary is not None and summary.plain


def plain_classes(ctx) -> list[str]:
    """The file's plain mixins: classes that are not Keras classes (no plan), take no framework
    base and no base but ``object``, plain mixins of the file or of the run, and have no
    ``__init__`` (which would run in a module's constructor chain), call() or build()."""
    if "plain_classes" in ctx.facts:  # decided once the classes are planned
        return ctx.facts["plain_classes"]
    plans = ctx.facts.get("class_plans", {})
    plain: list[str] = []
    for stmt in ctx.module.body:
        if not isinstance(stmt, cst.ClassDef) or id(stmt) in plans:
            continue
        if any(method_named(stmt, m) is not None for m in ("__init__", "call", "build")):
            continue
        if all(
            b.keyword is None and isinstance(b.value, cst.Name)
            and (b.value.value == "object" or b.value.value in plain or plain_import(ctx, b.value.value))
            for b in stmt.bases
        ):
            plain.append(stmt.name.value)
    ctx.facts["plain_classes"] = plain
    return plain


def with_mixins(ctx, original: cst.ClassDef, updated: cst.ClassDef, base: str, keep_unknown: bool = True) -> list[cst.Arg]:
    """``base``, the module class a Keras class becomes, then the class's bases that are neither a
    framework's nor a Keras class: its mixins of methods (``class Head(keras.layers.Layer,
    LossMixin)`` -> ``class Head(nn.Module, LossMixin)``). A base that is not known as a plain
    mixin (of this file or of the run) is kept too, with a warning (its methods now get PyTorch
    values), unless ``keep_unknown`` is False: a functional model's base from another file
    (keras-hub's Backbone) is the model super().__init__() built, which the module replaces."""
    plans = ctx.facts.get("class_plans_by_name", {})
    out = [cst.Arg(ctx.name(base))]
    for before, after in zip(original.bases, updated.bases):
        value = before.value
        if before.keyword is None:
            if isinstance(value, (cst.Name, cst.Attribute)) and resolve_call(ctx, value) is not None:
                continue
            if isinstance(value, cst.Name) and value.value in plans:
                continue
            if not (isinstance(value, cst.Name) and (value.value in plain_classes(ctx) or plain_import(ctx, value.value))):
                if not keep_unknown:
                    continue
                ctx.warn(
                    value, "keras subclass",
                    f"keeps its base {dotted_name(value) or 'expression'}, a class this run does not know as a plain"
                    " mixin: its methods now get PyTorch tensors (convert its module in the same run)",
                )
        out.append(after.with_changes(comma=cst.MaybeSentinel.DEFAULT))
    return out


def summarize(ctx) -> list[ClassSummary]:
    """The file's Keras classes and plain mixins as other files need to know them (the project
    index)."""
    from .subclass_build import keeps_shape

    plans = ctx.facts.get("class_plans", {})
    plain = plain_classes(ctx)
    module = module_name(ctx.filename) if plans or plain else None
    if not module:
        return []
    kinds = ctx.facts.get("class_kinds", {})
    out = []
    for plan in plans.values():
        converts = not plan.problems and not plan.build_problem and plan.name in kinds
        sizes = tuple(plan.build.size_params) if plan.build is not None and plan.size_param else ()
        out.append(
            ClassSummary(
                module=module,
                name=plan.name,
                converts=converts,
                reason="" if converts else (plan.build_problem or "; ".join(plan.problems))[:300],
                size_params=sizes,
                keeps_shape=keeps_shape(plan.node),
                call_params=tuple(plan.call_params),
                mask_arg=plan.mask_arg,
                input_layout=plan.input_layout,
                output_layout=plan.output_layout,
                is_model=plan.is_model,
                unknown_base=plan.unknown_base,
            )
        )
    out.extend(ClassSummary(module=module, name=name, converts=False, plain=True) for name in plain)
    return out
