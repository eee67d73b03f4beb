"""Stage 6, rank: a pure function from fired rules (and the history) to ranked, cited options.

Order never depends on the order in which the engine fired rules. The keys, in order
(``docs/ranking.md`` explains each, with the sentence behind it):

1. supportive care (palliative care, complementary therapy) goes alongside treatment: it is
   always listed after every anticancer option, never above one;
2. systemic drugs before local and other treatment (ACS: "systemic drugs are the main
   treatment for stage IV breast cancer");
3. the sources' own orderings among systemic drugs (``ORDERINGS``): chemotherapy first for
   serious problems from the spread; anti-HER2 treatment leads for HER2-positive disease;
   hormone therapy, then its targeted combinations, before chemotherapy while a hormone option
   is left for hormone receptor positive disease;
4. tier: ``preferred`` before ``option`` before ``situational`` (the best tier any rule gives);
5. how many independent sources support the category (more first);
6. ``CATEGORY_ORDER``, which only orders the listing: options equal on 1-5 share a rank.

Before anything is ranked, not-recommended statements remove what they name, and so does the
history: nothing the cancer grew on is offered again, alone or in a regimen, unless a cited
sentence continues it (``Regimen.continues``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from mbc_rules.conditions import passes
from mbc_rules.facts import FACTS, NO_HISTORY, FactValue, TreatmentHistory
from mbc_rules.result import (
    AdviceItem,
    Agreement,
    AgreementCondition,
    CitedSource,
    GivenBefore,
    NotRecommendedItem,
    OptionNote,
    RegimenOption,
    TreatmentOption,
)
from mbc_rules.schema import AllOf, Citation, Condition, FactTest, NotOf, Rule, Source, Statement
from mbc_rules.vocabulary import (
    CATEGORIES,
    SYSTEMIC_CATEGORIES,
    TIERS,
    Category,
    Tier,
    Vocabulary,
)

CATEGORY_ORDER: tuple[str, ...] = (
    "hormone_therapy",
    "targeted_therapy",
    "immunotherapy",
    "chemotherapy",
    "radiation_therapy",
    "surgery",
    "bone_modifying_therapy",
    "clinical_trial",
    "palliative_care",
    "complementary_therapy",
)
SUPPORTIVE = frozenset({"palliative_care", "complementary_therapy"})
assert set(CATEGORY_ORDER) == set(CATEGORIES)


# The statements (rules/statements.yaml) behind the orderings and behind "not again". The
# rulebase resolves them from its inventory and hands them to rank(); docs/ranking.md quotes
# them, and a statement used here says so in its ``no_rule``.
ORDERING_STATEMENTS: dict[str, tuple[str, ...]] = {
    "systemic_first": ("acs-local-therapy-indications-3",),
    "hormone_as_long_as_possible": (
        "ysc-hr-positive-first-line-1",
        "ysc-chemotherapy-after-hormone-therapy-1",
    ),
    "chemotherapy_first": ("acs-visceral-crisis-chemotherapy-1",),
    "anti_her2_in_every_therapy": ("ysc-her2-positive-anti-her2-1",),
    "move_on": (
        "ysc-switch-on-progression-1",
        "acs-continue-while-effective-1",
        "acs-switch-on-progression-1",
    ),
}
Sentences = Mapping[str, tuple[Citation, ...]]


def ordering_sentences(statements: Iterable[Statement]) -> dict[str, tuple[Citation, ...]]:
    """The citations of ``ORDERING_STATEMENTS``, from an inventory of statements.

    Raises:
        KeyError: the inventory lacks one of them (the bundled one has them all).
    """
    by_id = {s.id: s for s in statements}
    return {
        key: tuple(
            Citation.model_construct(
                statement=by_id[i].id,
                source=by_id[i].source,
                section=by_id[i].section,
                excerpt=by_id[i].excerpt,
                population=by_id[i].population,
            )
            for i in ids
        )
        for key, ids in ORDERING_STATEMENTS.items()
    }


@dataclass(frozen=True, slots=True)
class Standing:
    """What the sources' orderings need to know of the patient (from the derived facts)."""

    hormone_receptor_positive: bool = False
    her2_positive: bool = False
    serious_problems_from_spread: bool = False

    @classmethod
    def of(cls, facts: Mapping[str, FactValue]) -> Standing:
        """Read from derived facts; unknown is never read as positive."""
        return cls(
            hormone_receptor_positive=facts.get("hormone_receptor_status") == "positive",
            her2_positive=facts.get("her2_status") == "positive",
            serious_problems_from_spread=facts.get("visceral_crisis") is True,
        )


