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

import itertools
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

from mbc_rules.conditions import passes
from mbc_rules.facts import FACTS, NO_HISTORY, FactValue, TreatmentHistory
from mbc_rules.result import (
    AdviceItem,
    Agreement,
    AgreementCondition,
    CitationGroup,
    CitedSource,
    GivenBefore,
    NotRecommendedItem,
    OptionNote,
    RegimenOption,
    TreatmentOption,
    constructed,
)
from mbc_rules.schema import (
    AllOf,
    Always,
    Citation,
    Condition,
    FactTest,
    NotOf,
    Rule,
    Source,
    Statement,
    is_local,
)
from mbc_rules.vocabulary import (
    CARE_CATEGORIES,
    CATEGORIES,
    CATEGORY_ORDER,
    SYSTEMIC_CATEGORIES,
    TIERS,
    Role,
    Vocabulary,
    role_of,
)
from mbc_rules.wording import agent_name, class_of, join_and, regimen_words

SUPPORTIVE = CARE_CATEGORIES  # ranked after every anticancer option


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


def cite(citations: Sequence[Citation], sources: Mapping[str, Source]) -> tuple[CitedSource, ...]:
    """The result's form of citations, with each source's publisher."""
    return tuple(
        _cited(c, sources[c.source].publisher if c.source in sources else c.source)
        for c in citations
    )


_CITED: dict[tuple[int, str], tuple[Citation, CitedSource]] = {}


def _cited(citation: Citation, publisher: str) -> CitedSource:
    # Citations are static: built once, shared by every result that cites them. Keyed by the
    # citation object (kept alive by the entry, so its id is not reused while cached): hashing
    # the model's fields on every call cost more than building the result.
    key = (id(citation), publisher)
    found = _CITED.get(key)
    if found is not None and found[0] is citation:
        return found[1]
    if len(_CITED) > 65_536:
        _CITED.clear()
    made = CitedSource(
        source=citation.source,
        publisher=publisher,
        section=citation.section,
        excerpt=citation.excerpt,
        statement=citation.statement,
    )
    _CITED[key] = (citation, made)
    return made


def citation_groups(
    rules: Sequence[Rule],
    agents: Sequence[str],
    regimens: Sequence[tuple[str, ...]],
    citations: Sequence[CitedSource],
    sources: Mapping[str, Source],
) -> tuple[CitationGroup, ...]:
    """The option's citations grouped by the drugs or regimens of it their rules name: the
    strongest tier first, then the group more sources stand behind.
    """
    offered_agents = set(agents)
    offered_regimens = set(regimens)
    position = {citation: index for index, citation in enumerate(citations)}
    groups: dict[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], tuple[int, list[int]]] = {}
    for rule in rules:
        offer = rule.then.offer
        if offer is None:
            continue
        label = (
            tuple(a for a in offer.agents if a in offered_agents),
            tuple(tuple(r.agents) for r in offer.regimens if tuple(r.agents) in offered_regimens),
        )
        tier = TIERS.index(offer.tier)
        best, cited = groups.get(label, (tier, []))
        for citation in cite(rule.citations, sources):
            at = position.get(citation)
            if at is not None and at not in cited:
                cited.append(at)
        groups[label] = (min(best, tier), cited)
    ordered = sorted(
        (item for item in groups.items() if item[1][1]),
        key=lambda item: (item[1][0], -len({citations[i].source for i in item[1][1]})),
    )
    return tuple(
        constructed(
            CitationGroup,
            {
                "agents": named,
                "regimens": combos,
                "tier": TIERS[tier],
                "citations": tuple(cited),
            },
        )
        for (named, combos), (tier, cited) in ordered
    )


def _unique_citations(rules: Sequence[Rule]) -> list[Citation]:
    seen: dict[tuple[str, str], Citation] = {}
    for rule in rules:
        for citation in rule.citations:
            seen.setdefault((citation.source, citation.excerpt), citation)
    return list(seen.values())


def regimen_name(agents: Sequence[str], vocabulary: Vocabulary) -> str:
    """'alpelisib with fulvestrant', 'pertuzumab with chemotherapy and trastuzumab': the
    regimen as the reader sees it (``wording.regimen_words``).
    """
    return regimen_words(agents, vocabulary)


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


def _within(drug_class: str | None, vocabulary: Vocabulary) -> frozenset[str]:
    """Every drug of the vocabulary whose class is ``drug_class`` or lies within it."""
    if drug_class is None:
        return frozenset()
    return frozenset(
        a.id for a in vocabulary.agents.values() if a.kind == "drug" and a.is_in(drug_class)
    )


def _category_types(category: str, vocabulary: Vocabulary) -> tuple[frozenset[str], ...]:
    """The types of a category that the sources name (each the drugs within it): the classes
    of the category's drugs and class placeholders named in the sources.
    """
    types = {
        a.drug_class
        for a in vocabulary.agents.values()
        if a.category == category
        and a.in_sources
        and a.kind != "procedure"
        and a.id not in CATEGORIES
        and a.drug_class is not None
    }
    return tuple(_within(t, vocabulary) for t in sorted(types))


