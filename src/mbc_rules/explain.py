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
from mbc_rules.facts import FACTS, FactValue, derive_facts, treatment_history
from mbc_rules.rank.arrange import OrderField, OrderKey
from mbc_rules.rank.citations import cite, speaking_of
from mbc_rules.rank.reference import order_keys
from mbc_rules.rank.standing import Standing
from mbc_rules.result import Agreement, CitedSource, EvaluationValues, TreatmentOption
from mbc_rules.schema import Rule, Source
from mbc_rules.vocabulary import CATEGORIES, TIERS, Vocabulary
from mbc_rules.wording import (
    agent_name,
    category_name,
    differ_line,
    fact_needs_text,
    fact_test_text,
    nearest_rule_words,
    needs_words,
    next_to_line,
    offered_verdict,
    ordered_by_words,
    other_rules_line,
    quote_words,
    refused_verdict,
    rule_needs_text,
    rule_said,
    shares_rank_line,
    state,
    supported_by_line,
    tier_line,
    unnamed_verdict,
    waiting_on_a_test,
    waits_on_words,
)
from mbc_rules.wording import (
    condition_text as _condition_text,
)

_OUTPUT = ConfigDict(extra="forbid", frozen=True)


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
        return fact_test_text(self.fact, self.operator, self.expected)

    @property
    def text(self) -> str:
        """The test and this profile's value, in words."""
        return fact_needs_text(self.fact, self.operator, self.expected, self.actual)


def _check(reading: Reading) -> ConditionCheck:
    return ConditionCheck(
        fact=reading.fact,
        operator=reading.operator,
        expected=reading.operand,
        actual=reading.actual,
        met=reading.held,
        reads=FACTS[reading.fact].reads,
    )


def condition_text(node: Trace) -> str:
    """The whole condition, negation pushed to the tests, each test with its verdict.

    ``all`` reads as "and", ``any`` as "or"; a test reads ``fact op value [met: actual]``.
    """
    return _condition_text(read(node))


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
    said: str = Field(
        default="",
        description="The rule as it reads for this profile, in plain words: why it applies, "
        "or what it would need ('or' between the alternatives of an 'any').",
    )


class Explanation(BaseModel):
    """Why a category or agent is, or is not, among the options for a profile."""

    model_config = _OUTPUT

    subject: str
    kind: Literal["category", "agent"]
    offered: bool
    rank: int | None
    not_recommended: bool
    rules: tuple[RuleExplanation, ...]
    name: str = Field(default="", description="The subject in words ('a CDK4/6 inhibitor').")
    verdict: str = Field(
        default="",
        description="The answer in one sentence, the decisive reason first: 'letrozole: not "
        "offered: the cancer grew on letrozole, an aromatase inhibitor'.",
    )
    reasons: tuple[str, ...] = Field(
        default=(),
        description="Why, in plain words, the decisive reason first: the sentences that put it "
        "there, or what keeps it out.",
    )
    would_change: tuple[str, ...] = Field(
        default=(), description="What would change the answer (a test, a history), in words."
    )
    ranking: tuple[str, ...] = Field(
        default=(),
        description="Where an offered subject ranks and why: its tier, its sources, the "
        "ordering rules that place it against its neighbours.",
    )
    agreement: Agreement | None = Field(
        default=None,
        description="For an offered subject: the sources that support its option as offered, "
        "and those that name it only in a situation not met here (with their sentence).",
    )

    @property
    def text(self) -> str:
        """The explanation in plain words: the verdict and its decisive reason first, then what
        would change it, where it ranks, and each rule that names it with its sentence.
        """
        if not self.verdict:  # built by hand without the words: the rule form only
            return "\n".join([self.subject, *(f"- {r.rule_id}: {r.needs}" for r in self.rules)])
        lines = [self.verdict]
        if self.reasons:
            lines += ["", "Why:" if self.offered else "What keeps it out:"]
            lines += [f"- {reason}" for reason in self.reasons]
        if self.ranking:
            lines += ["", "Where it ranks:"] + [f"- {line}" for line in self.ranking]
        if self.would_change:
            lines += ["", "What would change it:"] + [f"- {line}" for line in self.would_change]
        if self.agreement is not None and self.agreement.conditions_not_met:
            lines += ["", "Where the sources differ on when:"]
            for differ in self.agreement.conditions_not_met:
                excerpt = differ.citations[0].excerpt if differ.citations else None
                lines.append(f"- {differ_line(differ.publisher, differ.situation, excerpt)}")
        if self.offered:
            shown = [r for r in self.rules if r.fired and not r.counted]
            rest = [r for r in self.rules if not r.fired]
        else:
            candidates = [r for r in self.rules if r.said]
            shown, rest = candidates[:3], [r for r in self.rules if r not in candidates[:3]]
        if shown:
            heading = "Not counted for this patient:" if self.offered else "The nearest rules:"
            lines += ["", heading]
            for rule in shown:
                lines.append(f"- {rule.title} [{rule.rule_id}]: {rule.said}")
                for citation in rule.citations[:1]:
                    lines.append(
                        f'    "{citation.excerpt}" ({citation.publisher}, {citation.section})'
                    )
        if rest:
            lines += ["", other_rules_line(len(rest))]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from mbc_rules.display import explanation_html

        return explanation_html(self.text, self.offered)

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


