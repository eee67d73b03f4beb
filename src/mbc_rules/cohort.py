"""Cohorts: many profiles at once, as plain records or as pandas frames.

Rows that fail validation do not stop a run when ``errors="collect"``: they are returned with
their row id and message. pandas (``mbc-rules[pandas]``), tqdm (``mbc-rules[progress]``) and
matplotlib (``mbc-rules[plot]``) are optional and imported only when used.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import ValidationError

from mbc_rules.cohort_summary import CohortSummary, summarise
from mbc_rules.errors import MbcRulesError
from mbc_rules.profile import PatientProfile
from mbc_rules.rank import CATEGORY_ORDER
from mbc_rules.result import Evaluation
from mbc_rules.rulebase import Rulebase

if TYPE_CHECKING:
    import pandas as pd

ErrorMode = Literal["raise", "collect"]

LONG_COLUMNS = ("patient_id", "category", "rank", "tier", "agents", "source_ids")


@dataclass(frozen=True)
class RowError:
    """A row that could not be evaluated."""

    row_id: str
    message: str


@dataclass(frozen=True)
class CohortResult:
    """Evaluations by patient id, in input order, and the rows that failed."""

    evaluations: dict[str, Evaluation]
    errors: list[RowError] = field(default_factory=list)

    def long_records(self) -> list[dict[str, Any]]:
        """One record per patient and offered category."""
        return [
            {
                "patient_id": patient_id,
                "category": option.category,
                "rank": option.rank,
                "tier": option.tier,
                "agents": list(option.agents),
                "source_ids": list(option.source_ids),
            }
            for patient_id, result in self.evaluations.items()
            for option in result.options
        ]

    def wide_records(self) -> list[dict[str, Any]]:
        """One record per patient: the rank of each category, None where not offered."""
        records = []
        for patient_id, result in self.evaluations.items():
            ranks: dict[str, int] = {o.category: o.rank for o in result.options}
            records.append({"patient_id": patient_id, **{c: ranks.get(c) for c in CATEGORY_ORDER}})
        return records

    def summary(self) -> CohortSummary:
        """How often each category ranks first (ties counted once per patient), how often each
        rule fires, and how many rows failed, as DataFrames (needs pandas).
        """
        return summarise(self.evaluations.values(), failed=len(self.errors))


def _optional(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MbcRulesError(
            f"{module.split('.')[0]} is needed for this; install mbc-rules[{extra}]"
        ) from error


def _progress_bar() -> Any:
    # tqdm.auto picks the widget bar in any Jupyter kernel and warns ("IProgress not found")
    # where ipywidgets is missing: the widget bar is used only where it can be drawn.
    import importlib.util
    import sys

    shell = sys.modules.get("IPython")
    ipython = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    in_kernel = ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})
    if in_kernel and importlib.util.find_spec("ipywidgets") is not None:
        return _optional("tqdm.notebook", "progress").tqdm
    return _optional("tqdm.std", "progress").tqdm


def _progress(items: Iterable[Any], enabled: bool, total: int | None) -> Iterable[Any]:
    if not enabled:
        return items
    wrapped: Iterable[Any] = _progress_bar()(items, total=total, unit="patient")
    return wrapped


def _message(error: ValidationError | MbcRulesError) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(profile)'}: {e['msg']}"
            for e in error.errors()
        )
    return str(error)


def evaluate_many(
    profiles: Iterable[PatientProfile | Mapping[str, Any]],
    *,
    rulebase: Rulebase | None = None,
    errors: ErrorMode = "raise",
    progress: bool = False,
) -> CohortResult:
    """Evaluate many profiles.

    Args:
        profiles: mappings or models; a profile's ``patient_id`` names it, else its position.
        rulebase: defaults to the bundled one.
        errors: ``raise`` stops at the first invalid profile; ``collect`` returns it in
            ``errors`` and goes on.
        progress: show a progress bar (needs tqdm).

    Raises:
        pydantic.ValidationError: an invalid profile, with ``errors="raise"``.
        ValueError: two profiles share a patient id.
    """
    return _run(_numbered(profiles), rulebase, errors, progress, _length(profiles))


def _length(items: Any) -> int | None:
    return len(items) if hasattr(items, "__len__") else None


def _numbered(
    profiles: Iterable[PatientProfile | Mapping[str, Any]],
) -> Iterator[tuple[str, PatientProfile | Mapping[str, Any]]]:
    for position, profile in enumerate(profiles):
        given = (
            profile.patient_id
            if isinstance(profile, PatientProfile)
            else profile.get("patient_id")
            if isinstance(profile, Mapping)
            else None
        )
        yield (str(given) if given is not None else str(position)), profile


def _run(
    rows: Iterable[tuple[str, Any]],
    rulebase: Rulebase | None,
    errors: ErrorMode,
    progress: bool,
    total: int | None,
) -> CohortResult:
    if errors not in ("raise", "collect"):
        raise ValueError(f"errors must be 'raise' or 'collect', not {errors!r}")
    rulebase = rulebase or Rulebase.bundled()
    evaluations: dict[str, Evaluation] = {}
    failed: list[RowError] = []
    for row_id, profile in _progress(rows, progress, total):
        if row_id in evaluations:
            raise ValueError(f"patient id {row_id!r} appears twice")
        try:
            if not isinstance(profile, Mapping | PatientProfile):
                raise MbcRulesError(f"a profile is a mapping, not {type(profile).__name__}")
            evaluations[row_id] = rulebase.evaluate(profile)
        except (ValidationError, MbcRulesError) as error:
            if errors == "raise":
                raise
            failed.append(RowError(row_id, _message(error)))
    return CohortResult(evaluations, failed)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _plain(value: Any) -> Any:
    # Frames hold list cells as numpy arrays (Dask, pyarrow) and numbers as numpy scalars:
    # these are containers, not values, and become the list or number they hold.
    if isinstance(value, str | bytes | dict | list):
        return [_plain(v) for v in value] if isinstance(value, list) else value
    tolist = getattr(value, "tolist", None)
    return _plain(tolist()) if callable(tolist) else value


def _row_profile(row: Mapping[str, Any]) -> dict[str, Any]:
    # A missing cell means "not given", which is what leaving a field out means: its default
    # (unknown) applies. Nothing else is converted: a wrong value stays wrong and is reported.
    return {k: _plain(v) for k, v in row.items() if not _is_missing(v)}


@dataclass(frozen=True)
class FrameResult:
    """The frames of a cohort evaluation."""

    long: pd.DataFrame
    wide: pd.DataFrame
    errors: pd.DataFrame
    result: CohortResult

    def summary(self) -> CohortSummary:
        """How often each category ranks first; how often each rule fires."""
        return self.result.summary()


def evaluate_frame(
    frame: pd.DataFrame,
    *,
    rulebase: Rulebase | None = None,
    errors: ErrorMode = "collect",
    progress: bool = False,
) -> FrameResult:
    """Evaluate one patient per row of a pandas DataFrame (needs ``mbc-rules[pandas]``).

    Columns are profile fields; an empty cell leaves the field unknown. The row id is the
    ``patient_id`` column where there is one, else the frame's index.

    Returns:
        ``long`` (patient_id, category, rank, tier, agents, source_ids), ``wide`` (one column
        per category holding its rank), ``errors`` (row_id, message) and the records.
    """
    pandas = _optional("pandas", "pandas")
    has_ids = "patient_id" in frame.columns
    records: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")
    ]
    rows = (
        (
            str(record["patient_id"])
            if has_ids and not _is_missing(record["patient_id"])
            else str(index),
            _row_profile(record),
        )
        for index, record in zip(frame.index, records, strict=True)
    )
    result = _run(rows, rulebase, errors, progress, len(frame))
    long = pandas.DataFrame(result.long_records(), columns=list(LONG_COLUMNS))
    wide = pandas.DataFrame(result.wide_records(), columns=["patient_id", *CATEGORY_ORDER])
    for category in CATEGORY_ORDER:
        wide[category] = wide[category].astype("Int64")
    errors_frame = pandas.DataFrame(
        [{"row_id": e.row_id, "message": e.message} for e in result.errors],
        columns=["row_id", "message"],
    )
    return FrameResult(long=long, wide=wide, errors=errors_frame, result=result)


PARTITION_COLUMNS = (*LONG_COLUMNS, "error")


def partition_meta() -> pd.DataFrame:
    """An empty frame with the columns and dtypes of :func:`evaluate_partition`'s output."""
    pandas = _optional("pandas", "pandas")
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


