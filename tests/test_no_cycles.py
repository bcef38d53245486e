"""A conversion leaves no reference cycle that holds its tree.

A converted tree caught in a cycle is freed only by the garbage collector, whose
pass over it costs about a tenth of the conversion (docs/performance.md). Small
cycles remain (classes defined in a function, ``ast.literal_eval``'s closures, plans
that refer to each other): they may hold a few nodes, never the module, the scan or
the context's analyses. One input of every fixture family is converted.
"""

from __future__ import annotations

import gc

import libcst as cst
import pytest

from fixtures_util import cases
from transpiler.api import convert_source
from transpiler.engine.scan import Scan
from transpiler.engine.types import Types

# one input per fixture family and direction: a cycle is a property of the code paths
FAMILIES = {}
for case in cases():
    FAMILIES.setdefault(case.path.parent, case)


@pytest.mark.parametrize("case", list(FAMILIES.values()), ids=lambda c: c.id)
def test_conversion_leaves_no_cycles(case):
    source = case.path.read_text(encoding="utf-8")
    convert_source(source, to=case.to, filename=str(case.path), **case.options)  # warm caches (rules, templates)
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        gc.set_debug(gc.DEBUG_SAVEALL)
        result = convert_source(source, to=case.to, filename=str(case.path), **case.options)
        del result
        gc.collect()
        held = sorted({type(o).__name__ for o in gc.garbage if isinstance(o, (cst.Module, Scan, Types))})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()
    assert not held, f"reference cycles hold {held}"
