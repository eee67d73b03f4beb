"""Hand-made FHIR R4 resources in the shapes mCODE STU1 to STU4 give them, for reader tests."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
SUBJECT = {"reference": "Patient/p1"}


def concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def patient(gender: str = "female", pid: str = "p1") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": gender}


def observation(
    rid: str, code: str, *, date: str = "2021-01-01", system: str = LOINC, **value: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": concept(system, code),
        "subject": SUBJECT,
        "effectiveDateTime": date,
    }
    resource.update(value)
    return resource


def coded(system: str, code: str) -> dict[str, Any]:
    return {"valueCodeableConcept": concept(system, code)}


def interpretation(code: str) -> dict[str, Any]:
    system = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
    return {"interpretation": [concept(system, code)]}


def quantity(value: float, unit: str = "%") -> dict[str, Any]:
    return {"valueQuantity": {"value": value, "unit": unit, "code": unit}}


def condition(
    rid: str, code: str, *, system: str = SNOMED, date: str | None = "2020-06-01", **extra: Any
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "code": concept(system, code),
        "subject": SUBJECT,
    }
    if date:
        resource["onsetDateTime"] = date
    resource.update(extra)
    return resource


def breast_cancer(rid: str = "primary", date: str = "2018-01-01") -> dict[str, Any]:
    return condition(rid, "254837009", date=date)


def bone_metastasis(rid: str = "bone", date: str = "2020-06-01") -> dict[str, Any]:
    return condition(rid, "94222008", date=date)


def variant(
    rid: str,
    gene: str,
    *,
    source: str | None,
    present: bool = True,
    hgnc_system: str = "http://www.genenames.org/geneId",
    significance: str | None = None,
) -> dict[str, Any]:
    components: list[dict[str, Any]] = [
        {"code": concept(LOINC, "48018-6"), "valueCodeableConcept": concept(hgnc_system, gene)},
    ]
    if source:
        components.append(
            {"code": concept(LOINC, "48002-0"), "valueCodeableConcept": concept(LOINC, source)}
        )
    if significance:
        components.append(
            {
                "code": concept(LOINC, "53037-8"),
                "valueCodeableConcept": concept(LOINC, significance),
            }
        )
    return observation(
        rid,
        "69548-6",
        component=components,
        **coded(LOINC, "LA9633-4" if present else "LA9634-2"),
    )


def medication(
    rid: str,
    rxnorm: str,
    *,
    kind: str = "MedicationStatement",
    status: str = "completed",
    start: str | None = "2020-07-01",
    end: str | None = "2020-12-01",
    display: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": rid,
        "status": status,
        "medicationCodeableConcept": concept(RXNORM, rxnorm, display),
        "subject": SUBJECT,
    }
    if kind == "MedicationRequest":
        resource["intent"] = "order"
        if start:
            resource["authoredOn"] = start
    elif start:
        resource["effectivePeriod"] = {"start": start, **({"end": end} if end else {})}
    resource.update(extra)
    return resource


def extension(name: str, system: str, code: str) -> dict[str, Any]:
    return {"url": MCODE + name, "valueCodeableConcept": concept(system, code)}


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def metastatic_bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    """A woman with breast cancer spread to bone (2020-06-01), plus ``resources``."""
    return bundle(patient(), breast_cancer(), bone_metastasis(), *resources)
