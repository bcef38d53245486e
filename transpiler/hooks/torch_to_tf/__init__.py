"""Structural rewrites and analyses for this direction (see transpiler/hooks/__init__.py)."""

from . import asserts, checks, data, freezing, init, item_assignment, modules, snippets, training

# names (method or attribute names) that make a use interesting to the scan
TRIGGER_NAMES: set[str] = set(checks.ALIASES)
# functions run before the rewrite; they store facts in ctx.facts
ANALYZERS: list = [checks.analyze, modules.analyze, data.analyze, training.analyze, data.record_loaders, item_assignment.analyze]
# node type name -> handlers called as handler(transformer, original, updated)
HANDLERS: dict[str, list] = {
    "ClassDef": [modules.on_class, data.on_class],
    "IndentedBlock": [training.on_block],
    "Module": [modules.finish_classes, training.on_block, snippets.insert_snippets],
    "With": [training.on_with],
    "For": [freezing.on_for],
    "Attribute": [freezing.on_attribute],
    "SimpleStatementLine": [training.on_statement, data.on_statement, asserts.on_statement, item_assignment.on_statement, init.on_statement],
    "Call": [checks.on_call],
}
