"""The columnar engine: validated columns in, every row's ranked categories out.

Nothing here decides what a fact, a condition or a rank means; it decides how often each is
computed:

* facts: :func:`mbc_rules.facts.derive_facts` is called once per distinct combination of the
  profile fields a group of facts reads (``FactDefinition.reads``), and its values are spread
  to the rows by code;
* conditions: each distinct sub-test of the compiled patterns is computed once, on the few
  distinct values of its fact, and becomes a boolean mask over the rows; a rule's mask is its
  sub-tests' masks joined with ``&`` and ``|``;
* ranking: :func:`mbc_rules.rank.rank`'s own steps, through the rulebase's
  :class:`~mbc_rules.rank.Ranker`: each category's contributions once per distinct input, the
  categories the sources' orderings tie together settled once per distinct set of what their
  contributions do (:func:`mbc_rules.rank.arrange.settle`) and each then placed on its own,
  each other category on its own, and every row's ranks at once as the dense rank of its
  options' ordering keys (:func:`dense_ranks`).

Every answer computed once is remembered, so a cohort read in chunks costs what its distinct
values cost, and memory stays flat in the number of rows apart from the output tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from mbc_rules.cohort.codes import combine
from mbc_rules.conditions import passes
from mbc_rules.facts import FACTS, UNNUMBERED_LINE, EntryFacts, FactValue, derive_facts, entry_facts
from mbc_rules.profile import PatientProfile
from mbc_rules.rank.arrange import Placed, Presence, arrange, placed_at, settle
from mbc_rules.rank.citations import speaking_of
from mbc_rules.rank.contributions import Contribution, contributions, hormone_failed, removals
from mbc_rules.rank.standing import Standing
from mbc_rules.schema import AllOf, Always, Condition, FactTest, NotOf, Rule
from mbc_rules.vocabulary import CATEGORY_ORDER, SYSTEMIC_CATEGORIES, TIERS

if TYPE_CHECKING:
    import numpy as np

    from mbc_rules.cohort.histories import HistoryReader
    from mbc_rules.cohort.reading import ReadColumns
    from mbc_rules.rulebase import Rulebase


_ABSENT = 1 << 62  # the key of a category not offered: after every other
_HISTORY = ("prior_therapies",)

# How each history fact joins its entries' facts (EntryFacts), as facts._history_facts joins
# them one entry at a time: "any" of a flag, the count of "distinct" values that are not None
# (a tuple field: of its members), whether "some" value is not None, or the failed "lines"
# (an unnumbered entry is a line of its own, entries sharing a number are one).
HISTORY_JOINS: dict[str, tuple[str, str]] = {
    "any_prior_therapy": ("any", "anticancer"),
    "her2_targeted_drugs_given": ("distinct", "her2_drug"),
    "treatment_failed": ("any", "grew"),
    "her2_therapy_failed": ("any", "her2_failed"),
    "trastuzumab_failed": ("any", "trastuzumab_failed"),
    "endocrine_therapy_given": ("any", "endocrine"),
    "endocrine_therapy_failed": ("any", "endocrine_failed"),
    "endocrine_classes_failed": ("distinct", "endocrine_class_failed"),
    "tamoxifen_given": ("any", "tamoxifen"),
    "aromatase_inhibitor_failed": ("any", "aromatase_inhibitor_failed"),
    "letrozole_or_anastrozole_failed": ("any", "letrozole_or_anastrozole_failed"),
    "chemotherapy_given": ("some", "chemotherapy_drug"),
    "chemotherapy_drugs_given": ("distinct", "chemotherapy_drug"),
    "chemotherapy_failed": ("any", "chemotherapy_failed"),
    "lines_failed": ("lines", "line"),
}
# Each field of EntryFacts a join reads, once, with how its values are coded.
_ENTRY_COLUMNS = {
    field: "distinct" if how == "some" else how for how, field in HISTORY_JOINS.values()
}


def _or_per_history(
    bits: np.ndarray, lengths: np.ndarray, starts: np.ndarray, some: np.ndarray
) -> np.ndarray:
    """Per history, its entries' ``bits`` or-ed together (0 for a history of no entries)."""
    import numpy as np

    out = np.zeros(len(lengths), dtype=np.int64)
    if some.any():
        out[some] = np.bitwise_or.reduceat(bits, starts[some])
    return out


def _bit_count(bits: np.ndarray) -> np.ndarray:
    """The number of set bits of each (non-negative) int64."""
    import numpy as np

    ones = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
    counted: np.ndarray = ones[bits.view(np.uint8).reshape(-1, 8)].sum(axis=1)
    return counted