NO_STANDING = Standing()


def timing_tests(condition: Condition) -> list[FactTest]:
    """The tests of a condition on *when* (the treatment history), in order."""
    if isinstance(condition, FactTest):
        return [condition] if FACTS[condition.fact].is_timing else []
    if isinstance(condition, NotOf):
        return timing_tests(condition.not_)
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
        and timing_tests(rule.when)
        and holds_but_for_timing(rule.when, facts)
    )


@dataclass
class _Support:
    """What the rules that survive removal say for one category."""

    rules: list[tuple[int, Rule]] = field(default_factory=list)
    tier: int = len(TIERS)
    sources: set[str] = field(default_factory=set)
    agents: dict[str, tuple[int, set[str]]] = field(default_factory=dict)
    regimens: dict[tuple[str, ...], tuple[int, set[str]]] = field(default_factory=dict)


def cite(citations: Sequence[Citation], sources: Mapping[str, Source]) -> tuple[CitedSource, ...]:
    """The result's form of citations, with each source's publisher."""
    return tuple(
        _cited(c, sources[c.source].publisher if c.source in sources else c.source)
        for c in citations
    )


@functools.lru_cache(maxsize=8192)
def _cited(citation: Citation, publisher: str) -> CitedSource:
    # Citations are static: built once, shared by every result that cites them.
    return CitedSource(
        source=citation.source,
        publisher=publisher,
        section=citation.section,
        excerpt=citation.excerpt,
        statement=citation.statement,
    )


def _unique_citations(rules: Sequence[Rule]) -> list[Citation]:
    seen: dict[tuple[str, str], Citation] = {}
    for rule in rules:
        for citation in rule.citations:
            seen.setdefault((citation.source, citation.excerpt), citation)
    return list(seen.values())


def _better(
    entry: tuple[int, set[str]] | None, tier: int, sources: set[str]
) -> tuple[int, set[str]]:
    if entry is None:
        return tier, set(sources)
    return min(entry[0], tier), entry[1] | sources


def regimen_name(agents: Sequence[str], vocabulary: Vocabulary) -> str:
    """'alpelisib with fulvestrant', 'pertuzumab with chemotherapy and trastuzumab'."""
    names = [vocabulary[a].name if a in vocabulary else a for a in agents]
    if len(names) <= 2:
        return " with ".join(names)
    return f"{names[0]} with {', '.join(names[1:-1])} and {names[-1]}"


def speaking_of(fired: Sequence[Rule], excluded_populations: Iterable[str]) -> list[Rule]:
    """The rules as they read for a patient outside ``excluded_populations``.

    A citation whose sentence speaks only of, say, women supports nothing for a man: it is
    dropped, and a rule left without a citation does not count.
    """
    excluded = set(excluded_populations)
    if not excluded:
        return list(fired)
    kept = []
    for rule in fired:
        citations = [c for c in rule.citations if c.population not in excluded]
        if citations:
            kept.append(
                rule
                if len(citations) == len(rule.citations)
                else rule.model_copy(update={"citations": citations})
            )
    return kept


def ordering_key(category: str, tier: str, source_ids: Sequence[str]) -> tuple[int, ...]:
    """The per-option part of the ordering: supportive care last, then tier, then sources.

    Not the whole ordering: :func:`rank` puts before it whether the option is systemic and the
    sources' own orderings between categories (which depend on the other options offered).
    """
    return (category in SUPPORTIVE, TIERS.index(tier), -len(source_ids))


@dataclass
class _Contribution:
    """What one offering rule still names after removals and the history."""

    rule: Rule
    tier: int
    sources: set[str]
    agents: list[str]
    regimens: list[tuple[str, ...]]
    named_any: bool

    @property
    def empty(self) -> bool:
        return self.named_any and not self.agents and not self.regimens