def _ranks(evaluation: EvaluationValues) -> tuple[dict[str, int], dict[str, int]]:
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
    evaluation: EvaluationValues,
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
    chosen = speaking_of([r for r in rules if r.id in fired], excluded)
    counted = {rule.id for rule in chosen}
    profile = evaluation.profile
    explained: list[tuple[RuleExplanation, Trace]] = []
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
        is_fired, is_counted = rule.id in fired, rule.id in counted
        offers = rule.then.offer is not None
        said = rule_said(
            read(verdict),
            counted=is_counted,
            fired=is_fired,
            offers=offers,
            profile=profile,
            vocabulary=vocabulary,
        )
        explained.append(
            (
                RuleExplanation(
                    rule_id=rule.id,
                    title=rule.title,
                    effect="offer" if offers else "not_recommended",
                    fired=is_fired,
                    counted=is_counted,
                    met=checks if verdict.held else (),
                    failed=() if verdict.held else checks,
                    condition=condition_text(verdict),
                    needs="" if verdict.held else rule_needs_text(read(verdict)),
                    citations=cite(rule.citations, sources),
                    said=said,
                ),
                verdict,
            )
        )
    # The rules that decide come first: those that rule it out, then those that offer it, then
    # those that would offer it, nearest first (fewest known facts against it).
    explained.sort(key=lambda pair: _weight(pair[0], pair[1]))
    category_ranks, agent_ranks = _ranks(evaluation)
    ranks = category_ranks if kind == "category" else agent_ranks
    offered = key in ranks
    name = category_name(key) if kind == "category" else agent_name(key, vocabulary)
    option_category = key if kind == "category" else _offering_category(key, evaluation)
    words = (
        _offered_words(
            name,
            key,
            kind,
            option_category,
            evaluation,
            explained,
            # The ranking's own keys, from the ranking's own steps: why one option comes
            # before another is the first field in which their keys differ.
            order_keys(
                chosen,
                vocabulary,
                history=treatment_history(profile, vocabulary),
                standing=Standing.of(facts),
            ),
        )
        if offered
        else _refused_words(name, key, kind, evaluation, explained, vocabulary)
    )
    return Explanation(
        subject=key,
        kind=kind,
        offered=offered,
        rank=ranks.get(key),
        not_recommended=_ruled_out(key, kind, evaluation, vocabulary),
        rules=tuple(r for r, _ in explained),
        name=name,
        verdict=words[0],
        reasons=words[1],
        would_change=words[2],
        ranking=words[3],
        agreement=_agreement_of(key, kind, evaluation),
    )


def _agreement_of(key: str, kind: str, evaluation: EvaluationValues) -> Agreement | None:
    for option in evaluation.options:
        named = {*option.agents, *(a for r in option.regimens for a in r.agents)}
        if (kind == "category" and option.category == key) or (kind == "agent" and key in named):
            agreement = option.agreement
            if kind == "agent":
                differs = tuple(
                    c for c in agreement.conditions_not_met if not c.agents or key in c.agents
                )
                return agreement.model_copy(update={"conditions_not_met": differs})
            return agreement
    return None


