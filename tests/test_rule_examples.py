"""Every rule carries its own examples; they run on every engine other than the reference.

``Rulebase.load`` already checks each example with ``conditions`` (the reference semantics),
and the plain-Python matcher is that same evaluator, so repeating them there would test
nothing. Here they run on the engines that read the rules another way (durable-rules' Rete
network), one test per engine, reporting every example that disagrees.
"""

from __future__ import annotations

import pytest

from mbc_rules import Rulebase
from mbc_rules.engine import EngineName

from .conftest import ENGINES

OTHER_ENGINES: list[EngineName] = [e for e in ENGINES if e != "python"]  # type: ignore[misc]


def test_every_rule_has_an_example_that_fires(bundled: Rulebase) -> None:
    assert [r.id for r in bundled.rules if not any(e.fires for e in r.examples)] == []


@pytest.mark.skipif(not OTHER_ENGINES, reason="only the reference engine imports here")
@pytest.mark.parametrize("engine", OTHER_ENGINES)
def test_every_rule_example_holds_on_the_engine(engine: EngineName) -> None:
    rulebase = Rulebase.bundled(engine=engine)
    wrong = [
        f"{rule.id}[{index + 1}]: should {'' if example.fires else 'not '}fire"
        for rule in rulebase.rules
        for index, example in enumerate(rule.examples)
        if (rule.id in rulebase.fired_rules(example.profile)) is not example.fires
    ]
    assert wrong == []
    assert sum(len(rule.examples) for rule in rulebase.rules) > 200
