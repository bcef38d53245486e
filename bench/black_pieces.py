"""Black on converted pieces: the engine's two-pass shortcut against black itself.

engine/formatting.py runs black's first pass on all of a file's changed pieces at
once and its second pass only on the pieces the first pass changed. This converts
the throughput corpus, keeps every group of pieces black was given, and checks each
piece's result against ``black.format_str`` on that piece alone (what black gives
it), then times the shortcut against one ``format_str`` call per group.

Run: python bench/black_pieces.py   (exit 1 when a piece differs)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> int:
    import black

    from corpus_local import assemble
    from throughput import converter, load
    from transpiler.engine import formatting

    root, _, _ = assemble(50_000)
    files = load(root)
    groups = []
    shortcut = formatting._black_group

    def recording(group, mode):
        groups.append(([formatting._Piece(p.node, p.kind, p.indents, p.text) for p in group], mode))
        return shortcut(group, mode)

    formatting._black_group = recording
    try:
        converter(files, "torch")
    finally:
        formatting._black_group = shortcut

    def one_call(group, mode):  # what the engine did before: format_str on the joined group
        joined = "".join(f"{formatting._MARK}\n{p.text}\n" for p in group)
        for piece, text in zip(group, black.format_str(joined, mode=mode).split(formatting._MARK + "\n")[1:]):
            piece.result = text.strip("\n") + "\n"

    times = {"format_str per group": [], "engine's shortcut": []}
    for _ in range(3):
        for label, run in (("format_str per group", one_call), ("engine's shortcut", shortcut)):
            start = time.process_time()
            for group, mode in groups:
                run(group, mode)
            times[label].append(time.process_time() - start)
    differ = 0
    for group, mode in groups:
        shortcut(group, mode)
        for piece in group:
            if piece.result != black.format_str(piece.text, mode=mode).strip("\n") + "\n":
                differ += 1
    pieces = sum(len(g) for g, _ in groups)
    print(f"{pieces} pieces in {len(groups)} groups; differing from black.format_str on the piece alone: {differ}")
    for label, values in times.items():
        print(f"{label:22s}: {statistics.median(values):.2f} s (median of 3)")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
