"""A cohort's tables: the long, wide and errors frames assembled from the engine's codes, and
:class:`FrameResult`, which holds them with each row's full result on demand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from mbc_rules.cohort.reading import frame_reader
from mbc_rules.cohort.rows import CohortResult, RowError
from mbc_rules.cohort_summary import CohortSummary, FirstChoiceCounts, from_counts
from mbc_rules.errors import MbcRulesError
from mbc_rules.evaluation import Evaluation
from mbc_rules.extras import pandas_module
from mbc_rules.rulebase import Rulebase
from mbc_rules.vocabulary import CATEGORY_ORDER

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mbc_rules.cohort.columnar import LongOption

LONG_COLUMNS = ("patient_id", "category", "rank", "tier", "agents", "source_ids")
ERROR_COLUMNS = ("patient_id", "field", "value", "message")


# The pieces are kept small until the tables are built: a rank is a dense rank among a row's
# categories (at most their count), a category is a position in CATEGORY_ORDER, and an option
# indexes one category's distinct options.
RANK_DTYPE = "int8"
CATEGORY_DTYPE = "int8"
OPTION_DTYPE = "int32"
assert len(CATEGORY_ORDER) < 127  # ranks and categories fit RANK_DTYPE


@dataclass
class TableParts:
    """The pieces of the output tables, accumulated chunk by chunk."""

    long_rows: list[np.ndarray] = field(default_factory=list)  # positions (int64)
    long_categories: list[np.ndarray] = field(default_factory=list)  # CATEGORY_DTYPE
    long_ranks: list[np.ndarray] = field(default_factory=list)  # RANK_DTYPE
    long_options: list[np.ndarray] = field(default_factory=list)  # OPTION_DTYPE
    wide_ranks: list[np.ndarray] = field(default_factory=list)  # (rows, categories) RANK_DTYPE
    errors: list[tuple[int, str, Any, str]] = field(default_factory=list)
    fired: Counter[str] = field(default_factory=Counter)
    row_fired: dict[int, frozenset[str]] = field(default_factory=dict)
    spilled: dict[int, Evaluation] = field(default_factory=dict)


class FrameResult:
    """The tables of a cohort evaluation, and each row's full result on demand.

    ``long``: one row per patient and offered category (``patient_id``, ``category``,
    ``rank``, ``tier``, ``agents``, ``source_ids``), indexed by the caller's index.
    ``wide``: one row per input row, in input order and with the caller's index:
    ``patient_id`` and each category's rank (missing where not offered, and for a row that
    failed). ``errors``: one row per problem (``patient_id``, ``field``, ``value``,
    ``message``), indexed by the failed row's index label.
    """

    def __init__(
        self,
        long: pd.DataFrame,
        wide: pd.DataFrame,
        errors: pd.DataFrame,
        *,
        frame: pd.DataFrame | None,
        names: Sequence[str],
        rulebase: Rulebase,
        fired: Mapping[str, int],
        failed: frozenset[int],
    ) -> None:
        self.long = long
        self.wide = wide
        self.errors = errors
        self._frame = frame
        self._names = tuple(names)
        self._rulebase = rulebase
        self._fired = dict(fired)
        self._failed = failed
        self._result: Any = None
        import numpy as np

        self._long_positions = (
            long["_position"].to_numpy() if "_position" in long.columns else np.zeros(0, int)
        )

    def evaluation(self, label: Hashable) -> Evaluation:
        """The full result of the row with this index label (built now, not stored).

        Raises:
            KeyError: no such row. MbcRulesError: the row failed (see ``errors``).
        """
        if self._frame is None:
            raise MbcRulesError("the input frame was not kept (read from a file in batches)")
        position = self._frame.index.get_loc(label)
        if not isinstance(position, int):
            raise KeyError(f"index label {label!r} is not unique")
        if position in self._failed:
            raise MbcRulesError(f"row {label!r} failed; see the errors table")
        mapping = frame_reader(self._frame, self._names)(position)
        return self._rulebase.evaluate(mapping)

    def evaluations(self) -> Iterator[tuple[Hashable, Evaluation]]:
        """Every evaluated row's full result, one at a time: (index label, Evaluation)."""
        for position, label in enumerate(self.wide.index):
            if position not in self._failed:
                yield label, self.evaluation(label)

    @property
    def result(self) -> Any:
        """A :class:`CohortResult` whose evaluations are built when first read."""
        if self._result is None:
            row_errors = [
                RowError(str(pid), f"{f}: {m}")
                for pid, f, m in zip(
                    self.errors["patient_id"],
                    self.errors["field"],
                    self.errors["message"],
                    strict=True,
                )
            ]
            self._result = CohortResult(_LazyEvaluations(self), row_errors, frame_result=self)
        return self._result

    def summary(self) -> CohortSummary:
        """How often each category ranks first (ties counted once per patient), how often each
        rule fires, and how many rows failed, counted from the tables.
        """
        import numpy as np

        first = self.long["rank"].to_numpy() == 1
        positions = self._long_positions[first]
        categories = self.long["category"].astype(str).to_numpy()[first]
        per_patient = np.bincount(positions, minlength=len(self.wide)) if len(positions) else None
        alone: Counter[str] = Counter()
        tied: Counter[str] = Counter()
        share: dict[str, float] = {}
        if per_patient is not None:
            ways = per_patient[positions]
            for category, k in zip(categories.tolist(), ways.tolist(), strict=True):
                (alone if k == 1 else tied)[category] += 1
                share[category] = share.get(category, 0.0) + 1 / k
        evaluated = len(self.wide) - len(self._failed)
        with_first = int((per_patient > 0).sum()) if per_patient is not None else 0
        tied_first = int((per_patient > 1).sum()) if per_patient is not None else 0
        counts = FirstChoiceCounts(
            alone, tied, share, Counter(self._fired), evaluated, evaluated - with_first, tied_first
        )
        return from_counts(counts, len(self._failed), rows=len(self.wide))


