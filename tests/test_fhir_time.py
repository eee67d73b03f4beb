"""Issue 22, item 1: a record read the way its dates tell it."""

from __future__ import annotations

from mbc_rules import read_fhir

from .fhir_builders import (
    SNOMED,
    breast_cancer,
    bundle,
    coded,
    concept,
    condition,
    metastatic_bundle,
    observation,
    patient,
)

AJCC = "http://cancerstaging.org"
ER = "40556-3"


def _m0(date: str | None) -> dict[str, object]:
    resource = observation(
        "m0", "21907-1", date=date or "", valueCodeableConcept=concept(AJCC, "cM0")
    )
    if date is None:
        del resource["effectiveDateTime"]
    return resource


def test_cm0_in_2019_then_stage_4_and_undated_lung_metastasis_is_a_recurrence() -> None:
    # The bug: an undated secondary cancer beside a dated stage 4 made the earlier cM0 a
    # contradiction ("the record contradicts itself whether the cancer has spread").
    stage4 = observation(
        "s4", "21908-9", date="2022-04-01", valueCodeableConcept=concept(AJCC, "4")
    )
    lung = condition("lung", "94391008", date=None)
    reading = read_fhir(
        bundle(patient(), breast_cancer(date="2019-02-01"), _m0("2019-03-01"), stage4, lung)
    )
    assert reading.conflicts == ()
    assert reading.metastatic is True
    assert reading.profile.de_novo is False
    spread = {e.resource: e for e in reading.evidence if e.field == "metastatic_disease"}
    assert spread["Observation/m0"].date == "2019-03-01"
    assert spread["Observation/m0"].used is False
    assert spread["Observation/s4"].used is True


def test_m0_of_the_same_date_as_the_metastasis_is_still_a_conflict() -> None:
    reading = read_fhir(
        bundle(patient(), breast_cancer(), _m0("2020-06-01"), condition("bone", "94222008"))
    )
    assert [c.field for c in reading.conflicts] == ["metastatic_disease"]
    assert reading.metastatic is None


def test_an_undated_m0_beside_a_metastasis_is_still_a_conflict() -> None:
    reading = read_fhir(
        bundle(patient(), breast_cancer(), _m0(None), condition("bone", "94222008"))
    )
    assert [c.field for c in reading.conflicts] == ["metastatic_disease"]


def test_receptors_re_tested_on_a_metastasis_say_which_is_newer_and_why_neither_is_used() -> None:
    primary = observation("er1", ER, date="2019-01-01", **coded(SNOMED, "10828004"))
    biopsy = observation("er2", ER, date="2022-05-01", **coded(SNOMED, "260385009"))
    reading = read_fhir(metastatic_bundle(primary, biopsy))
    assert reading.profile.er_status == "unknown"  # never settled silently by default
    [conflict] = reading.conflicts
    assert "the newest (2022-05-01) says negative; neither is used" in conflict.message
    er = [(e.resource, e.date, e.value, e.used) for e in reading.evidence if e.field == "er_status"]
    assert er == [
        ("Observation/er1", "2019-01-01", "positive", False),
        ("Observation/er2", "2022-05-01", "negative", False),
    ]
    latest = read_fhir(metastatic_bundle(primary, biopsy), conflicts="latest")
    assert latest.profile.er_status == "negative"
    used = {e.resource: e.used for e in latest.evidence if e.field == "er_status"}
    assert used == {"Observation/er1": False, "Observation/er2": True}


def test_evidence_keeps_each_sites_resource_and_date() -> None:
    reading = read_fhir(metastatic_bundle())
    [site] = [e for e in reading.evidence if e.field == "metastatic_sites"]
    assert (site.value, site.resource, site.date, site.used) == (
        "bone",
        "Condition/bone",
        "2020-06-01",
        True,
    )
