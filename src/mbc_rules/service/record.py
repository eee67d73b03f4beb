"""The record of one patient, read from the hook's FHIR resources: the service's only use of
the FHIR reader (:func:`mbc_rules.fhir.read_fhir`), so that its interface is met in one place.

Before reading, every resource is checked to belong to the patient of the hook's context: data
of another patient is left out and said so (a warning card naming it), never evaluated; where
the prefetch's Patient is someone else, nothing is evaluated and a card says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from mbc_rules.errors import MbcRulesError
from mbc_rules.fhir import FhirConflict, FhirWarning, read_fhir
from mbc_rules.fhir.drugs import agents_for_rxnorm, agents_named
from mbc_rules.profile import PatientProfile
from mbc_rules.rulebase import Rulebase
from mbc_rules.service.contract import RequestError
from mbc_rules.service.hooks import Entry
from mbc_rules.vocabulary import Vocabulary

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")
# Where a resource names its patient.
_SUBJECT_FIELDS = ("subject", "patient", "beneficiary")


@dataclass(frozen=True)
class Finding:
    """A conflict or warning of the reading, with the resources it concerns."""

    message: str
    resources: tuple[str, ...] = ()
    field: str | None = None


@dataclass(frozen=True)
class Record:
    """What the service knows of the patient: the profile and what the reading found."""

    profile: PatientProfile
    provenance: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    conflicts: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    # Warnings that the record is not metastatic breast cancer: the rules do not apply.
    out_of_scope: tuple[Finding, ...] = ()
    # Resources of another patient than context.patientId, left out of the reading.
    left_out: tuple[Finding, ...] = ()
    # Why the prefetch cannot be read as this patient's at all (no options are shown).
    unsafe: tuple[Finding, ...] = ()


def _reference(resource: Mapping[str, Any], name: str) -> str | None:
    value = resource.get(name)
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        reference: str = value["reference"]
        return reference
    return None


def _label(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '(no id)')}"


def split_by_patient(
    entries: Sequence[Entry], patient_id: str
) -> tuple[list[Entry], tuple[Finding, ...], tuple[Finding, ...]]:
    """The entries about ``patient_id``, the ones left out (about others) and why, if so, the
    whole prefetch cannot be read as this patient's.

    A Patient resource of someone else beside this patient's own, or resources whose subject is
    someone else, are a mess the record can be read through: they are left out and named. A
    prefetch whose only Patient resources are someone else's may be another patient's record
    altogether; reading what is left would guess, so nothing is read and the card says why.
    """
    patients = {
        e.full_url: e.resource["id"]
        for e in entries
        if e.full_url
        and e.resource.get("resourceType") == "Patient"
        and isinstance(e.resource.get("id"), str)
    }
    own: list[Entry] = []
    foreign: dict[str, list[str]] = {}
    own_patient = False
    for entry in entries:
        resource = entry.resource
        if resource.get("resourceType") == "Patient":
            if resource.get("id") == patient_id:
                own_patient = True
                own.append(entry)
            else:
                foreign.setdefault(_label(resource), []).append(_label(resource))
            continue
        other = None
        for name in _SUBJECT_FIELDS:
            reference = _reference(resource, name)
            if reference is None:
                continue
            matched = _PATIENT_REFERENCE.search(reference)
            named = matched.group(1) if matched else None
            if named is None and reference in patients:
                named = patients[reference]
            if named is not None and named != patient_id:
                other = f"Patient/{named}"
        if other is None:
            own.append(entry)
        else:
            foreign.setdefault(other, []).append(_label(resource))
    if not foreign:
        return own, (), ()
    refs = tuple(r for labels in foreign.values() for r in labels)
    whom = ", ".join(sorted(foreign)[:10]) + (" ..." if len(foreign) > 10 else "")
    left_out = Finding(
        message=f"{len(refs)} resource(s) of another patient than context.patientId "
        f"{patient_id!r} ({whom}) were left out of the reading",
        resources=refs[:50],
    )
    foreign_patients = [
        _label(e.resource)
        for e in entries
        if e.resource.get("resourceType") == "Patient" and e.resource.get("id") != patient_id
    ]
    if foreign_patients and not own_patient:
        unsafe = Finding(
            message=f"the prefetch's Patient is {', '.join(sorted(foreign_patients)[:5])}, not "
            f"context.patientId {patient_id!r}: the data may be another patient's record, so "
            "nothing is read and no treatment options are shown",
            resources=refs[:50],
        )
        return [], (left_out,), (unsafe,)
    return own, (left_out,), ()


def as_bundle(entries: Iterable[Entry]) -> dict[str, Any]:
    """The request's resources as one collection Bundle (each once, by type and id)."""
    seen: set[tuple[str, str]] = set()
    bundle_entries: list[dict[str, Any]] = []
    for entry in entries:
        resource = entry.resource
        if isinstance(resource.get("id"), str):
            key = (str(resource["resourceType"]), resource["id"])
            if key in seen:
                continue
            seen.add(key)
        item: dict[str, Any] = {"resource": resource}
        if entry.full_url:
            item["fullUrl"] = entry.full_url
        bundle_entries.append(item)
    return {"resourceType": "Bundle", "type": "collection", "entry": bundle_entries}