_Words = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _unknown(reading: Reading) -> bool:
    return reading.actual == "unknown"


def _against(node: Trace) -> tuple[Reading, ...]:
    """The failing tests of a failing condition, negation pushed down."""
    return tuple(r for r in deciding(node) if not r.held)


def _weight(rule: RuleExplanation, node: Trace) -> tuple[int, int, int]:
    if rule.fired and rule.effect == "not_recommended":
        return (0, 0, 0)
    if rule.fired and rule.counted:
        return (1, 0, 0)
    if rule.effect == "not_recommended":
        return (4, 0, 0)
    against = _against(node)
    known = sum(not _unknown(r) for r in against)
    return (2 if known == 0 else 3, known, len(against))


def _offering_category(agent: str, evaluation: EvaluationValues) -> str | None:
    for option in evaluation.options:
        if agent in option.agents or any(agent in r.agents for r in option.regimens):
            return option.category
    return None


def _quote(citations: Sequence[CitedSource]) -> str:
    if not citations:
        return ""
    first = citations[0]
    return quote_words(first.excerpt, first.publisher)


def _offered_words(
    name: str,
    key: str,
    kind: str,
    category: str | None,
    evaluation: EvaluationValues,
    explained: Sequence[tuple[RuleExplanation, Trace]],
    keys: Mapping[str, OrderKey],
) -> _Words:
    option = evaluation.option(category) if category else None
    if option is None:  # pragma: no cover - offered means some option holds it
        return f"{name}: offered", (), (), ()
    tied = [o for o in evaluation.options if o.rank == option.rank and o is not option]
    own = _own_tier(option, key) if kind != "category" else None
    # The views mark a weaker tier of its own so ("margetuximab (situational)"): its own
    # sentences give a weaker tier than its option's.
    weaker = own is not None and TIERS.index(own) > TIERS.index(option.tier)
    verdict = offered_verdict(
        name,
        None if kind == "category" else category_name(option.category),
        option.rank,
        len(evaluation.options),
        bool(tied),
        option.tier,
        own if weaker else None,
    )
    reasons = tuple(
        f"{rule.title}{_quote(rule.citations)}"
        for rule, _ in explained
        if rule.fired and rule.counted and rule.effect == "offer"
    )
    return verdict, reasons, (), tuple(_ranking_words(option, evaluation, keys))


def _own_tier(option: TreatmentOption, agent: str) -> str | None:
    """The strongest tier the option's sentences give ``agent``, alone or in a regimen."""
    tiers = [
        TIERS.index(group.tier)
        for group in option.citation_groups
        if agent in group.agents or any(agent in regimen for regimen in group.regimens)
    ]
    return TIERS[min(tiers)] if tiers else None


def _ranking_words(
    option: TreatmentOption, evaluation: EvaluationValues, keys: Mapping[str, OrderKey]
) -> list[str]:
    """Where ``option`` stands and why: tier, sources, and the options next to it."""
    publishers = {c.source: c.publisher for c in option.citations}
    lines = [
        tier_line(option.tier),
        supported_by_line(
            len(option.source_ids), [publishers.get(s, s) for s in option.source_ids]
        ),
    ]
    tied = [o for o in evaluation.options if o.rank == option.rank and o is not option]
    if tied:
        lines.append(shares_rank_line(option.rank, [category_name(o.category) for o in tied]))
    above = [o for o in evaluation.options if o.rank < option.rank]
    if above:
        reason = _why_after(above[-1], option, keys)
        lines.append(next_to_line("after", category_name(above[-1].category), reason))
    below = [o for o in evaluation.options if o.rank > option.rank]
    if below:
        reason = _why_after(option, below[0], keys)
        lines.append(next_to_line("before", category_name(below[0].category), reason))
    return lines


def deciding_field(
    first: TreatmentOption, then: TreatmentOption, keys: Mapping[str, OrderKey]
) -> OrderField:
    """The field of the ranking's :class:`OrderKey` that puts ``first`` before ``then``
    (options of different ranks, ``keys`` from :func:`order_keys`).
    """
    field = keys[first.category].deciding_field(keys[then.category])
    if field is None:  # pragma: no cover - options of different ranks have different keys
        raise AssertionError(f"{first.category} and {then.category} share a rank")
    return field


