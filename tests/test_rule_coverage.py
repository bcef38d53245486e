"""Every rule is exercised by at least one fixture, in the direction it belongs to."""

from __future__ import annotations

from fixtures_util import cases
from transpiler.api import convert_source
from transpiler.report import CONVERTED, WARNING
from transpiler.rules import load_ruleset


def test_every_rule_has_a_fixture():
    missing = []
    for direction, to in (("tf_to_torch", "torch"), ("torch_to_tf", "tf")):
        ruleset = load_ruleset(direction)
        hit = set()
        for case in cases(direction):
            result = convert_source(case.path.read_text(encoding="utf-8"), to=to, filename=str(case.path), **case.options)
            for finding in result.report.findings:
                rule = ruleset.lookup(finding.api)
                if rule is None:
                    continue
                # a rejecting rule is exercised when its reason is reported
                if finding.kind in (CONVERTED, WARNING) or (rule.reject and finding.message == rule.reject):
                    hit.add(id(rule))
        for rule in ruleset.all_rules():
            if id(rule) not in hit and rule.receiver is None:
                missing.append(f"{direction}: {rule.source} ({rule.file})")
    assert not missing, "rules without a converting fixture:\n" + "\n".join(missing)
