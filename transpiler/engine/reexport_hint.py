"""A framework's own name imported from a project module that is not declared a re-export.

``from ...modeling_tf_utils import keras``: the converter never guesses what another module
exports, so undeclared that ``keras`` is not Keras, the file's ``keras.layers.Layer`` classes are
not Keras classes, and only the TensorFlow calls inside them convert. That is rarely what the
user wants, and it is silent unless said: each such import gets a warning naming the
declaration that would make it the framework (README, Configuration)."""

from __future__ import annotations

import libcst as cst

from ..frameworks import ROOTS
from .names import dotted_name


def warn_undeclared(ctx) -> None:
    from ..project import absolute_module

    for line in ctx.module.body:
        if not isinstance(line, cst.SimpleStatementLine):
            continue
        for statement in line.body:
            if not isinstance(statement, cst.ImportFrom) or isinstance(statement.names, cst.ImportStar):
                continue
            module = dotted_name(statement.module) if statement.module is not None else ""
            if module.split(".")[0] in ROOTS:
                continue  # the framework's own module
            for alias in statement.names:
                name = alias.name.value if isinstance(alias.name, cst.Name) else None
                bound = alias.asname.name if alias.asname else alias.name
                if name not in ROOTS or bound.value in ctx.resolver.bindings.aliases:
                    continue  # not a framework's name, or declared (then it is the framework)
                where = "." * len(statement.relative) + module
                absolute = absolute_module(ctx.filename, module or None, len(statement.relative)) or where
                ctx.statement_stack.append(line)
                ctx.warn(
                    alias, f"{absolute}.{name}",
                    f"'{name}' comes from {where}, a module of this project, so it is not taken for {name}: the"
                    f" classes and calls written with it stay as they are. If that module re-exports {name}, declare"
                    f' it (--reexport {absolute}.{name}={name}, or [tool.transpiler] reexports) and they convert',
                )
                ctx.statement_stack.pop()