class _LazyEvaluations(Mapping[str, Evaluation]):
    """Evaluations by patient id, built on access from the frame."""

    def __init__(self, result: FrameResult) -> None:
        self._result = result
        labels = {}
        for position, (label, pid) in enumerate(
            zip(result.wide.index, result.wide["patient_id"], strict=True)
        ):
            if position not in result._failed:
                labels[str(pid)] = label
        self._labels = labels

    def __getitem__(self, key: str) -> Evaluation:
        return self._result.evaluation(self._labels[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


def assemble(
    frame: pd.DataFrame,
    names: Sequence[str],
    rulebase: Rulebase,
    parts: TableParts,
    ids: np.ndarray,
    keep_frame: bool,
    options_of: Sequence[Sequence[LongOption]],
) -> FrameResult:
    """The tables of a cohort from its parts; ``options_of[category]`` are the options the
    long rows' codes point to (the columnar engine's).
    """
    import numpy as np
    import pandas as pd

    index = frame.index
    # Each piece is freed once joined: the tables are built after everything else, at the
    # evaluation's peak of memory.
    rows = _joined(parts.long_rows, np.int64)
    categories = _joined(parts.long_categories, np.dtype(CATEGORY_DTYPE))
    ranks = _joined(parts.long_ranks, np.dtype(RANK_DTYPE))
    options = _joined(parts.long_options, np.dtype(OPTION_DTYPE))
    # Every category's options in one table: a long row's option is found by one gather.
    sizes = np.array([len(per_category) for per_category in options_of], dtype=np.int64)
    starts = np.concatenate([np.zeros(1, np.int64), np.cumsum(sizes)])
    every = [o for per_category in options_of for o in per_category]
    table_tier = objects([o.tier for o in every])
    table_agents = objects([tuple(o.agents) for o in every])
    table_sources = objects([tuple(o.source_ids) for o in every])
    # An offered category always has an option; -1 would index its last one, as numpy does.
    chosen = starts[categories] + options
    negative = options < 0
    if negative.any():
        chosen[negative] += sizes[categories[negative]]
    del options, negative
    tiers = table_tier[chosen]
    agents = table_agents[chosen]
    sources = table_sources[chosen]
    del chosen
    if parts.spilled:
        extra = [
            (
                p,
                CATEGORY_ORDER.index(o.category),
                o.rank,
                o.tier,
                tuple(o.agents),
                tuple(o.source_ids),
            )
            for p, evaluation in parts.spilled.items()
            for o in evaluation.options
        ]
        add = list(zip(*extra, strict=True)) if extra else [()] * 6
        rows = np.concatenate([rows, np.array(add[0], dtype=np.int64)])
        categories = np.concatenate([categories, np.array(add[1], dtype=categories.dtype)])
        ranks = np.concatenate([ranks, np.array(add[2], dtype=ranks.dtype)])
        tiers = np.concatenate([tiers, objects(add[3])])
        agents = np.concatenate([agents, objects(add[4])])
        sources = np.concatenate([sources, objects(add[5])])
        order = np.lexsort((categories, ranks, rows))
        rows, categories, ranks = rows[order], categories[order], ranks[order]
        tiers, agents, sources = tiers[order], agents[order], sources[order]
    # One index object shared by every column: a million-row cohort has some eight million
    # long rows, and each copy of the index is 8 bytes a row.
    long_index = index.take(rows)
    if (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and not isinstance(long_index, pd.RangeIndex)
    ):
        # The labels are the positions: the _position column is the index's own array.
        rows = long_index.to_numpy()
    long = pd.DataFrame(
        {
            "patient_id": pd.Series(ids[rows], dtype=object, index=long_index, copy=False),
            "category": pd.Categorical.from_codes(
                categories, categories=pd.Index(list(CATEGORY_ORDER))
            ),
            "rank": ranks.astype(np.int64, copy=False),
            "tier": pd.Series(tiers, dtype=object, index=long_index, copy=False),
            "agents": pd.Series(agents, dtype=object, index=long_index, copy=False),
            "source_ids": pd.Series(sources, dtype=object, index=long_index, copy=False),
            "_position": pd.Series(rows, dtype=np.int64, index=long_index, copy=False),
        },
        index=long_index,
        columns=[*LONG_COLUMNS, "_position"],
        copy=False,
    )
    del tiers, agents, sources, categories, ranks, rows
    wide_ranks = (
        np.concatenate(parts.wide_ranks)
        if parts.wide_ranks
        else np.zeros((0, len(CATEGORY_ORDER)), RANK_DTYPE)
    )
    parts.wide_ranks.clear()
    wide_columns: dict[str, Any] = {"patient_id": pd.Series(ids, dtype=object, index=index)}
    for category, name in enumerate(CATEGORY_ORDER):
        column = wide_ranks[:, category]
        wide_columns[name] = pd.Series(
            pd.arrays.IntegerArray(column.astype(np.int64), column == 0), index=index, copy=False
        )
    del wide_ranks
    wide = pd.DataFrame(wide_columns, index=index, copy=False)
    parts.errors.sort(key=lambda e: e[0])
    errors = errors_frame(frame, parts.errors, ids)
    error_positions = [e[0] for e in parts.errors]
    return FrameResult(
        long,
        wide,
        errors,
        frame=frame if keep_frame else None,
        names=names,
        rulebase=rulebase,
        fired=parts.fired,
        failed=frozenset(int(p) for p in error_positions),
    )


def _joined(pieces: list[np.ndarray], dtype: np.dtype[Any] | type) -> np.ndarray:
    """The pieces as one array (emptied from the list: each is freed as soon as it can be)."""
    import numpy as np

    joined = np.concatenate(pieces) if pieces else np.zeros(0, dtype)
    pieces.clear()
    return joined.astype(dtype, copy=False)


def offered_in_order(ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each offered (nonzero) cell of ``ranks`` (rows, categories) in the long table's order:
    by row, then rank, then category. Returns their rows (int64), categories and ranks.

    Each row's ten cells are sorted on their own, by one small integer (rank and category),
    rather than sorting every offered cell of the chunk by three keys.
    """
    import numpy as np

    width = ranks.shape[1]
    bits = max(width - 1, 1).bit_length()
    absent = np.iinfo(np.int32).max
    key = ranks.astype(np.int32) << bits
    key |= np.arange(width, dtype=np.int32)
    key[ranks == 0] = absent
    key.sort(axis=1)
    offered = key != absent
    rows = np.nonzero(offered)[0]
    kept = key[offered]
    categories = (kept & ((1 << bits) - 1)).astype(CATEGORY_DTYPE)
    return rows, categories, (kept >> bits).astype(RANK_DTYPE)


def objects(values: Sequence[Any]) -> np.ndarray:
    """``values`` as a numpy array of objects (tuples kept whole)."""
    import numpy as np

    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def errors_frame(
    frame: pd.DataFrame, entries: Sequence[tuple[int, str, Any, str]], ids: np.ndarray
) -> pd.DataFrame:
    """The errors table of ``entries`` (position, field, value, message), by row label."""
    import numpy as np

    pandas = pandas_module()
    positions = np.array([e[0] for e in entries], dtype=np.int64)
    index = frame.index.take(positions)
    columns = {
        "patient_id": objects(list(ids[positions])) if len(positions) else objects([]),
        "field": objects([e[1] for e in entries]),
        "value": objects([e[2] for e in entries]),
        "message": objects([e[3] for e in entries]),
    }
    errors = pandas.DataFrame(
        {k: pandas.Series(v, dtype=object, index=index) for k, v in columns.items()},
        index=index,
        columns=list(ERROR_COLUMNS),
    )
    errors["_position"] = positions
    return cast("pd.DataFrame", errors)


def concatenate(
    frame: pd.DataFrame, names: Sequence[str], rulebase: Rulebase, results: list[FrameResult]
) -> FrameResult:
    """One FrameResult of the results of consecutive parts of ``frame`` (worker processes)."""
    pandas = pandas_module()
    fired: Counter[str] = Counter()
    failed: set[int] = set()
    offset = 0
    for result in results:
        fired.update(result._fired)
        failed |= {p + offset for p in result._failed}
        offset += len(result.wide)
    return FrameResult(
        pandas.concat([r.long for r in results]),
        pandas.concat([r.wide for r in results]),
        pandas.concat([r.errors for r in results]),
        frame=frame,
        names=names,
        rulebase=rulebase,
        fired=fired,
        failed=frozenset(failed),
    )
