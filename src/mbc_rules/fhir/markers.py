"""Patient and Observation resources read into findings: sex, the tumour markers (ER, PR,
HER2, PD-L1), germline and tumour variants, menopausal status, a worsening disease status and
the staging an Observation gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mbc_rules.fhir.codes as codes
from mbc_rules.fhir.gathered import Gathered
from mbc_rules.fhir.records import Resource
from mbc_rules.fhir.stages import staging
from mbc_rules.fhir.values import (
    Qualitative,
    Value,
    code_set,
    codings,
    is_percent,
    shown,
    text_of,
    value_of,
    when,
)

_SKIPPED_OBSERVATION = frozenset({"entered-in-error", "cancelled"})
_IHC_SCORES: dict[str, Qualitative] = {
    "0": "negative",
    "1+": "negative",
    "2+": "equivocal",
    "3+": "positive",
}
_MARKER_WORDS = ("estrogen", "oestrogen", "progesterone", "her2", "erbb2", "pd-l1", "pdl1")


def patient(gathered: Gathered, resource: Resource) -> None:
    """A Patient: its gender as the profile's sex."""
    gender = resource.data.get("gender")
    if gender in ("female", "male"):
        gathered.find("sex", gender, resource, f"Patient.gender {gender}")
    elif gender is not None:
        gathered.warn(
            f"{resource.ref}: gender {str(gender)[:40]!r} leaves sex unknown", resource.ref
        )


def observation(gathered: Gathered, resource: Resource) -> None:
    """An Observation: tumour markers, variants, menopausal status, disease status, staging."""
    data = resource.data
    status = data.get("status")
    found = code_set(data.get("code"))
    if status in _SKIPPED_OBSERVATION:
        if _recognised(gathered, found):
            gathered.warn(f"{resource.ref} has status {status}; not read", resource.ref)
        return
    _measurement(gathered, resource, data, found)
    components = data.get("component")
    if isinstance(components, list):
        if any(
            code_set(c.get("code")) & {codes.GENE_STUDIED}
            for c in components
            if isinstance(c, dict)
        ):
            _variant(gathered, resource, components)
        else:
            for component in components:
                if isinstance(component, dict):
                    _measurement(gathered, resource, component, code_set(component.get("code")))
    if codes.MENOPAUSAL_STATUS in found:
        values = code_set(data.get("valueCodeableConcept"))
        statuses = {codes.MENOPAUSE_VALUES[v] for v in values if v in codes.MENOPAUSE_VALUES}
        if len(statuses) == 1:
            status_value = statuses.pop()
            gathered.find("menopausal_status", status_value, resource, status_value)
        else:
            gathered.warn(
                f"{resource.ref}: menopausal status value "
                f"{shown(data.get('valueCodeableConcept'))} is not one the reader knows "
                "(309606002, 307429007); not read",
                resource.ref,
            )
    if found & codes.DISEASE_STATUS and codes.WORSENED in code_set(
        data.get("valueCodeableConcept")
    ):
        gathered.disease_worse.append((resource.ref, when(data)))
    if found & (codes.STAGE_GROUP | codes.M_CATEGORY):
        staging(gathered, resource, data.get("valueCodeableConcept"), when(data))


def _recognised(gathered: Gathered, found: set[str]) -> bool:
    return bool(
        found
        & (
            codes.ER_QUALITATIVE
            | codes.PR_QUALITATIVE
            | codes.HER2_IHC
            | codes.HER2_ISH
            | codes.PDL1_QUALITATIVE
            | {codes.HER2_ISH_RATIO, codes.HER2_INTERPRETATION, codes.MENOPAUSAL_STATUS}
            | codes.DISEASE_STATUS
            | codes.STAGE_GROUP
            | codes.M_CATEGORY
        )
    )


