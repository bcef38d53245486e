"""The one entry point every caller uses: :func:`convert_source`.

The CLI, the tests, the verifier and the benchmarks all go through it. It never
imports tensorflow or torch.
"""

from __future__ import annotations

import ast
import gc
import importlib
from dataclasses import dataclass, field

import libcst as cst

from .engine.context import Context
from .engine.formatting import BlackConfig, format_changed
from .engine.unchanged import generate
from .engine.imports import rewrite_imports
from .engine.names import Reexports, Resolver, candidate_names, package_of
from .engine.reexport_hint import warn_undeclared
from .engine.scan import scan
from .engine.spelling import Speller
from .engine.transform import RuleTransformer
from .engine.types import Types, value_names_to_follow
from .frameworks import DIRECTION_TO, ROOTS, SOURCE_OF, TF, TORCH, framework_of
from .report import FileReport, Finding
from .rules import load_ruleset


class InputError(Exception):
    """The input cannot be converted (it does not parse, or the request is invalid)."""


class InternalError(Exception):
    """The conversion produced something that is not valid Python; nothing is written."""


@dataclass
class ConversionResult:
    code: str
    changed: bool
    report: FileReport
    source_framework: str | None = None
    target_framework: str | None = None
    notes: list[str] = field(default_factory=list)
    # per model variable: form, inputs, and how each Keras weight maps to a parameter
    models: dict = field(default_factory=dict)
    # the project index (transpiler/project.py): this file's classes as other files see them,
    # and the (module, name) of the classes it imports from modules that are not a framework's
    classes: tuple = ()
    imports: tuple = ()


def detect_frameworks(text: str) -> set[str]:
    """Frameworks the text imports, from a cheap look at its import lines."""
    _, roots = candidate_names(text, lambda module: ())
    return {ROOTS[r] for r in roots}


def _reexported_frameworks(text: str, declared: Reexports) -> set[str]:
    """Frameworks the text imports through declared re-exports (a cheap look, as detect_frameworks)."""
    from .engine.names import _IMPORT_LINE

    out = set()
    for m in _IMPORT_LINE.finditer(text):
        if m.group("imp"):
            for part in m.group("imp").split(","):
                bits = part.split()
                if len(bits) >= 3 and bits[1] == "as" and (qual := declared.lookup(bits[0])):
                    out.add(ROOTS.get(qual.split(".")[0]))
            continue
        module = m.group("mod")
        level = len(module) - len(module.lstrip("."))
        absolute = declared.absolute(module[level:] or None, level)
        if absolute is None:
            continue
        for part in m.group("names").strip("()").replace("\\", " ").split(","):
            bits = part.split()
            if bits and bits[0] != "*" and (qual := declared.lookup(f"{absolute}.{bits[0]}")):
                out.add(ROOTS.get(qual.split(".")[0]))
    out.discard(None)
    return out


def _direction_hooks(direction: str):
    return importlib.import_module(f"transpiler.hooks.{direction}")


def convert_source(
    text: str,
    *,
    to: str = "auto",
    filename: str = "<stdin>",
    source: str | None = None,
    rules: tuple[str, ...] = (),
    black_config: BlackConfig | None = None,
    format: bool = True,
    reexports: dict[str, str] | None = None,
    project=None,
    twins: dict[str, str] | None = None,
) -> ConversionResult:
    """Convert ``text`` to framework ``to`` ("torch", "tf" or "auto").

    ``source`` overrides the detected source framework. ``reexports`` maps names
    the project's own modules re-export to the framework names they stand for
    (``{"transformers.modeling_tf_utils.keras": "keras"}``; relative imports are
    resolved against ``filename``'s package). ``twins`` maps base classes of other
    packages to their twins in the target framework (``{"transformers.modeling_tf_utils.
    TFPreTrainedModel": "transformers.modeling_utils.PreTrainedModel"}``). ``project`` is the run's
    :class:`~transpiler.project.ProjectIndex`: what the other files' classes became.
    Returns the new code and a report; raises :class:`InputError` for input that
    cannot be parsed.
    """
    # A conversion allocates about a million small objects (LibCST nodes) that
    # reference counting frees; the cyclic collector's passes over them cost a
    # fifth of the time and find nothing, so it is paused for one file.
    paused = gc.isenabled()
    gc.disable()
    try:
        return _convert(text, to, filename, source, rules, black_config, format, reexports, project, twins)
    finally:
        if paused:
            gc.enable()


