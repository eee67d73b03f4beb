"""Stage 4, compile: rule conditions into durable-rules' JSON ruleset format.

Each rule becomes one pattern over a single fact (the profile's derived facts). Negation is
pushed down to the leaves (De Morgan), because the JSON format has ``$neq``, ``$lt`` and so on
but no general ``not``. Every pattern also requires the ``PROFILE_MARK`` field, so that the
engine's own bookkeeping facts (session state) can never match a rule whose test is a
negation such as ``$neq``.

The compiled form is plain JSON-able data, and both matchers in ``engine`` read it: the
durable-rules one hands it to the Rete network, the plain-Python one interprets it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mbc_rules.schema import AllOf, AnyOf, Condition, FactTest, NotOf, Rule

PROFILE_MARK = "mbc_profile"

Expression = dict[str, Any]

_NEGATED_COMPARISON = {"$gte": "$lt", "$lte": "$gt", "$lt": "$gte", "$gt": "$lte"}


@dataclass(frozen=True)
class CompiledRuleset:
    """Rule ids and their patterns in rule-file order; ``patterns[i]`` is ``rule_ids[i]``'s."""

    rule_ids: tuple[str, ...]
    patterns: tuple[Expression, ...]

    def to_durable(self) -> dict[str, Any]:
        """The ruleset in durable-rules' JSON format; rule names are positional (``r0``, ...)."""
        return {
            f"r{index}": {"all": [{"m": pattern}]} for index, pattern in enumerate(self.patterns)
        }

    def to_json(self) -> str:
        """Stable JSON of the compiled ruleset (for golden files and review)."""
        return json.dumps(
            {rule_id: p for rule_id, p in zip(self.rule_ids, self.patterns, strict=True)},
            indent=1,
            sort_keys=True,
        )


def _leaf(test: FactTest, negate: bool) -> Expression:
    fact, operator, operand = test.fact, test.operator, test.operand
    if operator in ("at_least", "at_most"):
        comparison = "$gte" if operator == "at_least" else "$lte"
        if negate:
            comparison = _NEGATED_COMPARISON[comparison]
        return {comparison: {fact: operand}}
    if operator in ("equals", "not_equals"):
        positive = (operator == "equals") != negate
        return {fact: operand} if positive else {"$neq": {fact: operand}}
    values: list[Any] = list(dict.fromkeys(operand))
    member = (operator == "in") != negate
    if member:
        alternatives = [{fact: value} for value in values]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    exclusions = [{"$neq": {fact: value}} for value in values]
    return exclusions[0] if len(exclusions) == 1 else {"$and": exclusions}


def _junction(operator: str, parts: Sequence[Expression]) -> Expression:
    return parts[0] if len(parts) == 1 else {operator: list(parts)}


def compile_condition(condition: Condition, negate: bool = False) -> Expression:
    """The JSON expression of a condition (of its negation when ``negate``)."""
    if isinstance(condition, FactTest):
        return _leaf(condition, negate)
    if isinstance(condition, NotOf):
        return compile_condition(condition.not_, not negate)
    if isinstance(condition, AllOf):
        parts = [compile_condition(c, negate) for c in condition.all]
        return _junction("$or" if negate else "$and", parts)
    if isinstance(condition, AnyOf):
        parts = [compile_condition(c, negate) for c in condition.any]
        return _junction("$and" if negate else "$or", parts)
    raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover


def compile_rules(rules: Sequence[Rule]) -> CompiledRuleset:
    """Compile validated rules; the result is what a matcher runs."""
    patterns = tuple({"$and": [{PROFILE_MARK: 1}, compile_condition(rule.when)]} for rule in rules)
    return CompiledRuleset(tuple(rule.id for rule in rules), patterns)
