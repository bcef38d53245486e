"""What kind of value a name holds: a tensor, a module, an optimizer, a data loader...

Method calls (``x.view(2, 3)``, ``model.fit(...)``) can only be converted when the
receiver's kind is known. Kinds come from where values come from: a framework
call whose rule says what it ``returns``, a method whose rule says so, arithmetic
on tensors, calling a model, iterating a data loader, or facts a direction's
analyzers add (``forward``'s arguments are tensors). A name gets a kind only when
every binding of it in its scope gives that same kind; otherwise it is unknown,
and a method call on it is reported, never guessed.

Annotations are facts too: a parameter or variable annotated with a framework
type (``x: torch.Tensor``, ``labels: Optional[torch.LongTensor]``,
``mask: tf.Tensor | None``, ``model: nn.Module``) has the kind that type's rule
``returns``, in its whole scope, unless a binding visibly gives another kind.
``self.dense`` has the kind every assignment to it in the class's methods gives
(``self.dense = nn.Linear(...)``: a module, so ``self.dense(x)`` is a tensor).

The bindings of a scope are found on demand by walking that scope's statements
(not every node), the first time a name in it is asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import libcst as cst

from ..frameworks import framework_of
from .names import Resolver, dotted_name, scope_chain
from .walk import child_nodes

# what iterating a value of one kind gives
ELEMENT_KINDS = {"dataloader": "batch", "dataset": "batch", "batch": "tensor", "tensor": "tensor", "tensors": "tensor"}
# calling a value of one kind gives
CALL_KINDS = {"module": "tensor", "layer": "tensor", "model": "tensor", "loss": "tensor", "activation": "tensor"}
# a kind that is also another: a variable is a tensor too
KIND_PARENTS = {"variable": "tensor", "parameter": "tensor"}
# kinds an isinstance check narrows a module to (a layer class rule's data.narrow): a module
# whose weights a direction's rules can name (Linear's weight is a Dense's kernel)
KIND_PARENTS.update(dict.fromkeys(("kernel_layer", "embedding_layer", "norm_layer"), "module"))
KIND_PARENTS.update({"linear_layer": "kernel_layer", "conv_layer": "kernel_layer", "batch_norm_layer": "norm_layer"})
_UNKNOWN = object()
# typing constructs an annotation may wrap a framework type in (by their last name)
_OPTIONAL = {"Optional"}
_UNION = {"Union"}
_ANNOTATED = {"Annotated", "Final", "ClassVar"}
_SEQUENCES = {"List", "list", "Tuple", "tuple", "Sequence", "MutableSequence"}
_NONE = "<none>"  # the None in Optional[X] / X | None


def call_kind(kind: str | None) -> str | None:
    """What calling a value of ``kind`` gives (a narrowed layer is called like a module)."""
    while kind:
        if kind in CALL_KINDS:
            return CALL_KINDS[kind]
        kind = KIND_PARENTS.get(kind)
    return None


def is_tensor(kind: str | None) -> bool:
    return kind == "tensor" or KIND_PARENTS.get(kind or "") == "tensor"


@dataclass
class BindingSite:
    kind: str  # "value", "unpack", "for", "with", "param", "function", "other"
    expr: cst.CSTNode | None = None
    path: tuple[int, ...] = ()  # index path into a tuple target
    node: cst.CSTNode | None = None  # the parameter, for "param"
    annotation: cst.BaseExpression | None = None  # the declared type, where one is written
    chain: list | None = None  # scopes to evaluate ``expr`` in, when not the name's own
    stmt: cst.CSTNode | None = None  # the statement that binds (for the reaching bindings of a use)


def _targets(target, path=()):
    """(name, index path) for every name a target binds; an attribute of a plain
    name (``self.dense``, ``self.encoder.proj``) is recorded as its dotted text."""
    if isinstance(target, cst.Name):
        yield target.value, path
    elif isinstance(target, cst.Attribute):
        dotted = dotted_name(target)
        if dotted is not None:
            yield dotted, path
    elif isinstance(target, (cst.Tuple, cst.List)):
        for i, el in enumerate(target.elements):
            yield from _targets(el.value, path + (i,))
    elif isinstance(target, cst.StarredElement):
        yield from _targets(target.value, ())


def _passed(call: cst.Call, index: int, name: str):
    """What ``call`` passes for the parameter at ``index`` called ``name``; None where it
    passes nothing for it, or passes *args or **kwargs (then it cannot be told)."""
    arg = None
    for i, a in enumerate(call.args):
        if a.star:
            return None
        if a.keyword is None and i == index or (a.keyword is not None and a.keyword.value == name):
            arg = a.value
    return arg


def _chain_of_frame(frame, leaf) -> list:
    """The scope chain of ``leaf`` under the node of ``frame``, a linked ``(node, parent
    frame)`` from _attribute_calls."""
    nodes = [leaf]
    while frame is not None:
        nodes.append(frame[0])
        frame = frame[1]
    nodes.reverse()
    return scope_chain(tuple(nodes))


def _calls_of(resolver, name: str):
    """(call, scope chain) for every call of the plain name ``name`` (from the scan's hits;
    the file's called top-level functions are among the scanned names: see api._convert)."""
    scan = resolver.scan
    index = getattr(scan, "_calls_by_name", None)
    if index is None:
        index = {}
        for hit in scan.hits:
            if len(hit.stack) >= 2 and isinstance(hit.stack[-2], cst.Call) and hit.stack[-2].func is hit.name:
                index.setdefault(hit.name.value, []).append((hit.stack[-2], resolver.chain_of(hit.stack)))
        scan._calls_by_name = index
    return index.get(name, [])


def _returns(block):
    """The return statements of a function body, not of functions nested in it."""
    out = []
    stack = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Return):
            if node.value is not None:
                out.append(node)
            continue
        if isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(child_nodes(node))
    return out


def scope_bindings(scope: cst.CSTNode) -> dict[str, list[BindingSite]]:
    """Every binding made directly in ``scope`` (not in nested functions or classes)."""
    sites: dict[str, list[BindingSite]] = {}

    def add(name: str, site: BindingSite) -> None:
        sites.setdefault(name, []).append(site)

    def bind_target(target, kind, expr, annotation=None, stmt=None):
        for name, path in _targets(target):
            add(name, BindingSite("unpack" if (path and kind == "value") else kind, expr, path, annotation=annotation, stmt=stmt))

    def walk(body) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign):
                        for t in small.targets:
                            bind_target(t.target, "value", small.value, stmt=small)
                    elif isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
                        registered = _registered_attribute(small.value)
                        if registered is not None:
                            name, value = registered
                            add(name, BindingSite("value" if value is not None else "other", value))
                    elif isinstance(small, cst.AnnAssign):
                        annotation = small.annotation.annotation
                        if small.value is not None:
                            bind_target(small.target, "value", small.value, annotation, stmt=small)
                        else:  # a declaration: binds nothing, says what the bindings hold
                            bind_target(small.target, "declare", None, annotation)
                    elif isinstance(small, (cst.Import, cst.ImportFrom)):
                        names = small.names
                        if isinstance(names, cst.ImportStar):
                            continue
                        for alias in names:
                            if alias.asname is not None:
                                bind_target(alias.asname.name, "other", None, stmt=small)
                            else:
                                node = alias.name
                                while isinstance(node, cst.Attribute):
                                    node = node.value
                                add(node.value, BindingSite("other", stmt=small))
            elif isinstance(stmt, cst.FunctionDef):
                add(stmt.name.value, BindingSite("function", node=stmt, stmt=stmt))
            elif isinstance(stmt, cst.ClassDef):
                add(stmt.name.value, BindingSite("other", stmt=stmt))
            elif isinstance(stmt, cst.For):
                bind_target(stmt.target, "for", stmt.iter, stmt=stmt)
                walk_block(stmt.body)
                walk_block(stmt.orelse)
            elif isinstance(stmt, cst.With):
                for item in stmt.items:
                    if item.asname is not None:
                        bind_target(item.asname.name, "with", item.item, stmt=stmt)
                walk_block(stmt.body)
            elif isinstance(stmt, cst.Try) or type(stmt).__name__ == "TryStar":
                walk_block(stmt.body)
                for handler in stmt.handlers:
                    if handler.name is not None:
                        bind_target(handler.name.name, "other", None, stmt=handler)
                    walk_block(handler.body)
                walk_block(stmt.orelse)
                walk_block(stmt.finalbody)
            elif isinstance(stmt, (cst.If, cst.While)):
                walk_block(stmt.body)
                walk_block(stmt.orelse)
            elif isinstance(stmt, cst.BaseCompoundStatement):
                walk_block(getattr(stmt, "body", None))

    def walk_block(block) -> None:
        if block is None:
            return
        if isinstance(block, cst.If):  # elif
            walk_block(block.body)
            walk_block(block.orelse)
            return
        inner = getattr(block, "body", None)
        if isinstance(block, (cst.Else, cst.Finally)):
            walk_block(inner)
            return
        if isinstance(inner, (list, tuple)):
            walk(inner)
        elif inner is not None:
            walk_block(inner)

    if isinstance(scope, cst.Module):
        walk(scope.body)
    elif isinstance(scope, (cst.FunctionDef, cst.Lambda)):
        params = scope.params
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            annotation = param.annotation.annotation if param.annotation is not None else None
            add(param.name.value, BindingSite("param", node=param, annotation=annotation))
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                add(star.name.value, BindingSite("other"))
        if isinstance(scope, cst.FunctionDef):
            walk_block(scope.body)
    elif isinstance(scope, cst.ClassDef):
        walk_block(scope.body)
    elif isinstance(scope, (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)):
        comp = scope.for_in
        while comp is not None:
            bind_target(comp.target, "for", comp.iter)
            comp = comp.inner_for_in
    walk = walk_block = None  # they call each other: a reference cycle (docs/performance.md)
    return sites


