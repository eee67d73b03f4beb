"""Every rule carries its own examples; this module discovers and runs them all, on each engine."""

from __future__ import annotations

import pytest

from mbc_rules import Rulebase

BUNDLED = Rulebase.bundled(engine="python")
CASES = [
    pytest.param(rule.id, index, id=f"{rule.id}[{index + 1}]")
    for rule in BUNDLED.rules
    for index in range(len(rule.examples))
]


def test_every_rule_has_an_example_that_fires_and_most_have_one_that_does_not() -> None:
    for rule in BUNDLED.rules:
        assert any(e.fires for e in rule.examples), f"{rule.id} never shown firing"


@pytest.mark.parametrize(("rule_id", "index"), CASES)
def test_rule_example(rulebase: Rulebase, rule_id: str, index: int) -> None:
    example = rulebase.rule(rule_id).examples[index]
    fired = rulebase.fired_rules(example.profile)
    assert (rule_id in fired) is example.fires, example.note or example.profile
