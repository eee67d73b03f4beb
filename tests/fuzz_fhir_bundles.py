"""FHIR bundle fuzzer (issue 22, item 4), run in its own process by ``test_fhir_hostile``.

Bundles are built from JSON values mixed with resource shapes the reader recognises (tumour
markers, staging, medications with references, patients, subjects of other patients), as
dicts and as JSON text. Each must give a reading or a ``FhirReadError``; anything else (another
exception, a crash, a hang) fails the run, which is why it runs in a child process.

Usage: ``python -m tests.fuzz_fhir_bundles MAX_EXAMPLES``; prints one JSON line of counts.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbc_rules import FhirReadError, read_fhir

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
codes = st.sampled_from(
    [
        "40556-3",
        "85337-4",
        "18474-7",
        "21908-9",
        "21907-1",
        "48018-6",
        "10828004",
        "260385009",
        "94222008",
        "372137005",
        "1156671",
        "1163443",
        "cM0",
        "4",
        "IV",
        "LA6576-8",
    ]
)
systems = st.sampled_from(
    [
        "http://loinc.org",
        "http://snomed.info/sct",
        "http://www.nlm.nih.gov/research/umls/rxnorm",
        "http://cancerstaging.org",
        "",
    ]
)
concepts = st.fixed_dictionaries(
    {"coding": st.lists(st.fixed_dictionaries({"system": systems, "code": codes}), max_size=2)},
    optional={"text": st.text(max_size=20)},
)
references = st.sampled_from(["Patient/p1", "Patient/p2", "urn:uuid:m1", "Medication/none", "#c"])
resources = st.fixed_dictionaries(
    {
        "resourceType": st.sampled_from(
            [
                "Patient",
                "Observation",
                "Condition",
                "MedicationStatement",
                "MedicationRequest",
                "Medication",
            ]
        ),
        "id": st.sampled_from(["p1", "p2", "m1", "o1", "o2", "bad id", ""]) | st.text(max_size=5),
    },
    optional={
        "code": concepts | json_values,
        "valueCodeableConcept": concepts,
        "valueQuantity": st.fixed_dictionaries({"value": json_values, "unit": st.just("%")}),
        "valueString": st.text(max_size=10),
        "subject": st.fixed_dictionaries({"reference": references}),
        "medicationReference": st.fixed_dictionaries({"reference": references}),
        "medicationCodeableConcept": concepts | json_values,
        "effectiveDateTime": st.sampled_from(["2019-01-01", "2022-05", "x", ""]),
        "onsetDateTime": st.sampled_from(["2019-01-01", "2022-05-01"]),
        "status": st.sampled_from(["final", "active", "completed", "entered-in-error"]),
        "stage": json_values,
        "component": st.lists(
            st.fixed_dictionaries({"code": concepts, "valueCodeableConcept": concepts}), max_size=2
        ),
        "extra": json_values,
    },
)
entries = st.lists(
    st.fixed_dictionaries({"resource": resources | json_values}, optional={"fullUrl": references})
    | json_values,
    min_size=0,
    max_size=8,
)
COUNTS = {"read": 0, "refused": 0}


@settings(
    max_examples=int(sys.argv[1]) if len(sys.argv) > 1 else 50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
@given(entries, st.booleans(), st.sampled_from([None, "p1", "p2"]))
def check(items: list[Any], as_text: bool, patient: str | None) -> None:
    source: Any = {"resourceType": "Bundle", "type": "collection", "entry": items}
    if as_text:
        source = json.dumps(source)
    try:
        reading = read_fhir(source, patient=patient)
    except FhirReadError as error:
        message = str(error)
        COUNTS["refused"] += 1
        assert len(message) < 2000, message[:300]
        return
    assert all(len(w.message) < 4000 for w in reading.warnings)
    COUNTS["read"] += 1


if __name__ == "__main__":
    check()
    print(json.dumps(COUNTS))
