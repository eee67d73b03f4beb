"""The columnar engine: validated columns in, every row's ranked categories out.

Nothing here decides what a fact, a condition or a rank means; it decides how often each is
computed:

* facts: :func:`mbc_rules.facts.derive_facts` is called once per distinct combination of the
  profile fields a group of facts reads (``FactDefinition.reads``), and its values are spread
  to the rows by code;
* conditions: each distinct sub-test of the compiled patterns is computed once, on the few
  distinct values of its fact, and becomes a boolean mask over the rows; a rule's mask is its
  sub-tests' masks joined with ``&`` and ``|``;
* ranking: a category's option depends only on the rules that offer that category and the
  rules that rule something out; each distinct set of those (and whether the sentences about
  women apply) is ranked once by the rulebase's own ranking, and the options of a row are
  ordered by :func:`mbc_rules.rank.ordering_key`.

Every answer computed once is remembered, so a cohort read in chunks costs what its distinct
values cost, and memory stays flat in the number of rows apart from the output tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mbc_rules.cohort.codes import combine
from mbc_rules.conditions import passes
from mbc_rules.facts import FACTS, FactValue, derive_facts
from mbc_rules.profile import PatientProfile
from mbc_rules.rank import CATEGORY_ORDER, ordering_key
from mbc_rules.result import TreatmentOption
from mbc_rules.schema import AllOf, Condition, FactTest, NotOf

if TYPE_CHECKING:
    import numpy as np

    from mbc_rules.cohort.reading import ReadColumns
    from mbc_rules.rulebase import Rulebase


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
        self.rulebase = rulebase
        self.rule_ids = tuple(rule.id for rule in rulebase.rules)
        self.conditions: tuple[Condition, ...] = rulebase._compiled.conditions
        groups: dict[tuple[str, ...], list[str]] = {}
        for fact in FACTS.values():
            groups.setdefault(tuple(sorted(set(fact.reads))), []).append(fact.name)
        self.fact_groups = groups
        self._empty = PatientProfile.model_validate({})
        self._facts: dict[tuple[tuple[str, ...], tuple[int, ...]], tuple[FactValue, ...]] = {}
        # The rules a category's option can depend on: its own offers and every removal.
        self.relevant: list[list[int]] = []
        for category in CATEGORY_ORDER:
            self.relevant.append(
                [
                    index
                    for index, rule in enumerate(rulebase.rules)
                    if rule.then.not_recommended is not None
                    or (rule.then.offer is not None and rule.then.offer.category == category)
                ]
            )
        self.options: list[list[TreatmentOption]] = [[] for _ in CATEGORY_ORDER]
        self._option_of: list[dict[int | bytes, int]] = [{} for _ in CATEGORY_ORDER]

    # -- facts ---------------------------------------------------------------------------
    def facts(
        self, read: ReadColumns, rows: np.ndarray
    ) -> dict[str, tuple[np.ndarray, list[FactValue]]]:
        """For each fact, a code per row into that fact's distinct values."""
        out: dict[str, tuple[np.ndarray, list[FactValue]]] = {}
        vocabulary = self.rulebase.vocabulary
        for fields, names in self.fact_groups.items():
            if fields:
                combo, first = combine(
                    [read.codes[f][rows] for f in fields], [len(read.values[f]) for f in fields]
                )
            else:
                combo = self._zeros(len(rows))
                first = self._zeros(1)
            columns: list[list[FactValue]] = [[] for _ in names]
            at_first = rows[first]
            combos = zip(*[read.codes[f][at_first].tolist() for f in fields], strict=True)
            for codes in combos if fields else [()]:
                key = (fields, codes)
                values = self._facts.get(key)
                if values is None:
                    # A copy of the empty profile with these fields set: model_construct would
                    # inspect every default factory again on each call.
                    profile = self._empty.model_copy(
                        update={
                            f: read.values[f][code] for f, code in zip(fields, key[1], strict=True)
                        }
                    )
                    derived = derive_facts(profile, vocabulary)
                    values = self._facts[key] = tuple(derived[n] for n in names)
                for column, value in zip(columns, values, strict=True):
                    column.append(value)
            for name, column in zip(names, columns, strict=True):
                out[name] = (combo, column)
        return out

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
                    small = np.fromiter(
                        (passes(condition.operator, operand, v) for v in values),
                        dtype=bool,
                        count=len(values),
                    )
                    found = cache[key] = small[codes]
                return found
            if isinstance(condition, NotOf):
                return ~mask(condition.not_)
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
    def _option(self, category: int, key: int | bytes, ids: frozenset[str], male: bool) -> int:
        found = self._option_of[category].get(key)
        if found is None:
            answer = self.rulebase._ranked_answer(ids, male)
            name = CATEGORY_ORDER[category]
            option = next((o for o in answer[0] if o.category == name), None)
            if option is None:
                found = -1
            else:
                found = len(self.options[category])
                self.options[category].append(option)
            self._option_of[category][key] = found
        return found

    def rank(self, fired: np.ndarray, male: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's option per category and its rank (0 where not offered)."""
        import numpy as np
        import pandas as pd

        count = len(male)
        options = np.full((count, len(CATEGORY_ORDER)), -1, dtype=np.int64)
        for category, relevant in enumerate(self.relevant):
            if len(relevant) < 62:
                key = male.astype(np.int64)
                for bit, rule in enumerate(relevant, start=1):
                    key |= fired[:, rule].astype(np.int64) << bit
                codes_, uniques = pd.factorize(key)
                keys: list[int | bytes] = [int(u) for u in uniques]
            else:
                packed = np.packbits(np.column_stack([male, fired[:, relevant]]), axis=1)
                raw = np.ascontiguousarray(packed).view(f"V{packed.shape[1]}").ravel()
                byte_keys = np.array([bytes(r) for r in raw], dtype=object)
                codes_, uniques_ = pd.factorize(byte_keys)
                keys = list(uniques_)
            table = np.empty(len(keys), dtype=np.int64)
            for index, key_value in enumerate(keys):
                bits = _bits(key_value, len(relevant) + 1)
                ids = frozenset(self.rule_ids[relevant[b - 1]] for b in bits if b > 0)
                table[index] = self._option(category, key_value, ids, 0 in bits)
            options[:, category] = table[np.asarray(codes_, dtype=np.int64)]
        return options, self._ranks(options)

    def _ranks(self, options: np.ndarray) -> np.ndarray:
        import numpy as np

        distinct = sorted(
            {
                ordering_key(o.category, o.tier, o.source_ids)
                for per_category in self.options
                for o in per_category
            }
        )
        order = {key: position for position, key in enumerate(distinct)}
        absent = len(distinct) + 1
        keys = np.full(options.shape, absent, dtype=np.int64)
        for category, per_category in enumerate(self.options):
            lookup = np.array(
                [order[ordering_key(o.category, o.tier, o.source_ids)] for o in per_category]
                + [absent],
                dtype=np.int64,
            )
            keys[:, category] = lookup[options[:, category]]  # -1 reads the trailing absent
        # Dense rank: one more than the number of distinct keys below a category's own.
        width = options.shape[1]
        equal_before = (keys[:, :, None] == keys[:, None, :]) & np.tril(
            np.ones((width, width), dtype=bool), k=-1
        )[None, :, :]
        first = ~equal_before.any(axis=2)
        below = keys[:, None, :] < keys[:, :, None]
        ranks: np.ndarray = 1 + (below & first[:, None, :]).sum(axis=2)
        ranks[options < 0] = 0
        return ranks

    def evaluate(self, read: ReadColumns, rows: np.ndarray) -> ChunkAnswer:
        """The answer for the given (valid) rows of a read chunk."""
        import numpy as np

        facts = self.facts(read, rows)
        fired = self.masks(facts, len(rows))
        sex_values = read.values["sex"]
        is_male = np.array([v == "male" for v in sex_values] or [False], dtype=bool)
        male = is_male[read.codes["sex"][rows]]
        options, ranks = self.rank(fired, male)
        return ChunkAnswer(rows, ranks, options, fired)


def _bits(key: int | bytes, width: int) -> list[int]:
    if isinstance(key, int):
        return [b for b in range(width) if key >> b & 1]
    out = []
    for b in range(width):
        if key[b // 8] >> (7 - b % 8) & 1:
            out.append(b)
    return out
