"""Subcommands that need more than the converter (verify, weights, coverage); loaded by cli.py."""
