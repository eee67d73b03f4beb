"""Cohorts as frames: read, validate, evaluate column-wise, and assemble the tables.

The columnar engine (:mod:`mbc_rules.cohort.columnar`) is the default; the rows it cannot read
column-wise (invalid ones) are validated one by one for pydantic's own messages. durable-rules
stays the oracle: ``verify=N`` re-evaluates N sampled rows through it (where it imports) and
raises :class:`VerificationError` on any difference.
"""

from __future__ import annotations

import os
import random
import threading
import warnings
import weakref
from collections import Counter
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import ValidationError

from mbc_rules.cohort.codes import EncodedColumn
from mbc_rules.cohort.collection import collect_chunk, collector_paused
from mbc_rules.cohort.columnar import ColumnarEngine
from mbc_rules.cohort.reading import (
    FIELDS,
    ID_FIELD,
    ColumnValidator,
    encode_series,
    field_errors,
    frame_reader,
)
from mbc_rules.cohort.rows import CohortResult, RowError, _optional, evaluate_rows
from mbc_rules.cohort_summary import CohortSummary, FirstChoiceCounts, from_counts
from mbc_rules.errors import MbcRulesError
from mbc_rules.evaluation import Evaluation
from mbc_rules.profile import PatientProfile
from mbc_rules.rank import CATEGORY_ORDER
from mbc_rules.rulebase import Rulebase

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ErrorMode = Literal["raise", "collect"]
ExtraMode = Literal["ignore", "forbid"]
LONG_COLUMNS = ("patient_id", "category", "rank", "tier", "agents", "source_ids")
ERROR_COLUMNS = ("patient_id", "field", "value", "message")
CHUNK_ROWS = 65_536
DEFAULT_VERIFY = 200


class VerificationError(MbcRulesError):
    """The columnar engine and durable-rules disagree on a row (a bug: please report it)."""


@dataclass
class _Engines:
    """Per-process state for one rulebase: the columnar engine and the validator's memory."""

    engine: ColumnarEngine
    validator: ColumnValidator


# Per rulebase, while it lives (neither holds the rulebase).
_ENGINES: weakref.WeakKeyDictionary[Rulebase, _Engines] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()


def _engines(rulebase: Rulebase) -> _Engines:
    with _ENGINES_LOCK:
        found = _ENGINES.get(rulebase)
        if found is None:
            found = _ENGINES[rulebase] = _Engines(
                ColumnarEngine(rulebase), ColumnValidator(rulebase.vocabulary)
            )
        return found


@dataclass
class _Parts:
    """The pieces of the output tables, accumulated chunk by chunk."""

    long_rows: list[np.ndarray] = field(default_factory=list)  # positions
    long_categories: list[np.ndarray] = field(default_factory=list)
    long_ranks: list[np.ndarray] = field(default_factory=list)
    long_options: list[np.ndarray] = field(default_factory=list)
    wide_ranks: list[np.ndarray] = field(default_factory=list)  # (rows, categories)
    errors: list[tuple[int, str, Any, str]] = field(default_factory=list)
    fired: Counter[str] = field(default_factory=Counter)
    row_fired: dict[int, frozenset[str]] = field(default_factory=dict)
    spilled: dict[int, Evaluation] = field(default_factory=dict)


def _columns(frame: pd.DataFrame, extra: ExtraMode) -> list[str]:
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MbcRulesError(f"the frame has more than one column named {', '.join(repeated)}")
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        if extra == "forbid":
            raise MbcRulesError(
                f"columns that are not profile fields: {', '.join(unknown)} "
                "(extra='ignore' reads the frame without them)"
            )
        if extra != "ignore":
            raise ValueError(f"extra must be 'ignore' or 'forbid', not {extra!r}")
        warnings.warn(
            f"columns that are not profile fields are ignored: {', '.join(unknown)}",
            UserWarning,
            stacklevel=4,
        )
    return [n for n in names if n in FIELDS]


