"""Cohort results, and the row-by-row path (used where pandas is not installed).

Rows that fail validation do not stop a run when ``errors="collect"``: they are returned with
their row id and message. pandas (``mbc-rules[pandas]``), tqdm (``mbc-rules[progress]``) and
matplotlib (``mbc-rules[plot]``) are optional and imported only when used.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from mbc_rules.cohort_summary import CohortSummary, summarise
from mbc_rules.errors import MbcRulesError
from mbc_rules.evaluation import Evaluation
from mbc_rules.extras import optional
from mbc_rules.profile import PatientProfile
from mbc_rules.rulebase import Rulebase
from mbc_rules.vocabulary import CATEGORY_ORDER

if TYPE_CHECKING:
    pass

ErrorMode = Literal["raise", "collect"]

LONG_COLUMNS = ("patient_id", "category", "rank", "tier", "agents", "source_ids")


@dataclass(frozen=True)
class RowError:
    """A row that could not be evaluated."""

    row_id: str
    message: str


@dataclass(frozen=True)
class CohortResult:
    """Evaluations by patient id, in input order, and the rows that failed.

    From the columnar engine, ``evaluations`` builds each result when it is read, and the
    records and the summary come from its tables.
    """

    evaluations: Mapping[str, Evaluation]
    errors: list[RowError] = field(default_factory=list)
    frame_result: Any = None

    def long_records(self) -> list[dict[str, Any]]:
        """One record per patient and offered category."""
        if self.frame_result is not None:
            long = self.frame_result.long.astype({"category": str})
            return [
                {
                    **record,
                    "agents": list(record["agents"]),
                    "source_ids": list(record["source_ids"]),
                }
                for record in long.to_dict(orient="records")
            ]
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
        if self.frame_result is not None:
            wide = self.frame_result.wide
            ok = [p not in self.frame_result._failed for p in range(len(wide))]
            return [
                {k: (None if v is None or v != v else v) for k, v in r.items()}
                for r in wide[ok].astype(object).to_dict(orient="records")
            ]
        records = []
        for patient_id, result in self.evaluations.items():
            ranks: dict[str, int] = {o.category: o.rank for o in result.options}
            records.append({"patient_id": patient_id, **{c: ranks.get(c) for c in CATEGORY_ORDER}})
        return records

    def summary(self) -> CohortSummary:
        """How often each category ranks first (ties counted once per patient), how often each
        rule fires, and how many rows failed, as DataFrames (needs pandas).
        """
        if self.frame_result is not None:
            summary: CohortSummary = self.frame_result.summary()
            return summary
        return summarise(self.evaluations.values(), failed=len(self.errors))


def _progress_bar() -> Any:
    # tqdm.auto picks the widget bar in any Jupyter kernel and warns ("IProgress not found")
    # where ipywidgets is missing: the widget bar is used only where it can be drawn.
    import importlib.util
    import sys

    shell = sys.modules.get("IPython")
    ipython = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    in_kernel = ipython is not None and "IPKernelApp" in getattr(ipython, "config", {})
    if in_kernel and importlib.util.find_spec("ipywidgets") is not None:
        return optional("tqdm.notebook", "progress").tqdm
    return optional("tqdm.std", "progress").tqdm


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


def evaluate_rows(
    profiles: Iterable[PatientProfile | Mapping[str, Any]],
    *,
    rulebase: Rulebase | None = None,
    errors: ErrorMode = "raise",
    progress: bool = False,
) -> CohortResult:
    """Evaluate many profiles one by one (the path without pandas).

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
