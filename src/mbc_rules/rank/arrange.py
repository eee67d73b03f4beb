"""The ranks across categories (pure): the sources' orderings, the tier and the number of
sources, as an :class:`OrderKey` per option whose dense rank is the option's rank.

Categories depend on each other here, and only here (:func:`linked_categories`).
:func:`arrange` is the reference; a cohort arranges in its two parts instead, which a test
holds to it: :func:`settle` (which categories are offered, from what each category's parts
do: :class:`Presence`) and :func:`placed_at` (each category's option once settled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

from mbc_rules.rank.contributions import ClassTables, Contribution, class_tables
from mbc_rules.rank.standing import NO_STANDING, Standing
from mbc_rules.schema import Rule
from mbc_rules.vocabulary import (
    CARE_CATEGORIES,
    CATEGORY_ORDER,
    SYSTEMIC_CATEGORIES,
    TIERS,
    Vocabulary,
)

SUPPORTIVE = CARE_CATEGORIES  # ranked after every anticancer option


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
        if _passed_over(part, regimens):
            continue
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
    if hormone is not None and not _stands(
        "hormone_therapy", hormone_failed, bool(hormone.agents or hormone.regimens)
    ):
        del support["hormone_therapy"]
    return support


def _passed_over(part: Contribution, regimens: tuple[tuple[str, ...], ...]) -> bool:
    # Everything this rule named was ruled out for this profile.
    return part.named_any and not part.agents and not regimens


def _stands(category: str, hormone_failed: bool, drugs: bool) -> bool:
    # Hormone therapy after growth on a hormone drug stands only with a drug left to offer.
    return not (category == "hormone_therapy" and hormone_failed and not drugs)


def _partners(combo: tuple[str, ...], own: str, tables: ClassTables) -> frozenset[str]:
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

    def __init__(self, category: str, parts: Iterable[Contribution], tables: ClassTables) -> None:
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
    tables = class_tables(vocabulary)
    return [CategoryParts(c, parts, tables) for c in dict.fromkeys(p.category for p in parts)]


def _levels(
    support: Mapping[str, _Support], standing: Standing, tables: ClassTables
) -> dict[str, int]:
    """The sources' orderings among systemic drugs, as levels (lower comes first)."""
    targeted = support.get("targeted_therapy")
    her2 = targeted is not None and _has_anti_her2(targeted, tables)
    return _levels_of(set(support), her2, standing)


def _levels_of(present: set[str], targeted_her2: bool, standing: Standing) -> dict[str, int]:
    """_levels from what it reads: the categories offered, and whether targeted therapy is
    offered with a HER2-targeted drug.
    """
    sequence: list[str] = []
    if standing.her2_positive and targeted_her2:
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


def _has_anti_her2(entry: _Support, tables: ClassTables) -> bool:
    named = set(entry.agents) | {a for combo in entry.regimens for a in combo}
    return not tables.her2.isdisjoint(named)


def _shown(category: str, entry: _Support, tables: ClassTables) -> _Shown:
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
    """Rank the categories that ``parts`` support: the
    :func:`~mbc_rules.rank.contributions.contributions`, or the same grouped by
    :func:`by_category`.

    Categories depend on each other here, and only here: a regimen whose partner is a whole
    category needs that category offered; an offer ``only_when_none_left`` stands only while
    its category is absent; the sources' orderings put categories before others. Each option's
    rank is the dense rank of its :func:`order_key` among the options offered.
    """
    tables = class_tables(vocabulary)
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
        placed.append(_placed(category, support[category], category_key, current_rank, tables))
    return Arrangement(options=tuple(placed), levels=levels)


def _placed(
    category: str, entry: _Support, key: OrderKey, rank: int, tables: ClassTables
) -> Placed:
    agents, combos, sources, rules, named = _shown(category, entry, tables)
    return Placed(
        category=category,
        rank=rank,
        tier=entry.tier,
        agents=agents,
        regimens=combos,
        sources=sources,
        rules=rules,
        key=key,
        named=named,
        memory=entry.options,
    )