def _members(agent_id: str, vocabulary: Vocabulary) -> frozenset[str]:
    """The drugs the sources name that an agent stands for (itself, or a class's members)."""
    agent = vocabulary[agent_id]
    if agent.kind == "drug":
        return frozenset({agent_id})
    if agent.kind == "procedure":
        return frozenset()
    whole_category = agent_id in CATEGORIES
    return frozenset(
        a.id
        for a in vocabulary.agents.values()
        if a.kind == "drug"
        and a.in_sources
        and (a.category == agent.category if whole_category else a.drug_class == agent.drug_class)
    )


def _grown_on(agent_id: str, failed: frozenset[str], vocabulary: Vocabulary) -> bool:
    # A class ("an aromatase inhibitor") is used up only when the cancer grew on every drug
    # of it that the sources name: exemestane is left after letrozole.
    if not failed:
        return False
    members = _members(agent_id, vocabulary)
    return bool(members) and members <= failed


def _support(contributions: Sequence[_Contribution], hormone_failed: bool) -> dict[str, _Support]:
    support: dict[str, _Support] = {}
    for part in contributions:
        if part.empty:
            continue  # everything this rule named was ruled out for this profile
        offer = part.rule.then.offer
        assert offer is not None
        entry = support.setdefault(offer.category, _Support())
        entry.rules.append((part.tier, part.rule))
        entry.tier = min(entry.tier, part.tier)
        entry.sources |= part.sources
        for agent in part.agents:
            entry.agents[agent] = _better(entry.agents.get(agent), part.tier, part.sources)
        for combo in part.regimens:
            entry.regimens[combo] = _better(entry.regimens.get(combo), part.tier, part.sources)
    # "Switching to another type of hormone therapy" needs a type left to switch to: once the
    # cancer grew on a hormone drug, hormone therapy stands only while a hormone drug the
    # sources name for this patient is untried ("no longer responding to any hormone drugs").
    hormone = support.get("hormone_therapy")
    if hormone is not None and hormone_failed and not hormone.agents and not hormone.regimens:
        del support["hormone_therapy"]
    return support


def _partner_categories_missing(
    combo: tuple[str, ...], own: str, support: Mapping[str, _Support], vocabulary: Vocabulary
) -> bool:
    # "with chemotherapy", "with hormone therapy": a regimen whose partner is a whole category
    # stands only beside an option of that category (bevacizumab only with chemotherapy). A
    # hormone drug partner likewise needs hormone therapy to be an option for this patient: no
    # hormone regimen where the receptor status gives the sources no ground for hormone therapy.
    return any(
        vocabulary[a].category not in support
        and (a in CATEGORIES or vocabulary[a].category == "hormone_therapy")
        and vocabulary[a].category != own
        for a in combo
    )


def _class_words(agent_id: str, vocabulary: Vocabulary) -> str:
    # ", an aromatase inhibitor": the class the vocabulary names for the drug, where it has one.
    drug_class = vocabulary[agent_id].drug_class
    named = next(
        (
            a.name
            for a in vocabulary.agents.values()
            if a.kind == "therapy_class" and a.drug_class == drug_class and a.id not in CATEGORIES
        ),
        None,
    )
    if named is None:
        return ""
    article = "an" if named[:1].lower() in "aeiou" else "a"
    return f", {article} {named}"


def _how_it_grew(agent: str, history: TreatmentHistory) -> str:
    ways = []
    for use in history.uses_of(agent):
        if use.outcome == "progressed" and use.setting == "metastatic":
            ways.append("it progressed on it")
        elif use.setting == "early" and use.outcome != "intolerant":
            ways.append("it recurred during or after it as adjuvant (early) treatment")
    return " and ".join(sorted(set(ways))) or "it grew on it"


def _levels(
    support: Mapping[str, _Support], standing: Standing, vocabulary: Vocabulary
) -> dict[str, int]:
    """The sources' orderings among systemic drugs, as levels (lower comes first)."""
    present = set(support)
    sequence: list[str] = []
    crisis = standing.serious_problems_from_spread and "chemotherapy" in present
    if crisis:
        sequence.append("chemotherapy")  # ACS: chemo first for serious problems from spread
    targeted = support.get("targeted_therapy")
    if standing.her2_positive and targeted is not None and _has_anti_her2(targeted, vocabulary):
        sequence.append("targeted_therapy")  # YSC: all therapies involve anti-HER2 treatment
    if standing.hormone_receptor_positive and "hormone_therapy" in present and not crisis:
        # YSC: endocrine therapy "as long as possible"; its targeted combinations follow it and
        # never outrank it by counting the same sources twice; chemotherapy comes after both.
        sequence += ["hormone_therapy", "targeted_therapy"]
    ordered = [c for c in dict.fromkeys(sequence) if c in present]
    levels = {c: i for i, c in enumerate(ordered)}
    return {c: levels.get(c, len(ordered)) for c in present if c in SYSTEMIC_CATEGORIES}


