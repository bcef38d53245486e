"""What kind of value a name holds: a tensor, a module, an optimizer, a data loader...

Method calls (``x.view(2, 3)``, ``model.fit(...)``) can only be converted when the
receiver's kind is known. Kinds come from where values come from: a framework
call whose rule says what it ``returns``, a method whose rule says so, arithmetic
on tensors, calling a model, iterating a data loader, or facts a direction's
analyzers add (``forward``'s arguments are tensors). A name gets a kind only when
every binding of it in its scope gives that same kind; otherwise it is unknown,
and a method call on it is reported, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ..frameworks import framework_of
from .names import Resolver, _binding_scope, classify, scope_chain
from .scan import Hit, Scan

# what iterating a value of one kind gives
ELEMENT_KINDS = {"dataloader": "batch", "dataset": "batch", "batch": "tensor", "tensor": "tensor", "tensors": "tensor"}
# calling a value of one kind gives
CALL_KINDS = {"module": "tensor", "layer": "tensor", "model": "tensor", "loss": "tensor", "activation": "tensor"}
# a kind that is also another: a variable is a tensor too
KIND_PARENTS = {"variable": "tensor", "parameter": "tensor"}
_UNKNOWN = object()


def is_tensor(kind: str | None) -> bool:
    return kind == "tensor" or KIND_PARENTS.get(kind or "") == "tensor"


@dataclass
class BindingSite:
    scope: cst.CSTNode
    kind: str  # "value", "unpack", "for", "with", "param", "other"
    expr: cst.CSTNode | None = None
    path: tuple[int, ...] = ()  # index path into a tuple target
    node: cst.CSTNode | None = None  # the parameter, for "param"
    chain: list = field(default_factory=list)  # scopes seen from the binding's value


def _target_path(stack: tuple, name: cst.Name):
    """Walk from a bound name up through tuple/list targets: (owner, index path)."""
    path: list[int] = []
    child: cst.CSTNode = name
    for anc in reversed(stack[:-1]):
        if isinstance(anc, cst.Element) or isinstance(anc, cst.StarredElement):
            child = anc
            continue
        if isinstance(anc, (cst.Tuple, cst.List)):
            for i, el in enumerate(anc.elements):
                if el is child:
                    path.insert(0, i)
                    break
            child = anc
            continue
        return anc, child, tuple(path)
    return None, child, tuple(path)


def binding_site(hit: Hit) -> BindingSite | None:
    scope = _binding_scope(hit)
    if scope is None:
        return None
    parent = hit.parent
    if isinstance(parent, cst.Param):
        return BindingSite(scope, "param", node=parent)
    owner, child, path = _target_path(hit.stack, hit.name)
    index = hit.stack.index(owner) if owner is not None else -1
    chain = scope_chain(hit.stack[: index + 1] + (owner,)) if owner is not None else []
    if isinstance(owner, cst.AssignTarget):
        assign = hit.stack[index - 1]
        if isinstance(assign, cst.Assign):
            return BindingSite(scope, "unpack" if path else "value", assign.value, path, chain=chain)
    if isinstance(owner, (cst.AnnAssign, cst.NamedExpr)) and owner.value is not None:
        return BindingSite(scope, "unpack" if path else "value", owner.value, path, chain=chain)
    if isinstance(owner, (cst.For, cst.CompFor)):
        return BindingSite(scope, "for", owner.iter, path, chain=chain)
    if isinstance(parent, cst.AsName):
        item = hit.stack[-3]
        if isinstance(item, cst.WithItem):
            return BindingSite(scope, "with", item.item, chain=scope_chain(hit.stack[:-2]))
    if isinstance(owner, cst.AugAssign):
        return None  # x += ... keeps the kind x had
    return BindingSite(scope, "other")


class Types:
    def __init__(self, scan: Scan, resolver: Resolver, ruleset, source_framework: str, facts: dict) -> None:
        self.scan = scan
        self.resolver = resolver
        self.ruleset = ruleset
        self.source = source_framework
        self.facts = facts
        self.sites: dict[tuple[int, str], list[BindingSite]] = {}
        self.hit_of = resolver.hit_of
        for hit in scan.hits:
            if resolver.kind(hit.name) != "bind":
                continue
            site = binding_site(hit)
            if site is not None:
                self.sites.setdefault((id(site.scope), hit.name.value), []).append(site)
        self._memo: dict[tuple[int, str], object] = {}

    # -- names -------------------------------------------------------------
    def name_kind(self, name: cst.Name, chain: list | None = None) -> str | None:
        if chain is None:
            hit = self.hit_of.get(id(name))
            if hit is None:
                return None
            chain = scope_chain(hit.stack)
        for scope in chain:
            key = (id(scope), name.value)
            if key in self.sites:
                return self._scope_kind(key)
        return None

    def _scope_kind(self, key) -> str | None:
        memo = self._memo.get(key, _UNKNOWN)
        if memo is not _UNKNOWN:
            return memo  # type: ignore[return-value]
        self._memo[key] = None  # recursion guard: a cycle is unknown
        kinds = {self._site_kind(site) for site in self.sites[key]}
        kind = kinds.pop() if len(kinds) == 1 else None
        self._memo[key] = kind
        return kind

    def _site_kind(self, site: BindingSite) -> str | None:
        if site.kind == "param":
            return self.facts.get("param_kinds", {}).get(id(site.node))
        if site.kind == "value":
            return self.kind_of(site.expr, site.chain)
        if site.kind == "unpack":
            return self._unpack_kind(site.expr, site.path, site.chain)
        if site.kind == "for":
            return self._element_kind(site.expr, site.path, site.chain)
        if site.kind == "with":
            kind = self.kind_of(site.expr, site.chain)
            return self.facts.get("with_kinds", {}).get(kind, None) if kind else None
        return None

    def _unpack_kind(self, expr, path, chain) -> str | None:
        if isinstance(expr, (cst.Tuple, cst.List)) and path and path[0] < len(expr.elements):
            inner = expr.elements[path[0]].value
            return self._unpack_kind(inner, path[1:], chain) if path[1:] else self.kind_of(inner, chain)
        kind = self.kind_of(expr, chain)
        if kind in ("tensors", "batch", "tensor") and len(path) == 1:
            return "tensor"
        return None

    def _element_kind(self, iterable, path, chain) -> str | None:
        if (
            isinstance(iterable, cst.Call)
            and isinstance(iterable.func, cst.Name)
            and iterable.func.value == "enumerate"
            and iterable.args
            and path
        ):
            if path[0] == 0:
                return "int"
            return self._element_kind(iterable.args[0].value, path[1:], chain)
        kind = self.kind_of(iterable, chain)
        element = ELEMENT_KINDS.get(kind or "")
        if element is None:
            return None
        if not path:
            return element
        return ELEMENT_KINDS.get(element) if len(path) == 1 else None

    # -- expressions -------------------------------------------------------
    def kind_of(self, expr: cst.CSTNode | None, chain: list | None = None) -> str | None:
        if expr is None:
            return None
        if isinstance(expr, cst.Name):
            return self.name_kind(expr, chain)
        if isinstance(expr, cst.Call):
            func = expr.func
            if isinstance(func, (cst.Name, cst.Attribute)):
                qual = self.resolver.resolve_chain(func) if not (isinstance(func, cst.Name) and self.resolver.kind(func) != "load") else None
                if qual is not None:
                    if framework_of(qual) != self.source:
                        return None
                    rule = self.ruleset.lookup(qual)
                    return rule.returns if rule is not None else None
            if isinstance(func, cst.Attribute):
                receiver = self.kind_of(func.value, chain)
                if receiver is not None:
                    rule = self.method_rule(receiver, func.attr.value)
                    if rule is not None:
                        return rule.returns
                    if is_tensor(receiver):
                        return None
            callee = self.kind_of(func, chain)
            return CALL_KINDS.get(callee or "")
        if isinstance(expr, cst.Attribute):
            owner = self.kind_of(expr.value, chain)
            if owner is not None:
                rule = self.method_rule(owner, expr.attr.value)
                if rule is not None and rule.attribute:
                    return rule.returns
            attr_kinds = self.facts.get("attribute_kinds", {})
            if isinstance(expr.value, cst.Name) and expr.value.value == "self":
                return attr_kinds.get(expr.attr.value)
            return None
        if isinstance(expr, (cst.BinaryOperation,)):
            left, right = self.kind_of(expr.left, chain), self.kind_of(expr.right, chain)
            return "tensor" if is_tensor(left) or is_tensor(right) else None
        if isinstance(expr, cst.UnaryOperation):
            return "tensor" if is_tensor(self.kind_of(expr.expression, chain)) else None
        if isinstance(expr, cst.Comparison):
            return "tensor" if is_tensor(self.kind_of(expr.left, chain)) else None
        if isinstance(expr, cst.Subscript):
            base = self.kind_of(expr.value, chain)
            if is_tensor(base):
                return "tensor"
            if base in ("tensors", "batch"):
                return "tensor"
            return None
        return None

    def method_rule(self, kind: str, name: str):
        while kind:
            for rule in self.ruleset.method_rules(name):
                if rule.receiver == kind:
                    return rule
            kind = KIND_PARENTS.get(kind)
        return None


_OWNERS = (cst.Assign, cst.AnnAssign, cst.For, cst.CompFor, cst.WithItem, cst.NamedExpr)


def candidate_variables(scan: Scan, resolver: Resolver, method_names) -> set[str]:
    """Names worth a second look: assigned from framework calls, or receivers of rule methods."""
    names: set[str] = set()
    for hit in scan.hits:
        kind = resolver.kind(hit.name)
        parent = hit.parent
        if kind == "skip" and isinstance(parent, cst.Attribute) and parent.attr is hit.name:
            if hit.name.value in method_names:
                base = parent.value
                while isinstance(base, (cst.Attribute, cst.Subscript, cst.Call)):
                    base = base.value if not isinstance(base, cst.Call) else base.func
                if isinstance(base, cst.Name):
                    names.add(base.value)
            continue
        if kind != "load":
            continue
        for anc in reversed(hit.stack[:-1]):
            if isinstance(anc, _OWNERS):
                targets = []
                if isinstance(anc, cst.Assign):
                    targets = [t.target for t in anc.targets]
                elif isinstance(anc, (cst.AnnAssign, cst.For, cst.CompFor, cst.NamedExpr)):
                    targets = [anc.target]
                elif isinstance(anc, cst.WithItem) and anc.asname is not None:
                    targets = [anc.asname.name]
                for target in targets:
                    names.update(_names_in(target))
                break
            if isinstance(anc, cst.BaseStatement):
                break
    return names


def _names_in(target) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        out = set()
        for el in target.elements:
            out |= _names_in(el.value)
        return out
    if isinstance(target, cst.StarredElement):
        return _names_in(target.value)
    return set()


def value_names(types: "Types") -> set[str]:
    """Names read in the values bound to known variables (to follow b = a + 1 chains)."""
    out: set[str] = set()
    for sites in types.sites.values():
        for site in sites:
            if site.expr is None:
                continue
            node = site.expr
            stack = [node]
            while stack:
                n = stack.pop()
                if isinstance(n, cst.Name):
                    out.add(n.value)
                elif isinstance(n, cst.Attribute):
                    stack.append(n.value)
                elif isinstance(n, cst.BinaryOperation):
                    stack.extend([n.left, n.right])
                elif isinstance(n, cst.UnaryOperation):
                    stack.append(n.expression)
                elif isinstance(n, cst.Subscript):
                    stack.append(n.value)
                elif isinstance(n, cst.Call):
                    stack.append(n.func)
                    stack.extend(a.value for a in n.args)
                elif isinstance(n, (cst.Tuple, cst.List)):
                    stack.extend(e.value for e in n.elements)
    return out