def _convert(text, to, filename, source, rules, black_config, format, reexports=None, project=None, twins=None) -> ConversionResult:
    report = FileReport(path=filename)
    if to not in (TORCH, TF, "auto"):
        raise InputError(f"unknown target framework {to!r}: use 'torch' or 'tf'")
    declared = Reexports(tuple(sorted(reexports.items())), package_of(filename)) if reexports else None
    if declared is None and not any(root in text for root in ROOTS):
        return ConversionResult(text, False, report)
    present = detect_frameworks(text)
    if declared is not None:
        present |= _reexported_frameworks(text, declared)
    if source is not None:
        if source not in (TORCH, TF):
            raise InputError(f"unknown source framework {source!r}: use 'tf' or 'torch'")
        if to == "auto":
            to = SOURCE_OF[source]
    elif to == "auto":
        if len(present) != 1:
            if not present:
                return ConversionResult(text, False, report)
            raise InputError("the file imports both TensorFlow and PyTorch: say which way to convert (--to)")
        to = SOURCE_OF[next(iter(present))]
    source_fw = source or SOURCE_OF[to]
    if source is None and source_fw not in present:
        return ConversionResult(text, False, report, target_framework=to)
    report.source_framework = source_fw
    if source_fw == to:
        raise InputError("source and target framework are the same")
    direction = DIRECTION_TO[to]
    ruleset = load_ruleset(direction, tuple(rules))
    hooks = _direction_hooks(direction)

    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise InputError(f"does not parse: line {exc.raw_line}, column {exc.raw_column + 1}: {exc.message}") from None
    except RecursionError:
        raise InputError("too deeply nested to parse") from None

    names, _ = candidate_names(text, ruleset.leaf_names)
    spelling_aliases = {s.alias for s in ruleset.spellings}
    base = names | spelling_aliases | set(ruleset.methods) | set(hooks.TRIGGER_NAMES) | ruleset.triggers
    found = scan(module, text, frozenset(base))
    # the file's own top-level functions that it calls: their call sites give their
    # parameters' kinds, so those calls are followed too
    functions = found.called({stmt.name.value for stmt in module.body if type(stmt) is cst.FunctionDef})
    if functions - base:
        found.extend(functions - base)
    base |= functions
    resolver = Resolver(found, ruleset.leaf_names, declared)
    missing = set(resolver.bindings.aliases) - base
    if missing:  # an import spelling the quick look missed: follow it too
        base |= missing
        found.extend(missing)
        resolver = Resolver(found, ruleset.leaf_names, declared)
    extra = value_names_to_follow(found, resolver, ruleset, text, module) - base
    if extra:  # values whose calls a rule rewrites (loss objects, models): follow them too
        base |= extra
        if found.extend(extra):
            resolver = Resolver(found, ruleset.leaf_names, declared)

    existing = {
        name: qual for name, qual in resolver.bindings.aliases.items() if framework_of(qual) == to
    }
    speller = Speller(ruleset.spellings, resolver.bindings.bound_values(), existing)
    ctx = Context(
        to=to,
        source_framework=source_fw,
        ruleset=ruleset,
        resolver=resolver,
        scan=found,
        speller=speller,
        module=module,
        filename=filename,
    )
    if project:
        ctx.facts["project"] = project
    if twins:
        ctx.facts["twins"] = dict(twins)
    try:
        warn_undeclared(ctx)
        for analyze in hooks.ANALYZERS:
            analyze(ctx)
        ctx.facts["_called_functions"] = functions
        ctx.types = Types(resolver, ruleset, source_fw, ctx.facts)
        transformer = RuleTransformer(ctx, hooks.HANDLERS)
        new_module = transformer.transform(module)
        for old, replacement in ctx.facts.pop("replaced_statements", {}).items():
            for marked in (transformer.dirty, ctx.new_statements):
                if old in marked:
                    marked.add(id(replacement))
        if ctx.changes or ctx.speller.needs:
            moved: dict[int, cst.CSTNode] = {}
            new_module = rewrite_imports(new_module, ctx, moved)
            for marked in (transformer.dirty, ctx.new_statements):
                marked.update(id(moved[key]) for key in marked & moved.keys())
        if format and (transformer.dirty or ctx.new_statements):
            new_module = format_changed(
                new_module, transformer.dirty, ctx.new_statements, black_config or BlackConfig()
            )
        code, generated = generate(new_module, found)
        for pending in ctx.findings:
            line, col = found.position(pending.node, pending.statement)
            report.findings.append(
                Finding(line, col, pending.api, pending.kind, pending.message, pending.target)
            )
        changed = code != text
        if changed:  # output that does not parse is never returned
            _check_parses(code, text, generated)
        report.status = "converted" if changed else "unchanged"
        summarize = getattr(hooks, "SUMMARIZE", None)
        classes = tuple(summarize(ctx)) if summarize else ()
        imports = tuple(sorted(set(hooks.PROJECT_IMPORTS(ctx).values()))) if summarize else ()
        return ConversionResult(code, changed, report, source_fw, to, models=ctx.models, classes=classes, imports=imports)
    finally:
        ctx.release()


def _check_parses(code: str, original: str, generated: str | None = None) -> None:
    """Output that does not parse must never be written.

    ``generated`` is the code of the top-level statements that were generated (the
    others are the source's text, which parsed): when it parses, so does ``code``.
    """
    try:
        if generated is not None:
            try:
                ast.parse(generated)
                return
            except SyntaxError:
                pass  # the whole output decides, and names the line
        ast.parse(code)
        return
    except SyntaxError as exc:
        error = exc
    except (RecursionError, MemoryError, ValueError):
        return  # too deep for Python's parser: LibCST built it, and LibCST parsed the input
    try:
        ast.parse(original)
    except SyntaxError:
        # syntax newer than this Python: LibCST's parser is the judge then
        try:
            cst.parse_module(code)
            return
        except cst.ParserSyntaxError:
            pass
    raise InternalError(
        f"the converted code does not parse (line {error.lineno}: {error.msg}); the file is left as it was"
    )
