"""Every name a rule writes exists in the installed target framework.

The names come from targets, values, as_type, defaults, templates and hook outputs
(collected from the converted fixtures), so a typo such as ``tf.math.truncatediv``
fails here rather than in a user's program.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fixtures_util import cases
from numeric_util import needs_frameworks
from transpiler.frameworks import ROOTS
from transpiler.rules import PLACEHOLDER, load_ruleset

pytestmark = [needs_frameworks()]

_DOTTED = re.compile(r"\b(?:tensorflow|keras|torch)(?:\.[A-Za-z_][A-Za-z0-9_]*)+")


def _names() -> set[str]:
    names: set[str] = set()
    for direction in ("tf_to_torch", "torch_to_tf"):
        ruleset = load_ruleset(direction)
        for rule in ruleset.all_rules():
            texts = [rule.target or "", rule.value or "", rule.as_type or "", rule.template or ""]
            texts += list(rule.defaults.values()) + list(rule.transform.values())
            for table in rule.values.values():
                texts += list(table.values())
            for text in texts:
                names.update(_DOTTED.findall(PLACEHOLDER.sub("x", text)))
        for spelling in ruleset.spellings:
            if spelling.module.split(".")[0] in ROOTS:
                names.add(spelling.module)
    # names that hooks write, as the converted fixtures spell them (target framework only:
    # unconverted source code stays in the output too)
    heads = {
        "tf_to_torch": {"F": "torch.nn.functional", "nn": "torch.nn", "torch": "torch"},
        "torch_to_tf": {"tf": "tensorflow", "layers": "keras.layers", "ops": "keras.ops", "keras": "keras"},
    }
    for case in cases():
        table = heads[case.direction]
        spelled = re.compile(r"(?<![\w.])(" + "|".join(table) + r")((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
        text = case.expected.read_text(encoding="utf-8")
        # a TODO comment quotes its reason, cut short at a fixed width: not code
        text = re.sub(r"#\s*TODO\(transpiler\):.*", "", text)
        for head, rest in spelled.findall(text):
            names.add(table[head] + rest)
    return names


CHECK = r"""
import importlib, importlib.util, json, sys
missing = []
for name in json.load(sys.stdin):
    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        module = ".".join(parts[: i + 1])
        try:
            obj = importlib.import_module(module)
        except ImportError as error:
            # a module that exists but needs an optional package (torch.utils.tensorboard
            # needs tensorboard) is a real target: the names after it cannot be checked here
            if error.name != module and importlib.util.find_spec(module) is not None:
                break
            missing.append(name)
            break
print(json.dumps(missing))
"""


def test_rule_targets_exist():
    names = sorted(_names())
    assert len(names) > 50
    proc = subprocess.run(
        [sys.executable, "-c", CHECK], input=json.dumps(names), capture_output=True, text=True, timeout=600,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PATH": ""},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    missing = json.loads(proc.stdout.strip().splitlines()[-1])
    assert missing == [], f"rule targets that do not exist: {missing}"
