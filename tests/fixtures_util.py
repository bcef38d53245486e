"""Finding fixture cases: ``fixtures/<direction>/<family>/<case>.py`` + ``<case>.expected.py``.

A fixture's first line may say how it is checked beyond the snapshot:
``# fixture: numeric`` runs the input under its framework and the expected output
under the other and compares the values they print and the module-level
tensors they leave; ``shapes=a,b`` compares those names by shape only (random
values); ``verify`` runs both through ``transpiler verify``'s recorder and
replayer and compares training step by step (test_training_equivalence.py);
``twin=CLASS=TWIN`` converts it with that twin declared (``[tool.transpiler] twins``).
Adding a case means adding files; no test function changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
TARGET = {"tf_to_torch": "torch", "torch_to_tf": "tf"}
SOURCE = {"tf_to_torch": "tf", "torch_to_tf": "torch"}


@dataclass
class Case:
    path: Path
    direction: str
    numeric: bool = False
    shapes: set[str] = field(default_factory=set)
    tolerance: float = 1e-5
    verify: bool = False  # run through verify's recorder/replayer (training fixtures)
    train_rtol: float | None = None  # verify's tolerance after training, where a known difference needs more
    twins: dict[str, str] = field(default_factory=dict)  # declared twins it converts with

    @property
    def options(self) -> dict:
        """convert_source's keyword arguments beyond the text, target and file name."""
        return {"twins": self.twins} if self.twins else {}

    @property
    def expected(self) -> Path:
        return self.path.with_name(self.path.stem + ".expected.py")

    @property
    def id(self) -> str:
        return self.path.relative_to(FIXTURES).as_posix()

    @property
    def to(self) -> str:
        return TARGET[self.direction]


_HEADER = re.compile(r"#\s*fixture:\s*(.*)")


def cases(direction: str | None = None) -> list[Case]:
    found = []
    for d in (direction,) if direction else TARGET:
        for path in sorted((FIXTURES / d).rglob("*.py")):
            if path.name.endswith(".expected.py"):
                continue
            case = Case(path, d)
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
            m = _HEADER.match(first)
            if m:
                for word in m.group(1).split():
                    if word == "numeric":
                        case.numeric = True
                    elif word == "verify":
                        case.verify = True
                    elif word.startswith("train_rtol="):
                        case.train_rtol = float(word[len("train_rtol="):])
                    elif word.startswith("shapes="):
                        case.shapes = set(word[len("shapes="):].split(","))
                    elif word.startswith("twin="):
                        key, _, value = word[len("twin="):].partition("=")
                        case.twins[key] = value
                    elif word.startswith("rtol="):
                        case.tolerance = float(word[len("rtol="):])
            found.append(case)
    return found
