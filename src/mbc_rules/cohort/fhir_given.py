"""The treatment given next, read from FHIR R4 records, for :func:`~mbc_rules.concordance`.

Each record is read as :func:`~mbc_rules.read_fhir` reads it (its medications become the
treatment history, drug names and codes read as profiles read them). The treatment *given
next* is then the one the record shows at its latest decision point:

1. The record must establish metastatic disease (``FhirReading.metastatic``); the decision
   points are after its diagnosis (the earliest dated evidence of spread the reading used).
2. The last decision point is the start of the latest metastatic treatment the cancer grew
   on (outcome ``progressed``), or, when it grew on none, the metastatic diagnosis.
3. The treatment given next is every metastatic-setting drug whose earliest start date
   (``effectivePeriod.start``, ``effectiveDateTime`` or ``authoredOn`` of its medication
   records) comes after that point (on or after the diagnosis; after the start of the
   drug it grew on), taken on the first such start date: drugs started on the same day are
   one regimen.
4. The patient's history at that point is the reading's history without the drugs given
   next and anything started on or after them; drugs the record does not date stay in it.

Statuses (receptors, markers, sites) are the record's as read today: the reader does not
date them back to the decision point. A record with nothing to judge (not metastatic, no drug
started after the point, unreadable) is a row whose ``note`` says why.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mbc_rules.errors import FhirReadError, MbcRulesError
from mbc_rules.fhir.read import read_record
from mbc_rules.fhir.reading import FhirReading
from mbc_rules.fhir.records import Record, collect, parse, patients_in, select
from mbc_rules.fhir.values import span
from mbc_rules.vocabulary import Vocabulary

MEDICATIONS = frozenset({"MedicationRequest", "MedicationStatement", "MedicationAdministration"})
RECORD_COLUMNS = (
    "source",
    "patient_id",
    "decision_after",
    "given_start",
    "given_next",
    "given_resources",
    "history_kept",
    "note",
)


@dataclass(frozen=True)
class GivenNext:
    """What one record says was given next, and the profile at that point."""

    source: str
    patient_id: str | None
    profile: dict[str, Any]
    given: tuple[str, ...]
    given_start: str | None
    decision_after: str | None
    resources: tuple[str, ...]
    history_kept: int
    note: str

    def row(self) -> dict[str, Any]:
        """The row of ``ConcordanceResult.records``."""
        return {
            "source": self.source,
            "patient_id": self.patient_id,
            "decision_after": self.decision_after,
            "given_start": self.given_start,
            "given_next": self.given,
            "given_resources": self.resources,
            "history_kept": self.history_kept,
            "note": self.note,
        }


def is_fhir_input(cohort: object) -> bool:
    """Whether ``cohort`` is FHIR records rather than a frame: a Bundle (or resource array)
    as a dict or list of dicts, a ``.json`` path, a folder, or a list or mapping of these.
    """
    if isinstance(cohort, Mapping):
        return "resourceType" in cohort or all(
            isinstance(v, Mapping | str | os.PathLike) for v in cohort.values()
        )
    if isinstance(cohort, str | os.PathLike):
        path = Path(cohort)
        return path.suffix.lower() == ".json" or path.is_dir()
    return isinstance(cohort, list | tuple)


def labelled_sources(cohort: object) -> list[tuple[str, object]]:
    """Each record with its label (its path, its key, or its position); a folder gives its
    ``*.json`` files, in name order.
    """
    if isinstance(cohort, Mapping) and "resourceType" not in cohort:
        return [(str(k), v) for k, v in cohort.items()]
    items: Iterable[object] = (
        cohort if isinstance(cohort, list | tuple) else [cohort]  # one bundle or one path
    )
    out: list[tuple[str, object]] = []
    for position, item in enumerate(items):
        if isinstance(item, str | os.PathLike):
            path = Path(item)
            if path.is_dir():
                files = sorted(path.glob("*.json"))
                if not files:
                    raise MbcRulesError(f"{path}: no *.json FHIR records in this folder")
                out.extend((str(f), f) for f in files)
            else:
                out.append((str(path), path))
        elif isinstance(item, Mapping):
            identifier = item.get("id")
            out.append((str(identifier) if identifier else str(position), item))
        else:
            raise MbcRulesError(
                f"record {position}: a FHIR Bundle (dict) or a path to one, "
                f"not {type(item).__name__}"
            )
    return out


def given_next(
    cohort: object, vocabulary: Vocabulary, conflicts: str = "report"
) -> list[GivenNext]:
    """For each record (each patient of each record) the treatment given next, as above."""
    from mbc_rules.fhir.api import _policy

    policy = _policy(conflicts)
    found: list[GivenNext] = []
    for label, source in labelled_sources(cohort):
        try:
            entries, in_bundle = parse(source)
            resources, notes = collect(entries, in_bundle=in_bundle)
            patients = patients_in(resources)
            choices: list[str | None] = list(patients) or [None]
            for patient in choices:
                record = select(resources, patient)
                record.notes[:0] = notes
                reading = read_record(record, vocabulary, policy)
                name = label if len(patients) <= 1 else f"{label}#{patient}"
                found.append(_given(name, reading, record))
        except FhirReadError as error:
            found.append(
                GivenNext(
                    label, None, {}, (), None, None, (), 0, f"the record could not be read: {error}"
                )
            )
    return found


def _day(date: str | None) -> str | None:
    return date[:10] if date else None


def _given(label: str, reading: FhirReading, record: Record) -> GivenNext:
    profile = reading.profile.model_dump(exclude_unset=True, mode="python")
    pid = reading.profile.patient_id

    def nothing(note: str) -> GivenNext:
        history = profile.get("prior_therapies")
        return GivenNext(label, pid, profile, (), None, None, (), len(history or ()), note)

    if reading.metastatic is not True:
        return nothing("the record does not establish metastatic disease: no decision to judge")
    therapies = reading.profile.prior_therapies
    if not therapies:
        return nothing("the record holds no cancer drug the rules know")
    diagnosed = min(
        (
            day
            for e in reading.evidence
            if e.field == "metastatic_disease" and e.used and (day := _day(e.date))
        ),
        default=None,
    )
    starts: list[str | None] = []
    refs: list[tuple[str, ...]] = []
    for index in range(len(therapies)):
        mine = tuple(
            r
            for r in reading.provenance.get(f"prior_therapies[{index}]", ())
            if r.split("/", 1)[0] in MEDICATIONS
        )
        dates = [
            day
            for r in mine
            if (resource := record.by_ref.get(r)) is not None
            and (day := _day(span(resource.data)[0]))
        ]
        starts.append(min(dates) if dates else None)
        refs.append(mine)
    metastatic = [
        i for i, t in enumerate(therapies) if t.setting == "metastatic" and starts[i] is not None
    ]
    grown = [i for i in metastatic if therapies[i].outcome == "progressed"]
    if grown:
        last = max(grown, key=lambda i: str(starts[i]))
        point = str(starts[last])
        after = [i for i in metastatic if str(starts[i]) > point]
        what = f"the start of {therapies[last].agent} ({point}), which the cancer grew on"
    else:
        point = diagnosed or ""
        after = [i for i in metastatic if not point or str(starts[i]) >= point]
        what = f"the metastatic diagnosis ({point})" if point else "the metastatic diagnosis"
    if not after:
        return GivenNext(
            label,
            pid,
            profile,
            (),
            None,
            point or None,
            (),
            len(therapies),
            f"no dated cancer drug started after {what}",
        )
    first = min(str(starts[i]) for i in after)
    chosen = [i for i in after if starts[i] == first]
    kept = [
        profile["prior_therapies"][i]
        for i in range(len(therapies))
        if starts[i] is None or str(starts[i]) < first
    ]
    undated = sum(1 for s in starts if s is None)
    profile = {**profile, "prior_therapies": kept}
    note = f"given next: started {first}, after {what}"
    if undated:
        note += f"; {undated} undated drug(s) kept in the history"
    return GivenNext(
        label,
        pid,
        profile,
        tuple(sorted({therapies[i].agent for i in chosen})),
        first,
        point or None,
        tuple(dict.fromkeys(r for i in chosen for r in refs[i])),
        len(kept),
        note,
    )