class Presence:
    """How one category's parts take part in :func:`arrange`'s settling of which categories
    are offered: for each set of the categories its regimens need that are still offered
    (``kept``, within ``needed``), and of those its deferred offers wait for that are absent
    (``absent``, within ``waits``), whether it is offered and names a HER2-targeted drug (the
    sources' orderings read that of targeted therapy).

    Parts of many contents take part alike (a targeted therapy of any drugs that needs
    hormone therapy beside it): a cohort arranges once per distinct :meth:`content`, not once
    per distinct set of parts, and places each category afterwards (:func:`placed_at`).
    """

    __slots__ = ("_hormone_failed", "_parts", "_seen", "_tables", "category", "needed", "waits")

    # Past this many categories needed or waited for, content() is not worked out in full (it
    # has 2 ** n entries): such parts take part as themselves.
    WIDEST = 6

    def __init__(self, parts: CategoryParts, vocabulary: Vocabulary, hormone_failed: bool) -> None:
        self.category = parts.category
        self.needed = parts.needed
        self.waits = frozenset(p.waits_for for p in parts.deferred if p.waits_for is not None)
        self._parts = parts
        self._tables = class_tables(vocabulary)
        self._hormone_failed = hormone_failed
        self._seen: dict[tuple[frozenset[str], frozenset[str]], tuple[bool, bool]] = {}

    def at(self, kept: frozenset[str], absent: frozenset[str]) -> tuple[bool, bool]:
        """Whether the category is offered, and names a HER2-targeted drug, with the needed
        categories ``kept`` and the awaited ones ``absent``.
        """
        key = (kept & self.needed, absent & self.waits)
        found = self._seen.get(key)
        if found is None:
            # What _support would make of these parts, read without making it: whether any
            # part is left to offer (and stands), and whether one names a HER2-targeted drug.
            regimens, stand_in = self._state(*key)
            parts = self._parts
            current = regimens if regimens is not None else [p.regimens for p in parts.offered]
            left = [
                (part, combos)
                for part, combos in (
                    *zip(parts.offered, current, strict=True),
                    *((p, p.regimens) for p, s in zip(parts.deferred, stand_in, strict=True) if s),
                )
                if not _passed_over(part, combos)
            ]
            offered = bool(left) and _stands(
                self.category, self._hormone_failed, any(p.agents or c for p, c in left)
            )
            her2 = self._tables.her2
            found = self._seen[key] = (
                offered,
                offered
                and any(
                    not her2.isdisjoint(p.agents) or any(not her2.isdisjoint(r) for r in c)
                    for p, c in left
                ),
            )
        return found

    def _state(
        self, kept: frozenset[str], absent: frozenset[str]
    ) -> tuple[_Regimens | None, tuple[bool, ...]]:
        parts = self._parts
        # Regimens whose partner categories are all kept: arrange drops the others one
        # round after another, and what is left of them is this.
        regimens = (
            None
            if self.needed <= kept
            else tuple(
                tuple(c for c in p.regimens if parts.needs[c] <= kept) for p in parts.offered
            )
        )
        return regimens, tuple(p.waits_for in absent for p in parts.deferred)

    def entry(self, kept: frozenset[str], absent: frozenset[str]) -> _Support | None:
        """The category's entry with the needed categories ``kept`` and the awaited ones
        ``absent``, as arrange's settling leaves it.
        """
        return self._parts.entry(*self._state(kept, absent), self._hormone_failed)

    def content(self) -> tuple[Any, ...] | None:
        """Everything :func:`settle` reads of these parts, as one hashable value (None past
        WIDEST categories needed or waited for).
        """
        needed, waits = sorted(self.needed), sorted(self.waits)
        if len(needed) + len(waits) > self.WIDEST:
            return None
        table = tuple(
            self.at(
                frozenset(c for i, c in enumerate(needed) if k >> i & 1),
                frozenset(c for i, c in enumerate(waits) if a >> i & 1),
            )
            for a in range(1 << len(waits))
            for k in range(1 << len(needed))
        )
        return (self.category, tuple(needed), tuple(waits), table)


