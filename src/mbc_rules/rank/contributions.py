"""What each fired rule still names for a patient after removals and the history (pure).

Before anything is ranked, not-recommended statements remove what they name, and so does the
history: nothing the cancer grew on is offered again, alone or in a regimen, unless a cited
sentence continues it (``Regimen.continues``). A contribution is a function of one rule and
of these alone, so the columnar engine computes each once per distinct input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mbc_rules.result import RegimenOption
from mbc_rules.schema import Rule
from mbc_rules.vocabulary import CATEGORIES, TIERS, Vocabulary
from mbc_rules.wording import regimen_words


def regimen_name(agents: Sequence[str], vocabulary: Vocabulary) -> str:
    """'alpelisib with fulvestrant', 'pertuzumab with chemotherapy and trastuzumab': the
    regimen as the reader sees it (``wording.regimen_words``).
    """
    return regimen_words(agents, vocabulary)


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


class ClassTables:
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
        """The result's form of a regimen, made once per regimen."""
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


_TABLES: dict[int, ClassTables] = {}


def class_tables(vocabulary: Vocabulary) -> ClassTables:
    """The :class:`ClassTables` of ``vocabulary``, shared by every ranking of it."""
    found = _TABLES.get(id(vocabulary))
    if found is None or found.vocabulary is not vocabulary:
        if len(_TABLES) > 64:
            _TABLES.clear()
        found = _TABLES[id(vocabulary)] = ClassTables(vocabulary)
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
    return not failed.isdisjoint(class_tables(vocabulary).hormone)


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
    tables = class_tables(vocabulary)

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
