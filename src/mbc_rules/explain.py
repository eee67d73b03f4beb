"""Stage 7, explain: why an option is offered, or why not, in the terms of the rules.

For a category or an agent, every rule that could offer it (or rules it out) is read back from
the trace of ``conditions`` (the one evaluator of the condition language): which of its
conditions the profile met, which failed, with the profile's own value ("alpelisib: needs
pik3ca_status = positive; this profile's pik3ca_status is unknown"), and the whole condition
with each part's verdict. An explanation is a function of the rules and the evaluation: it
never evaluates the conditions a second way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mbc_rules.conditions import Reading, Trace, deciding, read, trace
from mbc_rules.facts import FACTS, FactValue, derive_facts
from mbc_rules.rank import cite, speaking_of
from mbc_rules.result import CitedSource, Evaluation
from mbc_rules.schema import Rule, Source
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


class ConditionCheck(BaseModel):
    """One test of one fact (as it reads under any ``not``), and whether this profile meets it."""

    model_config = _OUTPUT

    fact: str
    operator: str
    expected: FactValue | tuple[FactValue, ...]
    actual: FactValue
    met: bool
    reads: tuple[str, ...] = Field(description="The profile fields the fact is computed from.")

    @property
    def need(self) -> str:
        """The test in words: ``pik3ca_status = positive``."""
        expected = self.expected
        if isinstance(expected, tuple):
            expected_text = "[" + ", ".join(_show(v) for v in expected) + "]"
        else:
            expected_text = _show(expected)
        return f"{self.fact} {_OPERATOR_WORDS.get(self.operator, self.operator)} {expected_text}"

    @property
    def text(self) -> str:
        """The test and this profile's value, in words."""
        return f"needs {self.need}; this profile's {self.fact} is {_show(self.actual)}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(reading: Reading) -> ConditionCheck:
    return ConditionCheck(
        fact=reading.fact,
        operator=reading.operator,
        expected=reading.operand,
        actual=reading.actual,
        met=reading.held,
        reads=FACTS[reading.fact].reads,
    )


def _group(node: Trace, text: str, parent: str) -> str:
    return (
        f"({text})" if node.kind != "fact" and node.kind != parent and len(node.parts) > 1 else text
    )


def condition_text(node: Trace) -> str:
    """The whole condition, negation pushed to the tests, each test with its verdict.

    ``all`` reads as "and", ``any`` as "or"; a test reads ``fact op value [met: actual]``.
    """
    node = read(node)
    if node.test is not None:
        check = _check(node.test)
        return f"{check.need} [{'met' if check.met else 'not met'}: {_show(check.actual)}]"
    word = " and " if node.kind == "all" else " or "
    return word.join(_group(p, condition_text(p), node.kind) for p in node.parts)


def _needs(node: Trace) -> str:
    # ``node`` has negation pushed down and fails: what would have to change, structurally.
    if node.test is not None:
        return _check(node.test).text
    if node.kind == "all":
        failing = [p for p in node.parts if not p.held]
        return " and ".join(_group(p, _needs(p), "all") for p in failing)
    return " or ".join(_group(p, _needs(p), "any") for p in node.parts)


class RuleExplanation(BaseModel):
    """How one rule that could offer (or rule out) the subject reads for this profile."""

    model_config = _OUTPUT

    rule_id: str
    title: str
    effect: Literal["offer", "not_recommended", "advice"]
    fired: bool = Field(description="The rule's condition holds for this profile.")
    counted: bool = Field(
        description="The rule fired and speaks for this patient: false when every citation "
        "speaks only of a population the patient is outside (women, for a male patient)."
    )
    met: tuple[ConditionCheck, ...] = Field(description="The tests that made the condition hold.")
    failed: tuple[ConditionCheck, ...] = Field(
        description="The tests that failed (every alternative of an 'any')."
    )
    condition: str = Field(description="The whole condition, each test with its verdict.")
    needs: str = Field(
        description="What the profile would need for the rule to fire ('' if it fires)."
    )
    citations: tuple[CitedSource, ...]


