"""Stage 7, explain: why an option is offered, or why not, in the terms of the rules.

For a category or an agent, every rule that could offer it (or rules it out) is checked
against the profile's facts: which of its conditions the profile met, and which one failed,
with the profile's own value ("alpelisib: needs pik3ca_status = positive; this profile's
pik3ca_status is unknown").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mbc_rules.facts import FACTS, FactValue
from mbc_rules.rank import cite
from mbc_rules.result import CitedSource
from mbc_rules.schema import AllOf, Condition, FactTest, NotOf, Rule, Source
from mbc_rules.vocabulary import CATEGORIES, Vocabulary

_OUTPUT = ConfigDict(extra="forbid", frozen=True)

_OPERATOR_WORDS = {
    "equals": "=",
    "not_equals": "≠",
    "in": "in",
    "not_in": "not in",
    "at_least": "≥",
    "at_most": "≤",
}
_NEGATED = {
    "equals": "not_equals",
    "not_equals": "equals",
    "in": "not_in",
    "not_in": "in",
    "at_least": "at_most",
    "at_most": "at_least",
}


class ConditionCheck(BaseModel):
    """One test of one fact, and whether this profile meets it."""

    model_config = _OUTPUT

    fact: str
    operator: str
    expected: FactValue | list[FactValue]
    actual: FactValue
    met: bool
    reads: list[str] = Field(description="The profile fields the fact is computed from.")

    @property
    def text(self) -> str:
        expected = self.expected
        if isinstance(expected, list):
            expected_text = "[" + ", ".join(_show(v) for v in expected) + "]"
        else:
            expected_text = _show(expected)
        need = f"{self.fact} {_OPERATOR_WORDS.get(self.operator, self.operator)} {expected_text}"
        return f"needs {need}; this profile's {self.fact} is {_show(self.actual)}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RuleExplanation(BaseModel):
    """How one rule that could offer (or rule out) the subject reads for this profile."""

    model_config = _OUTPUT

    rule_id: str
    title: str
    effect: Literal["offer", "not_recommended", "advice"]
    fired: bool
    met: list[ConditionCheck]
    failed: list[ConditionCheck]
    citations: list[CitedSource]


class Explanation(BaseModel):
    """Why a category or agent is, or is not, among the options for a profile."""

    model_config = _OUTPUT

    subject: str
    kind: Literal["category", "agent"]
    offered: bool
    rank: int | None
    not_recommended: bool
    rules: list[RuleExplanation]

    @property
    def text(self) -> str:
        """The explanation in plain words, one line per rule."""
        if self.offered:
            head = f"{self.subject}: offered" + (f" (rank {self.rank})" if self.rank else "")
        elif self.not_recommended:
            head = f"{self.subject}: not recommended for this profile"
        else:
            head = f"{self.subject}: not offered"
        if not self.rules:
            return f"{head}; no rule of the rulebase names it."
        lines = [head]
        for rule in self.rules:
            if rule.fired:
                met = "; ".join(c.text.split("; ")[0].removeprefix("needs ") for c in rule.met)
                verb = "rules it out" if rule.effect == "not_recommended" else "offers it"
                lines.append(f"- {rule.rule_id} {verb}: {rule.title} (met: {met or 'always'})")
            else:
                failed = " and ".join(c.text for c in rule.failed)
                lines.append(f"- {rule.rule_id} could have: {failed}")
            for citation in rule.citations[:1]:
                lines.append(f'    {citation.publisher}: "{citation.excerpt}"')
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def _check(test: FactTest, facts: Mapping[str, FactValue], negate: bool) -> ConditionCheck:
    operator, expected = test.operator, test.operand
    if negate and operator == "at_least":
        operator, expected = "at_most", expected - 1  # not(n >= k) is n <= k-1 on counts
    elif negate and operator == "at_most":
        operator, expected = "at_least", expected + 1
    elif negate:
        operator = _NEGATED[operator]
    actual = facts[test.fact]
    if operator == "equals":
        met = actual == expected
    elif operator == "not_equals":
        met = actual != expected
    elif operator == "in":
        met = actual in expected
    elif operator == "not_in":
        met = actual not in expected
    elif operator == "at_least":
        met = isinstance(actual, int) and actual >= expected
    else:
        met = isinstance(actual, int) and actual <= expected
    return ConditionCheck(
        fact=test.fact,
        operator=operator,
        expected=expected,
        actual=actual,
        met=bool(met),
        reads=list(FACTS[test.fact].reads),
    )


def diagnose(
    condition: Condition, facts: Mapping[str, FactValue], negate: bool = False
) -> tuple[bool, list[ConditionCheck]]:
    """Whether ``condition`` holds, and the leaf checks that decide it.

    When it holds, the checks are those that made it hold; when it fails, those that failed
    (every alternative of an ``any``).
    """
    if isinstance(condition, FactTest):
        check = _check(condition, facts, negate)
        return check.met, [check]
    if isinstance(condition, NotOf):
        return diagnose(condition.not_, facts, not negate)
    parts = condition.all if isinstance(condition, AllOf) else condition.any
    conjunction = isinstance(condition, AllOf) != negate
    results = [diagnose(part, facts, negate) for part in parts]
    if conjunction:
        holds = all(ok for ok, _ in results)
        deciding = [c for ok, checks in results if ok == holds for c in checks]
    else:
        holds = any(ok for ok, _ in results)
        deciding = [c for ok, checks in results if ok == holds for c in checks]
        if holds:
            deciding = next(checks for ok, checks in results if ok)
    return holds, deciding


def _names(rule: Rule) -> tuple[str | None, set[str]]:
    then = rule.then
    if then.offer is not None:
        agents = set(then.offer.agents) | {a for r in then.offer.regimens for a in r.agents}
        return then.offer.category, agents
    if then.not_recommended is not None:
        return then.not_recommended.category, set(then.not_recommended.agents)
    return None, set()


def explain(
    subject: str,
    *,
    rules: Sequence[Rule],
    facts: Mapping[str, FactValue],
    fired: set[str],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    offered_rank: Mapping[str, int],
    not_recommended: set[str],
) -> Explanation:
    """Explain ``subject`` (a category, or an agent by id, generic, brand or alias name).

    Raises:
        UnknownAgentError: the subject is neither a category nor a known agent.
    """
    if subject in CATEGORIES:
        kind: Literal["category", "agent"] = "category"
        key = subject
    else:
        kind, key = "agent", vocabulary.resolve(subject).id
    explained = []
    for rule in rules:
        category, agents = _names(rule)
        if rule.then.advice is not None:
            continue
        relevant = category == key if kind == "category" else key in agents
        if kind == "agent" and rule.then.not_recommended is not None:
            relevant = relevant or category == vocabulary[key].category
        if not relevant:
            continue
        holds, checks = diagnose(rule.when, facts)
        explained.append(
            RuleExplanation(
                rule_id=rule.id,
                title=rule.title,
                effect="offer" if rule.then.offer is not None else "not_recommended",
                fired=rule.id in fired,
                met=checks if holds else [],
                failed=[] if holds else checks,
                citations=cite(rule.citations, sources),
            )
        )
    explained.sort(key=lambda r: not r.fired)
    return Explanation(
        subject=key,
        kind=kind,
        offered=key in offered_rank,
        rank=offered_rank.get(key),
        not_recommended=key in not_recommended
        or (kind == "agent" and vocabulary[key].category in not_recommended),
        rules=explained,
    )
