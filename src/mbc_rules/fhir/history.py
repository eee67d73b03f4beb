"""The treatment history: the medications read, grouped by drug and setting (before or after
the metastases), each with the outcome the record gives it; drugs of one class recorded as
running at once are a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mbc_rules.fhir.gathered import Gathered, Medication

_FAR_FUTURE = "9999-12-31"
# Classes whose members are routinely given together (trastuzumab with pertuzumab).
_COMBINED_CLASSES = frozenset({"anti_her2_antibody"})


@dataclass
class _Therapy:
    agent: str
    setting: str
    refs: list[str] = field(default_factory=list)
    starts: list[str] = field(default_factory=list)
    ends: list[str] = field(default_factory=list)
    ongoing_latest: bool = False
    latest: str = ""
    reasons: set[str] = field(default_factory=set)
    progressed_by: list[str] = field(default_factory=list)

    @property
    def start(self) -> str | None:
        return min(self.starts) if self.starts else None

    @property
    def end(self) -> str | None:
        if self.ongoing_latest:
            return _FAR_FUTURE
        return max(self.ends) if self.ends else self.start


def therapies(gathered: Gathered) -> None:
    """Settle ``prior_therapies`` from the medications read (or say why it stays unknown)."""
    if gathered.unmapped:
        for label, refs in sorted(gathered.unmapped.items()):
            gathered.warn(
                f"drug code {label} is not a drug the rules know; not read",
                *refs,
                kind="unmapped_drug",
            )
    if not gathered.medications:
        why = (
            "the record holds no medication resources"
            if gathered.medication_records == 0
            else f"none of the {gathered.medication_records} medication records is a cancer "
            "drug the rules know"
        )
        gathered.warn(
            f"{why}: prior_therapies left unknown (an unknown history, not an untreated patient)",
            kind="unknown_history",
        )
        return
    first = gathered.metastasis_date
    established = bool(gathered.metastatic)
    therapies: dict[tuple[str, str], _Therapy] = {}
    for medication in gathered.medications:
        setting = _setting(gathered, medication, first, established)
        for agent in medication.agents:
            therapy = therapies.setdefault((agent, setting), _Therapy(agent, setting))
            therapy.refs.append(medication.ref)
            if medication.start:
                therapy.starts.append(medication.start)
            if medication.end:
                therapy.ends.append(medication.end)
            stamp = medication.start or ""
            if stamp >= therapy.latest:
                therapy.latest = stamp
                therapy.ongoing_latest = medication.ongoing
            if medication.reason:
                therapy.reasons.add(medication.reason)
    for ref, date in gathered.disease_worse:
        running = [
            t
            for t in therapies.values()
            if date and t.start and t.start <= date <= (t.end or t.start)
        ]
        for therapy in running:
            therapy.progressed_by.append(ref)
        if not running:
            gathered.warn(
                f"the cancer worsened ({date or 'undated'}) while no drug the record "
                "dates was running; not tied to a treatment",
                ref,
            )
    _overlaps(gathered, list(therapies.values()))
    entries: list[dict[str, Any]] = []
    ordered = sorted(therapies.values(), key=lambda t: (t.start or "", t.agent))
    for therapy in ordered:
        outcome = _outcome(gathered, therapy)
        entries.append({"agent": therapy.agent, "outcome": outcome, "setting": therapy.setting})
        gathered.provenance[f"prior_therapies[{len(entries) - 1}]"] = (
            therapy.refs + therapy.progressed_by
        )
    gathered.data["prior_therapies"] = entries
    gathered.provenance["prior_therapies"] = [r for t in ordered for r in t.refs + t.progressed_by]


def _setting(
    gathered: Gathered, medication: Medication, first: str | None, established: bool
) -> str:
    by_date: str | None = None
    if not established:
        by_date = "early"
    elif first and medication.start:
        by_date = "early" if medication.start < first else "metastatic"
    if medication.intent:
        if by_date and by_date != medication.intent:
            gathered.warn(
                f"{medication.ref}: treatment intent says {medication.intent} but its dates "
                f"say {by_date}; the stated intent is used",
                medication.ref,
            )
        return medication.intent
    if by_date:
        return by_date
    gathered.warn(
        f"{medication.ref}: neither intent nor dates say whether the drug was given before "
        "or after the metastases; read as metastatic (the profile's default)",
        medication.ref,
        kind="assumption",
    )
    return "metastatic"


def _outcome(gathered: Gathered, therapy: _Therapy) -> str:
    refs = therapy.refs
    if therapy.progressed_by:
        if therapy.reasons - {"progressed"}:
            gathered.warn(
                f"{therapy.agent}: the cancer worsened while it ran, but the record gives "
                f"{', '.join(sorted(therapy.reasons))} as why it stopped; read as progressed",
                *refs,
                *therapy.progressed_by,
            )
        return "progressed"
    for outcome in ("progressed", "intolerant"):
        if outcome in therapy.reasons:
            return outcome
    if therapy.ongoing_latest:
        return "ongoing"
    if "completed" in therapy.reasons:
        return "completed"
    return "unknown"


def _overlaps(gathered: Gathered, therapies: list[_Therapy]) -> None:
    seen: set[tuple[str, str]] = set()
    for one in therapies:
        for other in therapies:
            if one.agent >= other.agent or (one.agent, other.agent) in seen:
                continue
            cls_one = (
                gathered.vocabulary[one.agent].drug_class
                if one.agent in gathered.vocabulary
                else None
            )
            cls_other = (
                gathered.vocabulary[other.agent].drug_class
                if other.agent in gathered.vocabulary
                else None
            )
            if cls_one is None or cls_one != cls_other or cls_one in _COMBINED_CLASSES:
                continue
            if not (one.start and other.start):
                continue
            if one.start <= (other.end or other.start) and other.start <= (one.end or one.start):
                seen.add((one.agent, other.agent))
                gathered.warn(
                    f"{one.agent} and {other.agent} (both {cls_one}) are recorded as running "
                    "at the same time",
                    *one.refs,
                    *other.refs,
                    kind="drug_overlap",
                )