class Types:
    def __init__(self, resolver: Resolver, ruleset, source_framework: str, facts: dict) -> None:
        self.resolver = resolver
        self.ruleset = ruleset
        self.source = source_framework
        self.facts = facts
        self._scopes: dict[int, dict[str, list[BindingSite]]] = {}
        self._memo: dict[tuple[int, str], object] = {}
        self._annotations: dict[int, str | None] = {}
        self._classes: dict | None = None  # method id -> (class, self name, method chain)
        self._flows: dict[int, object] = {}  # function id -> _Flow (None: not followed)
        self._attr_calls: dict | None = None  # method name -> [(call, scope chain)] (see _attribute_calls)
        self._instance_guard: set = set()  # names and attributes _instance_class is following

    def _sites(self, scope) -> dict[str, list[BindingSite]]:
        found = self._scopes.get(id(scope))
        if found is None:
            found = self._scopes[id(scope)] = scope_bindings(scope)
        return found

    # -- names -------------------------------------------------------------
    def name_kind(self, name: cst.Name, chain: list) -> str | None:
        if name.value == "self":
            return None
        for i, scope in enumerate(chain):
            sites = self._sites(scope).get(name.value)
            if sites:
                narrowed = self._narrowed(scope, name)
                if narrowed is not None:
                    return narrowed
                reaching = self._reaching(scope, name, sites)
                if reaching is not None:
                    key = (id(scope), name.value, frozenset(id(site) for site in reaching))
                    return self._combine(key, reaching, chain[i:])
                return self._scope_kind(scope, name.value, sites, chain[i:])
        return None

    def _reaching(self, scope, name: cst.Name, sites) -> list | None:
        """The bindings of ``name`` that may reach this use of it, where that is fewer
        than all of its function's (see _Flow); None where the walk does not say.
        An annotated name keeps its declared kind in its whole scope."""
        if not isinstance(scope, cst.FunctionDef) or any(site.annotation is not None for site in sites):
            return None
        flow = self._flow(scope)
        if flow is None or name.value in flow.unsure:
            return None
        ids = flow.loads.get(id(name))
        if not ids:
            return None
        reaching = [site for site in sites if id(site) in ids]
        return reaching if reaching and len(reaching) < len(sites) else None

    def _flow(self, scope) -> "_Flow | None":
        flow = self._flows.get(id(scope), _UNKNOWN)
        if flow is _UNKNOWN:
            flow = self._flows[id(scope)] = _Flow(scope, self._sites(scope)).run()
        return flow  # type: ignore[return-value]

    def _narrowed(self, scope, name: cst.Name) -> str | None:
        """Inside ``if isinstance(m, nn.Linear):`` (and the operands after it in an ``and``),
        until ``m`` is bound again: the kind the class's rule narrows to (its ``data.narrow``,
        else what it ``returns``), where the rule names a type (``as_type``). A tuple of
        classes narrows where they all give one kind."""
        if not isinstance(scope, cst.FunctionDef):
            return None
        flow = self._flow(scope)
        if flow is None or name.value in flow.unsure:
            return None
        classes = flow.narrowed.get(id(name))
        if not classes:
            return None
        kinds = {self._class_kind(flow.classes[c]) for c in classes}
        return kinds.pop() if len(kinds) == 1 else None

    def _class_kind(self, node) -> str | None:
        if isinstance(node, (cst.Tuple, cst.List)):
            kinds = [self._class_kind(el.value) for el in node.elements]
            if not kinds or None in kinds:
                return None
            common = _ancestors(kinds[0])  # the nearest kind they all are
            for kind in kinds[1:]:
                common = [k for k in common if k in _ancestors(kind)]
            return common[0] if common else None
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return None
        qual = self.resolver.resolve_chain(node)
        if qual is None or framework_of(qual) != self.source:
            return None
        rule = self.ruleset.lookup(qual)
        if rule is None or not getattr(rule, "as_type", None):
            return None
        data = rule.data if isinstance(rule.data, dict) else {}
        return data.get("narrow") or rule.returns

    def _scope_kind(self, scope, name: str, sites, chain) -> str | None:
        return self._combine((id(scope), name), sites, chain)

    def _combine(self, key, sites, chain) -> str | None:
        """The kind every binding in ``sites`` gives (a site's own chain, else ``chain``)."""
        memo = self._memo.get(key, _UNKNOWN)
        if memo is not _UNKNOWN:
            return memo  # type: ignore[return-value]
        self._memo[key] = None  # recursion guard: a cycle is unknown
        # what was inferred before: the memo's first entries (a dict keeps insertion
        # order, and none of them is deleted while this call runs)
        before = len(self._memo)
        declared = {self.annotation_kind(site.annotation) for site in sites if site.annotation is not None}
        if len(declared) == 1 and None not in declared:
            # the annotation says what the name holds, in its whole scope; a binding
            # that visibly gives another kind contradicts it (then unknown)
            kind = declared.pop()
            self._memo[key] = kind
            for site in sites:
                if site.kind in ("declare", "param") and site.annotation is not None:
                    continue
                found = self._site_kind(site, site.chain or chain)
                if found is not None and not _compatible(found, kind):
                    self._forget(before, key)
                    self._memo[key] = None
                    break
            return self._memo[key]  # type: ignore[return-value]
        sites = [site for site in sites if site.kind != "declare"]
        if not sites:
            return None
        kinds = [self._site_kind(site, site.chain or chain) for site in sites]
        known = set(kinds) - {None}
        if len(known) == 1 and None in kinds:
            # a name rebound from itself (x = x.view(...)): assume the kind its other
            # bindings give and keep it if every binding then gives that kind
            guess = known.pop()
            self._forget(before, key)
            self._memo[key] = guess
            if any(self._site_kind(site, site.chain or chain) != guess for site in sites):
                self._forget(before, key)
                self._memo[key] = None
            return self._memo[key]
        kind = kinds[0] if len(set(kinds)) == 1 else None
        self._memo[key] = kind
        return kind

    def _forget(self, before: int, key) -> None:
        """Drop what was inferred while ``key`` was assumed (or unknown): every entry
        after the first ``before`` (``key`` is among those)."""
        for k in list(islice(self._memo, before, None)):
            del self._memo[k]

    def _site_kind(self, site: BindingSite, chain) -> str | None:
        if site.kind == "param":
            known = self.facts.get("param_kinds", {}).get(id(site.node))
            return known if known is not None else self._param_from_calls(site.node, chain)
        if site.kind == "value":
            return self.kind_of(site.expr, chain)
        if site.kind == "unpack":
            return self._unpack_kind(site.expr, site.path, chain)
        if site.kind == "for":
            return self._element_kind(site.expr, site.path, chain)
        if site.kind == "with":
            kind = self.kind_of(site.expr, chain)
            return self.facts.get("with_kinds", {}).get(kind) if kind else None
        return None

    def _unpack_kind(self, expr, path, chain) -> str | None:
        if isinstance(expr, (cst.Tuple, cst.List)) and path and path[0] < len(expr.elements):
            inner = expr.elements[path[0]].value
            return self._unpack_kind(inner, path[1:], chain) if path[1:] else self.kind_of(inner, chain)
        kind = self.kind_of(expr, chain)
        if kind in ("tensors", "batch", "tensor") and len(path) == 1:
            return "tensor"
        if kind is None and len(path) == 1 and isinstance(expr, cst.Call):
            return self._returned_element_kind(expr, path[0], chain)
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
    def kind_of(self, expr: cst.CSTNode | None, chain: list) -> str | None:
        if expr is None:
            return None
        if isinstance(expr, cst.Name):
            return self.name_kind(expr, chain)
        if isinstance(expr, cst.Call):
            if id(expr) in self.facts.get("model_failures", {}):
                return "unconverted_model"  # it stays what it was: its methods too
            func = expr.func
            if isinstance(func, cst.Name) and func.value in self.facts.get("class_kinds", {}):
                return self.facts["class_kinds"][func.value]  # an instance of a converted class
            if isinstance(func, (cst.Name, cst.Attribute)):
                qual = self.resolver.resolve_chain(func)
                if qual is not None:
                    if framework_of(qual) != self.source:
                        return None
                    rule = self.ruleset.lookup(qual)
                    return rule.returns if rule is not None else None
            if isinstance(func, cst.Attribute):
                receiver = self.kind_of(func.value, chain)
                if receiver is None:
                    returned = self._method_returned_kind(func, chain)
                    if returned is not None:
                        return returned
                    if (
                        self.source == "tf" and func.attr.value == "add_weight"
                        and isinstance(func.value, cst.Name) and func.value.value == "self"
                    ):
                        return "variable"  # self.add_weight(...) in a Keras layer: its weight
                    receiver = self.evidence(expr, chain)
                if receiver is not None:
                    rule = self.method_rule(receiver, func.attr.value)
                    if rule is not None:
                        return rule.returns
                    if is_tensor(receiver):
                        return None
            if isinstance(func, cst.Name):
                returned = self._returned_kind(func, chain)
                if returned is not None:
                    return returned
            callee = self.kind_of(func, chain)
            return call_kind(callee)
        if isinstance(expr, cst.Attribute):
            owner = self.kind_of(expr.value, chain)
            if expr.attr.value == "shape" and (owner is None or is_tensor(owner)) and self.ruleset.method_rules("rank"):
                # a TensorShape, whatever holds it: what its rules make of it (len(x.shape),
                # list(x.shape)) holds for a torch.Size or a NumPy shape too
                return "shape"
            if owner is not None:
                rule = self.method_rule(owner, expr.attr.value)
                if rule is not None and rule.attribute:
                    return rule.returns
            if isinstance(expr.value, cst.Name) and expr.value.value == "self":
                known = self.facts.get("attribute_kinds", {}).get(expr.attr.value)
                if known is not None:
                    return known
            known = self._narrowed_member_kind(expr.value, expr.attr.value, chain)
            if known is not None:
                return known
            return self._instance_attribute_kind(expr.value, expr.attr.value, chain)
        if isinstance(expr, cst.BinaryOperation):
            left, right = self.kind_of(expr.left, chain), self.kind_of(expr.right, chain)
            return "tensor" if is_tensor(left) or is_tensor(right) else None
        if isinstance(expr, cst.UnaryOperation):
            return "tensor" if is_tensor(self.kind_of(expr.expression, chain)) else None
        if isinstance(expr, cst.Comparison):
            return "tensor" if is_tensor(self.kind_of(expr.left, chain)) else None
        if isinstance(expr, cst.Subscript):
            base = self.kind_of(expr.value, chain)
            if is_tensor(base) or base in ("tensors", "batch"):
                return "tensor"
            if base == "shape" and len(expr.slice) == 1 and isinstance(expr.slice[0].slice, cst.Slice):
                return "shape"  # x.size()[:-1]: some of the sizes
            return None
        return None

    # -- annotations ----------------------------------------------------------
    def annotation_kind(self, node: cst.BaseExpression | None) -> str | None:
        """The kind of a value annotated ``node``: a framework type's rule ``returns``
        (``torch.Tensor``, ``nn.Module``), through ``Optional[...]``, ``Union[..., None]``,
        ``X | None`` and ``Annotated[X, ...]``; ``List[X]``/``Tuple[X, ...]`` of
        tensors are ``tensors``. Anything else: None."""
        if node is None:
            return None
        found = self._annotations.get(id(node), _UNKNOWN)
        if found is _UNKNOWN:
            found = self._annotations[id(node)] = self._annotation_kind(node)
        return None if found == _NONE else found  # type: ignore[return-value]

    def _annotation_kind(self, node) -> str | None:
        if isinstance(node, cst.Name) and node.value == "None":
            return _NONE
        if isinstance(node, (cst.Name, cst.Attribute)):
            qual = self.resolver.resolve_chain(node)
            if qual is None or framework_of(qual) != self.source:
                return None
            rule = self.ruleset.lookup(qual)
            if rule is not None and getattr(rule, "as_type", None) and isinstance(rule.data, dict) and rule.data.get("narrow"):
                return rule.data["narrow"]  # m: nn.Linear, as an isinstance check narrows it
            return rule.returns if rule is not None else None
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return _union([self._annotation_kind(node.left), self._annotation_kind(node.right)])
        if isinstance(node, cst.Subscript):
            head = node.value
            while isinstance(head, cst.Attribute):
                head = head.attr
            if not isinstance(head, cst.Name):
                return None
            items = [el.slice.value for el in node.slice if isinstance(el.slice, cst.Index)]
            if len(items) != len(node.slice) or not items:
                return None
            if head.value in _OPTIONAL and len(items) == 1:
                return _union([self._annotation_kind(items[0]), _NONE])
            if head.value in _UNION:
                return _union([self._annotation_kind(item) for item in items])
            if head.value in _ANNOTATED:
                return self._annotation_kind(items[0])
            if head.value in _SEQUENCES:
                kinds = [self._annotation_kind(item) for item in items if not isinstance(item, cst.Ellipsis)]
                return "tensors" if kinds and all(is_tensor(k) for k in kinds) else None
        return None

    # -- attributes of self ----------------------------------------------------
    def _instance_attribute_kind(self, receiver, attr: str, chain: list) -> str | None:
        """``self.attr`` in a method, ``self.encoder.attr``, ``block.attr``: where the
        receiver is an instance of a class of this file, the kind every assignment
        to the attribute in that class (its methods, its body, the classes of this
        file it derives from) gives."""
        module = chain[-1] if chain and isinstance(chain[-1], cst.Module) else None
        cls = self._instance_class(receiver, chain, module) if module is not None else None
        if cls is None:
            return None
        sites = self._attribute_sites(cls, attr, module, in_body=True)
        key: tuple = (id(cls), "self." + attr)
        dotted = dotted_name(receiver)
        if dotted is not None and dotted != "self":
            # assigned through the same name outside the class: model.head = ...,
            # self.encoder.proj = ... (in the methods of self's class)
            outside: list = []
            head, _, rest = dotted.partition(".")
            if head == "self":
                owner = self._class_of_self(chain, module)
                if owner is not None:
                    for klass in self._class_lineage(owner, self._class_info(module)):
                        for method, self_name, method_chain in self._class_info(module)["methods"].get(id(klass), ()):
                            found = self._sites(method).get(f"{self_name}.{rest}.{attr}", ())
                            outside += [_with_chain(site, method_chain) for site in found]
                    scope_id = id(owner)
            else:
                scope_id = 0
                for i, scope in enumerate(chain):
                    if head in self._sites(scope):
                        found = self._sites(scope).get(f"{dotted}.{attr}", ())
                        outside += [_with_chain(site, chain[i:]) for site in found]
                        scope_id = id(scope)
                        break
            if outside:
                sites = sites + outside
                key = (id(cls), f"{dotted}.{attr}", scope_id)
        if not sites:
            return None
        return self._combine(key, sites, chain)

    def _narrowed_classes(self, name, chain: list) -> list | None:
        """Inside ``if isinstance(m, Block):`` (or a tuple of classes), where each is a
        module-level class of this file: those classes."""
        module = chain[-1] if chain and isinstance(chain[-1], cst.Module) else None
        if module is None or not isinstance(name, cst.Name) or name.value == "self":
            return None
        for scope in chain:
            if not self._sites(scope).get(name.value):
                continue
            if not isinstance(scope, cst.FunctionDef):
                return None
            flow = self._flow(scope)
            if flow is None or name.value in flow.unsure:
                return None
            ids = flow.narrowed.get(id(name))
            if not ids or len(ids) != 1:
                return None
            node = flow.classes[next(iter(ids))]
            elements = [el.value for el in node.elements] if isinstance(node, (cst.Tuple, cst.List)) else [node]
            by_name = self._class_info(module)["by_name"]
            classes = []
            for el in elements:
                if not isinstance(el, cst.Name) or len(by_name.get(el.value, ())) != 1:
                    return None
                if len(self._sites(module).get(el.value, ())) != 1 or any(el.value in self._sites(s) for s in chain[:-1]):
                    return None  # bound otherwise too
                classes.append(by_name[el.value][0])
            return classes
        return None

    def _narrowed_member_kind(self, receiver, attr: str, chain: list) -> str | None:
        """``m.fc`` inside ``if isinstance(m, Block):`` (Block a class of this file): the kind a
        direction's analyzer gives Block's member ``fc`` (facts["member_kinds"]: class id ->
        attribute -> kind), where Block, the classes of this file it derives from and those
        derived from it (isinstance holds for them too) all give one kind."""
        members = self.facts.get("member_kinds")
        if not members:
            return None
        classes = self._narrowed_classes(receiver, chain)
        if not classes:
            return None
        info = self._class_info(chain[-1])
        every = [k for found in info["by_name"].values() for k in found]
        kinds = set()
        for cls in classes:
            for klass in every:
                lineage = self._class_lineage(klass, info)
                if not any(k is cls for k in lineage):
                    continue
                for k in lineage:
                    own = members.get(id(k))
                    if own is None:
                        return None  # a class the analyzer did not convert
                    if attr in own:
                        kinds.add(own[attr])
                        break
        return kinds.pop() if len(kinds) == 1 and None not in kinds else None

    def _attribute_sites(self, cls, attr: str, module: cst.Module, in_body: bool) -> list:
        """The assignments to ``self.attr`` in the methods of ``cls`` and of the classes
        of this file it derives from (and, ``in_body``, to ``attr`` in their bodies)."""
        info = self._class_info(module)
        sites = []
        for klass in self._class_lineage(cls, info):
            for method, self_name, method_chain in info["methods"].get(id(klass), ()):
                for site in self._sites(method).get(f"{self_name}.{attr}", ()):
                    sites.append(_with_chain(site, method_chain))
            if in_body:
                for site in self._sites(klass).get(attr, ()):
                    sites.append(_with_chain(site, [klass, *info["outer"][id(klass)]]))
        return sites

    def _class_info(self, module: cst.Module) -> dict:
        """Classes of this file: their methods (with the name of ``self``), the
        scopes around them, and the module-level ones by name."""
        if self._classes is not None:
            return self._classes
        info: dict = {"methods": {}, "outer": {}, "by_name": {}, "method_class": {}}

        def visit(body, outer_chain, top_level):
            for stmt in _statements(body):
                if isinstance(stmt, cst.ClassDef):
                    if top_level:
                        info["by_name"].setdefault(stmt.name.value, []).append(stmt)
                    info["outer"][id(stmt)] = outer_chain
                    methods = []
                    for inner in _statements(stmt.body.body):
                        if isinstance(inner, cst.FunctionDef):
                            params = [*inner.params.posonly_params, *inner.params.params]
                            decorators = {d.decorator.value for d in inner.decorators if isinstance(d.decorator, cst.Name)}
                            if params and not decorators & {"staticmethod", "classmethod"}:
                                methods.append((inner, params[0].name.value, [inner, *outer_chain]))
                                info["method_class"][id(inner)] = (stmt, params[0].name.value)
                            visit(inner.body.body, [inner, *outer_chain], False)
                        elif isinstance(inner, cst.ClassDef):
                            visit([inner], outer_chain, False)
                    info["methods"][id(stmt)] = methods
                elif isinstance(stmt, cst.FunctionDef):
                    visit(stmt.body.body, [stmt, *outer_chain], False)

        visit(module.body, [module], True)
        visit = None  # a recursive closure refers to itself: a reference cycle (docs/performance.md)
        self._classes = info
        return info

    def _class_of_self(self, chain: list, module: cst.Module):
        """The class whose instance ``self`` is, where ``self`` is a method's first parameter."""
        for scope in chain:
            sites = self._sites(scope).get("self")
            if not sites:
                continue
            if len(sites) != 1 or sites[0].kind != "param" or not isinstance(scope, cst.FunctionDef):
                return None
            found = self._class_info(module)["method_class"].get(id(scope))
            if found is None or found[1] != "self":
                return None
            return found[0]
        return None

    def user_attribute(self, receiver: cst.BaseExpression, name: str, chain: list) -> bool:
        """Whether ``receiver.name`` is an attribute or method a class of this file defines
        on the instance ``receiver`` is (``self.embeddings.word_embeddings`` where
        ``self.embeddings = BertEmbeddings(config)`` and ``BertEmbeddings.__init__``
        assigns ``self.word_embeddings``): the user's own, nothing to convert."""
        module = chain[-1] if chain and isinstance(chain[-1], cst.Module) else None
        if module is None:
            return False
        cls = self._instance_class(receiver, chain, module)
        if cls is None:
            return False
        info = self._class_info(module)
        for klass in self._class_lineage(cls, info):
            if name in self._sites(klass):
                return True  # a method, or a class attribute
            for method, self_name, _ in info["methods"].get(id(klass), ()):
                sites = self._sites(method)
                if f"{self_name}.{name}" in sites:
                    return True
        return False

    def _instance_class(self, expr, chain: list, module: cst.Module):
        """The class of this file ``expr`` is an instance of: ``self``, ``Block(...)``,
        a name or an attribute (``self.block``, ``model.encoder``) every assignment
        of which is ``Block(...)`` (or ``self.block.to(device)``: the same module)."""
        found = self._instance_class_in(expr, chain, module)
        return None if found is _CYCLE else found

    def _instance_class_in(self, expr, chain: list, module: cst.Module):
        info = self._class_info(module)
        if isinstance(expr, cst.Call):
            if isinstance(expr.func, cst.Name) and len(info["by_name"].get(expr.func.value, ())) == 1:
                return info["by_name"][expr.func.value][0]
            if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _RETURNS_SELF and not expr.args[2:]:
                # self.decoder.to("cpu"): nn.Module's to/cuda/cpu/train/eval... return the module
                # itself, where the class (and those of this file it derives from) does not define them
                cls = self._instance_class_in(expr.func.value, chain, module)
                if cls is _CYCLE or cls is None:
                    return cls
                if any(expr.func.attr.value in self._sites(k) for k in self._class_lineage(cls, info)):
                    return None
                return cls
            return None
        sites: list = []
        key = None
        if isinstance(expr, cst.Name):
            if expr.value == "self":
                return self._class_of_self(chain, module)
            for i, scope in enumerate(chain):
                found = self._sites(scope).get(expr.value)
                if found:
                    sites = [_with_chain(site, chain[i:]) for site in found]
                    key = (id(scope), expr.value)
                    break
        elif isinstance(expr, cst.Attribute):
            cls = self._instance_class_in(expr.value, chain, module)
            if cls is None or cls is _CYCLE:
                return cls
            sites = self._attribute_sites(cls, expr.attr.value, module, in_body=False)
            key = (id(cls), expr.attr.value)
        if key in self._instance_guard:
            return _CYCLE  # self.decoder = self.decoder.to("cpu"): says nothing new
        self._instance_guard.add(key)
        try:
            classes = set()
            for site in sites:
                if site.kind != "value" or not isinstance(site.expr, cst.Call):
                    return None
                found = self._instance_class_in(site.expr, site.chain or chain, module)
                if found is None:
                    return None
                if found is _CYCLE:
                    continue
                classes.add(id(found))
                result = found
            return result if len(classes) == 1 else None
        finally:
            self._instance_guard.discard(key)

    def _class_lineage(self, cls, info: dict) -> list:
        """The class and the classes of this file it derives from (by a module-level name)."""
        out, todo = [], [cls]
        by_name = info["by_name"]
        while todo:
            klass = todo.pop(0)
            if any(k is klass for k in out):
                continue
            out.append(klass)
            for base in klass.bases:
                if isinstance(base.value, cst.Name) and len(by_name.get(base.value.value, ())) == 1:
                    todo.append(by_name[base.value.value][0])
        return out

    def _param_from_calls(self, param: cst.Param, chain: list) -> str | None:
        """A parameter of a function of this file: the kind every call site passes
        (``train_step(model, optimizer, x, y)`` called with the module-level model)."""
        func = chain[0] if chain else None
        module = chain[-1] if chain else None
        if not isinstance(func, cst.FunctionDef) or not isinstance(module, cst.Module) or func is module:
            return None
        if not any(stmt is func for stmt in module.body):
            return self._param_from_method_calls(param, func, module)
        if func.name.value not in self.facts.get("_called_functions", ()):
            return None
        if any(isinstance(d.decorator, cst.Name) and d.decorator.value in ("staticmethod", "classmethod") for d in func.decorators):
            return None
        names = [p.name.value for p in (*func.params.posonly_params, *func.params.params)]
        if param.name.value not in names:
            return None
        index = names.index(param.name.value)
        key = (id(param), "<calls>")
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        self._memo[key] = None  # recursion guard
        kind = self._kind_passed(_calls_of(self.resolver, func.name.value), index, param.name.value)
        self._memo[key] = kind
        return kind

    def _kind_passed(self, calls, index: int, name: str) -> str | None:
        """The one kind every (call, scope chain) of ``calls`` passes for the parameter at
        ``index`` called ``name``; None where a call passes nothing for it, or there are
        no calls, or they pass different kinds."""
        kinds = set()
        for call, chain in calls:
            arg = _passed(call, index, name)
            if arg is None:
                return None
            kinds.add(self.kind_of(arg, chain))
        return kinds.pop() if len(kinds) == 1 else None

    def _param_from_method_calls(self, param: cst.Param, func: cst.FunctionDef, module: cst.Module) -> str | None:
        """A parameter of a method of a class of this file (``transpose_for_scores(self, x)``):
        the kind every call of a method of that name passes, where each call is made on an
        instance of a class of this file (``self.transpose_for_scores(self.query(h))``); a call
        on anything else (an unknown receiver, ``super()``) may be a call of it: unknown."""
        info = self._class_info(module)
        owner = info["method_class"].get(id(func))
        names = [p.name.value for p in (*func.params.posonly_params, *func.params.params)]
        if owner is not None:
            cls = owner[0]
            names = names[1:]
        else:
            # a static method (self._relative_position_bucket(pos, ...)): every parameter is passed
            cls = next((k for ks in info["by_name"].values() for k in ks
                        if any(stmt is func for stmt in _statements(k.body.body))), None)
            if cls is None or not any(isinstance(d.decorator, cst.Name) and d.decorator.value == "staticmethod"
                                      for d in func.decorators):
                return None  # a nested function, a class method
        if param.name.value not in names:
            return None
        index = names.index(param.name.value)
        key = (id(param), "<method calls>")
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        self._memo[key] = None  # recursion guard
        if func.name.value in self._attribute_calls(module).get("<referenced>", ()):
            return None  # passed as a value (self.apply(self._init_weights)): called elsewhere with anything
        calls = []
        for call, frame in self._attribute_calls(module).get(func.name.value, ()):
            call_chain = _chain_of_frame(frame, call.func)
            receiver = call.func.value
            if owner is None and isinstance(receiver, cst.Name) and any(k is cls for k in info["by_name"].get(receiver.value, ())):
                klass = cls  # Block.helper(x): the static method called through its class
            else:
                klass = self._instance_class(receiver, call_chain, module)
            if klass is None:
                return None
            if not any(k is cls for k in self._class_lineage(klass, info)):
                continue  # a method of another class of this file
            calls.append((call, call_chain))
        kind = self._kind_passed(calls, index, param.name.value)
        self._memo[key] = kind
        return kind

    def _attribute_calls(self, module: cst.Module) -> dict:
        """Every call ``x.name(...)`` of the file, by name, with its frame (see _chain_of_frame); under
        "<referenced>" the names of attributes read other than to call them (``self.apply(self.f)``)."""
        if self._attr_calls is not None:
            return self._attr_calls
        index: dict = {}
        referenced: set = set()
        index["<referenced>"] = referenced
        # (node, parent frame): the chain above a call is read only for the calls asked about
        todo: list = [(module, None)]
        while todo:
            node, parent = todo.pop()
            frame = (node, parent)
            kind = type(node)
            if kind is cst.Call and type(node.func) is cst.Attribute:
                index.setdefault(node.func.attr.value, []).append((node, frame))
            elif kind is cst.Attribute and not (
                parent is not None and type(parent[0]) is cst.Call and parent[0].func is node
            ):
                referenced.add(node.attr.value)
            todo.extend((child, frame) for child in reversed(child_nodes(node)))
        self._attr_calls = index
        return index

    def _returned_kind(self, name: cst.Name, chain: list) -> str | None:
        """``build_model()``: the kind every return of a function of this file gives."""
        for scope in chain:
            sites = self._sites(scope).get(name.value)
            if not sites:
                continue
            if len(sites) != 1 or sites[0].kind != "function":
                return None
            func = sites[0].node
            return self._function_returns(func, [func, *chain[chain.index(scope):]])
        return None

    def _function_returns(self, func: cst.FunctionDef, inner: list, index: int | None = None) -> str | None:
        """The kind every ``return`` of ``func`` gives (evaluated in ``inner``, its own
        scope chain); with ``index``, the kind of that element of the tuple every
        ``return`` writes out (``return out, weights``)."""
        key = (id(func), "<returns>" if index is None else f"<returns {index}>")
        if key in self._memo:
            return self._memo[key]  # type: ignore[return-value]
        self._memo[key] = None  # recursion guard
        values = [r.value for r in _returns(func.body)]
        if index is not None:
            if not values or not all(
                isinstance(v, cst.Tuple) and len(v.elements) > index
                and not any(isinstance(el, cst.StarredElement) for el in v.elements[: index + 1])
                for v in values
            ):
                return None
            values = [v.elements[index].value for v in values]
        kinds = {self.kind_of(v, inner) for v in values}
        kind = kinds.pop() if len(kinds) == 1 else None
        self._memo[key] = kind
        return kind

    def _callee(self, func, chain: list):
        """The function of this file a call runs, with the scope chain its body sees:
        a function by its name, or a method of a class of this file through an instance
        of it (``self._shape(...)``, ``self.encoder.project(...)``), where no class of this
        file deriving from it defines the method again and no instance attribute has
        its name. Static and class methods too; not properties."""
        if isinstance(func, cst.Name):
            for i, scope in enumerate(chain):
                sites = self._sites(scope).get(func.value)
                if not sites:
                    continue
                if len(sites) != 1 or sites[0].kind != "function":
                    return None
                return sites[0].node, [sites[0].node, *chain[i:]]
            return None
        if not isinstance(func, cst.Attribute):
            return None
        module = chain[-1] if chain and isinstance(chain[-1], cst.Module) else None
        cls = self._instance_class(func.value, chain, module) if module is not None else None
        if cls is None:
            return None
        info = self._class_info(module)
        name = func.attr.value
        found = None
        for klass in self._class_lineage(cls, info):
            for method, self_name, _ in info["methods"].get(id(klass), ()):
                if f"{self_name}.{name}" in self._sites(method):
                    return None  # an instance attribute of that name
            sites = self._sites(klass).get(name)
            if sites and found is None:
                if len(sites) != 1 or sites[0].kind != "function":
                    return None
                found = (sites[0].node, [sites[0].node, *info["outer"][id(klass)]])
        if found is None:
            return None
        decorators = {d.decorator.value for d in found[0].decorators if isinstance(d.decorator, cst.Name)}
        if found[0].decorators and not decorators <= {"staticmethod", "classmethod"}:
            return None  # a property, a cache... what the call gives is not the body's return
        for klasses in info["by_name"].values():
            for other in klasses:
                if other is not cls and any(k is cls for k in self._class_lineage(other, info)[1:]):
                    if name in self._sites(other):
                        return None  # overridden where self may be an instance of the subclass
        return found

    def _method_returned_kind(self, func: cst.Attribute, chain: list) -> str | None:
        """``self._shape(x, n)``: the kind every return of that method of this file gives."""
        callee = self._callee(func, chain)
        return self._function_returns(*callee) if callee is not None else None

    def _returned_element_kind(self, call: cst.Call, index: int, chain: list) -> str | None:
        """``out, weights = self.attend(q, k)``: element ``index`` of the tuple every
        return of the function or method of this file writes out."""
        callee = self._callee(call.func, chain) if isinstance(call.func, (cst.Name, cst.Attribute)) else None
        return self._function_returns(*callee, index=index) if callee is not None else None

    def evidence(self, call: cst.Call, chain: list | None = None) -> str | None:
        """The kind of a receiver of unknown kind that the method call itself proves:
        among the values the source framework's code handles, only that kind has a
        method of this name taking such arguments (``x.unsqueeze(1)``, ``x.view(b, -1)``:
        a tensor; NumPy arrays, lists, dicts and strings have no such method). A method
        rule says so with ``data.evidence``: ``"always"``, or ``"sizes"`` (only with an
        int literal among the positional arguments, or three or more of them:
        ``ndarray.view(dtype)`` takes one)."""
        func = call.func
        if not isinstance(func, cst.Attribute):
            return None
        kinds = set()
        for rule in self.ruleset.method_rules(func.attr.value):
            how = rule.data.get("evidence") if isinstance(rule.data, dict) else None
            if how is None or rule.attribute:
                continue
            if how == "sizes":
                positional = [a for a in call.args if a.keyword is None]
                if any(a.star for a in positional) or not (len(positional) >= 3 or any(_is_int(a.value) for a in positional)):
                    continue
            elif how != "always":
                continue
            kinds.add(rule.receiver)
        if len(kinds) != 1:
            return None
        kind = kinds.pop()
        if chain is not None:
            if self.user_attribute(func.value, func.attr.value, chain):
                return None  # a method a class of this file defines
            if any(not _compatible(k, kind) for k in self._visible_kinds(func.value, chain)):
                return None  # a binding visibly gives another kind: contradicted, not unknown
        return kind

    def _visible_kinds(self, expr, chain: list) -> set:
        """The kinds the bindings of a name (those that reach this use of it) or of an
        attribute of an instance of a class of this file visibly give, and the kind
        its annotation declares; unknown ones left out."""
        key = (id(expr), "<visible>")
        if key in self._memo:
            return set()  # asked again while finding out (x = x.view(...)): a cycle says nothing
        self._memo[key] = None
        try:
            return self._visible(expr, chain)
        finally:
            del self._memo[key]

    def _expr_sites(self, expr, chain: list) -> list:
        """The bindings of a plain name that may reach this use of it, or the assignments
        to an attribute of an instance of a class of this file; [] where none is known."""
        sites: list = []
        if isinstance(expr, cst.Name):
            for i, scope in enumerate(chain):
                found = self._sites(scope).get(expr.value)
                if found:
                    reaching = self._reaching(scope, expr, found)
                    sites = [_with_chain(site, chain[i:]) for site in (reaching or found)]
                    break
        elif isinstance(expr, cst.Attribute):
            module = chain[-1] if chain and isinstance(chain[-1], cst.Module) else None
            cls = self._instance_class(expr.value, chain, module) if module is not None else None
            if cls is not None:
                sites = self._attribute_sites(cls, expr.attr.value, module, in_body=True)
        return sites

    def _visible(self, expr, chain: list) -> set:
        sites = self._expr_sites(expr, chain)
        kinds = set()
        for site in sites:
            if site.annotation is not None:
                kinds.add(self.annotation_kind(site.annotation))
                if isinstance(expr, cst.Name) and self.name_kind(expr, chain) is None:
                    return {"<contradicted>"}  # declared, and a binding gives another kind
            if site.kind not in ("declare", "param") or site.annotation is None:
                kinds.add(self._site_kind(site, site.chain or chain))
        return kinds - {None}

    def bindings(self, expr, chain: list) -> list | None:
        """What a plain name (the bindings that may reach this use of it) or an attribute of an
        instance of a class of this file (``self.first_device``: every assignment to it in the
        class) may hold: a list of ("value", expression, its scope chain) and ("kind", declared
        kind) for an annotated parameter; None where a binding is anything else (a parameter
        without an annotation, a loop variable, an unpacking...) or none is found."""
        sites = self._expr_sites(expr, chain)
        out: list = []
        for site in sites:
            if site.kind in ("param", "declare") and site.annotation is not None:
                out.append(("kind", self.annotation_kind(site.annotation)))
            elif site.kind == "value":
                out.append(("value", site.expr, site.chain or chain))
            else:
                return None
        return out or None

    def method_rule(self, kind: str, name: str):
        while kind:
            for rule in self.ruleset.method_rules(name):
                if rule.receiver == kind:
                    return rule
            kind = KIND_PARENTS.get(kind)
        return None


