"""Hooks for the module rules (rules/torch_to_tf/layers.toml, modules.toml)."""

from __future__ import annotations

from .modules import layer_module


def module(args, ctx, original):
    """A PyTorch module constructor -> its Keras layer(s), as planned (torch_layers.py)."""
    return layer_module(args, ctx, original)