def _measurement(
    gathered: Gathered, resource: Resource, holder: Mapping[str, Any], found: set[str]
) -> None:
    ref = resource.ref
    if found & codes.ER_QUALITATIVE:
        _receptor(gathered, "er_status", "ER", resource, holder)
    elif found & codes.PR_QUALITATIVE:
        _receptor(gathered, "pr_status", "PR", resource, holder)
    elif found & codes.HER2_IHC:
        _her2(gathered, resource, holder, "IHC")
    elif found & codes.HER2_ISH:
        _her2(gathered, resource, holder, "ISH")
    elif codes.HER2_ISH_RATIO in found:
        _her2(gathered, resource, holder, "ratio")
    elif codes.HER2_INTERPRETATION in found:
        _her2(gathered, resource, holder, "interpretation")
    elif found & codes.PDL1_QUALITATIVE or codes.PDL1_NUMERIC in found:
        _pdl1(gathered, resource, holder)
    elif codes.ER_AND_PR_COMBINED in found:
        gathered.warn(f"{ref}: a combined ER+PR result does not say which receptor; not read", ref)
    elif found & (codes.RECEPTOR_UNREAD | codes.HER2_UNREAD):
        gathered.warn(
            f"{ref}: {shown(holder.get('code'))} is a quantitative or serum assay with no "
            "cut-off in the sources; not read",
            ref,
        )
    elif holder is resource.data and not _recognised(gathered, found):
        text = text_of(holder.get("code")).casefold()
        if any(word in text for word in _MARKER_WORDS):
            gathered.warn(
                f"{ref}: code {shown(holder.get('code'))} is not a tumour-marker code the "
                f"reader knows, though its text says {text_of(holder.get('code'))[:80]!r}; "
                "not read",
                ref,
            )


def _value(
    gathered: Gathered, resource: Resource, holder: Mapping[str, Any], label: str
) -> Value | None:
    value = value_of(holder)
    if value.contradiction:
        gathered.warn(
            f"{resource.ref}: {label} result contradicts itself ({value.contradiction}); not read",
            resource.ref,
        )
        return None
    if value.empty:
        if holder is resource.data and value.unread is None and holder.get("component"):
            return None  # a panel: its components hold the results
        detail = f" ({value.unread})" if value.unread else ""
        gathered.warn(
            f"{resource.ref}: {label} result has no value the reader knows{detail}; not read",
            resource.ref,
        )
        return None
    return value


def _receptor(
    gathered: Gathered, field_name: str, label: str, resource: Resource, holder: Mapping[str, Any]
) -> None:
    value = _value(gathered, resource, holder, label)
    if value is None:
        return
    if value.qualitative in ("positive", "negative"):
        gathered.find(field_name, value.qualitative, resource, f"{label} {value.qualitative}")
    elif value.qualitative == "equivocal":
        gathered.warn(f"{resource.ref}: {label} equivocal; {field_name} left unknown", resource.ref)
    elif value.number is not None and is_percent(value):
        status = "positive" if value.number >= 1 else "negative"
        gathered.find(field_name, status, resource, f"{label} {value.number:g}% stained")
    else:
        gathered.warn(
            f"{resource.ref}: {label} value {_said(value)} is not a percentage of "
            "stained cells; not read",
            resource.ref,
        )


def _her2(gathered: Gathered, resource: Resource, holder: Mapping[str, Any], method: str) -> None:
    value = _value(gathered, resource, holder, f"HER2 {method}")
    if value is None:
        return
    ref = resource.ref
    if method == "ratio":
        if value.number is None:
            gathered.warn(f"{ref}: HER2 ISH ratio has no number; not read", ref)
            return
        status = "positive" if value.number >= 2.0 else "negative"
        gathered.find("her2_status", status, resource, f"HER2/CEP17 ratio {value.number:g} (ISH)")
        gathered.find("her2_ish", status, resource, "ISH ratio")
        return
    qualitative = value.qualitative
    score = value.score
    if (
        score is None
        and value.number is not None
        and method == "IHC"
        and value.number in (0, 1, 2, 3)
    ):
        score = "0" if value.number == 0 else f"{int(value.number)}+"
    if qualitative is None and score is not None and method in ("IHC", "interpretation"):
        qualitative = _IHC_SCORES[score]
    if qualitative is None:
        gathered.warn(f"{ref}: HER2 {method} value is not one the reader knows; not read", ref)
        return
    if qualitative == "equivocal":
        if method == "ISH":
            gathered.warn(f"{ref}: HER2 ISH equivocal; not read", ref)
        else:
            gathered.her2_equivocal.append(ref)
        return
    detail = f"HER2 {method} {score or qualitative}"
    gathered.find("her2_status", qualitative, resource, detail)
    if method == "ISH":
        gathered.find("her2_ish", qualitative, resource, detail)