def _findings(items: Iterable[FhirConflict | FhirWarning]) -> tuple[Finding, ...]:
    return tuple(
        Finding(
            message=item.message,
            resources=tuple(item.resources),
            field=item.field if isinstance(item, FhirConflict) else None,
        )
        for item in items
    )


# The reader's warnings that say why a record is outside what the rules are for.
_OUT_OF_SCOPE = frozenset({"not_breast_cancer", "no_breast_cancer_diagnosis", "not_metastatic"})


def read_record(entries: Sequence[Entry], patient_id: str, rulebase: Rulebase) -> Record:
    """Read the patient's resources into a profile, with the reading's provenance and problems.

    Raises:
        RequestError: (422) the resources cannot be read.
    """
    entries, left_out, unsafe = split_by_patient(entries, patient_id)
    if unsafe:
        return Record(profile=PatientProfile(), left_out=left_out, unsafe=unsafe)
    try:
        reading = read_fhir(as_bundle(entries), patient=patient_id, rulebase=rulebase)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "profile"
        raise RequestError(
            422, f"the record reads as an invalid profile: {where}: {first['msg']}"
        ) from None
    except (MbcRulesError, ValueError) as error:
        raise RequestError(422, f"the record cannot be read: {error}") from None
    in_scope = reading.breast_cancer is True and reading.metastatic is True
    why = [w for w in reading.warnings if w.kind in _OUT_OF_SCOPE]
    if not in_scope and not why:
        # The flags are the reader's verdict; its warnings only word it.
        why = [
            FhirWarning(
                kind="not_metastatic",
                message="the record does not establish metastatic breast cancer",
            )
        ]
    return Record(
        profile=reading.profile,
        provenance={name: tuple(refs) for name, refs in reading.provenance.items()},
        conflicts=_findings(reading.conflicts),
        warnings=_findings(reading.warnings),
        out_of_scope=() if in_scope else _findings(why),
        left_out=left_out,
    )


def drug_agents(
    codes: Iterable[tuple[str, str]], names: Iterable[str], vocabulary: Vocabulary
) -> tuple[str, ...]:
    """The vocabulary agents a medication names: by RxNorm code first, then by its words.

    Args:
        codes: ``(system, code)`` pairs of the medication's codings.
        names: its texts and displays.
        vocabulary: the rulebase's vocabulary, which the agents belong to.
    """
    for system, code in codes:
        if system == RXNORM:
            found = agents_for_rxnorm(code, vocabulary)
            if found:
                return found
    for name in names:
        found = agents_named(name[:500], vocabulary)
        if found:
            return found
    return ()
