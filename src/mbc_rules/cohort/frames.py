"""Cohorts as frames: chunk by chunk, read and validated column-wise, evaluated by the
columnar engine (:mod:`mbc_rules.cohort.columnar`), in one process or several.

The rows it cannot read column-wise (invalid ones) are validated one by one for pydantic's own
messages. The input is read by :mod:`~mbc_rules.cohort.frame_input`, the tables assembled by
:mod:`~mbc_rules.cohort.tables`, and sampled rows checked against durable-rules, the engine of
record, by :mod:`~mbc_rules.cohort.verify`.
"""

from __future__ import annotations

import os
import random
import threading
import warnings
import weakref
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from mbc_rules.cohort.codes import EncodedColumn
from mbc_rules.cohort.collection import collect_chunk, collector_paused
from mbc_rules.cohort.columnar import ColumnarEngine
from mbc_rules.cohort.frame_input import ExtraMode, as_frame, profile_columns, repeated_ids, row_ids
from mbc_rules.cohort.reading import (
    ID_FIELD,
    ColumnValidator,
    encode_series,
    field_errors,
    frame_reader,
)
from mbc_rules.cohort.rows import CohortResult, RowError, evaluate_rows
from mbc_rules.cohort.tables import (
    OPTION_DTYPE,
    RANK_DTYPE,
    FrameResult,
    TableParts,
    assemble,
    concatenate,
    errors_frame,
    offered_in_order,
)
from mbc_rules.cohort.verify import DEFAULT_VERIFY, verify_sample
from mbc_rules.errors import MbcRulesError
from mbc_rules.evaluation import Evaluation
from mbc_rules.extras import pandas_module
from mbc_rules.profile import PatientProfile
from mbc_rules.rulebase import Rulebase
from mbc_rules.vocabulary import CATEGORY_ORDER

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ErrorMode = Literal["raise", "collect"]
CHUNK_ROWS = 65_536


@dataclass
class _Engines:
    """Per-process state for one rulebase: the columnar engine and the validator's memory."""

    engine: ColumnarEngine
    validator: ColumnValidator


# Per rulebase, while it lives (neither holds the rulebase).
_ENGINES: weakref.WeakKeyDictionary[Rulebase, _Engines] = weakref.WeakKeyDictionary()


_ENGINES_LOCK = threading.Lock()


def cohort_engines(rulebase: Rulebase) -> _Engines:
    """The columnar engine and the validator of ``rulebase`` in this process."""
    with _ENGINES_LOCK:
        found = _ENGINES.get(rulebase)
        if found is None:
            found = _ENGINES[rulebase] = _Engines(
                ColumnarEngine(rulebase), ColumnValidator(rulebase.vocabulary)
            )
        return found


def _chunk(
    frame: pd.DataFrame,
    names: Sequence[str],
    start: int,
    excluded: np.ndarray,
    rulebase: Rulebase,
    parts: TableParts,
    errors: ErrorMode,
    watch: set[int],
) -> None:
    import numpy as np

    state = cohort_engines(rulebase)
    count = len(frame)
    positions = {str(c): i for i, c in enumerate(frame.columns)}
    columns: dict[str, EncodedColumn] = {
        name: encode_series(name, frame.iloc[:, positions[name]]) for name in names
    }
    read = state.validator.read(columns, count)
    invalid = read.invalid | excluded
    again = np.flatnonzero(read.invalid & ~excluded).tolist()
    reader = frame_reader(frame, names) if again else None
    spilled: list[tuple[int, Evaluation]] = []  # this chunk's, in row order
    for row in again:
        assert reader is not None
        try:
            evaluation = rulebase.evaluate(reader(row))
        except ValidationError as error:
            if errors == "raise":
                raise
            parts.errors.extend((start + row, f, v, m) for f, v, m in field_errors(error))
        else:
            # Column by column it failed, as a whole it stands: take the row path.
            parts.spilled[start + row] = evaluation
            spilled.append((row, evaluation))
    rows = np.flatnonzero(~invalid)
    answer = state.engine.evaluate(read, rows)
    # Ranks are dense ranks among a row's categories: small, so a byte each (see tables).
    wide = np.zeros((count, len(CATEGORY_ORDER)), dtype=RANK_DTYPE)
    wide[rows] = answer.ranks
    for row, evaluation in spilled:
        for option in evaluation.options:
            wide[row, CATEGORY_ORDER.index(option.category)] = option.rank
    parts.wide_ranks.append(wide)
    offered_rows, offered_categories, offered_ranks = offered_in_order(answer.ranks)
    parts.long_rows.append(rows[offered_rows] + start)
    parts.long_categories.append(offered_categories)
    parts.long_ranks.append(offered_ranks)
    parts.long_options.append(
        answer.options[offered_rows, offered_categories].astype(OPTION_DTYPE, copy=False)
    )
    rule_ids = state.engine.rule_ids
    totals = answer.fired.sum(axis=0)
    for index in np.flatnonzero(totals).tolist():
        parts.fired[rule_ids[index]] += int(totals[index])
    for _, evaluation in spilled:
        parts.fired.update(evaluation.fired_rules)
    if watch:
        # The watched rows that were evaluated here (``rows`` is sorted), in row order.
        local = sorted(p - start for p in watch if start <= p < start + count)
        at = np.searchsorted(rows, local).tolist()
        for row, index in zip(local, at, strict=True):
            if index < len(rows) and rows[index] == row:
                parts.row_fired[start + row] = frozenset(
                    rule_ids[j] for j in np.flatnonzero(answer.fired[index])
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

    frame = as_frame(frame)
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    rulebase = rulebase or Rulebase.bundled()
    names = profile_columns(frame, extra)
    ids = row_ids(frame, names)
    repeated = repeated_ids(ids)
    parts = TableParts()
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
        out = concatenate(frame, names, rulebase, [d[0] for d in done])
        for _, fired in done:
            parts.row_fired.update(fired)
        every_error = pandas_module().concat([errors_frame(frame, parts.errors, ids), out.errors])
        out.errors = every_error.sort_values("_position", kind="stable")
        out._failed = out._failed | {e[0] for e in parts.errors}
    else:
        out, _ = _evaluate(frame, names, ids, repeated, rulebase, errors, watch, progress, parts)
    verify_sample(frame, names, rulebase, watch, parts.row_fired, out.long, ids)
    out.long = out.long.drop(columns="_position")
    out.errors = out.errors.drop(columns="_position")
    return out


def _evaluate(
    frame: pd.DataFrame,
    names: Sequence[str],
    ids: np.ndarray,
    repeated: np.ndarray,
    rulebase: Rulebase,
    errors: ErrorMode,
    watch: set[int],
    progress: bool,
    parts: TableParts | None = None,
) -> tuple[FrameResult, TableParts]:
    from mbc_rules.cohort.rows import _progress_bar

    parts = parts or TableParts()
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
        options = cohort_engines(rulebase).engine.options
        return assemble(frame, names, rulebase, parts, ids, True, options), parts


def _run_part(task: tuple[Any, ...]) -> tuple[FrameResult, dict[int, frozenset[str]]]:
    frame, names, start, ids, repeated, rulebase, errors, watch = task
    out, parts = _evaluate(frame, names, ids, repeated, rulebase, errors, watch, False)
    out._frame = None  # the parent has it
    out.long["_position"] += start
    out.errors["_position"] += start
    return out, {p + start: fired for p, fired in parts.row_fired.items()}


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
        pandas = pandas_module()
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
    state = cohort_engines(rulebase)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        names = profile_columns(frame, "ignore")
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
