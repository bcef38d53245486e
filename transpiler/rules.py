"""Loading and validating the declarative rule files under ``rules/``.

A rule file is TOML: ``rules/<direction>/<family>.toml`` holding ``[[rule]]``
entries (one per source API), optional ``[[method]]`` entries (methods called on
values of a known kind, e.g. ``tensor.view``) and optional shared value maps
(``[maps.dtype]``). ``docs/rules.md`` describes every field. A bad file is
reported as a :class:`RuleError` naming the file, the rule and the field.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .frameworks import canonical

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class RuleError(Exception):
    """A rule file that cannot be used; the message names file, rule and field."""


@dataclass(frozen=True)
class Rule:
    source: str
    file: str
    family: str
    also: tuple[str, ...] = ()
    target: str | None = None
    template: str | None = None
    hook: str | None = None
    remove: bool = False
    # the context of a `with` that disappears, its body staying (`with tf.name_scope("x"):`)
    unwrap: bool = False
    args: tuple[str, ...] = ()
    target_args: tuple[str, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    drop: dict[str, str] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    transform: dict[str, str] = field(default_factory=dict)
    value: str | None = None
    # what a reference becomes where it is used as a type (an annotation, the class
    # of isinstance/issubclass, a type argument); its other uses are reported
    as_type: str | None = None
    # a caveat reported where the as_type name is checked at run time (isinstance), for a
    # rule whose calls convert as well (its `warn` is about the calls)
    type_warn: str = ""
    note: str = ""
    warn: str = ""
    # method rules only: the kind of value the method is called on
    receiver: str | None = None
    # the kind of value the call returns (tensor, module, optimizer...), for type inference
    returns: str | None = None
    # method rules only: an attribute read (x.data), not a call
    attribute: bool = False
    # method rules only: the name is also a method of NumPy arrays or Python objects,
    # so a call on a value of unknown kind is left alone without a report
    ambiguous: bool = False
    # method rules only: the argument name the receiver takes in the target/template/hook
    receiver_arg: str = "self"
    # a known API that is deliberately not converted: the reason, reported at every use
    reject: str = ""
    # free-form data for hooks (e.g. layer shape and weight layout), validated by them
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_pure_rename(self) -> bool:
        return bool(self.target) and not (
            self.rename or self.defaults or self.values or self.transform
            or self.template or self.hook or self.unsupported or self.remove
            or self.unwrap or self.args or self.reject
        )

    @property
    def converts_calls(self) -> bool:
        """Whether a call of the API converts (a type rule alone reports calls)."""
        return bool(self.target or self.template or self.hook or self.remove)

    @property
    def target_display(self) -> str:
        if self.as_type and not self.converts_calls:
            return self.as_type + " (where used as a type; calls are not converted)"
        if self.reject:
            return "(not converted: " + self.reject + ")"
        if self.remove:
            return "(removed)"
        if self.unwrap:
            return "(with removed, its body kept)"
        if self.template:
            return self.template
        if self.target:
            return self.target
        if self.hook:
            return f"hook {self.hook}"
        return "?"


@dataclass
class Spelling:
    """How the output names a target module: ``torch.nn.functional`` -> ``F``."""

    module: str
    alias: str
    import_line: str


@dataclass
class RuleSet:
    direction: str
    rules: dict[str, Rule] = field(default_factory=dict)
    methods: dict[str, list[Rule]] = field(default_factory=dict)
    spellings: list[Spelling] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    shared_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    # target parameters that must be tensors: a literal list passed there is wrapped
    tensor_params: set[str] = field(default_factory=set)
    tensor_wrapper: str = ""
    # an arithmetic expression of numbers and values not known to be tensors, passed as a
    # one-tensor op's only tensor: wrapped in this (a tensor goes through it unchanged)
    number_wrapper: str = ""
    # attributes that mean the same in both frameworks, per kind of value (x.shape)
    passthrough: dict[str, set[str]] = field(default_factory=dict)
    # per kind of value, every member the framework gives it (nn.Module's methods, the
    # attributes of torch.nn layers): any other name on such a value is the user's own
    # (self.encoder.num_heads on a module of a class this file does not define)
    members: dict[str, set[str]] = field(default_factory=dict)
    # method names that make a call interesting even without a rule: a call of one
    # of them on a value of a known kind is reported when no rule converts it
    triggers: set[str] = field(default_factory=set)

    def lookup(self, qualname: str) -> Rule | None:
        return self.rules.get(canonical(qualname))

    def method_rules(self, name: str) -> list[Rule]:
        return self.methods.get(name, [])

    def leaf_names(self, module: str) -> set[str]:
        """Names directly under ``module`` that some rule covers (for star imports)."""
        prefix = canonical(module) + "."
        return {
            key[len(prefix):]
            for key in self.rules
            if key.startswith(prefix) and "." not in key[len(prefix):]
        }

    def all_rules(self) -> list[Rule]:
        seen: dict[int, Rule] = {}
        for rule in self.rules.values():
            seen.setdefault(id(rule), rule)
        for group in self.methods.values():
            for rule in group:
                seen.setdefault(id(rule), rule)
        return list(seen.values())


_STR_FIELDS = {"source", "target", "template", "hook", "value", "as_type", "type_warn", "note", "warn", "receiver", "name", "returns", "receiver_arg", "reject"}
_BOOL_FIELDS = {"remove", "unwrap", "attribute", "ambiguous"}
_LIST_FIELDS = {"also", "args", "target_args"}
_TABLE_FIELDS = {"rename", "drop", "unsupported", "defaults", "transform"}
_KNOWN = _STR_FIELDS | _LIST_FIELDS | _TABLE_FIELDS | _BOOL_FIELDS | {"values", "data"}


def _fail(file: str, where: str, fieldname: str | None, message: str) -> RuleError:
    loc = f"{file}: {where}"
    if fieldname:
        loc += f": field '{fieldname}'"
    return RuleError(f"{loc}: {message}")


def _build_rule(
    raw: dict, *, file: str, family: str, index: int, kind: str, maps: dict[str, dict[str, str]],
    returns: str | None = None,
) -> Rule:
    label = raw.get("source") or raw.get("name") or "?"
    where = f"{kind} {index + 1} ({label})"
    if not isinstance(raw, dict):
        raise _fail(file, where, None, "expected a table")
    for key in raw:
        if key not in _KNOWN:
            raise _fail(file, where, key, f"unknown field (known: {', '.join(sorted(_KNOWN))})")
    for key in _STR_FIELDS & raw.keys():
        if not isinstance(raw[key], str):
            raise _fail(file, where, key, "expected a string")
    for key in _LIST_FIELDS & raw.keys():
        if not isinstance(raw[key], list) or not all(isinstance(v, str) for v in raw[key]):
            raise _fail(file, where, key, "expected a list of strings")
    for key in _TABLE_FIELDS & raw.keys():
        table = raw[key]
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise _fail(file, where, key, "expected a table of strings")
    for key in _BOOL_FIELDS & raw.keys():
        if not isinstance(raw[key], bool):
            raise _fail(file, where, key, "expected true or false")
    if "data" in raw and not isinstance(raw["data"], dict):
        raise _fail(file, where, "data", "expected a table")

    if kind == "rule":
        if "source" not in raw:
            raise _fail(file, where, "source", "missing")
    else:
        for need in ("name", "receiver"):
            if need not in raw:
                raise _fail(file, where, need, "missing")
    actions = [k for k in ("target", "template", "hook", "reject", "as_type") if k in raw] + (
        [k for k in ("remove", "unwrap") if raw.get(k)]
    )
    if not actions:
        raise _fail(file, where, None, "needs one of 'target', 'template', 'hook', 'reject', 'as_type', 'remove = true' or 'unwrap = true'")
    if "type_warn" in raw and "as_type" not in raw:
        raise _fail(file, where, "type_warn", "needs 'as_type' (it is reported where that type is checked)")
    if "target" in raw and "template" in raw:
        raise _fail(file, where, "template", "give either 'target' or 'template', not both")

    args = tuple(raw.get("args", ()))
    known_args = {a.lstrip("*") for a in args}
    if kind == "method":
        known_args.add(raw.get("receiver_arg", "self"))
    for key in ("rename", "drop", "unsupported", "transform"):
        for arg in raw.get(key, {}):
            if args and arg not in known_args:
                raise _fail(file, where, key, f"argument '{arg}' is not in 'args'")
    values: dict[str, dict[str, str]] = {}
    for arg, spec in raw.get("values", {}).items():
        if args and arg not in known_args:
            raise _fail(file, where, "values", f"argument '{arg}' is not in 'args'")
        if isinstance(spec, str):
            if not spec.startswith("@") or spec[1:] not in maps:
                raise _fail(file, where, "values", f"'{spec}' names no shared map (known: {', '.join('@' + m for m in maps) or 'none'})")
            values[arg] = maps[spec[1:]]
        elif isinstance(spec, dict) and all(isinstance(v, str) for v in spec.values()):
            values[arg] = dict(spec)
        else:
            raise _fail(file, where, "values", f"argument '{arg}': expected a table of strings or '@map'")
    template = raw.get("template")
    if template:
        for name in PLACEHOLDER.findall(template):
            if args and name not in known_args:
                raise _fail(file, where, "template", f"placeholder '{{{name}}}' is not in 'args'")
        _check_python(file, where, "template", PLACEHOLDER.sub(r"__tp_\1__", template))
    for key in ("target", "value", "as_type"):
        if key in raw and not re.fullmatch(r"[A-Za-z_][\w.]*", raw[key]) and not (
            key == "value" and re.fullmatch(r'"[\w.]*"', raw[key])  # a string constant (Reduction.NONE -> "none")
        ):
            raise _fail(file, where, key, f"expected a dotted name, got {raw[key]!r}")
    for key in ("defaults",):
        for kw, code in raw.get(key, {}).items():
            _check_python(file, where, key, code)
    for arg, code in raw.get("transform", {}).items():
        if "{}" not in code:
            raise _fail(file, where, "transform", f"argument '{arg}': template needs '{{}}' for the value")
        _check_python(file, where, "transform", code.replace("{}", "__v__"))
    hook = raw.get("hook")
    if hook and not re.fullmatch(r"[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*", hook):
        raise _fail(file, where, "hook", f"expected 'module.function', got {hook!r}")

    source = raw.get("source") or raw["name"]
    return Rule(
        source=canonical(source) if kind == "rule" else source,
        file=file,
        family=family,
        also=tuple(canonical(a) for a in raw.get("also", ())),
        target=raw.get("target"),
        template=template,
        hook=hook,
        remove=bool(raw.get("remove", False)),
        unwrap=bool(raw.get("unwrap", False)),
        args=args,
        target_args=tuple(raw.get("target_args", ())),
        rename=dict(raw.get("rename", {})),
        drop=dict(raw.get("drop", {})),
        unsupported=dict(raw.get("unsupported", {})),
        defaults=dict(raw.get("defaults", {})),
        values=values,
        transform=dict(raw.get("transform", {})),
        value=raw.get("value"),
        as_type=raw.get("as_type"),
        type_warn=raw.get("type_warn", ""),
        note=raw.get("note", ""),
        warn=raw.get("warn", ""),
        receiver=raw.get("receiver"),
        returns=raw.get("returns", returns),
        attribute=bool(raw.get("attribute", False)),
        ambiguous=bool(raw.get("ambiguous", False)),
        receiver_arg=raw.get("receiver_arg", "self"),
        reject=raw.get("reject", ""),
        data=dict(raw.get("data", {})),
    )


def _check_python(file: str, where: str, fieldname: str, code: str) -> None:
    try:
        compile(code, "<rule>", "eval")
    except SyntaxError as exc:
        raise _fail(file, where, fieldname, f"not a Python expression: {code!r} ({exc.msg})") from None


def load_file(
    path: Path, ruleset: RuleSet, *, display: str | None = None, user: bool = False
) -> None:
    file = display or str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuleError(f"{file}: rule file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{file}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{file}: cannot read: {exc}") from None
    allowed = {"family", "description", "direction", "rule", "method", "maps", "spelling", "tensor_params", "tensor_wrapper", "number_wrapper", "returns", "passthrough", "members", "methods_of"}
    for key in data:
        if key not in allowed:
            raise RuleError(f"{file}: unknown top-level key '{key}' (known: {', '.join(sorted(allowed))})")
    direction = data.get("direction")
    if direction is not None and direction not in ("tf_to_torch", "torch_to_tf"):
        raise RuleError(f"{file}: field 'direction': expected 'tf_to_torch' or 'torch_to_tf', got {direction!r}")
    if user and direction is None:
        raise RuleError(f"{file}: field 'direction': a user rule file must say direction = \"tf_to_torch\" or \"torch_to_tf\"")
    if direction is not None and direction != ruleset.direction:
        return
    family = data.get("family", path.stem.lstrip("_"))
    maps = {}
    for name, table in data.get("maps", {}).items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise RuleError(f"{file}: maps.{name}: expected a table of strings")
        maps[name] = table
    ruleset.shared_maps.update(maps)
    for kind in ("rule", "method"):
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise RuleError(f"{file}: '{kind}' must be an array of tables ([[{kind}]])")
        for index, raw in enumerate(entries):
            rule = _build_rule(
                raw, file=file, family=family, index=index, kind=kind, maps=ruleset.shared_maps,
                returns=data.get("returns") if isinstance(data.get("returns"), str) else None,
            )
            if kind == "rule":
                for name in (rule.source, *rule.also):
                    ruleset.rules[name] = rule
            else:
                ruleset.methods.setdefault(rule.source, []).append(rule)
    for index, raw in enumerate(data.get("spelling", [])):
        extra = set(raw) - {"module", "alias", "import"} if isinstance(raw, dict) else set()
        if extra:
            raise RuleError(f"{file}: spelling {index + 1}: unknown field(s) {', '.join(sorted(extra))} (a top-level key placed after a [[table]] belongs to that table)")
        try:
            ruleset.spellings.append(Spelling(raw["module"], raw["alias"], raw["import"]))
        except (KeyError, TypeError):
            raise RuleError(f"{file}: spelling {index + 1}: needs 'module', 'alias' and 'import'") from None
    for kind_name, attrs in data.get("passthrough", {}).items():
        if not isinstance(attrs, list) or not all(isinstance(v, str) for v in attrs):
            raise RuleError(f"{file}: passthrough.{kind_name}: expected a list of attribute names")
        ruleset.passthrough.setdefault(kind_name, set()).update(attrs)
    for kind_name, names in data.get("members", {}).items():
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise RuleError(f"{file}: members.{kind_name}: expected a list of member names")
        ruleset.members.setdefault(kind_name, set()).update(names)
    for kind_name, names in data.get("methods_of", {}).items():
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise RuleError(f"{file}: methods_of.{kind_name}: expected a list of method names")
        ruleset.triggers.update(names)
    if "tensor_params" in data:
        if not isinstance(data["tensor_params"], list) or not all(isinstance(v, str) for v in data["tensor_params"]):
            raise RuleError(f"{file}: field 'tensor_params': expected a list of strings")
        ruleset.tensor_params.update(data["tensor_params"])
    if "tensor_wrapper" in data:
        if not isinstance(data["tensor_wrapper"], str) or "{}" not in data["tensor_wrapper"]:
            raise RuleError(f"{file}: field 'tensor_wrapper': expected a string with '{{}}' for the value")
        ruleset.tensor_wrapper = data["tensor_wrapper"]
    if "number_wrapper" in data:
        if not isinstance(data["number_wrapper"], str) or "{}" not in data["number_wrapper"]:
            raise RuleError(f"{file}: field 'number_wrapper': expected a string with '{{}}' for the value")
        ruleset.number_wrapper = data["number_wrapper"]
    ruleset.files.append(file)


def rules_root() -> Path:
    """The rule folder: inside the installed package, or the repository's rules/."""
    here = Path(__file__).resolve().parent
    packaged = here / "rules"
    if packaged.is_dir():
        return packaged
    return here.parent / "rules"


_CACHE: dict[tuple, RuleSet] = {}


def _stamp(path: str) -> tuple:
    """A user rule file and its modification time: an edited file is loaded again."""
    p = Path(path)
    try:
        files = sorted(p.rglob("*.toml")) if p.is_dir() else [p]
        return (path, tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files))
    except OSError:
        return (path, None)


def load_ruleset(direction: str, extra: tuple[str, ...] = ()) -> RuleSet:
    """Built-in rules for ``direction`` plus the user's rule files (later files win)."""
    key = (direction, tuple(_stamp(p) for p in extra))
    if key in _CACHE:
        return _CACHE[key]
    root = rules_root()
    ruleset = RuleSet(direction)
    folder = root / direction
    # files starting with "_" (shared maps, output spelling) load first
    for path in sorted(folder.glob("*.toml"), key=lambda p: (not p.name.startswith("_"), p.name)):
        load_file(path, ruleset, display=f"rules/{direction}/{path.name}")
    for path in extra:
        p = Path(path)
        files = sorted(p.rglob("*.toml")) if p.is_dir() else [p]
        for f in files:
            load_file(f, ruleset, user=True)
    _CACHE[key] = ruleset
    return ruleset
