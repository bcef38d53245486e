"""One pass over the parsed module that finds every place the conversion may touch.

A LibCST transformer that walks the whole tree costs more than parsing it. Instead
we run the code generator once with a recording state (about the cost of printing
the module) and note every ``Name`` whose text is interesting (an import alias of
a framework, or a method name some rule handles), with the chain of nodes above
it. The transformer later descends only into those chains; everything else is
left untouched, byte for byte. The same pass records where each node on a chain
starts, which gives report positions without LibCST's position metadata.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from itertools import accumulate

import libcst as cst

from .codegen import FastState

SCOPE_TYPES = (
    cst.Module,
    cst.FunctionDef,
    cst.Lambda,
    cst.ClassDef,
    cst.ListComp,
    cst.SetComp,
    cst.DictComp,
    cst.GeneratorExp,
)
_SCOPE_TYPES = frozenset(SCOPE_TYPES)
_IMPORT_TYPES = frozenset((cst.Import, cst.ImportFrom))
# every statement's position is kept, so that any node can be located from its statement
_STATEMENT_TYPES = frozenset((
    cst.SimpleStatementLine, cst.FunctionDef, cst.ClassDef, cst.If, cst.For, cst.While,
    cst.With, cst.Try, cst.TryStar, cst.Match,
))

# what the recording state does with a node of each type (bits; most types have none)
_NAME, _STATEMENT, _SCOPE, _IMPORT = 1, 2, 4, 8
_ROLE: dict[type, int] = {cst.Name: _NAME}
for _kind in _STATEMENT_TYPES:
    _ROLE[_kind] = _ROLE.get(_kind, 0) | _STATEMENT
for _kind in _SCOPE_TYPES:
    _ROLE[_kind] = _ROLE.get(_kind, 0) | _SCOPE
for _kind in _IMPORT_TYPES:
    _ROLE[_kind] = _IMPORT


@dataclass
class Hit:
    name: cst.Name
    stack: tuple[cst.CSTNode, ...]  # from the module down to the name itself

    @property
    def parent(self) -> cst.CSTNode:
        return self.stack[-2]


@dataclass
class ImportRecord:
    node: cst.Import | cst.ImportFrom
    scope: cst.CSTNode
    stack: tuple[cst.CSTNode, ...]
    token: int


@dataclass
class Scan:
    source: str
    hits: list[Hit] = field(default_factory=list)
    path_ids: set[int] = field(default_factory=set)
    token_of: dict[int, int] = field(default_factory=dict)
    # every statement's end token and the indentation it was written at: an unchanged
    # statement is copied from the source instead of generated again (engine/unchanged.py)
    end_of: dict[int, int] = field(default_factory=dict)
    indent_of: dict[int, str] = field(default_factory=dict)
    imports: list[ImportRecord] = field(default_factory=list)
    # every other Name, by its text, with its frame (see _RecordingState): ``extend``
    # turns them into hits when a later step finds it needs them (no second pass)
    others: dict[str, list[tuple]] = field(default_factory=dict)
    _token_offsets: list[int] = field(default_factory=list)
    _tokens: list[str] = field(default_factory=list)  # the code generator's output
    _line_starts: list[int] = field(default_factory=list)

    def extend(self, names) -> bool:
        """Make the recorded Names among ``names`` hits, as if they had been asked for
        in the first place; say whether any was found."""
        added = False
        for name in names:
            for frame in self.others.pop(name, ()):
                self.hits.append(Hit(frame[0], _stack(frame)))
                _mark(frame, self.path_ids, self.token_of)
                added = True
        if added:
            token_of = self.token_of
            self.hits.sort(key=lambda hit: token_of[id(hit.name)])
        return added

    def called(self, names) -> set[str]:
        """Those of ``names`` that are called somewhere by their plain name (``f(...)``)."""
        found = set()
        for hit in self.hits:
            if hit.name.value in names and len(hit.stack) >= 2:
                parent = hit.stack[-2]
                if type(parent) is cst.Call and parent.func is hit.name:
                    found.add(hit.name.value)
        for name in names:
            for node, _, parent in self.others.get(name, ()):
                if parent is not None and type(parent[0]) is cst.Call and parent[0].func is node:
                    found.add(name)
                    break
        return found

    def text_of(self, node: cst.CSTNode) -> str | None:
        """The source text of a statement of the scanned module, leading lines included."""
        end = self.end_of.get(id(node))
        if end is None:
            return None
        return "".join(self._tokens[self.token_of[id(node)] : end])

    def offset(self, node: cst.CSTNode) -> int | None:
        token = self.token_of.get(id(node))
        if token is None:
            return None
        return self._token_offsets[token]

    def position(self, node: cst.CSTNode, statement: cst.CSTNode | None = None) -> tuple[int, int]:
        """1-based line and column where ``node``'s code starts.

        A node off the scanned paths is found inside ``statement`` (whose position
        is always known) by its text.
        """
        offset = self.offset(node)
        if offset is None and statement is not None and self.offset(statement) is not None:
            from .build import code_of

            start = _skip_trivia(self.source, self.offset(statement))
            text = code_of(node).strip()
            found = self.source.find(text, start) if text else -1
            if found == -1 and "\n" in text:
                # code_of indents a node of several lines on its own: its first line is as
                # written, and the rest matches but for whitespace (an element of a list written
                # out may start like the one before it: `Block(a,` / `Block(\n b,`)
                found = _find_spread(self.source, text, start)
            offset = found if found != -1 else None
        if offset is None:
            return (0, 0)
        offset = _skip_trivia(self.source, offset)
        if not self._line_starts:
            starts = [0]
            find = self.source.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1


def _find_spread(source: str, text: str, start: int) -> int:
    """Where ``text`` starts in ``source`` from ``start``, its whitespace aside; -1 if nowhere."""
    first = text.split("\n", 1)[0]
    want = "".join(text.split())
    found = source.find(first, start)
    while found != -1:
        got, i = [], found
        need = len(want)
        while i < len(source) and need:
            ch = source[i]
            if not ch.isspace():
                got.append(ch)
                need -= 1
            i += 1
        if "".join(got) == want:
            return found
        found = source.find(first, found + 1)
    return -1


def _stack(frame) -> tuple[cst.CSTNode, ...]:
    """The nodes of a frame chain, from the module down."""
    nodes = []
    while frame is not None:
        nodes.append(frame[0])
        frame = frame[2]
    nodes.reverse()
    return tuple(nodes)


def _mark(frame, path_ids: set[int], token_of: dict[int, int]) -> None:
    """Put every node of a frame chain on the scanned paths, with the token where it starts."""
    while frame is not None:
        key = id(frame[0])
        if key in path_ids:
            break
        path_ids.add(key)
        token_of[key] = frame[1]
        frame = frame[2]


def _skip_trivia(text: str, offset: int) -> int:
    """Move past blank lines, comment lines and indentation to the first code character."""
    n = len(text)
    while offset < n:
        ch = text[offset]
        if ch in " \t\r\n\f\\":
            offset += 1
        elif ch == "#":
            end = text.find("\n", offset)
            offset = n if end == -1 else end + 1
        else:
            break
    return offset


class _RecordingState(FastState):
    """The code generator's state, noting what the conversion needs as it prints.

    The chain of nodes above the current one is kept as linked frames
    ``(node, start token, parent frame)``: pushing one is a tuple, and a Name that
    is not asked for (most of them) keeps its frame as it is, not a copy of the chain.
    """

    def __init__(self, module: cst.Module, names: frozenset[str]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.names = names
        self.frame: tuple | None = None
        self.hits: list[Hit] = []
        self.imports: list[ImportRecord] = []
        self.scopes: list[cst.CSTNode] = []
        self.token_of: dict[int, int] = {}
        self.path_ids: set[int] = set()
        self.others: dict[str, list[tuple]] = {}
        self.end_of: dict[int, int] = {}
        self.indent_of: dict[int, str] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        frame = self.frame = (node, len(self.tokens), self.frame)
        role = _ROLE.get(type(node))
        if role is None:  # most nodes: one lookup
            return
        if role == _NAME:
            if node.value in self.names:
                self._hit(node)
            else:
                others = self.others.get(node.value)
                if others is None:
                    self.others[node.value] = [frame]
                else:
                    others.append(frame)
            return
        if role & _STATEMENT:
            self.token_of[id(node)] = frame[1]
            self.indent_of[id(node)] = "".join(self.indent_tokens)
        if role & _SCOPE:
            self.scopes.append(node)
        elif role == _IMPORT:
            self.imports.append(ImportRecord(node, self.scopes[-1], _stack(frame), frame[1]))
            _mark(frame, self.path_ids, self.token_of)

    def after_codegen(self, node: cst.CSTNode) -> None:
        self.frame = self.frame[2]
        role = _ROLE.get(type(node))
        if role is None or role == _NAME:
            return
        if role & _STATEMENT:
            self.end_of[id(node)] = len(self.tokens)
        if role & _SCOPE:
            self.scopes.pop()

    def _hit(self, node: cst.Name) -> None:
        self.hits.append(Hit(node, _stack(self.frame)))
        _mark(self.frame, self.path_ids, self.token_of)


def scan(module: cst.Module, source: str, names: frozenset[str]) -> Scan:
    state = _RecordingState(module, names)
    module._codegen(state)
    result = Scan(source=source)
    result.hits = state.hits
    result.imports = state.imports
    result.path_ids = state.path_ids
    result.token_of = state.token_of
    result.others = state.others
    result.end_of = state.end_of
    result.indent_of = state.indent_of
    result._tokens = state.tokens
    result._token_offsets = [0, *accumulate(map(len, state.tokens))]
    return result
