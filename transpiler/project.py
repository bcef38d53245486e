"""What the converted classes of one file tell the conversion of another (the project index).

A Keras class made in one file (``self.norm = RMSNormalization()``) is often defined in
another. Whether its PyTorch form exists, and which sizes its constructor now takes
(``dim=``, read by its ``build()`` from the input shape), is decided when its own file
converts. When several files are converted together, each conversion leaves a summary
of its Keras classes; files that import one of them are converted again with those
summaries (see ``runner.run_many``), until the summaries no longer change. A file
converted alone, or a class of a file outside the run, is unknown, as before: the
conversion assumes it converts with its own file and says so.

Nothing here imports a framework: summaries are plain data, passed to worker processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .engine.names import absolute_import, package_of


@dataclass(frozen=True)
class ClassSummary:
    """One class of a converted file (a Keras class, or a plain mixin), as its users in other
    files need to know it."""

    module: str  # dotted module of the file that defines it
    name: str
    converts: bool  # it became an nn.Module
    reason: str = ""  # why it stays Keras, where it does
    # keyword-only constructor arguments it now takes: the input sizes its build() read
    size_params: tuple[str, ...] = ()
    keeps_shape: bool = False  # its compute_output_shape() returns its input shape
    call_params: tuple[str, ...] = ()  # call()'s tensor parameters, after self
    mask_arg: bool = False  # call() takes `mask` as an ordinary argument
    input_layout: str = "keras"
    output_layout: str = "keras"
    is_model: bool = False
    # it derives from a class the run does not know: (that class, its module)
    unknown_base: tuple[str, str] | None = None
    # not a Keras class: a plain mixin of methods (no framework base, no __init__, call() or
    # build()), whose code converts where it is; a class of another file may keep it as a base
    # (transformers' TFMaskedLanguageModelingLoss beside the model's base)
    plain: bool = False


def module_name(path: str) -> str | None:
    """The dotted module a file is imported as: its package (the folders above it that hold an
    ``__init__.py``) and its own name; None for a file outside any package."""
    package = package_of(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem == "__init__":
        return package
    return f"{package}.{stem}" if package else None


def absolute_module(filename: str, module: str | None, level: int) -> str | None:
    """The module ``from <level dots><module> import ...`` names, written in ``filename``."""
    return absolute_import(package_of(filename) if level else None, module, level)


class ProjectIndex:
    """The summaries of a run's classes, by (module, class name)."""

    def __init__(self, summaries=()) -> None:
        self.classes: dict[tuple[str, str], ClassSummary] = {(s.module, s.name): s for s in summaries}
        self.modules = {s.module for s in summaries}

    def __bool__(self) -> bool:
        return bool(self.classes)

    def get(self, module: str | None, name: str) -> ClassSummary | None:
        return self.classes.get((module, name)) if module else None