def _has_anti_her2(entry: _Support, vocabulary: Vocabulary) -> bool:
    named = set(entry.agents) | {a for combo in entry.regimens for a in combo}
    return any(vocabulary[a].is_her2_targeted for a in named)


def _condition_text(test: FactTest) -> str:
    operand = test.operand
    if isinstance(operand, list):
        shown = "[" + ", ".join(str(v) for v in operand) + "]"
    elif isinstance(operand, bool):
        shown = "true" if operand else "false"
    else:
        shown = str(operand)
    word = {
        "equals": "=",
        "not_equals": "≠",
        "in": "in",
        "not_in": "not in",
        "at_least": "≥",
        "at_most": "≤",
    }[test.operator]
    return f"{test.fact} {word} {shown}"


def _agreement(
    category: str,
    named: set[str],
    entry: _Support,
    waiting: Sequence[Rule],
    sources: Mapping[str, Source],
) -> Agreement:
    conditions: list[AgreementCondition] = []
    for rule in waiting:
        offer = rule.then.offer
        if offer is None or offer.category != category:
            continue
        theirs = set(offer.agents) | {a for r in offer.regimens for a in r.agents}
        common = sorted(theirs & named)
        if theirs and not common:
            continue
        condition = list(dict.fromkeys(_condition_text(t) for t in timing_tests(rule.when)))
        for source in sorted({c.source for c in rule.citations}):
            said = [c for c in rule.citations if c.source == source]
            conditions.append(
                AgreementCondition.model_construct(
                    source=source,
                    publisher=sources[source].publisher if source in sources else source,
                    agents=tuple(common),
                    condition=tuple(condition),
                    rule_id=rule.id,
                    situation=rule.title,
                    citations=cite(said, sources),
                )
            )
    return Agreement.model_construct(
        supporting=tuple(sorted(entry.sources)), conditions_not_met=tuple(conditions)
    )