class Settled(NamedTuple):
    """What :func:`settle` finds: per category (in the order given), the needed categories
    kept and the awaited ones absent; the categories offered; the orderings' levels.
    """

    kept: tuple[frozenset[str], ...]
    absent: tuple[frozenset[str], ...]
    offered: frozenset[str]
    levels: Mapping[str, int]


def settle(presences: Sequence[Presence], standing: Standing = NO_STANDING) -> Settled:
    """Which categories :func:`arrange` offers, worked out from what each category's parts
    do (:class:`Presence`) as arrange's own rounds do: offers that wait for a category stand
    in when it is absent, regimens whose partner category is absent are dropped, until
    nothing more is dropped; then the sources' orderings give the levels.
    """
    kept = [p.needed for p in presences]
    none: frozenset[str] = frozenset()
    while True:
        quiet = {p.category for p, k in zip(presences, kept, strict=True) if p.at(k, none)[0]}
        absent = [p.waits - quiet for p in presences]
        now = [p.at(k, a) for p, k, a in zip(presences, kept, absent, strict=True)]
        offered = frozenset(p.category for p, (on, _) in zip(presences, now, strict=True) if on)
        after = [k & offered for k in kept]
        if after == kept:
            break
        kept = after
    her2 = any(
        on and her2 and p.category == "targeted_therapy"
        for p, (on, her2) in zip(presences, now, strict=True)
    )
    return Settled(tuple(kept), tuple(absent), offered, _levels_of(set(offered), her2, standing))


def placed_at(
    presence: Presence, kept: frozenset[str], absent: frozenset[str], level: int
) -> Placed | None:
    """The option :func:`arrange` makes of a category's parts once settled (:func:`settle`)
    with ``kept`` and ``absent``, at the orderings' ``level`` (its rank left 0: ranks are of
    a whole arrangement); None when it is not offered.
    """
    entry = presence.entry(kept & presence.needed, absent & presence.waits)
    if entry is None:
        return None
    key = order_key(presence.category, entry.tier, len(entry.sources), level)
    return _placed(presence.category, entry, key, 0, presence._tables)


def linked_categories(rules: Sequence[Rule], vocabulary: Vocabulary) -> frozenset[str]:
    """The categories whose options depend on one another's: the systemic ones, which the
    sources' orderings tie together, and any that a regimen's partner or an
    ``only_when_none_left`` links to them. Every other category's option is a function of its
    own rules alone, and its place of its :func:`order_key`.
    """
    tables = class_tables(vocabulary)
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


def ranked_together(
    group: Arrangement,
    alone: Sequence[Placed],
    memory: dict[tuple[int, int], tuple[Placed, Placed]] | None = None,
) -> Arrangement:
    """The options of ``group`` and of the categories arranged ``alone`` (each a function of
    its own rules, see :func:`linked_categories`), ranked as :func:`arrange` ranks them: the
    dense rank of their :func:`order_key`; the orderings' levels are those of ``group``.

    ``memory`` (the caller's, bounded by it) keeps each option moved to another rank, by the
    identity of the option and the rank: an entry holds its option, so an id is not reused
    while it is remembered.
    """
    everything = sorted([*group.options, *alone], key=lambda p: (p.key, _LISTING[p.category]))
    ranked: list[Placed] = []
    current_rank, previous_key = 0, None
    for placed in everything:
        if placed.key != previous_key:
            current_rank, previous_key = current_rank + 1, placed.key
        if placed.rank == current_rank:
            ranked.append(placed)
        elif memory is None:
            ranked.append(_at(placed, current_rank))
        else:
            key = (id(placed), current_rank)
            found = memory.get(key)
            if found is None or found[0] is not placed:
                found = memory[key] = (placed, _at(placed, current_rank))
            ranked.append(found[1])
    return Arrangement(options=tuple(ranked), levels=group.levels)


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