class Explanation(BaseModel):
    """Why a category or agent is, or is not, among the options for a profile."""

    model_config = _OUTPUT

    subject: str
    kind: Literal["category", "agent"]
    offered: bool
    rank: int | None
    not_recommended: bool
    rules: tuple[RuleExplanation, ...]

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
            if rule.fired and not rule.counted:
                lines.append(
                    f"- {rule.rule_id} fired, but its sources speak only of women: {rule.title}"
                )
            elif rule.fired:
                met = "; ".join(c.need for c in rule.met)
                verb = "rules it out" if rule.effect == "not_recommended" else "offers it"
                lines.append(f"- {rule.rule_id} {verb}: {rule.title} (met: {met or 'always'})")
            else:
                lines.append(f"- {rule.rule_id} could have: {rule.needs}")
            for citation in rule.citations[:1]:
                lines.append(f'    {citation.publisher}: "{citation.excerpt}"')
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text


def _names(rule: Rule) -> tuple[str | None, set[str]]:
    then = rule.then
    if then.offer is not None:
        agents = set(then.offer.agents) | {a for r in then.offer.regimens for a in r.agents}
        return then.offer.category, agents
    if then.not_recommended is not None:
        return then.not_recommended.category, set(then.not_recommended.agents)
    return None, set()


def _ranks(evaluation: Evaluation) -> tuple[dict[str, int], dict[str, int]]:
    # Categories and agents are ranked apart: an agent may share a category's name (the
    # "chemotherapy" of a regimen is not the chemotherapy category).
    categories: dict[str, int] = {}
    agents: dict[str, int] = {}
    for option in evaluation.options:
        categories.setdefault(option.category, option.rank)
        for agent in [*option.agents, *(a for r in option.regimens for a in r.agents)]:
            agents.setdefault(agent, option.rank)
    return categories, agents


def explain(
    subject: str,
    evaluation: Evaluation,
    *,
    rules: Sequence[Rule],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
) -> Explanation:
    """Explain ``subject`` (a category, or an agent by id, generic, brand or alias name).

    Args:
        subject: a category, or a drug or procedure by any of its names.
        evaluation: the result to explain.
        rules: the rules of the rulebase that produced ``evaluation``.
        vocabulary: that rulebase's vocabulary.
        sources: that rulebase's sources.

    Raises:
        UnknownAgentError: the subject is neither a category nor a known agent.
    """
    if subject in CATEGORIES:
        kind: Literal["category", "agent"] = "category"
        key = subject
    else:
        kind, key = "agent", vocabulary.resolve(subject).id
    facts = derive_facts(evaluation.profile, vocabulary)
    fired = set(evaluation.fired_rules)
    excluded = ("women",) if evaluation.profile.sex == "male" else ()
    counted = {rule.id for rule in speaking_of([r for r in rules if r.id in fired], excluded)}
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
        verdict = trace(rule.when, facts)
        checks = tuple(_check(r) for r in deciding(verdict))
        explained.append(
            RuleExplanation(
                rule_id=rule.id,
                title=rule.title,
                effect="offer" if rule.then.offer is not None else "not_recommended",
                fired=rule.id in fired,
                counted=rule.id in counted,
                met=checks if verdict.held else (),
                failed=() if verdict.held else checks,
                condition=condition_text(verdict),
                needs="" if verdict.held else _needs(read(verdict)),
                citations=cite(rule.citations, sources),
            )
        )
    explained.sort(key=lambda r: not r.fired)
    category_ranks, agent_ranks = _ranks(evaluation)
    ranks = category_ranks if kind == "category" else agent_ranks
    return Explanation(
        subject=key,
        kind=kind,
        offered=key in ranks,
        rank=ranks.get(key),
        not_recommended=_ruled_out(key, kind, evaluation, vocabulary),
        rules=tuple(explained),
    )


def _ruled_out(
    key: str, kind: Literal["category", "agent"], evaluation: Evaluation, vocabulary: Vocabulary
) -> bool:
    categories = {item.category for item in evaluation.not_recommended if item.category}
    if kind == "category":
        return key in categories
    agents = {a for item in evaluation.not_recommended for a in item.agents}
    return key in agents or vocabulary[key].category in categories