_REGISTERS = {"register_buffer", "register_parameter", "add_module", "register_module"}
# nn.Module methods that return the module itself
_RETURNS_SELF = {"to", "cuda", "cpu", "train", "eval", "float", "half", "double", "bfloat16", "requires_grad_", "type"}
_CYCLE = object()  # _instance_class met the binding it is following


def _is_int(node) -> bool:
    """An int literal: ``2``, ``-1``."""
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        node = node.expression
    return isinstance(node, cst.Integer)


def _registered_attribute(call: cst.Call):
    """``self.register_buffer("pos", value)``: ("self.pos", value or None)."""
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.attr.value in _REGISTERS):
        return None
    if not call.args or call.args[0].keyword is not None or not isinstance(call.args[0].value, cst.SimpleString):
        return None
    name = call.args[0].value.evaluated_value
    if not isinstance(name, str) or not name.isidentifier():
        return None
    value = None
    if len(call.args) >= 2 and call.args[1].keyword is None and not call.args[1].star:
        value = call.args[1].value
    return f"{func.value.value}.{name}", value


def _union(kinds: list) -> str | None:
    """One kind for ``A | B | None``: the kinds other than None, when they agree."""
    if None in kinds:
        return None
    real = {k for k in kinds if k != _NONE}
    if not real:
        return _NONE
    return real.pop() if len(real) == 1 else None


