"""Properties of the FHIR reader over whole classes of records: hostile records never crash it,
the order of resources never changes the reading, and receptor results settle as documented."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import FhirReadError, read_fhir

from .fhir_builders import (
    LOINC,
    SNOMED,
    bundle,
    coded,
    interpretation,
    medication,
    metastatic_bundle,
    observation,
    quantity,
)

KEYS = [
    "resourceType",
    "id",
    "code",
    "coding",
    "system",
    "display",
    "text",
    "subject",
    "reference",
    "status",
    "valueCodeableConcept",
    "valueQuantity",
    "valueString",
    "valueInteger",
    "value",
    "unit",
    "interpretation",
    "component",
    "effectiveDateTime",
    "effectivePeriod",
    "start",
    "end",
    "onsetDateTime",
    "bodySite",
    "stage",
    "summary",
    "extension",
    "url",
    "statusReason",
    "medicationCodeableConcept",
    "medicationReference",
    "gender",
    "identifier",
    "entry",
    "resource",
    "fullUrl",
    "verificationStatus",
    "intent",
    "authoredOn",
    "meta",
    "profile",
]
CODES = [
    "40556-3",
    "85319-2",
    "49683-6",
    "48018-6",
    "48002-0",
    "LA6683-2",
    "HGNC:1100",
    "HGNC:8975",
    "10828004",
    "260385009",
    "POS",
    "94222008",
    "128462008",
    "97509-4",
    "271299001",
    "21908-9",
    "21907-1",
    "cM0",
    "4",
    "IV",
    "3+",
    "282357",
    "1601374",
    "161712005",
    "309606002",
    "C50.9",
    "2020-01-01",
    "Patient/p1",
    "urn:uuid:p1",
    "",
    "http://loinc.org",
    "http://snomed.info/sct",
]
TYPES = [
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "Bundle",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(CODES),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5),
    ),
    max_leaves=25,
)
resources = st.builds(
    lambda kind, body: {**body, "resourceType": kind},
    st.sampled_from(TYPES),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=8),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(resources, values), max_size=8))
def test_a_hostile_record_is_a_reading_or_a_clear_error(entries: list[Any]) -> None:
    for record in (
        {"resourceType": "Bundle", "entry": [{"resource": e} for e in entries]},
        entries,
    ):
        try:
            reading = read_fhir(record)
        except FhirReadError as error:
            outcome = str(error)  # one message, never empty
        else:
            outcome = reading.model_dump_json()  # a plain, serialisable value
            json.loads(outcome)
        assert outcome


ER_VALUES = {
    "positive": [
        coded(SNOMED, "10828004"),
        coded(LOINC, "LA6576-8"),
        interpretation("POS"),
        quantity(50),
    ],
    "negative": [
        coded(SNOMED, "260385009"),
        coded(LOINC, "LA6577-6"),
        interpretation("NEG"),
        quantity(0),
    ],
}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["positive", "negative"]), st.integers(0, 3)),
        min_size=1,
        max_size=5,
    ),
    st.randoms(use_true_random=False),
)
def test_receptor_results_settle_and_order_does_not_matter(
    results: list[tuple[str, int]], random: Any
) -> None:
    observations = [
        observation(f"er{i}", "40556-3", date=f"202{i}-01-01", **ER_VALUES[status][style])
        for i, (status, style) in enumerate(results)
    ]
    drugs = [
        medication("fulv", "282357"),
        medication("palbo", "1601374", status="active", end=None),
    ]
    resources_ = observations + drugs
    reading = read_fhir(metastatic_bundle(*resources_))
    said = {status for status, _ in results}
    if len(said) == 1:
        assert reading.profile.er_status == said.pop()
        assert reading.conflicts == ()
    else:
        assert reading.profile.er_status == "unknown"
        assert [c.field for c in reading.conflicts] == ["er_status"]
        latest = read_fhir(metastatic_bundle(*resources_), conflicts="latest")
        assert latest.profile.er_status == results[-1][0]
    shuffled = list(resources_)
    random.shuffle(shuffled)
    again = read_fhir(metastatic_bundle(*shuffled))
    assert again.profile == reading.profile
    assert {c.field for c in again.conflicts} == {c.field for c in reading.conflicts}


def test_the_property_can_fail() -> None:
    # A conflicting pair really does leave the field unknown (the property above is not vacuous).
    reading = read_fhir(
        bundle(
            observation("a", "40556-3", **ER_VALUES["positive"][0]),
            observation("b", "40556-3", **ER_VALUES["negative"][0]),
        )
    )
    assert reading.profile.er_status == "unknown"