# -- what each fired rule still names (per rule: cacheable per category) ----------------------


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one offering rule still names for a patient, after removals and the history.

    A function of the rule, of the not-recommended statements that fired, and of whether the
    cancer grew on each agent the rule names; nothing else. The columnar engine computes a
    category's contributions once per distinct value of exactly these.
    """

    rule: Rule
    category: str
    tier: int
    sources: frozenset[str]
    agents: tuple[str, ...]
    regimens: tuple[tuple[str, ...], ...]
    named_any: bool
    waits_for: str | None
    # Agents of the kept regimens that the cancer grew on (continued only inside them).
    grown: frozenset[str]
    continued: tuple[tuple[tuple[str, ...], frozenset[str]], ...]
    # Agents not offered because the cancer grew on another drug of their class (or, for a
    # whole category, on a drug of every type of it), each with those drugs.
    withheld: tuple[tuple[str, frozenset[str]], ...] = ()
    # Kept regimens that stand only beside an option of another category (Regimen.only_beside).
    beside: tuple[tuple[tuple[str, ...], str], ...] = ()


GROWN, CLASS = "grown", "class"


class _Tables:
    """What ranking reads of a vocabulary, worked out once per vocabulary."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.category = {a: agent.category for a, agent in vocabulary.agents.items()}
        self.same = {a: vocabulary.same_drug(a) for a in vocabulary.agents}
        self.her2 = frozenset(a for a, agent in vocabulary.agents.items() if agent.is_her2_targeted)
        self.hormone = frozenset(a for a, c in self.category.items() if c == "hormone_therapy")
        self.types = {c: _category_types(c, vocabulary) for c in CATEGORIES}
        # The drugs whose growth matters to each agent: the agent under each of its names, the
        # drugs of its type (a drug), within it (a class), or of its category (a category).
        self.related: dict[str, frozenset[str]] = {}
        for a, agent in vocabulary.agents.items():
            if agent.kind == "procedure":
                self.related[a] = frozenset()
            elif agent.kind == "drug":
                self.related[a] = self.same[a] | _within(agent.drug_class, vocabulary)
            elif a in CATEGORIES:
                self.related[a] = frozenset().union(*self.types[a])
            else:
                self.related[a] = _within(agent.drug_class, vocabulary)
        self.switches: dict[tuple[str, ...], frozenset[str]] = {}
        self.regimens: dict[tuple[str, ...], RegimenOption] = {}

    def regimen(self, combo: tuple[str, ...]) -> RegimenOption:
        found = self.regimens.get(combo)
        if found is None:
            found = self.regimens[combo] = RegimenOption.model_construct(
                agents=combo, name=regimen_name(combo, self.vocabulary)
            )
        return found

    def switch(self, switch_from: Sequence[str]) -> frozenset[str]:
        """The drugs after which an offer's ``switch_from`` names it."""
        key = tuple(switch_from)
        found = self.switches.get(key)
        if found is None:
            found = self.switches[key] = frozenset().union(
                *(
                    self.related[a] if self.vocabulary[a].kind != "drug" else self.same[a]
                    for a in key
                )
            )
        return found

    def withheld(
        self, agent: str, failed: frozenset[str], switch: frozenset[str] = frozenset()
    ) -> tuple[str, frozenset[str]] | None:
        """Why ``agent`` is not offered again, with the drugs behind it, or None.

        ``GROWN``: the cancer grew on the drug itself (under any of its names). ``CLASS``: it
        grew on another drug of the drug's type, on a drug within the class, or, for a whole
        category ("hormone therapy"), on a drug of every type of it, and the offer's
        ``switch_from`` (``switch``) does not name those drugs. Reads ``failed`` only through
        ``related[agent]``.
        """
        hit = failed & self.related[agent]
        if not hit:
            return None
        kind = self.vocabulary[agent].kind
        if kind == "drug":
            own = hit & self.same[agent]
            if own:
                return GROWN, own
        others = hit - switch
        if not others:
            return None
        if agent in CATEGORIES:
            # "Another drug of this category": used up only when every type of it is.
            if all(members & others for members in self.types[agent]):
                return CLASS, others
            return None
        return CLASS, others


_TABLES: dict[int, _Tables] = {}


def _tables(vocabulary: Vocabulary) -> _Tables:
    found = _TABLES.get(id(vocabulary))
    if found is None or found.vocabulary is not vocabulary:
        if len(_TABLES) > 64:
            _TABLES.clear()
        found = _TABLES[id(vocabulary)] = _Tables(vocabulary)
    return found


def removals(fired: Sequence[Rule]) -> tuple[frozenset[str], frozenset[str]]:
    """The categories and the agents that the fired not-recommended statements rule out."""
    categories: set[str] = set()
    agents: set[str] = set()
    for rule in fired:
        statement = rule.then.not_recommended
        if statement is not None:
            if statement.category is not None:
                categories.add(statement.category)
            agents.update(statement.agents)
    return frozenset(categories), frozenset(agents)


def hormone_failed(failed: frozenset[str], vocabulary: Vocabulary) -> bool:
    """Whether the cancer grew on any hormone drug."""
    return not failed.isdisjoint(_tables(vocabulary).hormone)


def contributions(
    fired: Sequence[Rule],
    vocabulary: Vocabulary,
    failed: frozenset[str],
    removed: tuple[frozenset[str], frozenset[str]],
) -> tuple[Contribution, ...]:
    """What each offering rule of ``fired`` still names, given ``removed`` (:func:`removals`
    of every fired rule) and what the cancer grew on: nothing ruled out, nothing grown on
    unless a cited regimen continues it (``Regimen.continues``).
    """
    removed_categories, removed_agents = removed
    tables = _tables(vocabulary)

    def usable(agent: str) -> bool:
        return agent not in removed_agents and tables.category[agent] not in removed_categories

    out: list[Contribution] = []
    for rule in fired:
        offer = rule.then.offer
        if offer is None or offer.category in removed_categories:
            continue
        switch = tables.switch(offer.switch_from) if offer.switch_from else frozenset()
        verdicts: dict[str, tuple[str, frozenset[str]] | None] = {}

        def why(
            agent: str,
            verdicts: dict[str, tuple[str, frozenset[str]] | None] = verdicts,
            switch: frozenset[str] = switch,
        ) -> tuple[str, frozenset[str]] | None:
            if agent not in verdicts:
                verdicts[agent] = tables.withheld(agent, failed, switch) if failed else None
            return verdicts[agent]

        agents = tuple(a for a in offer.agents if usable(a) and why(a) is None)
        regimens: list[tuple[str, ...]] = []
        grown_in: set[str] = set()
        continued: list[tuple[tuple[str, ...], frozenset[str]]] = []
        beside: list[tuple[tuple[str, ...], str]] = []
        for regimen in offer.regimens:
            if not all(usable(a) for a in regimen.agents):
                continue
            verdict = [why(a) for a in regimen.agents]
            # A drug the cancer grew on stays only where the sentence continues it; a drug
            # held back by its class never does.
            if any(
                v is not None and (v[0] == CLASS or a not in regimen.continues)
                for a, v in zip(regimen.agents, verdict, strict=True)
            ):
                continue
            combo = tuple(regimen.agents)
            regimens.append(combo)
            if regimen.only_beside is not None:
                beside.append((combo, regimen.only_beside))
            grown_in.update(a for a, v in zip(combo, verdict, strict=True) if v is not None)
            if regimen.continues:
                continued.append((combo, frozenset(regimen.continues)))
        withheld = tuple(
            (a, v[1])
            for a in dict.fromkeys([*offer.agents, *(a for r in offer.regimens for a in r.agents)])
            if usable(a) and (v := why(a)) is not None and v[0] == CLASS
        )
        out.append(
            Contribution(
                rule=rule,
                category=offer.category,
                tier=TIERS.index(offer.tier),
                sources=frozenset(c.source for c in rule.citations),
                agents=agents,
                regimens=tuple(regimens),
                named_any=bool(offer.agents or offer.regimens),
                waits_for=offer.only_when_none_left,
                grown=frozenset(grown_in),
                continued=tuple(continued),
                withheld=withheld,
                beside=tuple(beside),
            )
        )
    return tuple(out)


# -- the sources' orderings across categories ------------------------------------------------