def _ancestors(kind: str | None) -> list:
    out = []
    while kind:
        out.append(kind)
        kind = KIND_PARENTS.get(kind)
    return out


def _compatible(found: str, declared: str) -> bool:
    """A binding of kind ``found`` fits a name declared ``declared`` (a variable is a tensor)."""
    kind: str | None = found
    while kind:
        if kind == declared:
            return True
        kind = KIND_PARENTS.get(kind)
    return False


def _with_chain(site: BindingSite, chain: list) -> BindingSite:
    return BindingSite(site.kind, site.expr, site.path, site.node, site.annotation, chain, site.stmt)


def _statements(body):
    """The statements of a block, with those of if/try/with blocks in it (not of loops'
    or functions' bodies: a class or method defined there is rare)."""
    for stmt in body:
        if isinstance(stmt, cst.If):
            yield from _statements(stmt.body.body)
            orelse = stmt.orelse
            while isinstance(orelse, cst.If):
                yield from _statements(orelse.body.body)
                orelse = orelse.orelse
            if orelse is not None:
                yield from _statements(orelse.body.body)
        elif isinstance(stmt, cst.Try):
            yield from _statements(stmt.body.body)
            for handler in stmt.handlers:
                yield from _statements(handler.body.body)
            if stmt.orelse is not None:
                yield from _statements(stmt.orelse.body.body)
            if stmt.finalbody is not None:
                yield from _statements(stmt.finalbody.body.body)
        else:
            yield stmt


