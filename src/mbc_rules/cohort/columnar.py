"""The columnar engine: validated columns in, every row's ranked categories out.

Nothing here decides what a fact, a condition or a rank means; it decides how often each is
computed:

* facts: :func:`mbc_rules.facts.derive_facts` is called once per distinct combination of the
  profile fields a group of facts reads (``FactDefinition.reads``), and its values are spread
  to the rows by code;
* conditions: each distinct sub-test of the compiled patterns is computed once, on the few
  distinct values of its fact, and becomes a boolean mask over the rows; a rule's mask is its
  sub-tests' masks joined with ``&`` and ``|``;
* ranking: the sources' orderings make a row's categories depend on each other and on its
  history, so each distinct key of the rulebase's own ranking (fired rules, sex, history,
  standing, waiting rules, unknown complications) is ranked once, by that ranking.

Every answer computed once is remembered, so a cohort read in chunks costs what its distinct
values cost, and memory stays flat in the number of rows apart from the output tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mbc_rules.cohort.codes import combine
from mbc_rules.conditions import passes
from mbc_rules.facts import FACTS, FactValue, derive_facts, treatment_history
from mbc_rules.profile import PatientProfile
from mbc_rules.rank import CATEGORY_ORDER, Standing, waiting_rules
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
        self.options: list[list[TreatmentOption]] = [[] for _ in CATEGORY_ORDER]
        self._option_of: list[dict[TreatmentOption, int]] = [{} for _ in CATEGORY_ORDER]

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
    def rank(
        self,
        read: ReadColumns,
        rows: np.ndarray,
        facts: dict[str, tuple[np.ndarray, list[FactValue]]],
        fired: np.ndarray,
        male: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each row's option per category and its rank (0 where not offered).

        The sources' orderings make categories depend on each other and on the history, so a
        row's answer is the rulebase's own ranking of its whole key (fired rules, sex, history,
        standing, waiting rules, unknown complications), computed once per distinct key.
        """
        import numpy as np

        count = len(rows)
        width = len(CATEGORY_ORDER)
        options = np.full((count, width), -1, dtype=np.int64)
        ranks = np.zeros((count, width), dtype=np.int64)
        if count == 0:
            return options, ranks
        names = list(facts)
        # Every fact is a function of its group's code, and every part of the key is a function
        # of the facts, the history and the complications: rows equal on these codes share one
        # answer.
        group_codes = {id(facts[n][0]): facts[n][0] for n in names}
        signature = np.column_stack(
            [
                *group_codes.values(),
                read.codes["prior_therapies"][rows],
                read.codes["complications"][rows],
                male.astype(np.int64),
            ]
        )
        distinct, first, inverse = np.unique(
            signature, axis=0, return_index=True, return_inverse=True
        )
        inverse = np.asarray(inverse).reshape(-1)
        rulebase = self.rulebase
        table_options = np.full((len(distinct), width), -1, dtype=np.int64)
        table_ranks = np.zeros((len(distinct), width), dtype=np.int64)
        for index, row in enumerate(first.tolist()):
            row_facts = {n: facts[n][1][int(facts[n][0][row])] for n in names}
            fired_ids = frozenset(self.rule_ids[j] for j in np.flatnonzero(fired[row]).tolist())
            prior = read.values["prior_therapies"][int(read.codes["prior_therapies"][rows[row]])]
            complications = read.values["complications"][
                int(read.codes["complications"][rows[row]])
            ]
            history = treatment_history(
                self._empty.model_copy(update={"prior_therapies": prior}), rulebase.vocabulary
            )
            answer = rulebase._answer(
                fired_ids,
                bool(male[row]),
                history,
                Standing.of(row_facts),
                waiting_rules(rulebase._timed, row_facts, fired_ids),
                complications is None,
            )
            for option in answer[0]:
                category = CATEGORY_ORDER.index(option.category)
                table_options[index, category] = self._option_index(category, option)
                table_ranks[index, category] = option.rank
        options[:] = table_options[inverse]
        ranks[:] = table_ranks[inverse]
        return options, ranks

    def _option_index(self, category: int, option: TreatmentOption) -> int:
        # Equal options are stored once; options are frozen values, so equality is content.
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