def rank(
    fired: Sequence[Rule],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    *,
    history: TreatmentHistory = NO_HISTORY,
    standing: Standing = NO_STANDING,
    waiting: Sequence[Rule] = (),
    sentences: Sentences | None = None,
) -> tuple[tuple[TreatmentOption, ...], tuple[NotRecommendedItem, ...], tuple[AdviceItem, ...]]:
    """Turn the rules that fired into ranked options, not-recommended items and advice.

    ``history`` says what the cancer grew on (never offered again) and what else was given;
    ``standing`` what the sources' orderings need; ``waiting`` the offering rules that did not
    fire only because of a condition on the history (see :func:`waiting_rules`);
    ``sentences`` the statements behind the orderings (:func:`ordering_sentences`), cited in
    notes and in the not-recommended items of drugs the cancer grew on.

    The output models are built without re-validation (``model_construct``): every value
    comes from validated rules, and this is the hot path of every evaluation.
    """
    sentences = sentences or {}
    removed_categories: set[str] = set()
    removed_agents: set[str] = set()
    not_recommended: list[NotRecommendedItem] = []
    advice: list[AdviceItem] = []
    for rule in fired:
        statement = rule.then.not_recommended
        if statement is not None:
            if statement.category is not None:
                removed_categories.add(statement.category)
            removed_agents.update(statement.agents)
            not_recommended.append(
                NotRecommendedItem.model_construct(
                    category=statement.category,
                    agents=tuple(statement.agents),
                    reason=statement.reason,
                    citations=cite(rule.citations, sources),
                    rule_ids=(rule.id,),
                )
            )
        if rule.then.advice is not None:
            advice.append(
                AdviceItem.model_construct(
                    topic=rule.then.advice.topic,
                    text=rule.then.advice.text,
                    citations=cite(rule.citations, sources),
                    rule_ids=(rule.id,),
                )
            )

    failed = history.failed

    def usable(agent: str) -> bool:
        return agent not in removed_agents and vocabulary[agent].category not in removed_categories

    def grown(agent: str) -> bool:
        return _grown_on(agent, failed, vocabulary)

    hormone_failed = any(vocabulary[a].category == "hormone_therapy" for a in failed)
    contributions: list[_Contribution] = []
    deferred: list[_Contribution] = []
    continued: dict[tuple[str, ...], frozenset[str]] = {}
    for rule in fired:
        offer = rule.then.offer
        if offer is None or offer.category in removed_categories:
            continue
        agents = [a for a in offer.agents if usable(a) and not grown(a)]
        regimens = []
        for regimen in offer.regimens:
            if not all(usable(a) for a in regimen.agents):
                continue
            if any(grown(a) and a not in regimen.continues for a in regimen.agents):
                continue
            combo = tuple(regimen.agents)
            regimens.append(combo)
            if regimen.continues:
                continued[combo] = continued.get(combo, frozenset()) | set(regimen.continues)
        part = _Contribution(
            rule=rule,
            tier=TIERS.index(offer.tier),
            sources={c.source for c in rule.citations},
            agents=agents,
            regimens=regimens,
            named_any=bool(offer.agents or offer.regimens),
        )
        (deferred if offer.only_when_none_left else contributions).append(part)

    while True:
        support = _support(contributions, hormone_failed)
        standing_in = [
            part
            for part in deferred
            if part.rule.then.offer is not None
            and part.rule.then.offer.only_when_none_left not in support
        ]
        if standing_in:
            support = _support([*contributions, *standing_in], hormone_failed)
        dropped = False
        for part in contributions:
            own = part.rule.then.offer.category if part.rule.then.offer else ""
            kept = [
                c
                for c in part.regimens
                if not _partner_categories_missing(c, own, support, vocabulary)
            ]
            if len(kept) != len(part.regimens):
                part.regimens, dropped = kept, True
        if not dropped:
            break

    levels = _levels(support, standing, vocabulary)

    def key(category: str) -> tuple[int, ...]:
        entry = support[category]
        supportive = category in SUPPORTIVE
        systemic = category in SYSTEMIC_CATEGORIES
        return (
            int(supportive),
            int(not systemic and not supportive),
            levels.get(category, 0),
            entry.tier,
            -len(entry.sources),
        )

    keys = {category: key(category) for category in support}
    ordered = sorted(support, key=lambda c: (keys[c], CATEGORY_ORDER.index(c)))
    any_systemic = any(c in SYSTEMIC_CATEGORIES for c in support)
    options: list[TreatmentOption] = []
    current_rank, previous_key = 0, None
    for category in ordered:
        category_key = keys[category]
        if category_key != previous_key:
            current_rank, previous_key = current_rank + 1, category_key
        entry = support[category]
        # The strongest statements lead the rationale and the citations (stable within a tier).
        strongest = [rule for _, rule in sorted(entry.rules, key=lambda pair: pair[0])]
        single = sorted(
            entry.agents, key=lambda a: (entry.agents[a][0], -len(entry.agents[a][1]), a)
        )
        combos = sorted(
            entry.regimens, key=lambda r: (entry.regimens[r][0], -len(entry.regimens[r][1]), r)
        )
        # A regimen's partners from other categories (the fulvestrant of alpelisib with
        # fulvestrant) are named in the regimen, not listed as this category's agents; nor is
        # a drug the cancer grew on that a sentence continues only inside its regimen.
        members = [
            a
            for combo in combos
            for a in combo
            if vocabulary[a].category == category and not grown(a)
        ]
        agents = list(dict.fromkeys([*single, *members]))
        named = set(agents) | {a for combo in combos for a in combo}
        given_before = [
            GivenBefore.model_construct(agent=use.agent, outcome=use.outcome, setting=use.setting)
            for use in sorted(history.uses, key=lambda u: (u.agent, u.setting, u.outcome))
            if use.agent in named and use.agent not in failed
        ]
        notes = _notes(
            category, support, standing, levels, any_systemic, vocabulary, sources, sentences
        )
        options.append(
            TreatmentOption.model_construct(
                rank=current_rank,
                category=cast(Category, category),
                tier=cast(Tier, TIERS[entry.tier]),
                agents=tuple(agents),
                regimens=tuple(
                    RegimenOption.model_construct(agents=c, name=regimen_name(c, vocabulary))
                    for c in combos
                ),
                rationale=tuple(r.title for r in strongest),
                citations=cite(_unique_citations(strongest), sources),
                rule_ids=tuple(r.id for r in strongest),
                source_ids=tuple(sorted(entry.sources)),
                agreement=_agreement(category, named, entry, waiting, sources),
                given_before=tuple(given_before),
                notes=tuple(notes),
            )
        )

    offered_regimens = {c for entry in support.values() for c in entry.regimens}
    # What the cancer grew on is the decisive reason: listed before the sources' own
    # not-recommended statements.
    grown_items: list[NotRecommendedItem] = []
    for agent in sorted(failed):
        name = vocabulary[agent].name + _class_words(agent, vocabulary)
        reason = f"The cancer grew on {name} ({_how_it_grew(agent, history)}): not offered again."
        kept_in = [
            regimen_name(c, vocabulary)
            for c in sorted(offered_regimens)
            if agent in continued.get(c, frozenset())
        ]
        if kept_in:
            reason += f" A source continues it only in: {'; '.join(kept_in)}."
        grown_items.append(
            NotRecommendedItem.model_construct(
                category=None,
                agents=(agent,),
                reason=reason,
                citations=cite(sentences.get("move_on", ()), sources),
                rule_ids=(),
            )
        )
    return tuple(options), (*grown_items, *not_recommended), tuple(advice)