_Shown = tuple[
    tuple[str, ...], tuple[tuple[str, ...], ...], tuple[str, ...], tuple[Rule, ...], frozenset[str]
]


@dataclass
class _Support:
    """What the rules that survive removal say for one category."""

    rules: list[tuple[int, Rule]] = field(default_factory=list)
    tier: int = len(TIERS)
    sources: set[str] = field(default_factory=set)
    agents: dict[str, tuple[int, set[str]]] = field(default_factory=dict)
    regimens: dict[tuple[str, ...], tuple[int, set[str]]] = field(default_factory=dict)
    grown: set[str] = field(default_factory=set)
    # The options made of this entry (by Ranker.answer), by what else they depend on.
    options: dict[Any, Any] = field(default_factory=dict)
    # How the option reads (agents, regimens, sources, rules, every agent named): worked out
    # once per entry.
    shown: _Shown | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    """One category's option, ranked, before its citations, notes and agreement: what a
    cohort's long table holds.
    """

    category: str
    rank: int
    tier: int
    agents: tuple[str, ...]
    regimens: tuple[tuple[str, ...], ...]
    sources: tuple[str, ...]
    rules: tuple[Rule, ...]  # the strongest first (stable within a tier)
    key: OrderKey  # what the rank is the dense rank of (see arrange)
    named: frozenset[str]  # every agent it names, alone or in a regimen
    # Options made of the same entry (see Ranker.answer); not part of the value.
    memory: dict[Any, Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Arrangement:
    """The ranked options of one answer, and the orderings' levels behind them."""

    options: tuple[Placed, ...]
    levels: Mapping[str, int]

    def get(self, category: str) -> Placed | None:
        """The option of ``category``, if offered."""
        return next((p for p in self.options if p.category == category), None)


def _better(
    entry: tuple[int, set[str]] | None, tier: int, sources: frozenset[str]
) -> tuple[int, set[str]]:
    if entry is None:
        return tier, set(sources)
    return min(entry[0], tier), entry[1] | sources


def _support(
    parts: Iterable[tuple[Contribution, tuple[tuple[str, ...], ...]]], hormone_failed: bool
) -> dict[str, _Support]:
    support: dict[str, _Support] = {}
    for part, regimens in parts:
        if part.named_any and not part.agents and not regimens:
            continue  # everything this rule named was ruled out for this profile
        entry = support.setdefault(part.category, _Support())
        tier = part.tier
        entry.rules.append((tier, part.rule))
        entry.tier = min(entry.tier, tier)
        entry.sources |= part.sources
        entry.grown |= part.grown
        for agent in part.agents:
            entry.agents[agent] = _better(entry.agents.get(agent), tier, part.sources)
        for combo in regimens:
            entry.regimens[combo] = _better(entry.regimens.get(combo), tier, part.sources)
    # "Switching to another type of hormone therapy" needs a type left to switch to: once the
    # cancer grew on a hormone drug, hormone therapy stands only while a hormone drug the
    # sources name for this patient is untried ("no longer responding to any hormone drugs").
    hormone = support.get("hormone_therapy")
    if hormone is not None and hormone_failed and not hormone.agents and not hormone.regimens:
        del support["hormone_therapy"]
    return support


def _partners(combo: tuple[str, ...], own: str, tables: _Tables) -> frozenset[str]:
    # A hormone partner ("with hormone therapy", "with fulvestrant") needs hormone therapy to
    # be an option for this patient: none once no hormone type a source offers is left ("no
    # longer responding to any hormone drugs"), or where the receptors give no ground for it.
    # A chemotherapy partner needs nothing more: the regimen's own sentence offers the
    # chemotherapy with it ("trastuzumab ... given along with chemo"), and what the cancer grew
    # on is already held back in contributions.
    return frozenset(
        tables.category[a]
        for a in combo
        if tables.category[a] == "hormone_therapy" and tables.category[a] != own
    )


_Regimens = tuple[tuple[tuple[str, ...], ...], ...]


class CategoryParts:
    """One category's contributions, with what arranging them needs worked out once.

    A cohort has a few hundred distinct sets of contributions per category, shared by
    thousands of rows: the columnar engine keeps one of these per set, so each category's
    entry (its tier, agents, regimens and sources) is aggregated once, not once per row.
    """

    __slots__ = ("any", "category", "deferred", "entries", "needed", "needs", "offered")

    def __init__(self, category: str, parts: Iterable[Contribution], tables: _Tables) -> None:
        own = [part for part in parts if part.category == category]
        self.category = category
        self.offered = tuple(part for part in own if part.waits_for is None)
        self.deferred = tuple(part for part in own if part.waits_for is not None)
        self.needs = {
            combo: _partners(combo, category, tables)
            for part in self.offered
            for combo in part.regimens
        }
        for part in self.offered:
            for combo, partner in part.beside:
                self.needs[combo] = self.needs[combo] | {partner}
        self.needed = frozenset().union(*self.needs.values())
        self.any = bool(self.offered or self.deferred)
        self.entries: dict[tuple[Any, ...], _Support | None] = {}

    def entry(
        self, regimens: _Regimens | None, stand_in: tuple[bool, ...], hormone_failed: bool
    ) -> _Support | None:
        """The category's entry with the offered parts' ``regimens`` (None: as contributed)
        and the deferred parts that ``stand_in``; None when nothing is left of it.
        """
        key = (regimens, stand_in, hormone_failed and self.category == "hormone_therapy")
        if key in self.entries:
            return self.entries[key]
        current = regimens if regimens is not None else [p.regimens for p in self.offered]
        items = [
            *zip(self.offered, current, strict=True),
            *((p, p.regimens) for p, s in zip(self.deferred, stand_in, strict=True) if s),
        ]
        found = _support(items, hormone_failed).get(self.category)
        if len(self.entries) < 256:
            self.entries[key] = found
        return found

    def dropping(self, regimens: _Regimens | None, present: set[str]) -> _Regimens | None:
        """The offered parts' regimens without those whose partner category is absent; the
        same object when nothing is dropped.
        """
        if self.needed <= present:
            return regimens
        current = regimens if regimens is not None else tuple(p.regimens for p in self.offered)
        kept = tuple(tuple(c for c in combos if self.needs[c] <= present) for combos in current)
        return regimens if kept == current else kept


def by_category(parts: Sequence[Contribution], vocabulary: Vocabulary) -> list[CategoryParts]:
    """``parts`` grouped by category, in the order of their first appearance."""
    tables = _tables(vocabulary)
    return [CategoryParts(c, parts, tables) for c in dict.fromkeys(p.category for p in parts)]


def _levels(support: Mapping[str, _Support], standing: Standing, tables: _Tables) -> dict[str, int]:
    """The sources' orderings among systemic drugs, as levels (lower comes first)."""
    present = set(support)
    sequence: list[str] = []
    targeted = support.get("targeted_therapy")
    if standing.her2_positive and targeted is not None and _has_anti_her2(targeted, tables):
        # YSC: "All therapies will involve the use of anti-HER2 treatment", in a crisis too
        # (ACS gives trastuzumab "along with chemo"): it leads, chemotherapy beside it.
        sequence.append("targeted_therapy")
    crisis = standing.serious_problems_from_spread and "chemotherapy" in present
    if crisis:
        sequence.append("chemotherapy")  # ACS: chemo first for serious problems from spread
    if standing.hormone_receptor_positive and "hormone_therapy" in present and not crisis:
        # YSC: endocrine therapy "as long as possible"; its targeted combinations follow it and
        # never outrank it by counting the same sources twice; chemotherapy comes after both.
        sequence += ["hormone_therapy", "targeted_therapy"]
    ordered = [c for c in dict.fromkeys(sequence) if c in present]
    levels = {c: i for i, c in enumerate(ordered)}
    return {c: levels.get(c, len(ordered)) for c in present if c in SYSTEMIC_CATEGORIES}


def _has_anti_her2(entry: _Support, tables: _Tables) -> bool:
    named = set(entry.agents) | {a for combo in entry.regimens for a in combo}
    return not tables.her2.isdisjoint(named)


def _shown(category: str, entry: _Support, tables: _Tables) -> _Shown:
    if entry.shown is None:
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
            if tables.category[a] == category and a not in entry.grown
        ]
        entry.shown = (
            tuple(dict.fromkeys([*single, *members])),
            tuple(combos),
            tuple(sorted(entry.sources)),
            tuple(rule for _, rule in sorted(entry.rules, key=lambda pair: pair[0])),
            frozenset(single) | {a for combo in combos for a in combo},
        )
    return entry.shown


