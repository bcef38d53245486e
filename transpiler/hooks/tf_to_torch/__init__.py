"""Structural rewrites and analyses for this direction (see transpiler/hooks/__init__.py)."""

# names (method or attribute names) that make a use interesting to the scan
TRIGGER_NAMES: set[str] = {"minimize"}  # optimizer.minimize: which model an optimizer trains
from . import data, dtype_policy, fitting, functional, models, statements, subclass, tape, training
from .analysis import int_tensor_names
from .project_classes import imported_classes, summarize

# functions run before the rewrite; they store facts in ctx.facts
ANALYZERS: list = [int_tensor_names, models.analyze, functional.analyze, subclass.analyze, dtype_policy.analyze, training.analyze, fitting.analyze, tape.analyze, data.analyze, statements.analyze_control_dependencies]
# node type name -> handlers called as handler(transformer, original, updated)
HANDLERS: dict[str, list] = {
    "Call": [models.on_call, functional.on_call, data.on_call],
    "Module": [models.on_block, subclass.finish_models, training.insert_snippets, statements.on_module],
    "IndentedBlock": [models.on_block],
    "ClassDef": [subclass.on_class],
    "Attribute": [dtype_policy.on_attribute],
    "SimpleStatementLine": [fitting.on_statement, tape.on_statement, statements.on_statement, tape.mode_switch],
    "With": [tape.on_with, statements.on_with],
}

# the project index (transpiler/project.py): the file's Keras classes as other files see
# them, and the classes it imports from other modules
SUMMARIZE = summarize
PROJECT_IMPORTS = imported_classes