def _why_after(first: TreatmentOption, then: TreatmentOption, keys: Mapping[str, OrderKey]) -> str:
    """The ordering rule that puts ``first`` before ``then``, in words (docs/ranking.md)."""
    return ordered_by_words(
        deciding_field(first, then, keys),
        (category_name(first.category), first.tier, len(first.source_ids)),
        (category_name(then.category), then.tier, len(then.source_ids)),
    )


def _refused_words(
    name: str,
    key: str,
    kind: str,
    evaluation: EvaluationValues,
    explained: Sequence[tuple[RuleExplanation, Trace]],
    vocabulary: Vocabulary,
) -> _Words:
    profile = evaluation.profile
    reasons: list[str] = []
    # 1. What the sources (or the history) rule out, in their own words.
    category = key if kind == "category" else vocabulary[key].category
    for item in evaluation.not_recommended:
        if (kind == "agent" and key in item.agents) or item.category == category:
            reasons.append(f"{_sentence(item.reason)}{_quote(item.citations)}")
    offering = [(r, t) for r, t in explained if r.effect == "offer"]
    # 2. Rules that fired but whose sentences speak only of women.
    for rule, _ in offering:
        if rule.fired and not rule.counted:
            reasons.append(f"{rule.title}: {rule.said}")
    # 3. What the patient's record says against the rules that would offer it: the facts of
    # the history first (what was given and how it ended), then those that block most rules.
    blocking: dict[str, tuple[bool, int]] = {}
    # Where some rule waits only on a test, a rule that also waits on one is not held back by
    # the rest of the record (another source names the drug at another time).
    waits_on_test = any(
        not rule.fired and _against(node) and all(_unknown(r) for r in _against(node))
        for rule, node in offering
    )
    for rule, node in offering:
        if rule.fired:
            continue
        if waits_on_test and any(_unknown(r) for r in _against(node)):
            continue
        for reading in _against(node):
            if _unknown(reading):
                continue
            said = state(reading.fact, reading.actual, profile, vocabulary)
            history = "prior_therapies" in FACTS[reading.fact].reads
            seen = blocking.get(said, (history, 0))
            blocking[said] = (history, seen[1] + 1)
    reasons += sorted(blocking, key=lambda s: (not blocking[s][0], -blocking[s][1]))
    # 4. What waits on a status nobody has tested yet.
    would_change: list[str] = []
    for rule, node in offering:
        against = _against(node)
        if rule.fired or not against:
            continue
        if all(_unknown(r) for r in against):
            needed = needs_words(read(node), profile, vocabulary)
            would_change.append(waits_on_words(needed, rule.title))
    if not reasons and would_change:
        waiting = [
            state(r.fact, r.actual, profile, vocabulary)
            for rule, node in offering
            if not rule.fired
            for r in _against(node)
            if _unknown(r)
        ]
        reasons.append(waiting_on_a_test(list(dict.fromkeys(waiting))))
    if not offering and not reasons:
        return unnamed_verdict(name), (), (), ()
    if not would_change:
        nearest = next(((r, t) for r, t in offering if not r.fired), None)
        if nearest is not None:
            needed = needs_words(read(nearest[1]), profile, vocabulary)
            history = all("prior_therapies" in FACTS[r.fact].reads for r in _against(nearest[1]))
            would_change.append(nearest_rule_words(needed, nearest[0].title, history_only=history))
    verdict = refused_verdict(name, reasons[0] if reasons else None)
    return verdict, tuple(reasons), tuple(dict.fromkeys(would_change)), ()


def _sentence(text: str) -> str:
    return text.strip().rstrip(".")


def _ruled_out(
    key: str,
    kind: Literal["category", "agent"],
    evaluation: EvaluationValues,
    vocabulary: Vocabulary,
) -> bool:
    categories = {item.category for item in evaluation.not_recommended if item.category}
    if kind == "category":
        return key in categories
    agents = {a for item in evaluation.not_recommended for a in item.agents}
    return key in agents or vocabulary[key].category in categories