def evaluate_partition(frame: pd.DataFrame, rulebase: Rulebase | None = None) -> pd.DataFrame:
    """One pass over a partition, for distributed engines: the long table and the failed rows.

    Rows that evaluate give one row per offered category with ``error`` empty; rows that fail
    validation give one row with only ``patient_id`` and ``error``. Use it as a Dask
    ``map_partitions`` function (``meta=partition_meta()``) or inside a Spark ``mapInPandas``
    function; the rulebase pickles and rebuilds its engine in each worker process.
    """
    pandas = _optional("pandas", "pandas")
    out = evaluate_frame(frame, rulebase=rulebase, errors="collect")
    failed = pandas.DataFrame(
        {"patient_id": out.errors["row_id"], "error": out.errors["message"]},
        columns=["patient_id", "error"],
    )
    parts = [frame_ for frame_ in (out.long, failed) if len(frame_)]
    if not parts:
        return partition_meta()
    combined = pandas.concat(parts, ignore_index=True)
    combined = combined.reindex(columns=list(PARTITION_COLUMNS))
    combined["rank"] = combined["rank"].astype("Int64")
    for column in ("patient_id", "category", "tier", "agents", "source_ids", "error"):
        combined[column] = combined[column].astype("object")
    return cast("pd.DataFrame", combined)