OrderField = Literal["supportive", "local", "ordering", "tier", "fewer_sources"]


class OrderKey(NamedTuple):
    """What an option is ranked by, its fields in precedence order (lower first; options with
    equal keys share a rank). A tuple, so that it sorts, hashes and compares as the ranking
    needs; named, so that an explanation reads which field put one option before another
    (:meth:`deciding_field`) instead of working the order out again.
    """

    supportive: int  # 1 for supportive care: listed after every anticancer option
    local: int  # 1 for local and other treatment: after every systemic drug
    ordering: int  # the level the sources' orderings give among systemic drugs (_levels)
    tier: int  # the index in TIERS of the best tier any of its rules gives
    fewer_sources: int  # minus the number of sources: more sources first

    def deciding_field(self, other: OrderKey) -> OrderField | None:
        """The first field in which this key and ``other`` differ: the ordering rule that
        puts one of the two options before the other; None when they share a rank.
        """
        for name, mine, theirs in zip(self._fields, self, other, strict=True):
            if mine != theirs:
                return cast("OrderField", name)
        return None


def order_key(category: str, entry_tier: int, sources: int, level: int) -> OrderKey:
    """What options are ranked by (lower first; equal keys share a rank): supportive care
    last, local and other treatment after systemic drugs, the sources' orderings among
    systemic drugs (``level``), the tier, then more sources first.
    """
    supportive = category in SUPPORTIVE
    systemic = category in SYSTEMIC_CATEGORIES
    return OrderKey(
        int(supportive), int(not systemic and not supportive), level, entry_tier, -sources
    )


_LISTING = {c: i for i, c in enumerate(CATEGORY_ORDER)}


def arrange(
    parts: Sequence[Contribution] | Sequence[CategoryParts],
    vocabulary: Vocabulary,
    *,
    standing: Standing = NO_STANDING,
    hormone_failed: bool = False,
) -> Arrangement:
    """Rank the categories that ``parts`` (:func:`contributions`, or the same grouped by
    :func:`by_category`) support.

    Categories depend on each other here, and only here: a regimen whose partner is a whole
    category needs that category offered; an offer ``only_when_none_left`` stands only while
    its category is absent; the sources' orderings put categories before others. Each option's
    rank is the dense rank of its :func:`order_key` among the options offered.
    """
    tables = _tables(vocabulary)
    categories: Sequence[CategoryParts] = (
        by_category(cast("Sequence[Contribution]", parts), vocabulary)
        if parts and isinstance(parts[0], Contribution)
        else cast("Sequence[CategoryParts]", parts)
    )
    state: list[_Regimens | None] = [None] * len(categories)
    quiet = [(False,) * len(c.deferred) for c in categories]
    while True:
        entries = [c.entry(state[i], quiet[i], hormone_failed) for i, c in enumerate(categories)]
        present = {c.category for c, e in zip(categories, entries, strict=True) if e is not None}
        for i, c in enumerate(categories):
            if c.deferred:
                stand_in = tuple(p.waits_for not in present for p in c.deferred)
                if any(stand_in):
                    entries[i] = c.entry(state[i], stand_in, hormone_failed)
        present = {c.category for c, e in zip(categories, entries, strict=True) if e is not None}
        dropped = False
        for i, c in enumerate(categories):
            after = c.dropping(state[i], present)
            if after is not state[i]:
                state[i], dropped = after, True
        if not dropped:
            break

    support = {c.category: e for c, e in zip(categories, entries, strict=True) if e is not None}
    levels = _levels(support, standing, tables)
    keyed = sorted(
        (
            order_key(category, entry.tier, len(entry.sources), levels.get(category, 0)),
            _LISTING[category],
            category,
        )
        for category, entry in support.items()
    )
    placed: list[Placed] = []
    current_rank, previous_key = 0, None
    for category_key, _, category in keyed:
        if category_key != previous_key:
            current_rank, previous_key = current_rank + 1, category_key
        entry = support[category]
        agents, combos, sources, rules, named = _shown(category, entry, tables)
        placed.append(
            Placed(
                category=category,
                rank=current_rank,
                tier=entry.tier,
                agents=agents,
                regimens=combos,
                sources=sources,
                rules=rules,
                key=category_key,
                named=named,
                memory=entry.options,
            )
        )
    return Arrangement(options=tuple(placed), levels=levels)


# -- the answer as a person reads it: citations, notes, agreement, history --------------------


def _class_words(agent_id: str, vocabulary: Vocabulary) -> str:
    # ", a non-steroidal aromatase inhibitor": the class the vocabulary declares for the drug.
    kind = class_of(vocabulary[agent_id], vocabulary)
    return f", {kind}" if kind else ""