def _row_ids(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The id of each row: its patient_id cell, or its index label where that is empty."""
    import numpy as np

    labels = frame.index.to_numpy(dtype=object)
    if ID_FIELD not in names:
        return labels
    cells = frame.iloc[:, list(map(str, frame.columns)).index(ID_FIELD)].to_numpy(dtype=object)
    missing = np.asarray(_pandas().isna(cells), dtype=bool)
    text = np.fromiter((type(c) is str for c in cells), dtype=bool, count=len(cells))
    if text.any():
        missing[text] = [not c.strip() for c in cells[text]]
    ids = cells.copy()
    ids[missing] = labels[missing]
    return ids


def _repeated(ids: np.ndarray) -> np.ndarray:
    """Which rows share their id with another row."""
    import numpy as np

    pandas = _pandas()
    try:
        return np.asarray(pandas.Series(ids, dtype=object).duplicated(keep=False), dtype=bool)
    except TypeError:  # an unhashable id: compare by identity there
        keys = [k if _hashable(k) else ("unhashable", id(k)) for k in ids]
        series = pandas.Series(keys, dtype=object)
        return np.asarray(series.duplicated(keep=False), dtype=bool)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _chunk(
    frame: pd.DataFrame,
    names: Sequence[str],
    start: int,
    excluded: np.ndarray,
    rulebase: Rulebase,
    parts: _Parts,
    errors: ErrorMode,
    watch: set[int],
) -> None:
    import numpy as np

    state = _engines(rulebase)
    count = len(frame)
    positions = {str(c): i for i, c in enumerate(frame.columns)}
    columns: dict[str, EncodedColumn] = {
        name: encode_series(name, frame.iloc[:, positions[name]]) for name in names
    }
    read = state.validator.read(columns, count)
    invalid = read.invalid | excluded
    for found in np.flatnonzero(read.invalid & ~excluded):
        row = int(found)
        mapping = frame_reader(frame, names)(row)
        try:
            evaluation = rulebase.evaluate(mapping)
        except ValidationError as error:
            if errors == "raise":
                raise
            parts.errors.extend((start + row, f, v, m) for f, v, m in field_errors(error))
        else:
            # Column by column it failed, as a whole it stands: take the row path.
            parts.spilled[start + row] = evaluation
    rows = np.flatnonzero(~invalid)
    answer = state.engine.evaluate(read, rows)
    wide = np.zeros((count, len(CATEGORY_ORDER)), dtype=np.int64)
    wide[rows] = answer.ranks
    for position, evaluation in parts.spilled.items():
        if start <= position < start + count:
            for option in evaluation.options:
                wide[position - start, CATEGORY_ORDER.index(option.category)] = option.rank
    parts.wide_ranks.append(wide)
    offered_rows, offered_categories = np.nonzero(answer.ranks)
    order = np.lexsort(
        (offered_categories, answer.ranks[offered_rows, offered_categories], offered_rows)
    )
    offered_rows, offered_categories = offered_rows[order], offered_categories[order]
    parts.long_rows.append(rows[offered_rows] + start)
    parts.long_categories.append(offered_categories)
    parts.long_ranks.append(answer.ranks[offered_rows, offered_categories])
    parts.long_options.append(answer.options[offered_rows, offered_categories])
    for index, total in enumerate(answer.fired.sum(axis=0)):
        if total:
            parts.fired[state.engine.rule_ids[index]] += int(total)
    for position, evaluation in parts.spilled.items():
        if start <= position < start + count:
            parts.fired.update(evaluation.fired_rules)
    if watch:
        local = {p - start: p for p in watch if start <= p < start + count}
        where = {int(r): i for i, r in enumerate(rows) if int(r) in local}
        for row, index in where.items():
            ids = state.engine.rule_ids
            parts.row_fired[local[row]] = frozenset(
                ids[j] for j in np.flatnonzero(answer.fired[index])
            )


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


def _verify(
    frame: pd.DataFrame,
    names: Sequence[str],
    rulebase: Rulebase,
    watch: set[int],
    parts: _Parts,
    long: pd.DataFrame,
    ids: np.ndarray,
) -> None:
    from mbc_rules.engine import _import_durable

    if not watch or _import_durable() is None:
        return
    oracle = _durable(rulebase)
    reader = frame_reader(frame, names)
    positions = long["_position"].to_numpy()
    for position in sorted(watch):
        if position not in parts.row_fired:
            continue
        label = frame.index[position]
        mapping = reader(position)
        expected = oracle.evaluate(mapping)
        got = parts.row_fired[position]
        differ = sorted(set(expected.fired_rules) ^ got)
        if differ:
            raise VerificationError(
                f"row {label!r} (patient {ids[position]!r}): rule {differ[0]} fires on "
                f"{'durable-rules' if differ[0] in expected.fired_rules else 'the columnar engine'}"
                " only"
            )
        mine = long[positions == position]
        ours = [
            (str(c), int(r), str(t), tuple(a), tuple(s))
            for c, r, t, a, s in zip(
                mine["category"],
                mine["rank"],
                mine["tier"],
                mine["agents"],
                mine["source_ids"],
                strict=True,
            )
        ]
        theirs = [
            (o.category, o.rank, o.tier, tuple(o.agents), tuple(o.source_ids))
            for o in expected.options
        ]
        if ours != theirs:
            first = next(
                (a, b)
                for a, b in zip(ours + [None] * 10, theirs + [None] * 10, strict=False)
                if a != b
            )
            raise VerificationError(
                f"row {label!r} (patient {ids[position]!r}): the columnar engine gives "
                f"{first[0]} where durable-rules gives {first[1]} (rules: "
                f"{', '.join(expected.fired_rules)})"
            )


# The durable-rules twin of each rulebase, kept while the rulebase lives. Weakly keyed by the
# rulebase itself: keyed by id(), a new rulebase at a freed one's address was handed the old
# one's oracle (other rules), and nothing was ever let go. The twin holds no reference back.
_ORACLES: weakref.WeakKeyDictionary[Rulebase, Rulebase] = weakref.WeakKeyDictionary()


def _durable(rulebase: Rulebase) -> Rulebase:
    if rulebase.engine == "durable":
        return rulebase
    found = _ORACLES.get(rulebase)
    if found is None:
        found = _ORACLES[rulebase] = rulebase.with_engine("durable")
    return found


def _assemble(
    frame: pd.DataFrame,
    names: Sequence[str],
    rulebase: Rulebase,
    parts: _Parts,
    ids: np.ndarray,
    keep_frame: bool,
) -> FrameResult:
    import numpy as np
    import pandas as pd

    state = _engines(rulebase)
    index = frame.index
    len(frame)
    rows = np.concatenate(parts.long_rows) if parts.long_rows else np.zeros(0, np.int64)
    categories = (
        np.concatenate(parts.long_categories) if parts.long_categories else np.zeros(0, np.int64)
    )
    ranks = np.concatenate(parts.long_ranks) if parts.long_ranks else np.zeros(0, np.int64)
    options = np.concatenate(parts.long_options) if parts.long_options else np.zeros(0, np.int64)
    tiers = np.empty(len(rows), dtype=object)
    agents = np.empty(len(rows), dtype=object)
    sources = np.empty(len(rows), dtype=object)
    for category, per_category in enumerate(state.engine.options):
        where = np.flatnonzero(categories == category)
        if not len(where):
            continue
        table_tier = np.empty(len(per_category), dtype=object)
        table_agents = np.empty(len(per_category), dtype=object)
        table_sources = np.empty(len(per_category), dtype=object)
        table_tier[:] = [o.tier for o in per_category]
        table_agents[:] = [tuple(o.agents) for o in per_category]
        table_sources[:] = [tuple(o.source_ids) for o in per_category]
        chosen = options[where]
        tiers[where] = table_tier[chosen]
        agents[where] = table_agents[chosen]
        sources[where] = table_sources[chosen]
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
        categories = np.concatenate([categories, np.array(add[1], dtype=np.int64)])
        ranks = np.concatenate([ranks, np.array(add[2], dtype=np.int64)])
        tiers = np.concatenate([tiers, _objects(add[3])])
        agents = np.concatenate([agents, _objects(add[4])])
        sources = np.concatenate([sources, _objects(add[5])])
        order = np.lexsort((categories, ranks, rows))
        rows, categories, ranks = rows[order], categories[order], ranks[order]
        tiers, agents, sources = tiers[order], agents[order], sources[order]
    # One index object shared by every column: a million-row cohort has some eight million
    # long rows, and each copy of the index is 8 bytes a row.
    long_index = index.take(rows)
    long = pd.DataFrame(
        {
            "patient_id": pd.Series(ids[rows], dtype=object, index=long_index, copy=False),
            "category": pd.Categorical.from_codes(
                categories.astype(np.int64, copy=False), categories=pd.Index(list(CATEGORY_ORDER))
            ),
            "rank": ranks.astype(np.int64, copy=False),
            "tier": pd.Series(tiers, dtype=object, index=long_index, copy=False),
            "agents": pd.Series(agents, dtype=object, index=long_index, copy=False),
            "source_ids": pd.Series(sources, dtype=object, index=long_index, copy=False),
        },
        index=long_index,
        columns=list(LONG_COLUMNS),
        copy=False,
    )
    del tiers, agents, sources
    long["_position"] = rows
    wide_ranks = (
        np.concatenate(parts.wide_ranks)
        if parts.wide_ranks
        else np.zeros((0, len(CATEGORY_ORDER)), np.int64)
    )
    wide = pd.DataFrame({"patient_id": pd.Series(ids, dtype=object, index=index)}, index=index)
    for category, name in enumerate(CATEGORY_ORDER):
        column = wide_ranks[:, category]
        wide[name] = pd.arrays.IntegerArray(column.astype(np.int64), column == 0)
    parts.errors.sort(key=lambda e: e[0])
    errors = _errors_frame(frame, parts.errors, ids)
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


def _objects(values: Sequence[Any]) -> np.ndarray:
    import numpy as np

    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _as_frame(data: Any) -> pd.DataFrame:
    pandas = _optional("pandas", "pandas")
    if isinstance(data, pandas.DataFrame):
        return cast("pd.DataFrame", data)
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        if path.suffix.lower() not in (".parquet", ".pq"):
            raise MbcRulesError(f"{path}: only Parquet files are read directly (.parquet)")
        pq = _optional("pyarrow.parquet", "pyarrow")
        data = pq.read_table(path)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        from mbc_rules.cohort.arrow import arrow_to_frame

        return arrow_to_frame(data)
    raise MbcRulesError(
        "a cohort is a pandas DataFrame, an Arrow table or a Parquet path, "
        f"not {type(data).__name__}"
    )


def evaluate_frame(
    frame: Any,
    *,
    rulebase: Rulebase | None = None,
    errors: ErrorMode = "collect",
    extra: ExtraMode = "ignore",
    verify: int = DEFAULT_VERIFY,
    n_jobs: int = 1,
    progress: bool = False,
) -> FrameResult:
    """Evaluate one patient per row (needs ``mbc-rules[pandas]``; Arrow needs ``[pyarrow]``).

    Args:
        frame: a pandas DataFrame, a pyarrow Table or RecordBatch, or the path of a Parquet
            file. Columns are profile fields; an empty cell (None, NaN, ``""``) leaves the
            field unknown; list fields also read ``"bone; lung"``. The row id is the
            ``patient_id`` cell (any hashable value), or the row's index label where empty.
        rulebase: defaults to the bundled one.
        errors: ``collect`` (default) puts failed rows in ``errors``; ``raise`` stops at the
            first (pydantic.ValidationError, or ValueError for a repeated id).
        extra: ``ignore`` (default) warns once naming the columns that are not profile
            fields; ``forbid`` raises instead.
        verify: how many sampled rows to re-evaluate through durable-rules (where it
            imports); any difference raises :class:`VerificationError`. 0 turns it off.
        n_jobs: worker processes (-1: one per core).
        progress: show a progress bar over chunks (needs tqdm).

    Returns:
        A :class:`FrameResult` with ``long``, ``wide`` and ``errors`` frames.
    """
    import numpy as np

    frame = _as_frame(frame)
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    rulebase = rulebase or Rulebase.bundled()
    names = _columns(frame, extra)
    ids = _row_ids(frame, names)
    repeated = _repeated(ids)
    parts = _Parts()
    for position in np.flatnonzero(repeated):
        message = f"patient id {ids[position]!r} is given to more than one row"
        if errors == "raise":
            raise ValueError(message)
        parts.errors.append((int(position), ID_FIELD, ids[position], message))
    candidates = np.flatnonzero(~repeated)
    sample = min(max(int(verify), 0), len(candidates))
    chosen = random.Random(0).sample(range(len(candidates)), sample) if sample else []
    watch = {int(candidates[i]) for i in chosen}
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
    total = len(frame)
    if jobs > 1 and total > CHUNK_ROWS // 8:
        step = -(-total // jobs)
        tasks = [
            (
                frame.iloc[b : b + step],
                names,
                b,
                ids[b : b + step],
                repeated[b : b + step],
                rulebase,
                errors,
                {p - b for p in watch if b <= p < b + step},
            )
            for b in range(0, total, step)
        ]
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            done = list(pool.map(_run_part, tasks))
        out = _concatenate(frame, names, rulebase, [d[0] for d in done])
        for _, fired in done:
            parts.row_fired.update(fired)
        errors_frame = _pandas().concat([_errors_frame(frame, parts.errors, ids), out.errors])
        out.errors = errors_frame.sort_values("_position", kind="stable")
        out._failed = out._failed | {e[0] for e in parts.errors}
    else:
        out, _ = _evaluate(frame, names, ids, repeated, rulebase, errors, watch, progress, parts)
    _verify(frame, names, rulebase, watch, parts, out.long, ids)
    out.long = out.long.drop(columns="_position")
    out.errors = out.errors.drop(columns="_position")
    return out


def _pandas() -> Any:
    return _optional("pandas", "pandas")


def _errors_frame(
    frame: pd.DataFrame, entries: Sequence[tuple[int, str, Any, str]], ids: np.ndarray
) -> pd.DataFrame:
    import numpy as np

    pandas = _pandas()
    positions = np.array([e[0] for e in entries], dtype=np.int64)
    index = frame.index.take(positions)
    columns = {
        "patient_id": _objects(list(ids[positions])) if len(positions) else _objects([]),
        "field": _objects([e[1] for e in entries]),
        "value": _objects([e[2] for e in entries]),
        "message": _objects([e[3] for e in entries]),
    }
    errors = pandas.DataFrame(
        {k: pandas.Series(v, dtype=object, index=index) for k, v in columns.items()},
        index=index,
        columns=list(ERROR_COLUMNS),
    )
    errors["_position"] = positions
    return cast("pd.DataFrame", errors)


def _evaluate(
    frame: pd.DataFrame,
    names: Sequence[str],
    ids: np.ndarray,
    repeated: np.ndarray,
    rulebase: Rulebase,
    errors: ErrorMode,
    watch: set[int],
    progress: bool,
    parts: _Parts | None = None,
) -> tuple[FrameResult, _Parts]:
    from mbc_rules.cohort.rows import _progress_bar

    parts = parts or _Parts()
    total = len(frame)
    bounds = list(range(0, total, CHUNK_ROWS)) or [0]
    bar = _progress_bar()(total=total, unit="patient") if progress else None
    with collector_paused():  # see cohort/collection.py: a third of the time, freeing nothing
        for start in bounds:
            _chunk(
                frame.iloc[start : start + CHUNK_ROWS],
                names,
                start,
                repeated[start : start + CHUNK_ROWS],
                rulebase,
                parts,
                errors,
                watch,
            )
            collect_chunk()
            if bar is not None:
                bar.update(min(CHUNK_ROWS, total - start))
        if bar is not None:
            bar.close()
        return _assemble(frame, names, rulebase, parts, ids, keep_frame=True), parts


def _run_part(task: tuple[Any, ...]) -> tuple[FrameResult, dict[int, frozenset[str]]]:
    frame, names, start, ids, repeated, rulebase, errors, watch = task
    out, parts = _evaluate(frame, names, ids, repeated, rulebase, errors, watch, False)
    out._frame = None  # the parent has it
    out.long["_position"] += start
    out.errors["_position"] += start
    return out, {p + start: fired for p, fired in parts.row_fired.items()}


def _concatenate(
    frame: pd.DataFrame, names: Sequence[str], rulebase: Rulebase, results: list[FrameResult]
) -> FrameResult:
    pandas = _pandas()
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


PARTITION_COLUMNS = (*LONG_COLUMNS, "error")


def partition_meta() -> pd.DataFrame:
    """An empty frame with the columns and dtypes of :func:`evaluate_partition`'s output."""
    pandas = _pandas()
    frame = pandas.DataFrame(
        {
            "patient_id": pandas.Series(dtype="object"),
            "category": pandas.Series(dtype="object"),
            "rank": pandas.Series(dtype="Int64"),
            "tier": pandas.Series(dtype="object"),
            "agents": pandas.Series(dtype="object"),
            "source_ids": pandas.Series(dtype="object"),
            "error": pandas.Series(dtype="object"),
        }
    )
    return cast("pd.DataFrame", frame)


def evaluate_partition(
    frame: pd.DataFrame, rulebase: Rulebase | None = None, *, verify: int = DEFAULT_VERIFY
) -> pd.DataFrame:
    """One pass over a partition, for distributed engines: the long table and the failed rows.

    The columnar engine evaluates the partition. Rows that evaluate give one row per offered
    category with ``error`` empty; each problem of a row that fails gives one row with only
    ``patient_id`` and ``error``. Use it as a Dask ``map_partitions`` function
    (``meta=partition_meta()``) or inside a Spark ``mapInPandas`` function; the rulebase
    pickles and rebuilds its engine in each worker process.
    """
    pandas = _pandas()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # extra columns: the caller's choice
        out = evaluate_frame(frame, rulebase=rulebase, errors="collect", verify=verify)
    long = out.long.astype({"category": object})
    messages = zip(out.errors["field"], out.errors["message"], strict=True)
    failed = pandas.DataFrame(
        {
            "patient_id": out.errors["patient_id"],
            "error": [f"{f}: {m}" for f, m in messages],
        },
        columns=["patient_id", "error"],
    )
    parts = [part for part in (long, failed) if len(part)]
    if not parts:
        return partition_meta()
    combined = pandas.concat(parts, ignore_index=True)
    combined = combined.reindex(columns=list(PARTITION_COLUMNS))
    combined["rank"] = combined["rank"].astype("Int64")
    for column in ("patient_id", "category", "tier", "agents", "source_ids", "error"):
        combined[column] = combined[column].astype("object")
    return cast("pd.DataFrame", combined)


def evaluate_many(
    profiles: Iterable[PatientProfile | Mapping[str, Any]],
    *,
    rulebase: Rulebase | None = None,
    errors: ErrorMode = "raise",
    progress: bool = False,
    verify: int = DEFAULT_VERIFY,
) -> CohortResult:
    """Evaluate many profiles (mappings or models) with the columnar engine.

    A profile's ``patient_id`` names it, else its position (as text). ``errors="raise"``
    stops at the first invalid profile; ``collect`` returns it in ``errors`` and goes on.
    Without pandas, each profile is evaluated on its own.

    Returns:
        A :class:`CohortResult`; its ``evaluations`` are built when read.

    Raises:
        pydantic.ValidationError: an invalid profile, with ``errors="raise"``.
        ValueError: two profiles share a patient id, with ``errors="raise"``.
    """
    try:
        pandas = _pandas()
    except MbcRulesError:
        return evaluate_rows(profiles, rulebase=rulebase, errors=errors, progress=progress)
    records: list[dict[str, Any]] = []
    not_mappings: list[tuple[int, Any]] = []
    for position, profile in enumerate(profiles):
        if isinstance(profile, PatientProfile):
            records.append(profile.model_dump(exclude_defaults=True))
        elif isinstance(profile, Mapping):
            records.append({str(k): v for k, v in profile.items()})
        else:
            records.append({})
            not_mappings.append((position, profile))
    if not_mappings and errors == "raise":
        raise MbcRulesError(f"a profile is a mapping, not {type(not_mappings[0][1]).__name__}")
    frame = pandas.DataFrame.from_records(records, index=[str(i) for i in range(len(records))])
    if not_mappings:
        frame = frame.drop(index=[str(p) for p, _ in not_mappings])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = evaluate_frame(
            frame, rulebase=rulebase, errors=errors, progress=progress, verify=verify
        )
    result: CohortResult = out.result
    for position, profile in not_mappings:
        result.errors.append(
            RowError(str(position), f"a profile is a mapping, not {type(profile).__name__}")
        )
    return result


def columnar_trace(
    frame: pd.DataFrame, rulebase: Rulebase | None = None
) -> list[tuple[dict[str, Any], frozenset[str]] | None]:
    """For each row, the facts and fired rules of the columnar engine (None: invalid row).

    For checking the engine against :func:`mbc_rules.facts.derive_facts` and the matchers;
    it keeps every row's facts, so it is not for large frames.
    """
    import numpy as np

    rulebase = rulebase or Rulebase.bundled()
    state = _engines(rulebase)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        names = _columns(frame, "ignore")
    positions = {str(c): i for i, c in enumerate(frame.columns)}
    columns = {name: encode_series(name, frame.iloc[:, positions[name]]) for name in names}
    read = state.validator.read(columns, len(frame))
    rows = np.flatnonzero(~read.invalid)
    facts = state.engine.facts(read, rows)
    fired = state.engine.masks(facts, len(rows))
    out: list[tuple[dict[str, Any], frozenset[str]] | None] = [None] * len(frame)
    for index, row in enumerate(rows):
        row_facts = {name: values[codes[index]] for name, (codes, values) in facts.items()}
        ids = frozenset(state.engine.rule_ids[j] for j in np.flatnonzero(fired[index]))
        out[int(row)] = (row_facts, ids)
    return out