def _notes(
    category: str,
    support: Mapping[str, _Support],
    standing: Standing,
    levels: Mapping[str, int],
    any_systemic: bool,
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> list[OptionNote]:
    notes: list[OptionNote] = []
    if category in SUPPORTIVE:
        return notes
    if category not in SYSTEMIC_CATEGORIES:
        if any_systemic and category in ("surgery", "radiation_therapy"):
            notes.append(
                OptionNote.model_construct(
                    topic="after_systemic_treatment",
                    text="Systemic drugs are the main treatment for stage IV breast cancer; "
                    "local treatment is used alongside them in certain situations, and is "
                    "listed after them.",
                    citations=cite(sentences.get("systemic_first", ()), sources),
                )
            )
        return notes
    if category == "chemotherapy" and levels.get("chemotherapy", 0) > levels.get(
        "hormone_therapy", 99
    ):
        notes.append(
            OptionNote.model_construct(
                topic="after_hormone_therapy",
                text="A hormone therapy option is left untried: chemotherapy is typically used "
                "only when endocrine therapy fails, and is listed after it.",
                citations=cite(sentences.get("hormone_as_long_as_possible", ()), sources),
            )
        )
    if (
        category == "chemotherapy"
        and standing.serious_problems_from_spread
        and levels.get("chemotherapy") == 0
    ):
        notes.append(
            OptionNote.model_construct(
                topic="chemotherapy_first",
                text="Serious problems from the spread: chemotherapy is often the first "
                "treatment, because hormone therapy can take months to work.",
                citations=cite(sentences.get("chemotherapy_first", ()), sources),
            )
        )
    if standing.her2_positive and category != "targeted_therapy":
        targeted = support.get("targeted_therapy")
        if targeted is not None and _has_anti_her2(targeted, vocabulary):
            partners = [
                regimen_name(combo, vocabulary)
                for combo in sorted(targeted.regimens)
                if any(vocabulary[a].is_her2_targeted for a in combo)
                and any(vocabulary[a].category == category for a in combo)
            ]
            text = "HER2-positive disease: every therapy involves anti-HER2 treatment; " + (
                f"here: {'; '.join(partners)}."
                if partners
                else "give it with an anti-HER2 drug of the targeted therapy option."
            )
        else:
            text = (
                "HER2-positive disease: every therapy involves anti-HER2 treatment, but no "
                "anti-HER2 drug the sources name is left untried for this patient."
            )
        notes.append(
            OptionNote.model_construct(
                topic="with_anti_her2_treatment",
                text=text,
                citations=cite(sentences.get("anti_her2_in_every_therapy", ()), sources),
            )
        )
    return notes
