"""Hooks for Keras's utilities (rules/tf_to_torch/keras_utils.toml)."""

from __future__ import annotations

from ...engine.transform import prepare
from .training import need_snippet


def helper_call(args, ctx, original):
    """A pure-Python Keras utility -> the same small function written once in the output
    (snippets.py), called with the arguments as the source gave them (keywords named
    as the rule renames them)."""
    name = args.rule.data["snippet"]
    need_snippet(ctx, name)
    parts, subs = [], {}
    for i, (_source, target, arg, positional) in enumerate(prepare(args.rule, args, ctx)):
        subs[f"a{i}"] = arg.value
        parts.append(f"{{a{i}}}" if positional else f"{target}={{a{i}}}")
    return ctx.build(f"{name}({', '.join(parts)})", **subs)
