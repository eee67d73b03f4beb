"""What the cohort tables do not hold, per row, for audits of a cohort: which rules fired, what
is not recommended and why, and the profile fields subgroups are made of.

:func:`~mbc_rules.cohort.frames.evaluate_frame` returns the offered options; concordance and
the diff of two rulebases also need each row's not-recommended items and fired rules. Building
every row's :class:`~mbc_rules.result.Evaluation` would cost a full evaluation per distinct
profile (nearly every row of a real cohort). Instead the columnar engine's own reading and
masks (already remembered from the evaluation of the same chunk) give each row's fired rules,
and a row's not-recommended items are a function of less than its profile: the rules that
fired, the sex (the sentences about women), the history (what the cancer grew on) and the
standing the sources' orderings read. One row per distinct value of that key is evaluated in
full, through the public :meth:`Rulebase.evaluate`, when a row with the key is first asked
about, and its items are the answer for every row with the key.
``verify`` rows, sampled, are evaluated in full again and compared, so a change of what the
items depend on fails loudly (:class:`~mbc_rules.cohort.verify.VerificationError`) rather than
silently.
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mbc_rules.cohort.frames import cohort_engines
from mbc_rules.cohort.reading import encode_series, frame_reader
from mbc_rules.cohort.verify import VerificationError
from mbc_rules.result import NotRecommendedItem
from mbc_rules.rulebase import Rulebase

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def receptor_type(er: str, pr: str, her2: str) -> str:
    """The receptor subgroup a paper reports: ``HR+/HER2-``, ``HR+/HER2+``, ``HR-/HER2+``,
    ``triple negative`` or ``unknown``.

    Hormone receptor positive means ER or PR positive, negative means both negative (the
    reading of ``hormone_receptor_status`` in docs/facts.md); any unknown part makes the
    subgroup unknown, since an unknown status is never read as negative.
    """
    if er == "positive" or pr == "positive":
        hormone = "HR+"
    elif er == "negative" and pr == "negative":
        hormone = "HR-"
    else:
        return "unknown"
    if her2 == "positive":
        return f"{hormone}/HER2+"
    if her2 != "negative":
        return "unknown"
    return "HR+/HER2-" if hormone == "HR+" else "triple negative"


def line_group(lines_failed: int) -> str:
    """The line of metastatic treatment the next treatment is: ``1``, ``2`` or ``3+``."""
    if lines_failed < 0:
        return "unknown"
    return str(lines_failed + 1) if lines_failed < 2 else "3+"


# Kept while the rulebase lives (see verify._ORACLES).
_TWINS: weakref.WeakKeyDictionary[Rulebase, Rulebase] = weakref.WeakKeyDictionary()


def _fast(rulebase: Rulebase) -> Rulebase:
    """The same rules on the compiled matcher (held to durable-rules by the suite's property
    over every engine): a full evaluation there costs a third of one on durable-rules.
    """
    if rulebase.engine == "compiled":
        return rulebase
    found = _TWINS.get(rulebase)
    if found is None:
        found = _TWINS[rulebase] = rulebase.with_engine("compiled")
    return found


def _projection(items: tuple[NotRecommendedItem, ...]) -> tuple[Any, ...]:
    # What the small key decides exactly: every item's subject and rules, and the reasons of
    # the sources' statements (the reasons of drugs the cancer grew on may name regimens).
    return tuple((i.category, i.agents, i.rule_ids, i.reason if i.rule_ids else "") for i in items)


@dataclass
class RowTrace:
    """Per row of a chunk (by position): fired rules, not-recommended items and subgroups.

    ``fired[i]`` codes into ``fired_sets``. The not-recommended items have two keys: ``small``
    (the fired not-recommended rules, the sex, the history) decides every item's subject and
    rules and the reasons of the sources' statements; the reason of a drug the cancer grew on
    may also name the regimens still offered that continue it, which depend on the whole
    arrangement, so ``full`` adds every fired rule and the standing. A full evaluation is made
    once per key when a row with it is first asked about. -1 marks a row the columnar reader
    could not read: a failed row, or the rare row valid only as a whole, which is evaluated in
    full on its own (``own``).
    """

    fired: np.ndarray
    fired_sets: list[frozenset[str]]
    small: np.ndarray
    small_first: list[int]  # a row position per key
    full: np.ndarray
    full_first: list[int]
    receptor: np.ndarray  # object: receptor_type()
    line: np.ndarray  # object: line_group()
    sites: np.ndarray  # object: tuples of site names
    reader: Any
    rulebase: Rulebase
    own: dict[int, Any] = field(default_factory=dict)  # position -> Evaluation
    _small_items: dict[int, tuple[NotRecommendedItem, ...]] = field(default_factory=dict)
    _full_items: dict[int, tuple[NotRecommendedItem, ...]] = field(default_factory=dict)
    _asked: dict[int, bool] = field(default_factory=dict)  # position -> asked exactly

    def fired_rules(self, position: int) -> frozenset[str]:
        """The rules that fired for the row at ``position``."""
        code = int(self.fired[position])
        if code < 0:
            own = self.own.get(position)
            return frozenset(own.fired_rules) if own is not None else frozenset()
        return self.fired_sets[code]

    def _items(
        self, table: dict[int, tuple[NotRecommendedItem, ...]], first: list[int], code: int
    ) -> tuple[NotRecommendedItem, ...]:
        found = table.get(code)
        if found is None:
            evaluation = _fast(self.rulebase).evaluate(self.reader(first[code]))
            found = table[code] = tuple(evaluation.not_recommended)
        return found

    def not_recommended(
        self, position: int, *, exact: bool = True
    ) -> tuple[NotRecommendedItem, ...]:
        """The not-recommended items of the row at ``position`` (empty for a failed row).

        With ``exact=False`` the reasons of the drugs the cancer grew on may be another row's
        (the same drugs, the same first sentence; the regimens that continue them can differ);
        everything else is this row's.
        """
        code = int(self.small[position])
        if code < 0:
            own = self.own.get(position)
            return tuple(own.not_recommended) if own is not None else ()
        items = self._items(self._small_items, self.small_first, code)
        # Items of the history (no rule ids) name what the cancer grew on, and also what it
        # holds back by class among the drugs the fired rules offer: those depend on every
        # fired rule, so they come from the full key whether or not ``exact`` is asked.
        if any(not i.rule_ids for i in items):
            items = self._items(self._full_items, self.full_first, int(self.full[position]))
        self._asked[position] = self._asked.get(position, False) or exact
        return items

    def check(self, verify: int) -> None:
        """Evaluate ``verify`` of the rows asked about in full and compare their items.

        Raises:
            VerificationError: a row's items differ from those of the row that stood for it.
        """
        asked = sorted(self._asked)
        for position in random.Random(1).sample(asked, min(max(verify, 0), len(asked))):
            exact = self._asked[position]
            expected = tuple(_fast(self.rulebase).evaluate(self.reader(position)).not_recommended)
            got = self.not_recommended(position, exact=exact)
            same = expected == got if exact else _projection(expected) == _projection(got)
            if not same:
                raise VerificationError(
                    f"row at position {position}: its not-recommended items differ from those "
                    "of another row with the same key (a bug: please report it)"
                )

    def key(self, position: int) -> tuple[str, int]:
        """A key whose rows have the same exact not-recommended items (("row", position) for
        a row read on its own).
        """
        code = int(self.small[position])
        if code < 0:
            return ("row", position)
        items = self._items(self._small_items, self.small_first, code)
        if any(not i.rule_ids for i in items):
            return ("full", int(self.full[position]))
        return ("small", code)


def trace(
    frame: pd.DataFrame,
    names: Sequence[str],
    rulebase: Rulebase,
    failed: np.ndarray,
) -> RowTrace:
    """Trace every row of ``frame`` (a chunk already given to ``evaluate_frame``).

    Args:
        frame: the rows (positions are what the trace is read by).
        names: the profile-field columns of ``frame``.
        rulebase: the rulebase that evaluated it.
        failed: a boolean per row: it failed validation (nothing to trace).
    """
    import numpy as np

    state = cohort_engines(rulebase)
    count = len(frame)
    positions = {str(c): i for i, c in enumerate(frame.columns)}
    columns = {name: encode_series(name, frame.iloc[:, positions[name]]) for name in names}
    read = state.validator.read(columns, count)
    rows = np.flatnonzero(~read.invalid & ~failed)
    facts = state.engine.facts(read, rows)
    fired = state.engine.masks(facts, len(rows))
    rule_ids = state.engine.rule_ids
    fired_code = np.full(count, -1, dtype=np.int64)
    fired_sets: list[frozenset[str]] = []
    small_code = np.full(count, -1, dtype=np.int64)
    small_first: list[int] = []
    full_code = np.full(count, -1, dtype=np.int64)
    full_first: list[int] = []
    if len(rows):
        table: dict[bytes, int] = {}
        codes = np.empty(len(rows), dtype=np.int64)
        for index, key in enumerate(bytes(r) for r in np.packbits(fired, axis=1)):
            code = table.get(key)
            if code is None:
                code = table[key] = len(fired_sets)
                fired_sets.append(frozenset(rule_ids[j] for j in np.flatnonzero(fired[index])))
            codes[index] = code
        fired_code[rows] = codes
        # The keys of the not-recommended items (see RowTrace). rank.rank builds them from
        # the statements of the fired rules (for a man, without the sentences about women)
        # and from what the cancer grew on, whose reasons name the offered regimens that
        # continue a drug: the arrangement, a function of all fired rules, the sex, the
        # history and the standing (hormone receptor and HER2 positive, visceral crisis).
        stating = [j for j, rule in enumerate(rulebase.rules) if rule.then.not_recommended]
        stated = (
            [bytes(r) for r in np.packbits(fired[:, stating], axis=1)]
            if stating
            else [b""] * len(rows)
        )
        male = np.array([v == "male" for v in read.values["sex"]], dtype=bool)
        male_of = male[read.codes["sex"][rows]].astype(np.int64)
        standing = np.zeros(len(rows), dtype=np.int64)
        for bit, (name, meaning) in enumerate(
            (
                ("hormone_receptor_status", "positive"),
                ("her2_status", "positive"),
                ("visceral_crisis", True),
            )
        ):
            fact_codes, values = facts[name]
            truth = np.array([v == meaning and v is not None for v in values] or [False])
            standing |= truth[fact_codes].astype(np.int64) << bit
        prior = read.codes["prior_therapies"][rows].tolist()
        fired_list = codes.tolist()
        male_list = male_of.tolist()
        standing_list = standing.tolist()
        small_table: dict[tuple[Any, ...], int] = {}
        full_table: dict[tuple[Any, ...], int] = {}
        smalls = np.empty(len(rows), dtype=np.int64)
        fulls = np.empty(len(rows), dtype=np.int64)
        for index in range(len(rows)):
            small_key = (stated[index], male_list[index], prior[index])
            code = small_table.get(small_key)
            if code is None:
                code = small_table[small_key] = len(small_first)
                small_first.append(int(rows[index]))
            smalls[index] = code
            full_key = (fired_list[index], male_list[index], prior[index], standing_list[index])
            code = full_table.get(full_key)
            if code is None:
                code = full_table[full_key] = len(full_first)
                full_first.append(int(rows[index]))
            fulls[index] = code
        small_code[rows] = smalls
        full_code[rows] = fulls
    reader = frame_reader(frame, names)
    own: dict[int, Any] = {}
    for position in np.flatnonzero(read.invalid & ~failed).tolist():
        own[position] = rulebase.evaluate(reader(position))

    receptor = np.empty(count, dtype=object)
    line = np.empty(count, dtype=object)
    sites = np.empty(count, dtype=object)
    receptor[:] = "unknown"
    line[:] = "unknown"
    empty: tuple[str, ...] = ()
    sites[:] = [empty] * count
    if len(rows):
        er, pr, her2 = (
            np.asarray(read.values[f], dtype=object)[read.codes[f][rows]].tolist()
            for f in ("er_status", "pr_status", "her2_status")
        )
        kinds: dict[tuple[str, str, str], str] = {}
        receptor[rows] = [
            kinds.setdefault(k, receptor_type(*k)) for k in zip(er, pr, her2, strict=True)
        ]
        site_values = read.values["metastatic_sites"]
        site_table = np.empty(len(site_values), dtype=object)
        site_table[:] = [tuple(v) for v in site_values]
        sites[rows] = site_table[read.codes["metastatic_sites"][rows]]
        lines_codes, lines_values = facts["lines_failed"]
        line_table = np.empty(max(len(lines_values), 1), dtype=object)
        line_table[: len(lines_values)] = [line_group(int(v)) for v in lines_values]
        line[rows] = line_table[lines_codes]
    for position, evaluation in own.items():
        profile = evaluation.profile
        receptor[position] = receptor_type(
            profile.er_status, profile.pr_status, profile.her2_status
        )
        sites[position] = tuple(profile.metastatic_sites)
    return RowTrace(
        fired_code,
        fired_sets,
        small_code,
        small_first,
        full_code,
        full_first,
        receptor,
        line,
        sites,
        reader,
        rulebase,
        own,
    )
