"""The memoised ranking: :class:`Ranker` takes :func:`~mbc_rules.rank.reference.rank`'s steps
and remembers each one's answers, bounded.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from mbc_rules.facts import TreatmentHistory
from mbc_rules.rank.arrange import (
    SUPPORTIVE,
    Arrangement,
    CategoryParts,
    Placed,
    arrange,
    linked_categories,
    ranked_together,
)
from mbc_rules.rank.citations import Sentences, citation_groups, cite, speaking_of, unique_citations
from mbc_rules.rank.contributions import (
    Contribution,
    class_tables,
    contributions,
    hormone_failed,
    removals,
)
from mbc_rules.rank.present import (
    Answer,
    agreement_of,
    given_before_of,
    grown_and_held_items,
    made_option,
    option_notes,
    statement_items,
)
from mbc_rules.rank.standing import NO_STANDING, Standing
from mbc_rules.result import (
    AdviceItem,
    NotRecommendedItem,
    OptionNote,
    TreatmentOption,
    constructed,
)
from mbc_rules.schema import Rule, Source
from mbc_rules.vocabulary import CATEGORY_ORDER, SYSTEMIC_CATEGORIES, Vocabulary


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


class Ranker:
    """:func:`~mbc_rules.rank.reference.rank` for one rule set, remembering each step's
    answers (bounded).

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
        self.tables = class_tables(vocabulary)
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
        self._moved: dict[tuple[int, int], tuple[Placed, Placed]] = {}
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
        by their :func:`~mbc_rules.rank.arrange.order_key` as :func:`arrange` ranks them; with
        its key, under which :meth:`answer` remembers what it makes of it.
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
        if len(self._moved) > self.LIMIT:
            self._moved.clear()
        found = ranked_together(group, alone, self._moved) if alone else group
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
        """What :func:`~mbc_rules.rank.reference.rank` gives for the fired rules as they read
        for this patient (:func:`speaking_of`), the history, the standing and the waiting rules.
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
                grown_and_held_items(
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
        her2 = standing.her2_positive
        targeted = arrangement.get("targeted_therapy") if her2 else None
        # What option_notes reads of the arrangement besides the option itself, for each
        # kind of category: supportive care reads nothing; other categories that are not
        # systemic whether any systemic option stands (surgery and radiation therapy only);
        # systemic ones the anti-HER2 drugs of the targeted option (when HER2-positive, but
        # for that option itself), and chemotherapy its place beside hormone therapy.
        anti_her2 = (None if targeted is None else (targeted.agents, targeted.regimens),)
        chemotherapy_level = levels.get("chemotherapy")
        reads: dict[str, tuple[Any, ...]] = {
            "chemotherapy": (
                levels.get("chemotherapy", 0) > levels.get("hormone_therapy", 99),
                standing.serious_problems_from_spread and chemotherapy_level == 0,
                *(anti_her2 if her2 else ()),
            ),
            "targeted_therapy": (),
            "surgery": (any_systemic,),
            "radiation_therapy": (any_systemic,),
        }
        systemic_reads = anti_her2 if her2 else ()
        # The keys below hold a code of what a category's notes read (a value hashed once
        # per category here, not once per option and memory): codes are never handed out
        # twice, so a forgotten one only costs a miss.
        codes: dict[str, int] = {}
        options = []
        for placed in arrangement.options:
            name = placed.category
            code = codes.get(name, -1)
            if code < 0:
                if name in SUPPORTIVE:
                    noted: tuple[Any, ...] = ()
                elif name in reads:
                    noted = reads[name]
                else:
                    noted = systemic_reads if name in SYSTEMIC_CATEGORIES else ()
                noted_key = (name, noted)
                code = self._noted_codes.get(noted_key, -1)
                if code < 0:
                    if len(self._noted_codes) > self.LIMIT:
                        self._noted_codes.clear()
                    code = self._noted_codes.setdefault(noted_key, next(_NOTED_CODES))
                codes[name] = code
            category = CATEGORY_ORDER.index(name)
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

        An entry's option is the same at every rank but for its rank (its memory belongs to one
        entry of one category, and the rest of the option reads only the entry, the notes'
        code and the waiting rules): the option made at another rank is copied with this one.
        """
        memory = placed.memory
        unranked_key = ("unranked", noted, waiting)
        other: TreatmentOption | None = memory.get(unranked_key) if noted >= 0 else None
        if other is not None:
            if other.rank == placed.rank:
                return other
            return constructed(TreatmentOption, {**other.__dict__, "rank": placed.rank})
        citations = memory.get("citations")
        if citations is None:
            citations = memory["citations"] = cite(unique_citations(placed.rules), self.sources)
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
            agreement = agreement_of(
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
                option_notes(
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
        option = made_option(
            placed,
            self.tables,
            citations=citations,
            groups=groups,
            agreement=agreement,
            given_before=(),
            notes=notes,
        )
        if noted >= 0 and len(memory) < 1024:
            memory[unranked_key] = option
        return option

    def _given(
        self,
        option: TreatmentOption,
        placed: Placed,
        history: TreatmentHistory,
    ) -> TreatmentOption:
        # The same option, with what of it was given before (and did not fail).
        return constructed(
            TreatmentOption,
            {**option.__dict__, "given_before": given_before_of(placed.named, history)},
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
                statement, item = statement_items(said[0], self.sources)
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
