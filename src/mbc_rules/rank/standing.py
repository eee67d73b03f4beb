"""What the ranking reads of the patient and of the rules that wait on the history: the
standing the sources' orderings need, and the tests of a condition on *when*.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mbc_rules.conditions import passes
from mbc_rules.facts import FACTS, FactValue
from mbc_rules.schema import AllOf, Always, Condition, FactTest, NotOf, Rule


@dataclass(frozen=True, slots=True)
class Standing:
    """What the sources' orderings need to know of the patient (from the derived facts)."""

    hormone_receptor_positive: bool = False
    her2_positive: bool = False
    serious_problems_from_spread: bool = False

    @classmethod
    def of(cls, facts: Mapping[str, FactValue]) -> Standing:
        """Read from derived facts; unknown is never read as positive."""
        # One of eight shared values: a cache key holding it then compares by identity.
        return _STANDINGS[
            (
                facts.get("hormone_receptor_status") == "positive",
                facts.get("her2_status") == "positive",
                # ACS's "chemo is often the first treatment for patients with serious
                # problems" stands under its hormone receptor-positive heading: it orders
                # nothing for a cancer known to be hormone receptor negative.
                facts.get("visceral_crisis") is True
                and facts.get("hormone_receptor_status") != "negative",
            )
        ]


_STANDINGS = {
    (hormone, her2, crisis): Standing(hormone, her2, crisis)
    for hormone in (False, True)
    for her2 in (False, True)
    for crisis in (False, True)
}
NO_STANDING = _STANDINGS[(False, False, False)]


def timing_tests(condition: Condition) -> list[FactTest]:
    """The tests of a condition on *when* (the treatment history), in order."""
    if isinstance(condition, FactTest):
        return [condition] if FACTS[condition.fact].is_timing else []
    if isinstance(condition, NotOf):
        return timing_tests(condition.not_)
    if isinstance(condition, Always):
        return []
    parts = condition.all if isinstance(condition, AllOf) else condition.any
    return [test for part in parts for test in timing_tests(part)]


def holds_but_for_timing(
    condition: Condition, facts: Mapping[str, FactValue], negate: bool = False
) -> bool:
    """Whether ``condition`` holds (its negation, when ``negate``) with every test on the
    treatment history taken as met: who the patient is, where the cancer is, and what it does
    all hold, whatever the history says.
    """
    if isinstance(condition, FactTest):
        if FACTS[condition.fact].is_timing:
            return True
        return passes(condition.operator, condition.operand, facts[condition.fact]) != negate
    if isinstance(condition, NotOf):
        return holds_but_for_timing(condition.not_, facts, not negate)
    if isinstance(condition, Always):
        return not negate
    parts = condition.all if isinstance(condition, AllOf) else condition.any
    conjunction = isinstance(condition, AllOf) != negate
    results = (holds_but_for_timing(part, facts, negate) for part in parts)
    return all(results) if conjunction else any(results)


def waiting_rules(
    rules: Sequence[Rule], facts: Mapping[str, FactValue], fired: Iterable[str]
) -> frozenset[str]:
    """Offering rules that did not fire only because of a condition on the history.

    Conditions on who the patient is hold whichever source states them; a source's condition
    on *when* is shown, with its sentence, in the ``agreement`` of the option it concerns.
    """
    done = set(fired)
    return frozenset(
        rule.id
        for rule in rules
        if rule.id not in done
        and rule.then.offer is not None
        and _is_timed(rule.when)
        and holds_but_for_timing(rule.when, facts)
    )


_TIMED: dict[int, tuple[Condition, bool]] = {}


def _is_timed(condition: Condition) -> bool:
    # Conditions are immutable and live as long as their rulebase: whether one tests the
    # history is worked out once per condition object (the entry keeps the object alive, so
    # its id is never reused while cached).
    found = _TIMED.get(id(condition))
    if found is not None and found[0] is condition:
        return found[1]
    if len(_TIMED) > 65_536:
        _TIMED.clear()
    timed = bool(timing_tests(condition))
    _TIMED[id(condition)] = (condition, timed)
    return timed
