"""The public entry points: one record into a reading, many records into frames."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mbc_rules.bundled import bundled_vocabulary
from mbc_rules.errors import FhirReadError
from mbc_rules.fhir.read import ConflictPolicy, read_record
from mbc_rules.fhir.reading import FhirReading
from mbc_rules.fhir.records import Resource, collect, parse, patients_in, select
from mbc_rules.rulebase import Rulebase
from mbc_rules.vocabulary import Vocabulary

if TYPE_CHECKING:
    import pandas as pd


def _vocabulary(rulebase: Rulebase | None) -> Vocabulary:
    return bundled_vocabulary() if rulebase is None else rulebase.vocabulary


def _policy(conflicts: str) -> ConflictPolicy:
    if conflicts == "report":
        return "report"
    if conflicts == "latest":
        return "latest"
    raise ValueError(f"conflicts must be 'report' or 'latest', not {conflicts!r}")


def _resources(
    source: object,
) -> tuple[list[Resource], list[tuple[str, str, tuple[str, ...]]]]:
    entries, in_bundle = parse(source)
    return collect(entries, in_bundle=in_bundle)


def read_fhir(
    source: object,
    *,
    patient: str | None = None,
    conflicts: str = "report",
    rulebase: Rulebase | None = None,
) -> FhirReading:
    """Read one patient's FHIR R4 / mCODE record into a profile.

    Args:
        source: a Bundle (a dict, JSON text, or a path to a JSON file) or a JSON array of
            resources (a list, JSON text or a path).
        patient: the Patient id (or ``Patient/id``, a fullUrl or an identifier value) to read
            when the record holds several patients.
        conflicts: ``"report"`` (default): resources that disagree about a field leave it
            unknown and are listed in ``conflicts``. ``"latest"``: the most recent resource
            (by effective date) wins and the disagreement is a warning; when the latest
            resources still disagree, or a date is missing, the field stays unknown.
        rulebase: whose drug vocabulary names the drugs (the bundled one by default).

    Returns:
        The profile, where each field came from, the conflicts and the warnings.

    Raises:
        FhirReadError: the input is not JSON, not a Bundle or resource array, holds no
            resources or too many, or holds several patients and ``patient`` is not given.
    """
    policy = _policy(conflicts)
    resources, notes = _resources(source)
    record = select(resources, patient)
    record.notes[:0] = notes
    return read_record(record, _vocabulary(rulebase), policy)


@dataclass(frozen=True)
class FhirFrames:
    """Many records read: ``profiles`` (one row per patient, columns are profile fields, ready
    for :func:`mbc_rules.evaluate_frame`; a field no resource gave is missing), ``problems``
    (``source``, ``patient_id``, ``kind`` = conflict, warning or error, ``field``, ``message``,
    ``resources``) and the readings themselves, by source label.
    """

    profiles: pd.DataFrame
    problems: pd.DataFrame
    readings: tuple[tuple[str, FhirReading], ...]


PROBLEM_COLUMNS = ("source", "patient_id", "kind", "field", "message", "resources")


def read_fhir_many(
    sources: Iterable[object] | Mapping[str, object],
    *,
    conflicts: str = "report",
    rulebase: Rulebase | None = None,
) -> FhirFrames:
    """Read many FHIR records (needs ``mbc-rules[pandas]``).

    Each source is read as :func:`read_fhir` reads it; a record holding several patients gives
    one row per patient. A source that cannot be read at all is an ``error`` row of
    ``problems`` and has no profile row (nothing is guessed for it). Sources are labelled by
    their mapping key, their path, or their position.
    """
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas is in the dev extra
        raise ImportError("read_fhir_many needs pandas: pip install 'mbc-rules[pandas]'") from None
    policy = _policy(conflicts)
    vocabulary = _vocabulary(rulebase)
    labelled = (
        list(sources.items())
        if isinstance(sources, Mapping)
        else [(_label(s, i), s) for i, s in enumerate(sources)]
    )
    rows: list[dict[str, Any]] = []
    index: list[str] = []
    problems: list[dict[str, Any]] = []
    readings: list[tuple[str, FhirReading]] = []
    for label, source in labelled:
        try:
            resources, notes = _resources(source)
            patients = patients_in(resources)
            choices: list[str | None] = list(patients) or [None]
            for patient in choices:
                record = select(resources, patient)
                record.notes[:0] = notes
                reading = read_record(record, vocabulary, policy)
                name = label if len(patients) <= 1 else f"{label}#{patient}"
                readings.append((name, reading))
                rows.append(reading.profile.model_dump(exclude_unset=True, mode="python"))
                index.append(name)
                pid = reading.profile.patient_id
                for conflict in reading.conflicts:
                    problems.append(
                        _problem(
                            name,
                            pid,
                            "conflict",
                            conflict.field,
                            conflict.message,
                            conflict.resources,
                        )
                    )
                for warning in reading.warnings:
                    problems.append(
                        _problem(name, pid, "warning", None, warning.message, warning.resources)
                    )
        except FhirReadError as error:
            problems.append(_problem(label, None, "error", None, str(error), ()))
    profiles = pandas.DataFrame(rows, index=pandas.Index(index, name="source"))
    problem_frame = pandas.DataFrame(problems, columns=list(PROBLEM_COLUMNS))
    return FhirFrames(profiles=profiles, problems=problem_frame, readings=tuple(readings))


def _label(source: object, position: int) -> str:
    if isinstance(source, Path):
        return str(source)
    if (
        isinstance(source, str)
        and not source.lstrip().startswith(("{", "["))
        and len(source) < 4096
    ):
        return source
    return str(position)


def _problem(
    source: str,
    patient_id: str | None,
    kind: str,
    field: str | None,
    message: str,
    resources: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "source": source,
        "patient_id": patient_id,
        "kind": kind,
        "field": field,
        "message": message,
        "resources": resources,
    }
