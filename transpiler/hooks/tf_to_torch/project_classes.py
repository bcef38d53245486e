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
from ...engine.walk import top_level_imports
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
        if summary is None:
            continue
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


def summarize(ctx) -> list[ClassSummary]:
    """The file's Keras classes as other files need to know them (the project index)."""
    from .subclass_build import keeps_shape

    plans = ctx.facts.get("class_plans", {})
    module = module_name(ctx.filename) if plans else None
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
    return out