def _how_it_grew(agent: str, history: TreatmentHistory) -> str:
    ways = []
    for use in history.uses_of(agent):
        if use.outcome == "progressed" and use.setting == "metastatic":
            ways.append("it progressed on it")
        elif use.outcome == "progressed":
            ways.append("it recurred during it as adjuvant (early) treatment")
    return " and ".join(sorted(set(ways))) or "it grew on it"


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


def _agreement(
    category: str,
    named: frozenset[str],
    supporting: tuple[str, ...],
    waiting: Sequence[Rule],
    sources: Mapping[str, Source],
    offering: Sequence[Rule] = (),
) -> Agreement:
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
        condition = list(dict.fromkeys(_condition_text(t) for t in timing_tests(rule.when)))
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


def _statement_items(
    rule: Rule, sources: Mapping[str, Source]
) -> tuple[NotRecommendedItem | None, AdviceItem | None]:
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


def _given_before(named: frozenset[str], history: TreatmentHistory) -> tuple[GivenBefore, ...]:
    return tuple(
        constructed(
            GivenBefore, {"agent": use.agent, "outcome": use.outcome, "setting": use.setting}
        )
        for use in sorted(history.uses, key=lambda u: (u.agent, u.setting, u.outcome))
        if use.agent in named and use.agent not in history.failed
    )


