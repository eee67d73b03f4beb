"""The plain-Python matcher: every rule's condition, evaluated by ``conditions.holds``.

It needs no native code and keeps no state, so it runs wherever Python does (durable-rules
does not import on Python 3.13+) and any number of threads may share it.
"""

from __future__ import annotations

from collections.abc import Mapping

from mbc_rules.compile import CompiledRuleset
from mbc_rules.conditions import holds
from mbc_rules.facts import FactValue


class PythonMatcher:
    """Evaluates the rules' conditions with the reference semantics of ``conditions``."""

    name = "python"

    def __init__(self, ruleset: CompiledRuleset) -> None:
        self._rules = tuple(zip(ruleset.rule_ids, ruleset.conditions, strict=True))

    def match(self, facts: Mapping[str, FactValue]) -> frozenset[str]:
        """The ids of every rule whose condition holds for ``facts``."""
        return frozenset(rule_id for rule_id, condition in self._rules if holds(condition, facts))
