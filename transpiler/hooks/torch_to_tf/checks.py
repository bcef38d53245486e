"""Reports about the source itself: names it uses without defining them.

Articles show code blocks that rely on imports or variables from elsewhere
(``F.relu`` with no ``import torch.nn.functional as F``, ``model.parameters()``
with no ``model``): the original raises NameError there, and the converter
cannot tell what is meant, so the use is reported saying so (instead of "cannot
tell whether 'F' is a tensor").
"""

from __future__ import annotations

import builtins

import libcst as cst

# conventional aliases and the import that makes them
ALIASES = {
    "F": "import torch.nn.functional as F",
    "nn": "import torch.nn as nn",
    "optim": "import torch.optim as optim",
    "transforms": "import torchvision.transforms as transforms",
    "torchvision": "import torchvision",
    "torch": "import torch",
}


def _undefined(ctx, name: cst.Name) -> bool:
    return (
        ctx.resolver.kind(name) == "load"
        and ctx.resolver.resolve_name(name) is None
        and name.value not in ctx.resolver.bindings.bound_values()
        and not hasattr(builtins, name.value)
    )


def analyze(ctx) -> None:
    """Calls on undefined receivers: the call handler reports them (no rule guesses)."""
    found = ctx.facts.setdefault("undefined_calls", {})
    method_names = set(ctx.ruleset.methods)
    scopes: dict = {}
    for hit in ctx.scan.hits:
        stack = hit.stack
        if len(stack) < 3:
            continue
        attr = stack[-2]
        call = stack[-3]
        if not (isinstance(attr, cst.Attribute) and isinstance(call, cst.Call) and call.func is attr):
            continue
        if attr.value is hit.name and hit.name.value in ALIASES and _undefined(ctx, hit.name):
            found[id(call)] = (f"{hit.name.value}.{attr.attr.value}", f"'{hit.name.value}' is not defined in this file (the original raises NameError too); add `{ALIASES[hit.name.value]}`")
            ctx.owned.add(id(call))
        elif attr.attr is hit.name and hit.name.value in method_names and isinstance(attr.value, cst.Name) and id(call) not in found:
            receiver = attr.value
            if hasattr(builtins, receiver.value) or receiver.value in ALIASES:
                continue
            if not _bound_in_scope(ctx, receiver.value, stack, scopes):
                found[id(call)] = (f"{receiver.value}.{hit.name.value}", f"'{receiver.value}' is not defined in this file (the original raises NameError too)")
                ctx.owned.add(id(call))


def _bound_in_scope(ctx, name: str, stack, cache: dict) -> bool:
    """Whether a scope the name is read in (or an enclosing one) binds it, or a star import may."""
    from ...engine.types import scope_bindings

    if ctx.resolver.bindings.stars:
        return True
    for scope in ctx.resolver.chain_of(stack):
        sites = cache.get(id(scope))
        if sites is None:
            sites = cache[id(scope)] = scope_bindings(scope)
        if name in sites:
            return True
    return False


def on_call(transformer, original, updated):
    ctx = transformer.ctx
    found = ctx.facts.get("undefined_calls", {}).get(id(original))
    if found is None:
        return None
    api, reason = found
    ctx.unconverted(original, api, reason)
    return updated