def value_names_to_follow(scan, resolver, ruleset, source: str, module: cst.Module) -> set[str]:
    """Variables holding values whose calls a rule rewrites (``loss_fn(y, p)``, ``model(x)``).

    Their uses hold no framework name, so the first scan does not reach them:
    the names assigned from such framework calls, and from classes of this file
    whose base is such a framework class, are scanned again.
    """
    import re

    callable_kinds = {r.receiver for r in ruleset.method_rules("__call__")}
    if not callable_kinds:
        return set()
    names: set[str] = set()
    classes: set[str] = set()
    for hit in scan.hits:
        if resolver.kind(hit.name) != "load":
            continue
        stack = hit.stack
        i = len(stack) - 1
        while i > 0 and isinstance(stack[i - 1], cst.Attribute) and stack[i - 1].value is stack[i]:
            i -= 1
        if i == 0:
            continue
        top = stack[i]
        parent = stack[i - 1]
        qual = resolver.resolve_chain(top)
        rule = ruleset.lookup(qual) if qual else None
        if rule is None or rule.returns not in callable_kinds:
            continue
        if isinstance(parent, cst.Arg) and i >= 2 and isinstance(stack[i - 2], cst.ClassDef):
            classes.add(stack[i - 2].name.value)
            continue
        if isinstance(parent, cst.Call) and parent.func is top and i >= 2:
            owner = stack[i - 2]
            if isinstance(owner, cst.Assign):
                for t in owner.targets:
                    names.update(_target_names(t.target))
    for cls in classes:
        names.update(re.findall(r"(\w+)\s*=\s*" + re.escape(cls) + r"\s*\(", source))
    if names:
        names |= parameters_receiving(module, resolver, names)
    return names


