"""Code for what the rule data cannot say: named hooks and structural rewrites.

``transpiler/hooks/<direction>/`` holds one module per family. A rule refers to a
hook as ``hook = "module.function"``; the direction's ``__init__`` lists the
structural handlers (node type -> functions) and the analyzers that run before
the rewrite.
"""
