"""Read one patient's FHIR R4 / mCODE record into a :class:`PatientProfile`.

The reader collects *findings* (a field, a value, the resource, its date) from every resource
it recognises by code, then settles each field: one value -> the field; disagreeing values ->
unknown and a conflict (or, with ``conflicts="latest"``, the latest value and a warning). A
field no resource gives keeps its unknown default.

The steps, each a module, data flowing down this list: ``records`` (the resources of one
patient) -> ``markers``, ``disease``, ``medications`` (each resource read into a ``Gathered``)
-> ``settle`` (fields and spread) -> ``history`` (the treatment history) -> here (the profile
validated and the reading assembled, with its evidence and drug-code audit).
"""

from __future__ import annotations

from pydantic import ValidationError

import mbc_rules.fhir.history as history
import mbc_rules.fhir.settle as settle
from mbc_rules.errors import FhirReadError
from mbc_rules.fhir.disease import condition
from mbc_rules.fhir.gathered import ConflictPolicy, Gathered
from mbc_rules.fhir.markers import observation, patient
from mbc_rules.fhir.medications import medication
from mbc_rules.fhir.reading import FhirDrugCode, FhirEvidence, FhirReading
from mbc_rules.fhir.records import Record, Resource, short
from mbc_rules.profile import PatientProfile
from mbc_rules.vocabulary import Vocabulary

__all__ = ["ConflictPolicy", "read_record"]


def read_record(record: Record, vocabulary: Vocabulary, policy: ConflictPolicy) -> FhirReading:
    """Read one patient's resources into a profile, with provenance, conflicts and warnings."""
    gathered = Gathered(record, vocabulary, policy)
    for resource in record.resources:
        try:
            _resource(gathered, resource)
        except (TypeError, AttributeError, ValueError, KeyError, ArithmeticError) as error:
            # A shape the checks above did not foresee (a 400-digit number overflows a
            # float): this resource is skipped, loudly, its message cut to a readable size.
            gathered.warn(
                f"{resource.ref} could not be read ({short(str(error))}); not read",
                resource.ref,
            )
    settle.markers(gathered)
    settle.metastasis(gathered)
    history.therapies(gathered)
    return _reading(gathered)


def _resource(gathered: Gathered, resource: Resource) -> None:
    kind = resource.type
    if kind == "Patient":
        patient(gathered, resource)
    elif kind == "Observation":
        observation(gathered, resource)
    elif kind == "Condition":
        condition(gathered, resource)
    elif kind in ("MedicationStatement", "MedicationRequest", "MedicationAdministration"):
        gathered.medication_records += 1
        medication(gathered, resource)


def _reading(gathered: Gathered) -> FhirReading:
    patient_ref = gathered.record.patient_ref
    if patient_ref:
        gathered.data["patient_id"] = patient_ref.split("/", 1)[-1][:200]
    try:
        profile = PatientProfile.model_validate(
            gathered.data, context={"vocabulary": gathered.vocabulary}
        )
    except ValidationError as error:
        raise FhirReadError(f"the record's values do not make a valid profile: {error}") from None
    return FhirReading(
        profile=profile,
        breast_cancer=True if gathered.breast else (False if gathered.other_cancers else None),
        metastatic=gathered.spread,
        provenance={k: tuple(dict.fromkeys(v)) for k, v in gathered.provenance.items()},
        conflicts=tuple(gathered.conflicts),
        warnings=tuple(gathered.warnings),
        evidence=_evidence(gathered),
        drug_codes=tuple(
            FhirDrugCode(
                system=system,
                code=code,
                display=display,
                drugs=drugs,
                read_by=how,
                resources=tuple(dict.fromkeys(refs)),
            )
            for (system, code, display), (drugs, how, refs) in gathered.drug_codes.items()
        ),
    )


def _evidence(gathered: Gathered) -> tuple[FhirEvidence, ...]:
    items: list[FhirEvidence] = []
    for finding in gathered.findings:
        if finding.field == "her2_ish":
            continue  # an internal note: the same resource is already her2_status evidence
        target = "brca_status" if finding.field in ("brca1", "brca2") else finding.field
        items.append(
            FhirEvidence(
                field=target,
                value=str(finding.value),
                what=finding.what,
                resource=finding.ref,
                date=finding.date,
                used=target in gathered.data and finding.ref in gathered.provenance.get(target, []),
            )
        )
    dates: dict[str, str | None] = {}
    for spread, said in ((True, gathered.metastatic), (False, gathered.not_metastatic)):
        for ref, date, what in said:
            dates.setdefault(ref, date)
            items.append(
                FhirEvidence(
                    field="metastatic_disease",
                    value="metastatic" if spread else "not metastatic",
                    what=what,
                    resource=ref,
                    date=date,
                    # An earlier "not spread" is part of the story (not de novo); the
                    # answer rests on the evidence of spread.
                    used=gathered.spread is spread,
                )
            )
    for site, refs in sorted(gathered.sites.items()):
        for ref in dict.fromkeys(refs):
            items.append(
                FhirEvidence(
                    field="metastatic_sites",
                    value=site,
                    what=f"secondary cancer in {site}",
                    resource=ref,
                    date=dates.get(ref),
                    used=True,
                )
            )
    return tuple(sorted(items, key=lambda e: (e.field, e.date or "", e.resource)))