def parameter_aliases(module: cst.Module, resolver) -> dict[str, dict[str, str]]:
    """function name -> {parameter: the plain name every call site passes for it}."""
    functions = {
        stmt.name.value: [p.name.value for p in (*stmt.params.posonly_params, *stmt.params.params)]
        for stmt in module.body
        if isinstance(stmt, cst.FunctionDef)
    }
    if not functions:
        return {}
    calls = {name: [call for call, _ in _calls_of(resolver, name)] for name in functions}
    passed: dict[str, dict[str, set]] = {}
    for name, params in functions.items():
        seen: dict[str, set] = {p: set() for p in params}
        for call in calls.get(name, ()):
            for i, arg in enumerate(call.args):
                if arg.star:
                    break
                param = arg.keyword.value if arg.keyword is not None else (params[i] if i < len(params) else None)
                if param in seen:
                    seen[param].add(arg.value.value if isinstance(arg.value, cst.Name) else None)
        passed[name] = seen
    return {
        name: {p: next(iter(v)) for p, v in seen.items() if len(v) == 1 and None not in v}
        for name, seen in passed.items()
    }


def parameters_receiving(module: cst.Module, resolver, names: set[str]) -> set[str]:
    """Parameters of this file's functions that every call site passes one of ``names``."""
    out = set()
    for aliases in parameter_aliases(module, resolver).values():
        out.update(p for p, arg in aliases.items() if arg in names)
    return out


