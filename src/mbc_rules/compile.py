"""Stage 4, compile: rule conditions into durable-rules' JSON ruleset format.

Each rule becomes one pattern over a single fact (the profile's derived facts). Negation is
pushed down to the leaves (De Morgan), because the JSON format has ``$neq``, ``$lt`` and so on
but no general ``not``. Every pattern also requires the ``PROFILE_MARK`` field, so that the
engine's own bookkeeping facts (session state) can never match a rule whose test is a
negation such as ``$neq``. That field is also what ``always`` tests: every profile carries
it, and under a negation it reads ``$neq``, which no profile passes.

Negation uses the one table of ``conditions`` (``conditions.negation``), and a property test
checks every compiled pattern against ``conditions.holds``. The compiled ruleset also keeps
the validated conditions themselves, which the plain-Python matcher evaluates directly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mbc_rules.conditions import negation
from mbc_rules.schema import AllOf, Always, AnyOf, Condition, FactTest, NotOf, Rule

PROFILE_MARK = "mbc_profile"

Expression = dict[str, Any]


@dataclass(frozen=True)
class CompiledRuleset:
    """Rule ids, conditions and patterns in rule-file order (index ``i`` is one rule's)."""

    rule_ids: tuple[str, ...]
    patterns: tuple[Expression, ...]
    conditions: tuple[Condition, ...]

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
    if negate:
        operator, operand = negation(operator, operand)
    if operator in ("at_least", "at_most"):
        return {"$gte" if operator == "at_least" else "$lte": {fact: operand}}
    if operator in ("equals", "not_equals"):
        return {fact: operand} if operator == "equals" else {"$neq": {fact: operand}}
    values: list[Any] = list(dict.fromkeys(operand))
    if operator == "in":
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
    if isinstance(condition, Always):
        return {"$neq": {PROFILE_MARK: 1}} if negate else {PROFILE_MARK: 1}
    raise TypeError(f"not a condition: {condition!r}")  # pragma: no cover


def compile_conditions(rule_ids: Sequence[str], conditions: Sequence[Condition]) -> CompiledRuleset:
    """Compile conditions under the given rule ids (``compile_rules`` for bare conditions)."""
    patterns = tuple({"$and": [{PROFILE_MARK: 1}, compile_condition(c)]} for c in conditions)
    return CompiledRuleset(tuple(rule_ids), patterns, tuple(conditions))


def compile_rules(rules: Sequence[Rule]) -> CompiledRuleset:
    """Compile validated rules; the result is what a matcher runs."""
    return compile_conditions([rule.id for rule in rules], [rule.when for rule in rules])