def _option(
    placed: Placed,
    arrangement: Arrangement,
    *,
    standing: Standing,
    given_before: tuple[GivenBefore, ...],
    waiting: Sequence[Rule],
    tables: _Tables,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> TreatmentOption:
    category = placed.category
    any_systemic = any(p.category in SYSTEMIC_CATEGORIES for p in arrangement.options)
    citations = cite(_unique_citations(placed.rules), sources)
    return _made(
        placed,
        tables,
        citations=citations,
        groups=citation_groups(placed.rules, placed.agents, placed.regimens, citations, sources),
        agreement=_agreement(
            category, placed.named, placed.sources, waiting, sources, placed.rules
        ),
        given_before=given_before,
        notes=tuple(
            _notes(category, arrangement, standing, any_systemic, tables, sources, sentences)
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


def _made(
    placed: Placed,
    tables: _Tables,
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


def _grown_items(
    history: TreatmentHistory,
    arrangement: Arrangement,
    parts: Iterable[Contribution],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    sentences: Sentences,
    memory: dict[Any, NotRecommendedItem] | None = None,
) -> list[NotRecommendedItem]:
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
        ways = _how_it_grew(agent, history)
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
        reason = (
            f"The cancer grew on {agent_name(agent, vocabulary)} ({ways}; the record names "
            "the class, not the drug): no drug of it is offered again"
        )
        if others:
            reason += f" ({join_and([vocabulary[o].name for o in others])})"
    else:
        others = sorted(vocabulary.same_drug(agent) - {agent})
        name = vocabulary[agent].name + _class_words(agent, vocabulary)
        reason = f"The cancer grew on {name} ({ways}): not offered again"
        if others:
            names = join_and([vocabulary[o].name for o in others], "or")
            reason += f", nor as {names}, the same drug"
    reason += "."
    kept_in = [regimen_name(c, vocabulary) for c in kept]
    if kept_in:
        reason += f" A source continues it only in: {'; '.join(kept_in)}."
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
    grew = join_and([vocabulary[d].name + _class_words(d, vocabulary) for d in drugs])
    whole = [a for a in agents if a in CATEGORIES]
    why = (
        f"the cancer grew on {grew}, and no source names another drug of "
        f"{'that class' if len(drugs) == 1 else 'those classes'} after that"
        if not whole
        else f"the cancer grew on {grew}: no type of {vocabulary[whole[0]].name} "
        "the sources name is left untried"
    )
    return NotRecommendedItem.model_construct(
        category=None,
        agents=agents,
        # The item names the drugs; the reason says why (it was said twice in a row).
        reason=f"Not offered: {why}.",
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


def rank(
    fired: Sequence[Rule],
    vocabulary: Vocabulary,
    sources: Mapping[str, Source],
    *,
    history: TreatmentHistory = NO_HISTORY,
    standing: Standing = NO_STANDING,
    waiting: Sequence[Rule] = (),
    sentences: Sentences | None = None,
) -> Answer:
    """Turn the rules that fired into ranked options, not-recommended items and advice.

    ``history`` says what the cancer grew on (never offered again) and what else was given;
    ``standing`` what the sources' orderings need; ``waiting`` the offering rules that did not
    fire only because of a condition on the history (see :func:`waiting_rules`);
    ``sentences`` the statements behind the orderings (:func:`ordering_sentences`), cited in
    notes and in the not-recommended items of drugs the cancer grew on.

    Three steps: :func:`contributions` (per rule), :func:`arrange` (across categories, the
    ranks) and the citations, notes and agreement of each option. :class:`Ranker` takes the
    same steps and remembers each one's answers. The output models are built without
    re-validation (``model_construct``): every value comes from validated rules.
    """
    sentences = sentences or {}
    statements = [_statement_items(rule, sources) for rule in fired]
    tables = _tables(vocabulary)
    parts = contributions(fired, vocabulary, history.failed, removals(fired))
    arrangement = arrange(
        parts,
        vocabulary,
        standing=standing,
        hormone_failed=hormone_failed(history.failed, vocabulary),
    )
    options = tuple(
        _option(
            placed,
            arrangement,
            standing=standing,
            given_before=_given_before(placed.named, history),
            waiting=waiting,
            tables=tables,
            sources=sources,
            sentences=sentences,
        )
        for placed in arrangement.options
    )
    grown = _grown_items(history, arrangement, parts, vocabulary, sources, sentences)
    return (
        options,
        (*grown, *(item for item, _ in statements if item is not None)),
        tuple(advice for _, advice in statements if advice is not None),
    )


def order_keys(
    fired: Sequence[Rule],
    vocabulary: Vocabulary,
    *,
    history: TreatmentHistory = NO_HISTORY,
    standing: Standing = NO_STANDING,
) -> dict[str, OrderKey]:
    """The :class:`OrderKey` of each category :func:`rank` offers for the same arguments,
    by category: the steps of :func:`rank` up to the arrangement, whose keys the ranks are
    the dense ranks of. Explanations read from them why one option comes before another.
    """
    parts = contributions(fired, vocabulary, history.failed, removals(fired))
    arrangement = arrange(
        parts,
        vocabulary,
        standing=standing,
        hormone_failed=hormone_failed(history.failed, vocabulary),
    )
    return {placed.category: placed.key for placed in arrangement.options}


def _content(part: Contribution) -> tuple[Any, ...]:
    # Everything of a contribution but the rule object: its id stands for it (for a man, the
    # rule as it reads for him; the sex is part of the content where this is used).
    return (
        part.rule.id,
        part.tier,
        part.sources,
        part.agents,
        part.regimens,
        part.named_any,
        part.waits_for,
        part.grown,
        part.continued,
        part.withheld,
        part.beside,
    )


def linked_categories(rules: Sequence[Rule], vocabulary: Vocabulary) -> frozenset[str]:
    """The categories whose options depend on one another's: the systemic ones, which the
    sources' orderings tie together, and any that a regimen's partner or an
    ``only_when_none_left`` links to them. Every other category's option is a function of its
    own rules alone, and its place of its :func:`order_key`.
    """
    tables = _tables(vocabulary)
    linked: dict[str, set[str]] = {c: set() for c in CATEGORY_ORDER}
    for rule in rules:
        offer = rule.then.offer
        if offer is None:
            continue
        others: set[str] = set()
        if offer.only_when_none_left is not None:
            others.add(offer.only_when_none_left)
        for regimen in offer.regimens:
            others |= _partners(tuple(regimen.agents), offer.category, tables)
            if regimen.only_beside is not None:
                others.add(regimen.only_beside)
        for other in others:
            linked[offer.category].add(other)
            linked[other].add(offer.category)
    together = set(SYSTEMIC_CATEGORIES)
    grow = [c for c in CATEGORY_ORDER if linked[c]] + list(together)
    while grow:
        category = grow.pop()
        together.add(category)
        grow.extend(linked[category] - together)
    return frozenset(together)


class Ranker:
    """:func:`rank` for one rule set, remembering each step's answers (bounded).

    Whole answers rarely repeat (a history makes almost every patient's key distinct), but
    their parts do: each category's contributions are remembered per distinct input (its
    fired rules, the fired not-recommended statements, the sex and whether the cancer grew on
    each agent its rules name), each arrangement per distinct set of contributions, and each
    option with its citations, notes and agreement per arrangement. The columnar engine
    shares the first two. Every remembered value is immutable, or is never changed once made.
    """

    # How many arrangements, failed sets and statements are remembered, and how many answers'
    # options and grown-on items, before they are forgotten (the memory stays bounded in a
    # long-running service: about 100 MB at most, measured with distinct realistic patients).
    LIMIT = 50_000
    REMEMBERED = 20_000

    def __init__(
        self,
        rules: Sequence[Rule],
        vocabulary: Vocabulary,
        sources: Mapping[str, Source],
        sentences: Sentences,
    ) -> None:
        self.rules = tuple(rules)
        self.vocabulary = vocabulary
        self.sources = sources
        self.sentences = sentences
        self.tables = _tables(vocabulary)
        removing = [i for i, rule in enumerate(self.rules) if rule.then.not_recommended]
        self.columns: list[tuple[int, ...]] = []
        self.offering: list[frozenset[str]] = []
        self.named: list[tuple[str, ...]] = []
        for category in CATEGORY_ORDER:
            offering = [
                i
                for i, rule in enumerate(self.rules)
                if rule.then.offer is not None and rule.then.offer.category == category
            ]
            self.columns.append(tuple(sorted({*offering, *removing})))
            self.offering.append(frozenset(self.rules[i].id for i in offering))
            self.named.append(
                tuple(
                    sorted(
                        {
                            agent
                            for i in offering
                            for offer in [self.rules[i].then.offer]
                            if offer is not None
                            for agent in (
                                *offer.agents,
                                *(a for r in offer.regimens for a in r.agents),
                            )
                        }
                    )
                )
            )
        self._index = {rule.id: i for i, rule in enumerate(self.rules)}
        self._bit = {rule.id: 1 << i for i, rule in enumerate(self.rules)}
        self._masks = [sum(1 << j for j in columns) for columns in self.columns]
        self._by_bits: list[dict[tuple[Any, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self._by_content: list[dict[tuple[Any, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self.together = linked_categories(self.rules, vocabulary)
        self._whole: dict[tuple[Any, ...], Arrangement] = {}
        self._answers: dict[tuple[Any, ...], tuple[TreatmentOption, ...]] = {}
        self._givens: dict[tuple[Any, ...], TreatmentOption] = {}
        self._grown_said: dict[tuple[Any, ...], tuple[NotRecommendedItem, ...]] = {}
        self._grown_parts: dict[Any, NotRecommendedItem] = {}
        self._grown: dict[frozenset[str], tuple[int, ...]] = {}
        self._flags: list[list[tuple[frozenset[str], ...]]] = [[] for _ in CATEGORY_ORDER]
        self._flag_code: list[dict[tuple[frozenset[str], ...], int]] = [{} for _ in CATEGORY_ORDER]
        self.parts: list[list[CategoryParts]] = [[] for _ in CATEGORY_ORDER]
        self._parts_id: list[dict[tuple[Any, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self._arranged: dict[tuple[Any, ...], Arrangement] = {}
        self._said_memory: dict[tuple[int, bool], tuple[Any, Any]] = {}
        self._noted_codes: dict[tuple[Any, ...], int] = {}
        self._alone_options: dict[tuple[int, int], tuple[Placed, ...]] = {}
        self._notes_memory: dict[tuple[str, int], tuple[OptionNote, ...]] = {}
        self._stating = tuple(
            j
            for j, rule in enumerate(self.rules)
            if rule.then.not_recommended is not None or rule.then.advice is not None
        )
        self._stating_mask = sum(1 << j for j in self._stating)
        # Ids are list positions: a new one is handed out under the lock, so that two threads
        # never give one id to two sets of contributions. Lists of contributions are never
        # cleared (they are bounded by the combinations of each category's rules); the rest is.
        self._lock = threading.Lock()

    def grown(self, failed: frozenset[str]) -> tuple[int, ...]:
        """Per category, a code of whether the cancer grew on each agent its rules name
        (:meth:`flags` gives them back).
        """
        found = self._grown.get(failed)
        if found is None:
            with self._lock:
                codes = []
                for category, named in enumerate(self.named):
                    related = self.tables.related
                    flags = tuple(failed & related[agent] for agent in named)
                    known = self._flag_code[category]
                    if flags not in known:
                        known[flags] = len(self._flags[category])
                        self._flags[category].append(flags)
                    codes.append(known[flags])
                if len(self._grown) > self.LIMIT:
                    self._grown.clear()
                found = self._grown[failed] = tuple(codes)
        return found

    def flags(self, category: int, code: int) -> tuple[frozenset[str], ...]:
        """The flags of a code of :meth:`grown`."""
        return self._flags[category][code]

    def grown_count(self, category: int) -> int:
        """How many codes :meth:`grown` has handed out for ``category``."""
        return len(self._flags[category])

    def parts_id(
        self,
        category: int,
        fired: Sequence[int],
        grown: tuple[frozenset[str], ...],
        male: bool,
        failed: frozenset[str],
    ) -> int:
        """The id of a category's contributions: ``fired`` are the indices of the fired rules
        among ``columns[category]``, ``grown`` whether the cancer grew on each agent of
        ``named[category]`` (:meth:`flags` of a code of :meth:`grown`), ``failed`` what it grew
        on. Ids are positions in ``parts[category]`` and never change.
        """
        key = (tuple(fired), grown, male)
        found = self._parts_id[category].get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._parts_id[category].get(key)
            if found is not None:
                return found
            chosen = speaking_of([self.rules[j] for j in fired], ("women",) if male else ())
            name = CATEGORY_ORDER[category]
            own = [r for r in chosen if r.then.offer is not None and r.then.offer.category == name]
            parts = contributions(own, self.vocabulary, failed, removals(chosen))
            found = self._numbered(category, parts, male)
            self._parts_id[category][key] = found
            return found

    def numbered(self, category: int, parts: Sequence[Contribution], male: bool) -> int:
        """The parts id of a category's contributions as :func:`contributions` made them
        (for ``male``: of the rules as they read for a man), numbered by their content.
        """
        with self._lock:
            return self._numbered(category, parts, male)

    def _numbered(self, category: int, parts: Sequence[Contribution], male: bool) -> int:
        # Different inputs often leave the same contributions (a history that only matters
        # to rules that did not fire): those share one id, so that arrangements and options
        # made of them are shared too.
        content = (male, *(_content(part) for part in parts))
        found = self._by_content[category].get(content)
        if found is None:
            self.parts[category].append(CategoryParts(CATEGORY_ORDER[category], parts, self.tables))
            found = self._by_content[category][content] = len(self.parts[category]) - 1
        return found

    def arrangement(
        self, ids: Sequence[tuple[int, int]], standing: Standing, hormone_failed: bool
    ) -> Arrangement:
        """The arrangement of the given (category, parts id) pairs (see :meth:`parts_id`)."""
        key = (tuple(ids), standing, hormone_failed)
        found = self._arranged.get(key)
        if found is None:
            arrangement = arrange(
                [self.parts[c][i] for c, i in ids],
                self.vocabulary,
                standing=standing,
                hormone_failed=hormone_failed,
            )
            if len(self._arranged) > self.LIMIT:
                self._arranged.clear()
            found = self._arranged[key] = arrangement
        return found

    def _alone(self, category: int, parts: int) -> tuple[Placed, ...]:
        # The options of a category arranged alone (``arrangement`` of it by itself).
        key = (category, parts)
        found = self._alone_options.get(key)
        if found is None:
            found = self.arrangement([key], NO_STANDING, False).options
            if len(self._alone_options) > self.LIMIT:
                self._alone_options.clear()
            self._alone_options[key] = found
        return found

    def whole(
        self, ids: Sequence[tuple[int, int]], standing: Standing, hormone_failed: bool
    ) -> tuple[Arrangement, tuple[Any, ...]]:
        """:func:`arrange` of every category's parts: the categories linked to others
        (:func:`linked_categories`) arranged together, each other one alone, and all ranked
        by their :func:`order_key` as :func:`arrange` ranks them; with its key, under which
        :meth:`answer` remembers what it makes of it.
        """
        key = (tuple(ids), standing, hormone_failed)
        remembered = self._whole.get(key)
        if remembered is not None:
            return remembered, key
        together = self.together
        group = self.arrangement(
            [(c, i) for c, i in ids if CATEGORY_ORDER[c] in together], standing, hormone_failed
        )
        alone = [
            placed
            for c, i in ids
            if CATEGORY_ORDER[c] not in together
            for placed in self._alone(c, i)
        ]
        if not alone:
            found = group
        else:
            everything = sorted(
                [*group.options, *alone], key=lambda p: (p.key, _LISTING[p.category])
            )
            ranked: list[Placed] = []
            current_rank, previous_key = 0, None
            for placed in everything:
                if placed.key != previous_key:
                    current_rank, previous_key = current_rank + 1, placed.key
                ranked.append(placed if placed.rank == current_rank else _at(placed, current_rank))
            found = Arrangement(options=tuple(ranked), levels=group.levels)
        if len(self._whole) > self.LIMIT:
            self._whole.clear()
        self._whole[key] = found
        return found, key

    def in_order(self, fired_ids: frozenset[str]) -> tuple[str, ...]:
        """``fired_ids`` in rule-file order."""
        return tuple(sorted(fired_ids, key=self._index.__getitem__))

    def answer(
        self,
        fired_ids: frozenset[str],
        male: bool,
        history: TreatmentHistory,
        standing: Standing,
        waiting_ids: frozenset[str],
    ) -> Answer:
        """What :func:`rank` gives for the fired rules as they read for this patient
        (:func:`speaking_of`), the history, the standing and the waiting rules.
        """
        failed = history.failed
        grown = self.grown(failed)
        bit = self._bit
        bits = 0
        for rule_id in fired_ids:
            bits |= bit[rule_id]
        ids = []
        for c, mask in enumerate(self._masks):
            mine = bits & mask
            key = (mine, grown[c], male)
            found = self._by_bits[c].get(key)
            if found is None:
                fired_here = [j for j in self.columns[c] if mine >> j & 1]
                found = self.parts_id(c, fired_here, self.flags(c, grown[c]), male, failed)
                if len(self._by_bits[c]) < self.LIMIT:
                    self._by_bits[c][key] = found
            if self.parts[c][found].any:
                ids.append((c, found))
        arrangement, memory_key = self.whole(ids, standing, hormone_failed(failed, self.vocabulary))
        # What the options read of the history: the uses of what did not fail.
        given = (
            tuple((u.agent, u.outcome, u.setting) for u in history.uses if u.agent not in failed)
            if history.uses
            else ()
        )
        options_key = (memory_key, male, waiting_ids, given)
        options = self._answers.get(options_key)
        if options is None:
            options = self._options(arrangement, male, history, standing, waiting_ids, given)
            if len(self._answers) > self.REMEMBERED:
                self._answers.clear()
            self._answers[options_key] = options
        said = self._said(bits, male)
        if not failed:
            return options, said[0], said[1]
        grown_key = (memory_key, tuple(u for u in history.uses if u.agent in failed))
        grown_items = self._grown_said.get(grown_key)
        if grown_items is None:
            parts = [
                part
                for c, i in ids
                for cp in [self.parts[c][i]]
                for part in (*cp.offered, *cp.deferred)
            ]
            if len(self._grown_parts) > self.REMEMBERED:
                self._grown_parts.clear()
            grown_items = tuple(
                _grown_items(
                    history,
                    arrangement,
                    parts,
                    self.vocabulary,
                    self.sources,
                    self.sentences,
                    self._grown_parts,
                )
            )
            if len(self._grown_said) > self.REMEMBERED:
                self._grown_said.clear()
            self._grown_said[grown_key] = grown_items
        return options, (*grown_items, *said[0]), said[1]

    def _options(
        self,
        arrangement: Arrangement,
        male: bool,
        history: TreatmentHistory,
        standing: Standing,
        waiting_ids: frozenset[str],
        given: tuple[tuple[str, str, str], ...],
    ) -> tuple[TreatmentOption, ...]:
        levels = arrangement.levels
        any_systemic = any(p.category in SYSTEMIC_CATEGORIES for p in arrangement.options)
        targeted = arrangement.get("targeted_therapy") if standing.her2_positive else None
        # What _notes reads of the arrangement besides the option itself.
        noted = (
            standing,
            any_systemic,
            levels.get("chemotherapy", 0) > levels.get("hormone_therapy", 99),
            levels.get("chemotherapy"),
            None if targeted is None else (targeted.regimens, targeted.named),
        )
        # The keys below hold a code of ``noted`` (a value hashed once here, not once per
        # option and memory): codes are never handed out twice, so a forgotten one only
        # costs a miss.
        code = self._noted_codes.get(noted)
        if code is None:
            if len(self._noted_codes) > self.LIMIT:
                self._noted_codes.clear()
            code = self._noted_codes.setdefault(noted, next(_NOTED_CODES))
        options = []
        for placed in arrangement.options:
            category = CATEGORY_ORDER.index(placed.category)
            waiting = waiting_ids & self.offering[category]
            mine = tuple(use for use in given if use[0] in placed.named)
            option_key = (placed.rank, code, waiting, mine)
            # An entry's memory lives as long as the Ranker (contributions are never
            # forgotten), so its id names it in the shared, bounded memory of given-before
            # variants.
            given_key = (id(placed.memory), option_key)
            option = self._givens.get(given_key) if mine else placed.memory.get(option_key)
            if option is None:
                base_key = (placed.rank, code, waiting, ())
                option = placed.memory.get(base_key)
                if option is None:
                    option = self._option(placed, arrangement, male, standing, waiting, code)
                    if len(placed.memory) < 1024:
                        placed.memory[base_key] = option
                if mine:
                    option = self._given(option, placed, history)
                    if len(self._givens) > self.REMEMBERED:
                        self._givens.clear()
                    self._givens[given_key] = option
            options.append(option)
        return tuple(options)

    def _option(
        self,
        placed: Placed,
        arrangement: Arrangement,
        male: bool,
        standing: Standing,
        waiting: frozenset[str],
        noted: int = -1,
    ) -> TreatmentOption:
        """The option with nothing given before: its citations, agreement and notes are each
        remembered on their own (they repeat across options that differ elsewhere). The notes
        are a function of the category and of what they read of the arrangement (``noted``,
        the code :meth:`_options` gives it; -1: not known, not remembered).
        """
        memory = placed.memory
        citations = memory.get("citations")
        if citations is None:
            citations = memory["citations"] = cite(_unique_citations(placed.rules), self.sources)
        groups_key = ("groups", placed.agents, placed.regimens)
        groups = memory.get(groups_key)
        if groups is None:
            groups = citation_groups(
                placed.rules, placed.agents, placed.regimens, citations, self.sources
            )
            if len(memory) < 1024:
                memory[groups_key] = groups
        agreement_key = ("agreement", placed.named, tuple(r.id for r in placed.rules), waiting)
        agreement = memory.get(agreement_key)
        if agreement is None:
            rules = [r for r in self.rules if r.id in waiting]
            agreement = _agreement(
                placed.category,
                placed.named,
                placed.sources,
                speaking_of(rules, ("women",) if male else ()),
                self.sources,
                placed.rules,
            )
            if len(memory) < 1024:
                memory[agreement_key] = agreement
        notes_key = (placed.category, noted)
        notes = self._notes_memory.get(notes_key) if noted >= 0 else None
        if notes is None:
            any_systemic = any(p.category in SYSTEMIC_CATEGORIES for p in arrangement.options)
            notes = tuple(
                _notes(
                    placed.category,
                    arrangement,
                    standing,
                    any_systemic,
                    self.tables,
                    self.sources,
                    self.sentences,
                )
            )
            if noted >= 0:
                if len(self._notes_memory) > self.LIMIT:
                    self._notes_memory.clear()
                self._notes_memory[notes_key] = notes
        return _made(
            placed,
            self.tables,
            citations=citations,
            groups=groups,
            agreement=agreement,
            given_before=(),
            notes=notes,
        )

    def _given(
        self,
        option: TreatmentOption,
        placed: Placed,
        history: TreatmentHistory,
    ) -> TreatmentOption:
        # The same option, with what of it was given before (and did not fail).
        return constructed(
            TreatmentOption,
            {**option.__dict__, "given_before": _given_before(placed.named, history)},
        )

    def _said(
        self, bits: int, male: bool
    ) -> tuple[tuple[NotRecommendedItem, ...], tuple[AdviceItem, ...]]:
        """The not-recommended statements and the advice of the fired rules (as bits)."""
        key = (bits & self._stating_mask, male)
        found = self._said_memory.get(key)
        if found is None:
            not_recommended: list[NotRecommendedItem] = []
            advice: list[AdviceItem] = []
            for j in self._stating:
                if not bits >> j & 1:
                    continue
                said = speaking_of([self.rules[j]], ("women",) if male else ())
                if not said:
                    continue
                statement, item = _statement_items(said[0], self.sources)
                if statement is not None:
                    not_recommended.append(statement)
                if item is not None:
                    advice.append(item)
            found = (tuple(not_recommended), tuple(advice))
            if len(self._said_memory) > self.LIMIT:
                self._said_memory.clear()
            self._said_memory[key] = found
        return found


# Codes of what an option's notes read of its arrangement (Ranker._options), unique in the
# process: an entry's memory never meets one code for two values, whichever Ranker made it.
_NOTED_CODES = itertools.count()


def _at(placed: Placed, rank: int) -> Placed:
    # dataclasses.replace, without its per-call look at the fields.
    return Placed(
        placed.category,
        rank,
        placed.tier,
        placed.agents,
        placed.regimens,
        placed.sources,
        placed.rules,
        placed.key,
        placed.named,
        placed.memory,
    )


def _notes(
    category: str,
    arrangement: Arrangement,
    standing: Standing,
    any_systemic: bool,
    tables: _Tables,
    sources: Mapping[str, Source],
    sentences: Sentences,
) -> list[OptionNote]:
    notes: list[OptionNote] = []
    levels = arrangement.levels
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
