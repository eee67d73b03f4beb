"""Stage 6, rank: a pure function from fired rules to ranked, cited options.

Order never depends on the order in which the engine fired rules. The keys, in order
(``docs/ranking.md`` explains them):

1. supportive care (palliative care, complementary therapy) goes alongside treatment: it is
   always listed after every anticancer option, never above one;
2. tier: ``preferred`` before ``option`` before ``situational`` (the best tier any rule gives);
3. how many independent sources support the category (more first);
4. ``CATEGORY_ORDER``, which only orders the listing: options equal on 1-3 share a rank.

Not-recommended statements act first: they remove what they name (a whole category, or single
agents, and every regimen containing one) before anything is ranked.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from mbc_rules.result import (
    AdviceItem,
    CitedSource,
    NotRecommendedItem,
    RegimenOption,
    TreatmentOption,
)
from mbc_rules.schema import Citation, Rule, Source
from mbc_rules.vocabulary import CATEGORIES, TIERS, Category, Tier, Vocabulary

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
    """Where an option stands: smaller keys rank first, and options with equal keys share a rank.

    Treatments before supportive care, then by tier, then by how many sources support it. A
    pure function of the option itself, so that the columnar cohort engine orders options the
    same way from the options it has built once per distinct set of fired rules.
    """
    return (category in SUPPORTIVE, TIERS.index(tier), -len(source_ids))


def rank(
    fired: Sequence[Rule], vocabulary: Vocabulary, sources: Mapping[str, Source]
) -> tuple[tuple[TreatmentOption, ...], tuple[NotRecommendedItem, ...], tuple[AdviceItem, ...]]:
    """Turn the rules that fired into ranked options, not-recommended items and advice.

    The output models are built without re-validation (``model_construct``): every value
    comes from validated rules, and this is the hot path of every evaluation.
    """
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

    def usable(agent: str) -> bool:
        return agent not in removed_agents and vocabulary[agent].category not in removed_categories

    support: dict[str, _Support] = {}
    for rule in fired:
        offer = rule.then.offer
        if offer is None or offer.category in removed_categories:
            continue
        agents = [a for a in offer.agents if usable(a)]
        regimens = [r.agents for r in offer.regimens if all(usable(a) for a in r.agents)]
        named_any = bool(offer.agents or offer.regimens)
        if named_any and not agents and not regimens:
            continue  # everything this rule named was ruled out for this profile
        tier = TIERS.index(offer.tier)
        rule_sources = {c.source for c in rule.citations}
        entry = support.setdefault(offer.category, _Support())
        entry.rules.append((tier, rule))
        entry.tier = min(entry.tier, tier)
        entry.sources |= rule_sources
        for agent in agents:
            entry.agents[agent] = _better(entry.agents.get(agent), tier, rule_sources)
        for members in regimens:
            combo = tuple(members)
            entry.regimens[combo] = _better(entry.regimens.get(combo), tier, rule_sources)

    keys = {
        category: ordering_key(category, TIERS[entry.tier], sorted(entry.sources))
        for category, entry in support.items()
    }
    ordered = sorted(support, key=lambda c: (keys[c], CATEGORY_ORDER.index(c)))
    options: list[TreatmentOption] = []
    current_rank, previous_key = 0, None
    for category in ordered:
        key = keys[category]
        if key != previous_key:
            current_rank, previous_key = current_rank + 1, key
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
        # fulvestrant) are named in the regimen, not listed as this category's agents.
        members = [a for combo in combos for a in combo if vocabulary[a].category == category]
        options.append(
            TreatmentOption.model_construct(
                rank=current_rank,
                category=cast(Category, category),
                tier=cast(Tier, TIERS[entry.tier]),
                agents=tuple(dict.fromkeys([*single, *members])),
                regimens=tuple(
                    RegimenOption.model_construct(agents=c, name=regimen_name(c, vocabulary))
                    for c in combos
                ),
                rationale=tuple(r.title for r in strongest),
                citations=cite(_unique_citations(strongest), sources),
                rule_ids=tuple(r.id for r in strongest),
                source_ids=tuple(sorted(entry.sources)),
            )
        )
    return tuple(options), tuple(not_recommended), tuple(advice)