def _pdl1(gathered: Gathered, resource: Resource, holder: Mapping[str, Any]) -> None:
    value = _value(gathered, resource, holder, "PD-L1")
    if value is None:
        return
    if value.qualitative in ("positive", "negative"):
        gathered.find("pdl1_status", value.qualitative, resource, f"PD-L1 {value.qualitative}")
    else:
        gathered.warn(
            f"{resource.ref}: PD-L1 given as {_said(value)}; the positive cut-off "
            "depends on the assay and score, which the sources do not set; "
            "pdl1_status left unknown",
            resource.ref,
        )


def _variant(gathered: Gathered, resource: Resource, components: list[Any]) -> None:
    ref = resource.ref
    genes: set[str] = set()
    source: set[str] = set()
    significance: set[str] = set()
    detail = False
    for component in components:
        if not isinstance(component, dict):
            continue
        found = code_set(component.get("code"))
        concept = component.get("valueCodeableConcept")
        if codes.GENE_STUDIED in found:
            for system, code, _ in codings(concept):
                if (
                    system.rstrip("/") in {s.rstrip("/") for s in codes.HGNC_SYSTEMS}
                    or system == ""
                ):
                    key = code if code.startswith("HGNC:") else f"HGNC:{code}"
                    gene = codes.GENES.get(key) or (
                        code.upper() if code.upper() in codes.GENES.values() else None
                    )
                    if gene:
                        genes.add(gene)
        if codes.GENOMIC_SOURCE_CLASS in found:
            source |= code_set(concept)
        if codes.CLINICAL_SIGNIFICANCE in found:
            significance |= code_set(concept)
        if found & codes.VARIANT_DETAIL:
            detail = True
    if not genes:
        return  # a gene the rules do not use, or a region studied without a result
    if codes.GENE_STUDIED in code_set(resource.data.get("code")) or "53041-0" in code_set(
        resource.data.get("code")
    ):
        return  # a region studied: the genes tested, not a variant found
    value = code_set(resource.data.get("valueCodeableConcept"))
    if value & codes.NEGATIVE_ANSWERS:
        present = False
    elif value & codes.POSITIVE_ANSWERS or (not value and detail):
        present = True
    else:
        gathered.warn(
            f"{ref}: variant of {', '.join(sorted(genes))} says neither present nor "
            "absent; not read",
            ref,
        )
        return
    if present and significance & codes.NOT_PATHOGENIC:
        gathered.warn(
            f"{ref}: {', '.join(sorted(genes))} variant is benign or of uncertain "
            "significance; it is not read as a mutation",
            ref,
        )
        return
    status = "positive" if present else "negative"
    germline = codes.GERMLINE in source
    somatic = codes.SOMATIC in source
    for gene in sorted(genes):
        if gene == "PIK3CA":
            gathered.find(
                "pik3ca_status",
                status,
                resource,
                f"PIK3CA variant {'present' if present else 'absent'}",
            )
        elif germline and not somatic:
            gathered.find(
                gene.lower(),
                status,
                resource,
                f"germline {gene} variant {'present' if present else 'absent'}",
            )
        elif somatic and not germline:
            gathered.warn(
                f"{ref}: a somatic (tumour) {gene} variant does not establish the germline "
                "BRCA mutation brca_status means; not read",
                ref,
            )
        else:
            gathered.warn(
                f"{ref}: the {gene} variant does not say germline or somatic "
                "(component 48002-0); brca_status is germline only; not read",
                ref,
            )


def _said(value: Value) -> str:
    if value.number is not None:
        return f"{value.number:g}{value.unit}"
    return value.score or value.qualitative or "?"
