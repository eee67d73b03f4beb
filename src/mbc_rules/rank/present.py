"""The answer as a person reads it: each placed option with its citations, agreement, notes
and what of it was given before; the items of what the cancer grew on and what is held back
because of it; the not-recommended statements and advice of the fired rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mbc_rules.facts import TreatmentHistory
from mbc_rules.rank.arrange import SUPPORTIVE, Arrangement, Placed
from mbc_rules.rank.citations import Sentences, citation_groups, cite, unique_citations
from mbc_rules.rank.contributions import CLASS, GROWN, ClassTables, Contribution, regimen_name
from mbc_rules.rank.standing import Standing, timing_tests
from mbc_rules.result import (
    AdviceItem,
    Agreement,
    AgreementCondition,
    CitationGroup,
    CitedSource,
    GivenBefore,
    NotRecommendedItem,
    OptionNote,
    TreatmentOption,
    constructed,
)
from mbc_rules.schema import Rule, Source, is_local
from mbc_rules.vocabulary import CATEGORIES, SYSTEMIC_CATEGORIES, TIERS, Role, Vocabulary, role_of
from mbc_rules.wording import (
    NOTE_WORDS,
    agent_name,
    anti_her2_note,
    class_of,
    continued_only_in,
    fact_test_text,
    grown_on_class_reason,
    grown_on_drug_reason,
    held_back_reason,
    how_it_grew,
    join_and,
    named_with_class,
)


def _with_class(agent_id: str, vocabulary: Vocabulary) -> str:
    # "letrozole, a non-steroidal aromatase inhibitor": the vocabulary's name of the agent and
    # the class it declares for a drug.
    entry = vocabulary[agent_id]
    return named_with_class(entry.name, class_of(entry, vocabulary))


def _supporters(rules: Sequence[Rule]) -> dict[str | None, frozenset[str]]:
    """Per agent, the sources whose fired rules offer it; under None, the sources whose rules
    offer the whole category without naming an agent (they support every agent of it).
    """
    found: dict[str | None, set[str]] = {}
    for rule in rules:
        offer = rule.then.offer
        if offer is None:
            continue
        said = {c.source for c in rule.citations}
        named: list[str | None] = [*offer.agents, *(a for r in offer.regimens for a in r.agents)]
        for agent in named or [None]:
            found.setdefault(agent, set()).update(said)
    return {agent: frozenset(s) for agent, s in found.items()}


def _only_situational(rules: Sequence[Rule]) -> frozenset[str]:
    """The agents that the offering ``rules`` name, each only in situational offers."""
    tiers: dict[str, set[str]] = {}
    for rule in rules:
        offer = rule.then.offer
        if offer is None:
            continue
        for agent in [*offer.agents, *(a for r in offer.regimens for a in r.agents)]:
            tiers.setdefault(agent, set()).add(offer.tier)
    return frozenset(agent for agent, said in tiers.items() if said == {"situational"})


def agreement_of(
    category: str,
    named: frozenset[str],
    supporting: tuple[str, ...],
    waiting: Sequence[Rule],
    sources: Mapping[str, Source],
    offering: Sequence[Rule] = (),
) -> Agreement:
    """What each source says of ``category`` for this patient: the ``supporting`` sources, and
    the sources of the ``waiting`` rules that name it (or its drugs ``named``) only when a
    condition on the history holds, with that condition and their sentences.
    """
    # What each source says for this patient, drug by drug: a source that offers a drug here
    # (or the whole category, as YSC's "First-line therapy is endocrine") never also stands as
    # naming that drug "only when" something else holds (issue 19).
    supporters = _supporters(offering)
    everything = supporters.get(None, frozenset())
    # A drug the fired rules name only for some patients (situational): a source's words for
    # the whole category ("This may be a part of treatment if you have ... HER2-positive") do
    # not stand in for its own sentence on that drug, naming it in a situation not met here
    # (WebMD: margetuximab "if they've tried at least two other HER2-targeted drugs"), which
    # is why it is offered for some patients only.
    some_patients = _only_situational(offering)
    conditions: list[AgreementCondition] = []
    for rule in waiting:
        offer = rule.then.offer
        if offer is None or offer.category != category:
            continue
        theirs = set(offer.agents) | {a for r in offer.regimens for a in r.agents}
        common = sorted(theirs & named)
        if theirs and not common:
            continue
        said_when = (fact_test_text(t.fact, t.operator, t.operand) for t in timing_tests(rule.when))
        condition = list(dict.fromkeys(said_when))
        for source in sorted({c.source for c in rule.citations}):
            agents = [
                a
                for a in common
                if source not in supporters.get(a, frozenset())
                and (source not in everything or (a in some_patients and a in offer.agents))
            ]
            if source in everything and not agents:
                continue
            if (common and not agents) or (not common and source in supporting):
                continue
            said = [c for c in rule.citations if c.source == source]
            conditions.append(
                AgreementCondition.model_construct(
                    source=source,
                    publisher=sources[source].publisher if source in sources else source,
                    agents=tuple(agents),
                    condition=tuple(condition),
                    rule_id=rule.id,
                    situation=rule.title,
                    citations=cite(said, sources),
                )
            )
    return Agreement.model_construct(supporting=supporting, conditions_not_met=tuple(conditions))


def statement_items(
    rule: Rule, sources: Mapping[str, Source]
) -> tuple[NotRecommendedItem | None, AdviceItem | None]:
    """The not-recommended item and the advice item of a fired rule (None where it has none)."""
    statement = rule.then.not_recommended
    advice = rule.then.advice
    return (
        None
        if statement is None
        else NotRecommendedItem.model_construct(
            category=statement.category,
            agents=tuple(statement.agents),
            reason=statement.reason,
            citations=cite(rule.citations, sources),
            rule_ids=(rule.id,),
            kind=statement.kind,
            local_rules=(rule.id,) if is_local(rule.id) else (),
        ),
        None
        if advice is None
        else AdviceItem.model_construct(
            topic=advice.topic,
            text=advice.text,
            citations=cite(rule.citations, sources),
            rule_ids=(rule.id,),
            local_rules=(rule.id,) if is_local(rule.id) else (),
        ),
    )


def given_before_of(named: frozenset[str], history: TreatmentHistory) -> tuple[GivenBefore, ...]:
    """The uses in ``history`` of the agents ``named`` that the cancer did not grow on."""
    return tuple(
        constructed(
            GivenBefore, {"agent": use.agent, "outcome": use.outcome, "setting": use.setting}
        )
        for use in sorted(history.uses, key=lambda u: (u.agent, u.setting, u.outcome))
        if use.agent in named and use.agent not in history.failed
    )


def option_of(
    placed: Placed,
    arrangement: Arrangement,
    *,
    standing: Standing,
    given_before: tuple[GivenBefore, ...],
    waiting: Sequence[Rule],
    tables: ClassTables,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> TreatmentOption:
    """The option of ``placed`` as a result holds it, with its citations, agreement and notes
    worked out afresh (the :class:`~mbc_rules.rank.memo.Ranker` remembers each of them).
    """
    category = placed.category
    any_systemic = any(p.category in SYSTEMIC_CATEGORIES for p in arrangement.options)
    citations = cite(unique_citations(placed.rules), sources)
    return made_option(
        placed,
        tables,
        citations=citations,
        groups=citation_groups(placed.rules, placed.agents, placed.regimens, citations, sources),
        agreement=agreement_of(
            category, placed.named, placed.sources, waiting, sources, placed.rules
        ),
        given_before=given_before,
        notes=tuple(
            option_notes(category, arrangement, standing, any_systemic, tables, sources, sentences)
        ),
    )


def _role(placed: Placed) -> Role:
    # Supportive only when every offering sentence gives the option to relieve or prevent
    # (radiation for bone pain beside whole-brain radiation is still a choice).
    roles = {
        rule.then.offer.role or role_of(placed.category)
        for rule in placed.rules
        if rule.then.offer is not None
    }
    if not roles:
        return role_of(placed.category)
    return "supportive" if roles == {"supportive"} else "anticancer"


def made_option(
    placed: Placed,
    tables: ClassTables,
    *,
    citations: tuple[CitedSource, ...],
    groups: tuple[CitationGroup, ...],
    agreement: Agreement,
    given_before: tuple[GivenBefore, ...],
    notes: tuple[OptionNote, ...],
) -> TreatmentOption:
    """The option as a result holds it: the placed option, cited and noted."""
    return constructed(
        TreatmentOption,
        {
            "rank": placed.rank,
            "category": placed.category,
            "tier": TIERS[placed.tier],
            "role": _role(placed),
            "agents": placed.agents,
            "regimens": tuple(tables.regimen(c) for c in placed.regimens),
            "rationale": tuple(r.title for r in placed.rules),
            "citations": citations,
            "rule_ids": tuple(r.id for r in placed.rules),
            "source_ids": placed.sources,
            "agreement": agreement,
            "given_before": given_before,
            "notes": notes,
            "citation_groups": groups,
            "local_rules": tuple(r.id for r in placed.rules if is_local(r.id)),
        },
    )


def grown_and_held_items(
    history: TreatmentHistory,
    arrangement: Arrangement,
    parts: Iterable[Contribution],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    sentences: Sentences,
    memory: dict[Any, NotRecommendedItem] | None = None,
) -> list[NotRecommendedItem]:
    """The not-recommended items of what the cancer grew on, then of what is held back
    because of it.
    """
    # What the cancer grew on is the decisive reason: listed before the sources' own
    # not-recommended statements. Then what is held back because of it: the other drugs of its
    # class, and the class itself, where no source names that switch.
    # ``memory`` (the Ranker's, bounded by it) remembers each item by everything its text reads:
    # items recur across answers that differ elsewhere, and a shared item is hashed once.
    parts = tuple(parts)
    continued = _continued(parts)
    offered_regimens = {c for placed in arrangement.options for c in placed.regimens}
    offered = frozenset().union(*(placed.named for placed in arrangement.options))
    given = {use.agent for use in history.uses}
    items: list[NotRecommendedItem] = []
    for agent in sorted(history.failed):
        if agent not in given:
            continue  # another name of a drug it grew on: said with that drug
        ways = how_it_grew(history.uses_of(agent))
        kept = tuple(c for c in sorted(offered_regimens) if agent in continued.get(c, frozenset()))
        key = (GROWN, agent, ways, kept)
        item = None if memory is None else memory.get(key)
        if item is None:
            item = _grown_item(agent, ways, kept, vocabulary, sources, sentences)
            if memory is not None:
                memory[key] = item
        items.append(item)
    # A class is not said to be held back while a drug within it is offered (exemestane is
    # "another type" within the aromatase inhibitors after letrozole; lapatinib is a
    # HER2-targeted drug after trastuzumab): the drugs named are the answer.
    held: dict[frozenset[str], dict[str, None]] = {}
    offered_classes: set[str] | None = None
    for part in parts:
        for agent, because in part.withheld:
            entry = vocabulary[agent]
            if agent in offered or agent in history.failed:
                continue
            if entry.kind != "drug":
                if offered_classes is None:
                    offered_classes = {c for a in offered for c in vocabulary[a].classes}
                if entry.drug_class in offered_classes:
                    continue
            held.setdefault(because, {})[agent] = None
    for because, agents in sorted(held.items(), key=lambda kv: sorted(kv[0])):
        drugs = tuple(d for d in sorted(because) if d in given) or tuple(sorted(because))
        held_key = (CLASS, tuple(agents), drugs)
        item = None if memory is None else memory.get(held_key)
        if item is None:
            item = _held_item(tuple(agents), drugs, vocabulary, sources, sentences)
            if memory is not None:
                memory[held_key] = item
        items.append(item)
    return items


def _grown_item(
    agent: str,
    ways: str,
    kept: tuple[tuple[str, ...], ...],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> NotRecommendedItem:
    # A drug the cancer grew on (``ways``: how), and the regimens that continue it (``kept``).
    if vocabulary[agent].kind == "therapy_class":
        # The record names the class, not the drug: which of its drugs it was is not known.
        others = sorted(
            a for a in vocabulary.grown_on(agent) - {agent} if vocabulary[a].kind == "drug"
        )
        reason = grown_on_class_reason(
            agent_name(agent, vocabulary), ways, [vocabulary[o].name for o in others]
        )
    else:
        others = sorted(vocabulary.same_drug(agent) - {agent})
        name = _with_class(agent, vocabulary)
        reason = grown_on_drug_reason(name, ways, [vocabulary[o].name for o in others])
    reason += "." + continued_only_in([regimen_name(c, vocabulary) for c in kept])
    return NotRecommendedItem.model_construct(
        category=None,
        agents=(agent, *others),
        reason=reason,
        citations=cite(sentences.get("move_on", ()), sources),
        rule_ids=(),
        kind="grew_on_before",
        local_rules=(),
    )


def _held_item(
    agents: tuple[str, ...],
    drugs: tuple[str, ...],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> NotRecommendedItem:
    # Agents held back because the cancer grew on ``drugs`` (of their class or category).
    grew = join_and([_with_class(d, vocabulary) for d in drugs])
    whole = [a for a in agents if a in CATEGORIES]
    why = held_back_reason(grew, len(drugs), vocabulary[whole[0]].name if whole else None)
    return NotRecommendedItem.model_construct(
        category=None,
        agents=agents,
        # The item names the drugs; the reason says why (it was said twice in a row).
        reason=why,
        citations=cite(sentences.get("move_on", ()), sources),
        rule_ids=(),
        kind="held_back_after_growth",
        local_rules=(),
    )


def _continued(parts: Iterable[Contribution]) -> dict[tuple[str, ...], frozenset[str]]:
    continued: dict[tuple[str, ...], frozenset[str]] = {}
    for part in parts:
        for combo, agents in part.continued:
            continued[combo] = continued.get(combo, frozenset()) | agents
    return continued


Answer = tuple[tuple[TreatmentOption, ...], tuple[NotRecommendedItem, ...], tuple[AdviceItem, ...]]


def option_notes(
    category: str,
    arrangement: Arrangement,
    standing: Standing,
    any_systemic: bool,
    tables: ClassTables,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> list[OptionNote]:
    """The notes of ``category``'s option: why the sources' orderings place it where it is."""
    notes: list[OptionNote] = []
    levels = arrangement.levels
    if category in SUPPORTIVE:
        return notes
    if category not in SYSTEMIC_CATEGORIES:
        if any_systemic and category in ("surgery", "radiation_therapy"):
            notes.append(
                OptionNote.model_construct(
                    topic="after_systemic_treatment",
                    text=NOTE_WORDS["after_systemic_treatment"],
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
                text=NOTE_WORDS["after_hormone_therapy"],
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
                text=NOTE_WORDS["chemotherapy_first"],
                citations=cite(sentences.get("chemotherapy_first", ()), sources),
            )
        )
    if standing.her2_positive and category != "targeted_therapy":
        targeted = arrangement.get("targeted_therapy")
        named = (
            set()
            if targeted is None
            else set(targeted.agents) | {a for combo in targeted.regimens for a in combo}
        )
        if not tables.her2.isdisjoint(named):
            assert targeted is not None
            partners = [
                regimen_name(combo, tables.vocabulary)
                for combo in sorted(targeted.regimens)
                if not tables.her2.isdisjoint(combo)
                and any(tables.category[a] == category for a in combo)
            ]
            text = anti_her2_note(partners, any_left=True)
        else:
            text = anti_her2_note((), any_left=False)
        notes.append(
            OptionNote.model_construct(
                topic="with_anti_her2_treatment",
                text=text,
                citations=cite(sentences.get("anti_her2_in_every_therapy", ()), sources),
            )
        )
    return notes