def _target_names(target) -> set[str]:
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        out = set()
        for el in target.elements:
            out |= _target_names(el.value)
        return out
    return set()


# -- reaching bindings -----------------------------------------------------------
_NARROW = "\0narrow:"  # a flow state's key for what an isinstance check proves of a name


class _GiveUp(Exception):
    """A statement the walk does not model (match): no reaching bindings for the function."""


class _Flow:
    """Which bindings of a function's local names may reach each use of them.

    One walk over the function's statements in program order, the way Python runs
    them: both branches of an ``if`` (their bindings joined after it), a loop's body
    zero or more times (repeated until nothing new reaches its head), ``break`` and
    ``continue``, ``return``/``raise`` ending a path, every point of a ``try`` body
    reaching its handlers and ``finally`` (and of a ``with`` body the statement after
    it: a context manager may swallow an exception). For every load of a plain name
    directly in the function (comprehensions included, not nested functions, lambdas
    or generator expressions, which run later) it records the binding sites that may
    reach it. A name bound in a way the walk does not follow (``del``, ``global``,
    ``nonlocal``, ``:=``) is left out: its uses keep every binding of the scope.
    """

    def __init__(self, func: cst.FunctionDef, sites: dict[str, list[BindingSite]]) -> None:
        self.by_stmt: dict[int, list[tuple[str, int]]] = {}
        entry: dict[str, frozenset] = {}
        for name, found in sites.items():
            if "." in name:
                continue
            for site in found:
                if site.kind == "param":
                    entry[name] = entry.get(name, frozenset()) | {id(site)}
                elif site.stmt is not None and site.kind != "declare":
                    self.by_stmt.setdefault(id(site.stmt), []).append((name, id(site)))
        self.entry = entry
        self.loads: dict[int, frozenset] = {}
        self.narrowed: dict[int, frozenset] = {}  # load id -> ids of the isinstance classes
        self.classes: dict[int, cst.CSTNode] = {}  # class expression id -> the expression
        self.unsure: set[str] = set()
        self.loops: list[tuple[list, list]] = []  # (continue states, break states)
        self.collectors: list[list] = []  # states seen inside try/with bodies
        self.func = func

    def run(self) -> "_Flow | None":
        try:
            self.block(self.func.body, dict(self.entry))
        except (_GiveUp, RecursionError):
            return None
        return self

    # states: name -> frozenset of binding site ids; None: no path gets here
    @staticmethod
    def join(*states):
        live = [s for s in states if s is not None]
        if not live:
            return None
        out = dict(live[0])
        for state in live[1:]:
            for name, ids in state.items():
                if name.startswith(_NARROW):
                    continue
                out[name] = out.get(name, frozenset()) | ids
        for key in [k for k in out if k.startswith(_NARROW)]:
            if any(state.get(key) != out[key] for state in live[1:]):
                del out[key]  # narrowed on some paths only
        return out

    def bind(self, node, state):
        for name, site in self.by_stmt.get(id(node), ()):
            state[name] = frozenset()
            state.pop(_NARROW + name, None)
        for name, site in self.by_stmt.get(id(node), ()):
            state[name] = state[name] | {site}
        return state

    def seen(self, state) -> None:
        for collector in self.collectors:
            collector.append(state)

    def block(self, block, state):
        if isinstance(block, cst.SimpleStatementSuite):
            return self.statements(block.body, state, small=True)
        return self.statements(block.body, state)

    def statements(self, body, state, small=False):
        for stmt in body:
            if state is None:
                return None
            state = self.small(stmt, state) if small else self.statement(stmt, state)
            self.seen(state)
        return state

    def statement(self, stmt, state):
        if isinstance(stmt, cst.SimpleStatementLine):
            return self.statements(stmt.body, state, small=True)
        if isinstance(stmt, cst.If):
            self.expr(stmt.test, state)
            body = self.block(stmt.body, self.narrow(stmt.test, dict(state)))
            if isinstance(stmt.orelse, cst.If):
                other = self.statement(stmt.orelse, dict(state))
            elif isinstance(stmt.orelse, cst.Else):
                other = self.block(stmt.orelse.body, dict(state))
            else:
                other = state
            return self.join(body, other)
        if isinstance(stmt, (cst.For, cst.While)):
            return self.loop(stmt, state)
        if isinstance(stmt, cst.With):
            for item in stmt.items:
                self.expr(item.item, state)
            state = self.bind(stmt, dict(state))
            self.collectors.append([state])
            end = self.block(stmt.body, state)
            inside = self.collectors.pop()
            self.seen_all(inside)
            return self.join(end, *inside)
        if isinstance(stmt, cst.Try) or type(stmt).__name__ == "TryStar":
            return self.try_(stmt, state)
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            for decorator in stmt.decorators:
                self.expr(decorator.decorator, state)
            if isinstance(stmt, cst.FunctionDef):
                params = stmt.params
                for param in (*params.posonly_params, *params.params, *params.kwonly_params):
                    if param.default is not None:
                        self.expr(param.default, state)
            else:
                for arg in (*stmt.bases, *stmt.keywords):
                    self.expr(arg.value, state)
            return self.bind(stmt, dict(state))
        raise _GiveUp  # match, and whatever else comes

    def narrow(self, test, state):
        """The state in the body of ``if test:``: ``isinstance(name, C)`` (alone or as an
        operand of ``and``) narrows ``name``; the operands after it are read narrowed too."""
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
            state = self.narrow(test.left, state)
            self.expr(test.right, state)  # read again, with what the left operand proved
            return self.narrow(test.right, state)
        if (
            isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "isinstance"
            and len(test.args) == 2 and not any(a.star or a.keyword for a in test.args)
            and isinstance(test.args[0].value, cst.Name)
        ):
            name, cls = test.args[0].value.value, test.args[1].value
            if name not in self.unsure:
                self.classes[id(cls)] = cls
                state = dict(state)
                state[_NARROW + name] = frozenset({id(cls)})
        return state

    def seen_all(self, states) -> None:
        for collector in self.collectors:
            collector.extend(states)

    def loop(self, stmt, state):
        if isinstance(stmt, cst.For):
            self.expr(stmt.iter, state)
        head = state
        while True:
            self.loops.append(([], []))
            if isinstance(stmt, cst.While):
                self.expr(stmt.test, head)
                start = dict(head)
            else:
                start = self.bind(stmt, dict(head))
                self.expr_targets(stmt.target, start)
            self.seen(start)
            end = self.block(stmt.body, start)
            continues, breaks = self.loops.pop()
            new_head = self.join(head, end, *continues)
            if new_head == head:
                break
            head = new_head
        after = head
        if stmt.orelse is not None:
            after = self.block(stmt.orelse.body, dict(head))
        return self.join(after, *breaks)

    def try_(self, stmt, state):
        marks = [(len(c), len(b)) for c, b in self.loops]
        self.collectors.append([state])
        end = self.block(stmt.body, dict(state))
        inside = self.collectors.pop()
        self.seen_all(inside)
        raised = self.join(*inside)
        ends = []
        handler_states = []
        for handler in stmt.handlers:
            if handler.type is not None:
                self.expr(handler.type, raised)
            start = self.bind(handler, dict(raised))
            self.collectors.append([start])
            ends.append(self.block(handler.body, start))
            handler_states += self.collectors.pop()
        self.seen_all(handler_states)
        if stmt.orelse is not None and end is not None:
            self.collectors.append([end])
            end = self.block(stmt.orelse.body, dict(end))
            handler_states += self.collectors.pop()
            self.seen_all(handler_states)
        normal = self.join(end, *ends)
        if stmt.finalbody is None:
            return normal
        final = stmt.finalbody.body
        # break/continue inside run the finally block on their way out
        for (c0, b0), (continues, breaks) in zip(marks, self.loops):
            for states, start in ((continues, c0), (breaks, b0)):
                states[start:] = [self.block(final, dict(s)) for s in states[start:]]
        after = self.block(final, dict(normal)) if normal is not None else None
        # the uses in the finally block: on the way out of any path (recorded last, the widest)
        self.block(final, dict(self.join(normal, raised, *handler_states)))
        return after

    def small(self, small, state):
        if isinstance(small, cst.Assign):
            self.expr(small.value, state)
            for t in small.targets:
                self.expr_targets(t.target, state)
            return self.bind(small, dict(state))
        if isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.expr(small.value, state)
            self.expr_targets(small.target, state)
            return self.bind(small, dict(state))
        if isinstance(small, cst.AugAssign):
            self.expr(small.value, state)
            self.expr(small.target, state)  # read, then written: not a binding the scope records
            return state
        if isinstance(small, (cst.Return, cst.Raise)):
            for part in (getattr(small, "value", None), getattr(small, "exc", None), getattr(small, "cause", None)):
                if isinstance(part, cst.From):
                    part = part.item
                if isinstance(part, cst.BaseExpression):
                    self.expr(part, state)
            return None
        if isinstance(small, cst.Break):
            if self.loops:
                self.loops[-1][1].append(state)
            return None
        if isinstance(small, cst.Continue):
            if self.loops:
                self.loops[-1][0].append(state)
            return None
        if isinstance(small, cst.Del):
            for name, _ in _targets(small.target):
                self.unsure.add(name)
            self.expr_targets(small.target, state)
            return state
        if isinstance(small, (cst.Global, cst.Nonlocal)):
            self.unsure.update(item.name.value for item in small.names)
            return state
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            return self.bind(small, dict(state))
        for child in child_nodes(small):
            if isinstance(child, cst.BaseExpression):
                self.expr(child, state)
        return state

    def expr_targets(self, target, state) -> None:
        """The reads in an assignment target: ``x[i] = ...`` reads x and i."""
        if isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self.expr_targets(el.value, state)
        elif isinstance(target, cst.StarredElement):
            self.expr_targets(target.value, state)
        elif isinstance(target, cst.Attribute):
            self.expr(target.value, state)
        elif isinstance(target, cst.Subscript):
            self.expr(target.value, state)
            for el in target.slice:
                self.expr(el.slice, state)

    def expr(self, node, state) -> None:
        stack = [node]
        loads = self.loads
        while stack:
            n = stack.pop()
            if isinstance(n, cst.Name):
                loads[id(n)] = state.get(n.value, frozenset())
                narrowed = state.get(_NARROW + n.value)
                if narrowed:
                    self.narrowed[id(n)] = narrowed
                else:
                    self.narrowed.pop(id(n), None)
            elif isinstance(n, cst.Attribute):
                stack.append(n.value)
            elif isinstance(n, cst.Arg):
                stack.append(n.value)
            elif isinstance(n, cst.Lambda):
                for param in (*n.params.posonly_params, *n.params.params, *n.params.kwonly_params):
                    if param.default is not None:
                        stack.append(param.default)
            elif isinstance(n, cst.GeneratorExp):
                stack.append(n.for_in.iter)  # the rest runs when the generator is consumed
            elif isinstance(n, cst.NamedExpr):
                self.unsure.update(name for name, _ in _targets(n.target))
                stack.append(n.value)
            elif isinstance(n, (cst.SimpleString, cst.Integer, cst.Float, cst.Imaginary)):
                continue
            else:
                stack.extend(child_nodes(n))