def _joined(
    how: str, values: np.ndarray, lengths: np.ndarray, starts: np.ndarray, some: np.ndarray
) -> np.ndarray:
    """One history fact per history from its entries' coded ``values`` (HISTORY_JOINS): a
    count or a flag, as a non-negative int64.
    """
    import numpy as np

    count = len(lengths)
    if how == "any":
        return _or_per_history((values != 0).astype(np.int64), lengths, starts, some)
    if how == "some":
        return _or_per_history((values >= 0).astype(np.int64), lengths, starts, some)
    present = values >= 0 if how == "distinct" else values > UNNUMBERED_LINE
    value: np.ndarray
    if int(values.max(initial=0)) < 63:
        # Each distinct value a bit: a history's distinct values are its entries' bits or-ed.
        bits = np.where(present, np.left_shift(np.int64(1), np.maximum(values, 0)), 0)
        value = _bit_count(_or_per_history(bits, lengths, starts, some))
    else:
        owner = np.repeat(np.arange(count, dtype=np.int64), lengths)
        width = int(values.max(initial=0)) + 1
        pairs = np.unique(owner[present] * width + values[present])
        value = np.bincount(pairs // width, minlength=count)
    if how == "lines":
        # An unnumbered failed entry is a line of its own.
        owner = np.repeat(np.arange(count, dtype=np.int64), lengths)
        value = value + np.bincount(owner[values == UNNUMBERED_LINE], minlength=count)
    return value


def dense_ranks(keys: np.ndarray) -> np.ndarray:
    """Per row, each key's dense rank among the row's keys (1 is the smallest; equal keys
    share a rank, as :func:`mbc_rules.rank.arrange` ranks them); 0 where the key is
    ``_ABSENT``.
    """
    import numpy as np

    if keys.size == 0:
        return np.zeros(keys.shape, dtype=np.int64)
    order = np.argsort(keys, axis=1, kind="stable")
    ordered = np.take_along_axis(keys, order, axis=1)
    new = np.ones(ordered.shape, dtype=bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    dense = np.cumsum(new, axis=1)
    ranks = np.empty_like(dense)
    np.put_along_axis(ranks, order, dense, axis=1)
    ranks[keys == _ABSENT] = 0
    return ranks


class LongOption(NamedTuple):
    """What a cohort's long table holds of an option (the rank aside)."""

    tier: str
    agents: tuple[str, ...]
    source_ids: tuple[str, ...]


@dataclass
class ChunkAnswer:
    """The columnar answer for the valid rows of one chunk."""

    rows: np.ndarray  # positions within the chunk
    ranks: np.ndarray  # (rows, categories), 0 where the category is not offered
    options: np.ndarray  # (rows, categories), index into ColumnarEngine.options[c], -1 none
    fired: np.ndarray  # (rows, rules) bool


class ColumnarEngine:
    """Evaluates validated columns for one rulebase, remembering every distinct answer."""

    def __init__(self, rulebase: Rulebase) -> None:
        # What it reads of the rulebase, not the rulebase: the engine is remembered per
        # rulebase (weakly, cohort/frames.py) and must not keep it alive.
        self.rules = rulebase.rules
        self.vocabulary = rulebase.vocabulary
        self.rule_ids = tuple(rule.id for rule in rulebase.rules)
        self.conditions: tuple[Condition, ...] = rulebase.compiled.conditions
        groups: dict[tuple[str, ...], list[str]] = {}
        for fact in FACTS.values():
            groups.setdefault(tuple(sorted(set(fact.reads))), []).append(fact.name)
        self.fact_groups = groups
        self._empty = PatientProfile.model_validate({})
        self._facts: dict[tuple[tuple[str, ...], tuple[int, ...]], tuple[int, ...]] = {}
        self._values: dict[str, list[FactValue]] = {name: [] for name in FACTS}
        self._value_index: dict[str, dict[tuple[type, FactValue], int]] = {n: {} for n in FACTS}
        self._verdicts: dict[Any, np.ndarray] = {}
        self._value_codes: dict[tuple[Any, ...], tuple[int, ...]] = {}
        self.options: list[list[LongOption]] = [[] for _ in CATEGORY_ORDER]
        self._option_of: list[dict[LongOption, int]] = [{} for _ in CATEGORY_ORDER]
        # Ranking: the rulebase's own Ranker, whose memory of each category's contributions
        # and of each arrangement the single evaluations share.
        import numpy as np

        self.ranker = rulebase.ranker
        self._key_columns = [np.array(c, dtype=np.int64) for c in self.ranker.columns]
        self._failed: list[frozenset[str]] = []
        self._failed_id: dict[frozenset[str], int] = {}
        # Histories, joined from their entries (see _read_histories): per history code, its
        # history facts' value codes and the code of what the cancer grew on.
        self._history_names = groups.get(_HISTORY, [])
        if set(self._history_names) != set(HISTORY_JOINS):
            # A new history fact needs its join here, beside its reading in facts.py.
            raise AssertionError(
                f"history facts {sorted(self._history_names)} but joins for "
                f"{sorted(HISTORY_JOINS)} (cohort/columnar.py HISTORY_JOINS)"
            )
        self._history_source: HistoryReader | None = None
        self._entries: list[EntryFacts] = []
        self._entry_columns: dict[str, list[int]] = {f: [] for _, f in HISTORY_JOINS.values()}
        self._distinct_code: dict[Any, int] = {}
        # Each distinct grown_on set of an entry, numbered on its own: its bit in _grown_bits.
        self._grown_sets: dict[frozenset[str], int] = {}
        self._grown_bits: list[int] = []
        self._failed_of_bits: dict[int, int] = {}
        self._history_facts = np.zeros((0, len(self._history_names)), dtype=np.int32)
        self._history_failed = np.zeros(0, dtype=np.int64)
        self._hormone_failed: list[bool] = []
        # Per category and failed set, a code of how the history stands to each (agent, the
        # drugs its offer switches from) the category's rules name: offered, grown on, or held
        # back by its class (see _verdict_code). Contributions differ between two failed sets
        # of equal code only in which drugs held an agent back: words, not the long table.
        self._pairs = [self._named_pairs(category) for category in range(len(CATEGORY_ORDER))]
        # The drugs whose growth can change a verdict of the category (Tables.withheld reads
        # the failed set only through ``related``).
        related = self.ranker.tables.related
        self._related = [
            frozenset().union(*(related[agent] for agent, _ in pairs)) for pairs in self._pairs
        ]
        self._grown_code: list[list[int]] = [[] for _ in CATEGORY_ORDER]
        self._verdict_codes: list[dict[tuple[str | None, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self._verdict_by_relevant: list[dict[frozenset[str], int]] = [{} for _ in CATEGORY_ORDER]
        # The same verdicts as numbers, a row per verdicts code (see _verdict_matrix).
        self._verdict_kinds: dict[str | None, int] = {None: 0}
        self._verdict_tables = [np.zeros((0, len(pairs)), dtype=np.int64) for pairs in self._pairs]
        # Per category, parts ids numbered by what arranging them reads (their content but
        # the drugs behind a held-back agent): placements, each with one parts id standing
        # for it.
        self._placement_of: list[dict[int, int]] = [{} for _ in CATEGORY_ORDER]
        self._placement_key: list[dict[tuple[Any, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self._placed_parts: list[list[int]] = [[] for _ in CATEGORY_ORDER]
        self._coarse_parts: list[dict[tuple[int, int, int], int]] = [{} for _ in CATEGORY_ORDER]
        self._verdicts_of: list[list[tuple[str | None, ...]]] = [[] for _ in CATEGORY_ORDER]
        self._fired_positions: list[dict[int, tuple[int, ...]]] = [{} for _ in CATEGORY_ORDER]
        self._by_verdicts: list[dict[tuple[Any, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self._removed: dict[
            tuple[tuple[int, ...], bool], tuple[frozenset[str], frozenset[str]]
        ] = {}
        self._by_rule: dict[tuple[Any, ...], tuple[Contribution, ...]] = {}
        # Each rule as it reads for a man (Ranker.parts_id reads them so): without the
        # sentences that speak only of women, None when none is left.
        self._male_rules: list[Rule | None] = [
            kept[0] if (kept := speaking_of([rule], ("women",))) else None
            for rule in rulebase.rules
        ]
        # For each offering rule, where the (agent, switch) pairs it names stand in its
        # category's pairs (None: not an offering rule).
        self._rule_pairs: list[tuple[int, ...] | None] = []
        for rule in rulebase.rules:
            offer = rule.then.offer
            if offer is None:
                self._rule_pairs.append(None)
                continue
            pairs = self._pairs[CATEGORY_ORDER.index(offer.category)]
            switch = (
                self.ranker.tables.switch(offer.switch_from) if offer.switch_from else frozenset()
            )
            named = (*offer.agents, *(a for r in offer.regimens for a in r.agents))
            self._rule_pairs.append(tuple(pairs.index((agent, switch)) for agent in named))
        # Per category, by key column (a rule): which of the category's pairs the rule names.
        self._rule_incidence = []
        for category, columns in enumerate(self.ranker.columns):
            incidence = np.zeros((len(columns), len(self._pairs[category])), dtype=np.int64)
            name = CATEGORY_ORDER[category]
            for at, j in enumerate(columns):
                offer = rulebase.rules[j].then.offer
                positions = self._rule_pairs[j]
                if offer is not None and offer.category == name and positions is not None:
                    incidence[at, list(positions)] = 1
            self._rule_incidence.append(incidence)
        # Per category arranged together, by hormone_failed: each placement's Presence and
        # its code (equal codes for equal Presence.content), a representative Presence per
        # code, the settling of each distinct set of codes and standing, and the option of
        # each placement as settled (see rank).
        self._presences: list[dict[tuple[int, int], Presence]] = [{} for _ in CATEGORY_ORDER]
        self._presence_codes_of: list[dict[tuple[int, int], int]] = [{} for _ in CATEGORY_ORDER]
        self._presence_code: list[dict[tuple[Any, ...], int]] = [{} for _ in CATEGORY_ORDER]
        self._presence_of: list[list[Presence]] = [[] for _ in CATEGORY_ORDER]
        self._settled: dict[tuple[int, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self._state_code: dict[tuple[frozenset[str], frozenset[str]], int] = {}
        self._states: list[tuple[frozenset[str], frozenset[str]]] = []
        self._settled_options: list[dict[tuple[int, int, int, int], tuple[int, int]]] = [
            {} for _ in CATEGORY_ORDER
        ]
        self._alone_options: list[dict[int, tuple[int, int]]] = [{} for _ in CATEGORY_ORDER]
        together = self.ranker.together
        self._group = [i for i, c in enumerate(CATEGORY_ORDER) if c in together]
        self._alone = [i for i, c in enumerate(CATEGORY_ORDER) if c not in together]
        self._key_bounds = (
            (0, 1),
            (0, 1),
            (0, len(SYSTEMIC_CATEGORIES)),
            (0, len(TIERS)),
            (-len(rulebase.sources), 0),
        )

    # -- facts ---------------------------------------------------------------------------
    def facts(
        self, read: ReadColumns, rows: np.ndarray
    ) -> dict[str, tuple[np.ndarray, list[FactValue]]]:
        """For each fact, a code per row into that fact's distinct values."""
        import numpy as np

        out: dict[str, tuple[np.ndarray, list[FactValue]]] = {}
        vocabulary = self.vocabulary
        for fields, names in self.fact_groups.items():
            if fields == _HISTORY:
                history = self._read_histories(read)[read.codes[_HISTORY[0]][rows]]
                for index, name in enumerate(names):
                    out[name] = (history[:, index], self._values[name])
                continue
            if fields:
                combo, first = combine(
                    [read.codes[f][rows] for f in fields], [len(read.values[f]) for f in fields]
                )
            else:
                combo = self._zeros(len(rows))
                first = self._zeros(1)
            at_first = rows[first]
            combos = zip(*[read.codes[f][at_first].tolist() for f in fields], strict=True)
            table: list[tuple[int, ...]] = []
            for codes in combos if fields else [()]:
                key = (fields, codes)
                found = self._facts.get(key)
                if found is None:
                    # A copy of the empty profile with these fields set: model_construct would
                    # inspect every default factory again on each call.
                    profile = self._empty.model_copy(
                        update={
                            f: read.values[f][code] for f, code in zip(fields, key[1], strict=True)
                        }
                    )
                    derived = derive_facts(profile, vocabulary)
                    values = tuple(derived[n] for n in names)
                    # Many combinations derive the same facts (17,000 histories, a few hundred
                    # sets of history facts): each set is numbered once. A fact's values all
                    # have its kind's type, so equal tuples are equal value by value.
                    found = self._value_codes.get((fields, values))
                    if found is None:
                        found = self._value_codes[(fields, values)] = tuple(
                            self._value_code(n, v) for n, v in zip(names, values, strict=True)
                        )
                    self._facts[key] = found
                table.append(found)
            matrix = np.array(table, dtype=np.int32).reshape(len(table), len(names))
            for index, name in enumerate(names):
                out[name] = (matrix[:, index][combo], self._values[name])
        return out

    def _read_histories(self, read: ReadColumns) -> np.ndarray:
        """Per history code, its history facts' value codes; the code of what the cancer
        grew on is kept beside them (``_history_failed``). Histories read since the last
        call are joined from their entries' facts with array operations.
        """
        import numpy as np

        if read.histories is not self._history_source:
            # The tables follow one reader's codes (the validator paired with this engine).
            self._history_source = read.histories
            self._entries, self._grown_bits, self._failed_of_bits = [], [], {}
            self._grown_sets = {}
            self._entry_columns = {f: [] for _, f in HISTORY_JOINS.values()}
            self._history_facts = np.zeros((0, len(self._history_names)), dtype=np.int32)
            self._history_failed = np.zeros(0, dtype=np.int64)
        done = len(self._history_facts)
        count = len(read.histories.entries) - done
        if not count:
            return self._history_facts
        for therapy in read.histories.therapies[len(self._entries) :]:
            self._add_entry(entry_facts(therapy, self.vocabulary))
        lengths, flat = read.histories.entry_codes(done)
        joined = np.empty((count, len(self._history_names)), dtype=np.int32)
        starts = np.cumsum(lengths) - lengths
        some = lengths > 0
        for index, name in enumerate(self._history_names):
            how, field = HISTORY_JOINS[name]
            values = np.asarray(self._entry_columns[field], dtype=np.int64)[flat]
            value = _joined(how, values, lengths, starts, some)
            # A join's values are small counts or flags: each is read as a fact value once.
            kind = bool if how in ("any", "some") else int
            table = np.array(
                [self._value_code(name, kind(v)) for v in range(int(value.max(initial=0)) + 1)],
                dtype=np.int64,
            )
            joined[:, index] = table[value]
        failed = self._failed_of_histories(read.histories.entries[done:], lengths, flat)
        self._history_facts = np.concatenate([self._history_facts, joined])
        self._history_failed = np.concatenate([self._history_failed, failed])
        return self._history_facts

    def _failed_of_histories(
        self, histories: Sequence[tuple[int, ...]], lengths: np.ndarray, flat: np.ndarray
    ) -> np.ndarray:
        """Per history, the code of what the cancer grew on: the union of its entries'
        ``grown_on``, found by the set of distinct ``grown_on`` values among them (bits).
        """
        import numpy as np

        count = len(histories)
        bits_of = self._grown_bits
        failed_of_bits = self._failed_of_bits
        width = max(bits_of, default=0).bit_length()
        if width <= 63:
            # Each history's bits at once: its entries' bits or-ed together.
            entry_bits = np.asarray(bits_of, dtype=np.int64)[flat]
            history_bits = np.zeros(count, dtype=np.int64)
            some = lengths > 0
            if some.any():
                starts = np.cumsum(lengths) - lengths
                history_bits[some] = np.bitwise_or.reduceat(entry_bits, starts[some])
            distinct, inverse = np.unique(history_bits, return_inverse=True)
            by_bits = [failed_of_bits.get(b) for b in distinct.tolist()]
            for index, bits in enumerate(distinct.tolist()):
                if by_bits[index] is None:
                    sets = list(self._grown_sets)  # in the order of their bits
                    grown = frozenset().union(
                        *(sets[bit] for bit in range(bits.bit_length()) if bits >> bit & 1)
                    )
                    by_bits[index] = failed_of_bits[bits] = self._failed_code(grown)
            failed: np.ndarray = np.asarray(by_bits, dtype=np.int64)[
                np.asarray(inverse).reshape(-1)
            ]
            return failed
        failed = np.empty(count, dtype=np.int64)
        for index, entries in enumerate(histories):
            bits = 0
            for entry in entries:
                bits |= bits_of[entry]
            code = failed_of_bits.get(bits)
            if code is None:
                grown = frozenset().union(
                    *(self._entries[e].grown_on for e in entries if bits_of[e])
                )
                code = failed_of_bits[bits] = self._failed_code(grown)
            failed[index] = code
        return failed

    def _add_entry(self, entry: EntryFacts) -> None:
        for field, how in _ENTRY_COLUMNS.items():
            value = getattr(entry, field)
            if how == "any":
                code = int(bool(value))
            elif how == "lines":
                code = -1 if value is None else int(value)
            elif isinstance(value, tuple):  # a tuple field: () or one member
                code = self._distinct(field, value[0]) if value else -1
            else:
                code = -1 if value is None else self._distinct(field, value)
            self._entry_columns[field].append(code)
        # What growth on it is growth on, as bits of one number per distinct set.
        bit = 0
        if entry.grown_on:
            bit = 1 << self._grown_sets.setdefault(entry.grown_on, len(self._grown_sets))
        self._grown_bits.append(bit)
        self._entries.append(entry)

    def _distinct(self, field: str, value: Any) -> int:
        key = (field, value)
        code = self._distinct_code.get(key)
        if code is None:
            code = self._distinct_code[key] = len(self._distinct_code)
        return code

    def _value_code(self, fact: str, value: FactValue) -> int:
        # Each fact's distinct values are numbered once, across chunks: a condition's verdict
        # on a value is then worked out once (see masks), not once per chunk.
        index = self._value_index[fact]
        key = (value.__class__, value)
        code = index.get(key)
        if code is None:
            code = index[key] = len(self._values[fact])
            self._values[fact].append(value)
        return code

    @staticmethod
    def _zeros(count: int) -> np.ndarray:
        import numpy as np

        return np.zeros(count, dtype=np.int64)

    # -- conditions ----------------------------------------------------------------------
    def masks(self, facts: dict[str, tuple[np.ndarray, list[FactValue]]], count: int) -> np.ndarray:
        """(rows, rules): which rules fire for which rows.

        A fact test is decided by :func:`mbc_rules.conditions.passes` once per distinct value
        of its fact; ``all``, ``any`` and ``not`` join the tests' masks as
        :func:`mbc_rules.conditions.holds` joins their verdicts.
        """
        import numpy as np

        cache: dict[Any, np.ndarray] = {}

        def mask(condition: Condition) -> np.ndarray:
            if isinstance(condition, FactTest):
                operand = condition.operand
                key: Any = (
                    condition.fact,
                    condition.operator,
                    tuple(operand) if isinstance(operand, list) else operand,
                    type(operand).__name__,
                )
                found = cache.get(key)
                if found is None:
                    codes, values = facts[condition.fact]
                    # The verdict on each distinct value, extended as new values appear.
                    known = self._verdicts.get(key)
                    if known is None or len(known) < len(values):
                        done = 0 if known is None else len(known)
                        more = np.fromiter(
                            (passes(condition.operator, operand, v) for v in values[done:]),
                            dtype=bool,
                            count=len(values) - done,
                        )
                        known = more if known is None else np.concatenate([known, more])
                        self._verdicts[key] = known
                    found = cache[key] = known[codes]
                return found
            if isinstance(condition, NotOf):
                return ~mask(condition.not_)
            if isinstance(condition, Always):
                return np.ones(count, dtype=bool)
            parts = condition.all if isinstance(condition, AllOf) else condition.any
            join: Callable[..., Any] = (
                np.logical_and if isinstance(condition, AllOf) else np.logical_or
            )
            combined = mask(parts[0]).copy()
            for part in parts[1:]:
                join(combined, mask(part), out=combined)
            return combined

        fired = np.empty((count, len(self.conditions)), dtype=bool, order="F")
        for index, condition in enumerate(self.conditions):
            fired[:, index] = mask(condition)
        return fired

    # -- ranking -------------------------------------------------------------------------
    def rank(
        self,
        read: ReadColumns,
        rows: np.ndarray,
        facts: dict[str, tuple[np.ndarray, list[FactValue]]],
        fired: np.ndarray,
        male: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's option per category and its rank (0 where not offered).

        The ranking is :func:`mbc_rules.rank.rank`'s own two steps, computed once per distinct
        input of each: a category's :func:`~mbc_rules.rank.contributions` depend only on its
        fired offering rules, the fired not-recommended statements, the sex (the sentences
        about women) and whether the cancer grew on each agent those rules name;
        :func:`~mbc_rules.rank.arrange` only on every category's contributions, the standing
        and whether the cancer grew on a hormone drug. Arranging is done in arrange's own
        two parts (:func:`~mbc_rules.rank.arrange.settle` and
        :func:`~mbc_rules.rank.arrange.placed_at`): which categories are offered and their
        levels depend on each category's contributions only through what they do
        (:class:`~mbc_rules.rank.arrange.Presence`), a few dozen distinct values at 100,000
        distinct histories, where whole arrangements were 3,012.
        """
        import numpy as np

        count = len(rows)
        width = len(CATEGORY_ORDER)
        if count == 0:
            return np.full((0, width), -1, dtype=np.int64), np.zeros((0, width), dtype=np.int64)
        failed = self._failed_codes(read, rows)
        male_code = male.astype(np.int64)
        part_codes = [
            self._category_parts(category, fired, failed, male_code) for category in range(width)
        ]
        options = np.full((count, width), -1, dtype=np.int64)
        keys = np.full((count, width), _ABSENT, dtype=np.int64)
        # Categories that no other depends on, and that depend on none: their option and its
        # key are a function of their own contributions.
        for category in self._alone:
            table = np.array(
                [self._alone_option(category, i) for i in range(len(self._placed_parts[category]))]
                or [(-1, _ABSENT)],
                dtype=np.int64,
            )
            options[:, category], keys[:, category] = table[part_codes[category]].T
        # The rest are arranged together: each row's categories are settled (which are
        # offered, what of their regimens and deferred offers stands, the orderings' levels)
        # once per distinct set of Presence codes and standing, by rank.arrange.settle, and
        # each category then placed on its own as settled (rank.arrange.placed_at).
        group = self._group
        standing = self._standing_codes(facts)
        hormone = np.asarray(self._hormone_failed, dtype=np.int64)[failed]
        presence = [self._presence_codes(c, part_codes[c], hormone) for c in group]
        combined, first = combine(
            [*presence, standing], [*(len(self._presence_of[c]) for c in group), 8]
        )
        states = np.empty((len(first), len(group)), dtype=np.int64)
        levels = np.empty((len(first), len(group)), dtype=np.int64)
        columns = [c[first].tolist() for c in [*presence, standing]]
        for index, key in enumerate(zip(*columns, strict=True)):
            found = self._settled.get(key)
            if found is None:
                found = self._settle(key)
            states[index], levels[index] = found
        for at, category in enumerate(group):
            options[:, category], keys[:, category] = self._settled_option_codes(
                category, part_codes[category], states[combined, at], levels[combined, at], hormone
            )
        return options, dense_ranks(keys)

    def _failed_codes(self, read: ReadColumns, rows: np.ndarray) -> np.ndarray:
        """For each row, a code of what its cancer grew on (one per distinct set)."""
        self._read_histories(read)
        failed: np.ndarray = self._history_failed[read.codes[_HISTORY[0]][rows]]
        return failed

    def _failed_code(self, failed: frozenset[str]) -> int:
        code = self._failed_id.get(failed)
        if code is None:
            code = self._failed_id[failed] = len(self._failed)
            self._failed.append(failed)
            self._hormone_failed.append(hormone_failed(failed, self.vocabulary))
            for category in range(len(CATEGORY_ORDER)):
                self._grown_code[category].append(self._verdict_code(category, failed))
        return code

    def _named_pairs(self, category: int) -> tuple[tuple[str, frozenset[str]], ...]:
        tables = self.ranker.tables
        pairs: dict[tuple[str, frozenset[str]], None] = {}
        name = CATEGORY_ORDER[category]
        for rule in self.rules:
            offer = rule.then.offer
            if offer is None or offer.category != name:
                continue
            switch = tables.switch(offer.switch_from) if offer.switch_from else frozenset()
            for agent in (*offer.agents, *(a for r in offer.regimens for a in r.agents)):
                pairs[(agent, switch)] = None
        return tuple(pairs)

    def _verdict_code(self, category: int, failed: frozenset[str]) -> int:
        # Tables.withheld reads the failed set only through the agent's related drugs, all of
        # them within the category's: failed sets that meet those alike share the verdicts.
        relevant = failed & self._related[category]
        by_relevant = self._verdict_by_relevant[category]
        found = by_relevant.get(relevant)
        if found is not None:
            return found
        if not relevant:
            verdicts: tuple[str | None, ...] = (None,) * len(self._pairs[category])
        else:
            withheld = self.ranker.tables.withheld
            verdicts = tuple(
                None if (v := withheld(agent, failed, switch)) is None else v[0]
                for agent, switch in self._pairs[category]
            )
        known = self._verdict_codes[category]
        code = known.get(verdicts)
        if code is None:
            code = known[verdicts] = len(known)
            self._verdicts_of[category].append(verdicts)
        by_relevant[relevant] = code
        return code

    def _verdict_placement(
        self,
        category: int,
        fired: list[int],
        verdict: int,
        row_failed: frozenset[str],
        bits: int,
        male: bool,
    ) -> int:
        """The placement of a patient's contributions, remembered by the fired rules, the sex
        and the verdicts on the agents those rules name (not on every agent the category's
        rules name).
        """
        rules = self.rules
        name = CATEGORY_ORDER[category]
        positions = self._fired_positions[category].get(bits) if bits >= 0 else None
        if positions is None:
            positions = tuple(
                sorted(
                    {
                        p
                        for j in fired
                        if (at := self._rule_pairs[j]) is not None
                        and rules[j].then.offer.category == name  # type: ignore[union-attr]
                        for p in at
                    }
                )
            )
            if bits >= 0:
                self._fired_positions[category][bits] = positions
        verdicts = self._verdicts_of[category][verdict]
        key = (bits, male, tuple(verdicts[p] for p in positions))
        found = self._by_verdicts[category].get(key) if bits >= 0 else None
        if found is None:
            parts = self._contributed(category, fired, verdict, row_failed, male)
            found = self._placement(category, parts)
            if bits >= 0:
                self._by_verdicts[category][key] = found
        return found

    def _read_for(self, rule: int, male: bool) -> Rule | None:
        """The rule as it reads for the patient's sex (see __init__)."""
        return self._male_rules[rule] if male else self.rules[rule]

    def _contributed(
        self,
        category: int,
        fired: list[int],
        verdict: int,
        row_failed: frozenset[str],
        male: bool,
    ) -> int:
        """The parts id of a patient's contributions to ``category``:
        :func:`~mbc_rules.rank.contributions` is a map over the offering rules (as they read
        for the patient's sex), and each rule's contribution depends on the fired
        not-recommended statements and on the verdicts of the agents it names: it is made
        once per distinct value of these.
        """
        read = [(j, rule) for j in fired if (rule := self._read_for(j, male)) is not None]
        removed = self._removed.get((tuple(fired), male))
        if removed is None:
            removed = self._removed[(tuple(fired), male)] = removals([r for _, r in read])
        verdicts = self._verdicts_of[category][verdict]
        name = CATEGORY_ORDER[category]
        parts: list[Contribution] = []
        memory = self._by_rule
        for j, rule in read:
            positions = self._rule_pairs[j]
            if positions is None or rule.then.offer.category != name:  # type: ignore[union-attr]
                continue
            key = (j, male, removed, tuple(verdicts[p] for p in positions))
            made = memory.get(key)
            if made is None:
                made = memory[key] = contributions([rule], self.vocabulary, row_failed, removed)
            parts.extend(made)
        return self.ranker.numbered(category, parts, male)

    def _placement(self, category: int, parts: int) -> int:
        """The placement of a parts id (see __init__)."""
        found = self._placement_of[category].get(parts)
        if found is None:
            entry = self.ranker.parts[category][parts]
            # What arrange reads of a part for the long table: not the rule (it names the
            # option's citations, not its drugs, tier or sources), not a part left with
            # nothing to offer (arrange passes over it), and not the parts' order (an option
            # takes the best tier and every source, and lists its drugs sorted).
            key = tuple(
                frozenset(
                    (
                        part.tier,
                        part.sources,
                        part.agents,
                        part.regimens,
                        part.waits_for,
                        part.grown,
                        part.continued,
                        part.beside,
                    )
                    for part in parts_of
                    if not (part.named_any and not part.agents and not part.regimens)
                )
                for parts_of in (entry.offered, entry.deferred)
            )
            known = self._placement_key[category]
            found = known.get(key)
            if found is None:
                found = known[key] = len(self._placed_parts[category])
                self._placed_parts[category].append(parts)
            self._placement_of[category][parts] = found
        return found

    def _category_parts(
        self, category: int, fired: np.ndarray, failed: np.ndarray, male: np.ndarray
    ) -> np.ndarray:
        """For each row, the id of its contributions to ``category`` (see :meth:`rank`)."""
        import numpy as np
        import pandas as pd

        columns = self._key_columns[category]
        if not self.ranker.offering[category]:
            # No rule offers this category: every row has the one empty set of contributions,
            # numbered by the Ranker like any other (a rule set of one's own may lack a
            # category; issue 20 found an IndexError here).
            empty = self.ranker.parts_id(category, [], (), False, frozenset())
            return np.full(len(failed), self._placement(category, empty), dtype=np.int64)
        sub = fired[:, columns]
        if len(columns) <= 62:
            weights = np.left_shift(np.int64(1), np.arange(len(columns), dtype=np.int64))
            bits = sub.astype(np.int64) @ weights
            fired_code_, fired_values = pd.factorize(bits)
            fired_code = np.asarray(fired_code_, dtype=np.int64)
            fired_count = len(fired_values)
        else:
            _, inverse_ = np.unique(sub, axis=0, return_inverse=True)
            fired_code = np.asarray(inverse_, dtype=np.int64).reshape(-1)
            fired_count = int(fired_code.max()) + 1
        grown = np.asarray(self._grown_code[category], dtype=np.int64)[failed]
        combined, first = combine(
            [fired_code, grown, male], [fired_count, len(self._verdict_codes[category]), 2]
        )
        # A placement depends on the verdicts on the agents the fired rules name, not on
        # every agent of the category (see _verdict_placement): the combinations are
        # narrowed to those verdicts with array operations, and only each distinct narrowed
        # key is worked out in Python.
        narrow, leaders = combine(
            *self._narrowed(category, sub, fired_code, fired_count, first, grown, male)
        )
        table = np.empty(len(leaders), dtype=np.int64)
        coarse = self._coarse_parts[category]
        bits_of = bits if len(columns) <= 62 else None
        for index, row in enumerate(first[leaders].tolist()):
            key = (
                int(bits_of[row]) if bits_of is not None else -1,
                int(grown[row]),
                int(male[row]),
            )
            found = coarse.get(key) if bits_of is not None else None
            if found is None:
                # The first row of this key stands for every row of it: the same fired rules
                # and verdicts give the same placement, whichever drugs held an agent back.
                row_failed = self._failed[int(failed[row])]
                fired_rules = [int(j) for j in columns[np.flatnonzero(sub[row])]]
                found = self._verdict_placement(
                    category, fired_rules, int(grown[row]), row_failed, key[0], bool(male[row])
                )
                if bits_of is not None:
                    coarse[key] = found
            table[index] = found
        table = table[narrow]
        placements: np.ndarray = table[combined]
        return placements

    def _narrowed(
        self,
        category: int,
        sub: np.ndarray,
        fired_code: np.ndarray,
        fired_count: int,
        first: np.ndarray,
        grown: np.ndarray,
        male: np.ndarray,
    ) -> tuple[list[np.ndarray], list[int]]:
        """For the combinations at rows ``first``: code columns and their radices whose
        combination is a combination's narrowed key (for combine): its fired rules, its sex,
        and the verdict on each agent its fired rules name (-1 for the others).
        """
        import numpy as np

        from mbc_rules.cohort.codes import first_rows

        pairs = len(self._pairs[category])
        verdicts = self._verdict_matrix(category)
        # Which of the category's (agent, switch) pairs each distinct set of fired rules names.
        incidence = self._rule_incidence[category]
        named = (sub[first_rows(fired_code, fired_count)].astype(np.int64) @ incidence) > 0
        fired = fired_code[first]
        kept = np.where(named[fired], verdicts[grown[first]], -1)
        columns = [fired, male[first]]
        radices = [fired_count, 2]
        for at in range(pairs):
            columns.append(kept[:, at])
            radices.append(len(self._verdict_kinds))
        return columns, radices

    def _verdict_matrix(self, category: int) -> np.ndarray:
        """By verdicts code of ``category``: each pair's verdict as a small number (0: none)."""
        import numpy as np

        known: np.ndarray = self._verdict_tables[category]
        listed = self._verdicts_of[category]
        if len(known) < len(listed):
            kinds = self._verdict_kinds
            more = np.array(
                [[kinds.setdefault(v, len(kinds)) for v in row] for row in listed[len(known) :]],
                dtype=np.int64,
            ).reshape(len(listed) - len(known), len(self._pairs[category]))
            known = self._verdict_tables[category] = np.concatenate([known, more])
        return known

    def _standing_codes(self, facts: dict[str, tuple[np.ndarray, list[FactValue]]]) -> np.ndarray:
        """For each row, its :class:`~mbc_rules.rank.Standing` as a code of three bits."""
        import numpy as np

        code = np.zeros(len(next(iter(facts.values()))[0]), dtype=np.int64)
        for bit, (name, meaning) in enumerate(
            (
                ("hormone_receptor_status", "positive"),
                ("her2_status", "positive"),
                ("visceral_crisis", True),
            )
        ):
            codes, values = facts[name]
            table = np.array([v == meaning and v is not None for v in values] or [False])
            code |= table[codes].astype(np.int64) << bit
        # As Standing.of reads it: a crisis orders nothing for hormone receptor negative cancer.
        codes, values = facts["hormone_receptor_status"]
        negative = np.array([v == "negative" for v in values] or [False])[codes]
        code &= ~(negative.astype(np.int64) << 2)
        return code

    def _settle(self, key: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        group = self._group
        standing_code = key[len(group)]
        settled = settle(
            [self._presence_of[c][code] for c, code in zip(group, key, strict=False)],
            Standing(
                hormone_receptor_positive=bool(standing_code & 1),
                her2_positive=bool(standing_code & 2),
                serious_problems_from_spread=bool(standing_code & 4),
            ),
        )
        states = []
        for kept, absent in zip(settled.kept, settled.absent, strict=True):
            code = self._state_code.get((kept, absent))
            if code is None:
                code = self._state_code[(kept, absent)] = len(self._states)
                self._states.append((kept, absent))
            states.append(code)
        found = (
            tuple(states),
            tuple(settled.levels.get(CATEGORY_ORDER[c], 0) for c in group),
        )
        if len(self._settled) > 1_000_000:
            self._settled.clear()
        self._settled[key] = found
        return found

    def _presence_codes(self, category: int, parts: np.ndarray, hormone: np.ndarray) -> np.ndarray:
        """Each row's Presence code for ``category`` (see __init__), worked out once per
        placement and hormone_failed that some row has.
        """
        import numpy as np

        combined, first = combine([parts, hormone], [len(self._placed_parts[category]), 2])
        presences = self._presences[category]
        codes = self._presence_codes_of[category]
        table = np.empty(len(first), dtype=np.int64)
        pairs = zip(parts[first].tolist(), hormone[first].tolist(), strict=True)
        for index, key in enumerate(pairs):
            code = codes.get(key)
            if code is None:
                part, grew_on_hormone = key
                presence = presences[key] = Presence(
                    self.ranker.parts[category][self._placed_parts[category][part]],
                    self.vocabulary,
                    bool(grew_on_hormone),
                )
                content = presence.content()
                code = None if content is None else self._presence_code[category].get(content)
                if code is None:
                    code = len(self._presence_of[category])
                    self._presence_of[category].append(presence)
                    if content is not None:
                        self._presence_code[category][content] = code
                codes[key] = code
            table[index] = code
        found: np.ndarray = table[combined]
        return found

    def _settled_option_codes(
        self,
        category: int,
        parts: np.ndarray,
        states: np.ndarray,
        levels: np.ndarray,
        hormone: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The option and key code of each row's placement of ``category`` as settled."""
        import numpy as np

        width = len(SYSTEMIC_CATEGORIES) + 1
        combined, first = combine(
            [parts, states, levels, hormone],
            [len(self._placed_parts[category]), len(self._states), width, 2],
        )
        known = self._settled_options[category]
        table = np.empty((len(first), 2), dtype=np.int64)
        for index, key in enumerate(
            zip(
                parts[first].tolist(),
                states[first].tolist(),
                levels[first].tolist(),
                hormone[first].tolist(),
                strict=True,
            )
        ):
            found = known.get(key)
            if found is None:
                part, state, level, grew_on_hormone = key
                kept, absent = self._states[state]
                placed = placed_at(
                    self._presences[category][(part, grew_on_hormone)], kept, absent, level
                )
                found = (-1, _ABSENT) if placed is None else self._placed(placed)[1:]
                known[key] = found
            table[index] = found
        return table[combined, 0], table[combined, 1]

    def _alone_option(self, category: int, parts: int) -> tuple[int, int]:
        found = self._alone_options[category].get(parts)
        if found is None:
            arrangement = arrange(
                [self.ranker.parts[category][self._placed_parts[category][parts]]],
                self.vocabulary,
            )
            found = (-1, _ABSENT)
            for placed in arrangement.options:
                _, option, key = self._placed(placed)
                found = (option, key)
            self._alone_options[category][parts] = found
        return found

    def _placed(self, placed: Placed) -> tuple[int, int, int]:
        category = CATEGORY_ORDER.index(placed.category)
        option = self._option_index(
            category, LongOption(TIERS[placed.tier], placed.agents, placed.sources)
        )
        return category, option, self._key_code(placed.key)

    def _key_code(self, key: tuple[int, ...]) -> int:
        # order_key() as one integer in the same order: each part is a small bounded count.
        code = 0
        for part, (low, high) in zip(key, self._key_bounds, strict=True):
            if not low <= part <= high:
                raise AssertionError(f"ranking key {key} outside {self._key_bounds}")
            code = code * (high - low + 1) + (part - low)
        return code

    def _option_index(self, category: int, option: LongOption) -> int:
        # Equal options are stored once; options are tuples, so equality is content.
        known = self._option_of[category]
        found = known.get(option)
        if found is None:
            found = known[option] = len(self.options[category])
            self.options[category].append(option)
        return found

    def evaluate(self, read: ReadColumns, rows: np.ndarray) -> ChunkAnswer:
        """The answer for the given (valid) rows of a read chunk."""
        import numpy as np

        facts = self.facts(read, rows)
        fired = self.masks(facts, len(rows))
        sex_values = read.values["sex"]
        is_male = np.array([v == "male" for v in sex_values] or [False], dtype=bool)
        male = is_male[read.codes["sex"][rows]]
        options, ranks = self.rank(read, rows, facts, fired, male)
        return ChunkAnswer(rows, ranks, options, fired)
