"""The service reading real FHIR records: the shared samples, hand-made bundles, the examples of
the docs, and a FHIR server stub for what the prefetch lacks. Every answer is validated against
the shipped response schema, and every quoted excerpt is checked word for word."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from mbc_rules import Rulebase
from mbc_rules.fhir import read_fhir
from tests import service_docs
from tests.servicekit import (
    NEGATIVE,
    POSITIVE,
    ROOT,
    SAMPLES,
    SOURCES,
    FhirStub,
    Server,
    bundle,
    cards_of,
    hook_call,
    hr_positive_record,
    marker,
    medication_request,
    post,
    running_server,
)

PV = "mbc-rules-patient-view"
OS = "mbc-rules-order-select"
EXAMPLES = ROOT / "examples" / "cds-hooks"
DISCLAIMER = "not medical advice"
KEYS = {
    "Condition": "conditions",
    "Observation": "observations",
    "MedicationStatement": "medicationStatements",
    "MedicationRequest": "medicationRequests",
    "Medication": "medicationRequests",
    "MedicationAdministration": "medicationAdministrations",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("service") / "server.log"
    with running_server(log, "--fhir-timeout", "5") as running:
        yield running


def squeeze(text: str) -> str:
    table = str.maketrans(
        {
            "\u2019": "'",
            "\u2018": "'",
            "\u201c": '"',
            "\u201d": '"',
            "\u2014": "-",
            "\u2013": "-",
            "\u2022": " ",
        }
    )
    return " ".join(text.translate(table).split()).casefold()


@pytest.fixture(scope="module")
def verbatim(bundled: Rulebase) -> Any:
    """Checks that each quote of a card is a rule's citation, and stands in its source text."""
    cited = {
        (bundled.sources[c.source].publisher, c.excerpt): c.source
        for rule in bundled.rules
        for c in rule.citations
    }
    # The sentences behind the sources' orderings are statements of the inventory too.
    cited |= {(bundled.sources[s.source].publisher, s.excerpt): s.source for s in bundled.coverage}
    texts = {}
    if SOURCES is not None:
        texts = {
            s.id: squeeze((SOURCES / s.document).read_text(encoding="utf-8"))
            for s in bundled.sources.values()
        }

    def check(cards: list[dict[str, Any]]) -> int:
        count = 0
        for card in cards:
            assert DISCLAIMER in card["detail"]
            lines = card["detail"].splitlines()
            for index, line in enumerate(lines):
                if not line.startswith("> "):
                    continue
                publisher = lines[index + 2].removeprefix("— ").rsplit(", “", 1)[0]
                source = cited.get((publisher, line[2:]))
                assert source is not None, f"not a citation of the rules: {line}"
                if texts:
                    assert squeeze(line[2:]) in texts[source], f"not in {source}: {line}"
                count += 1
        return count

    return check


def prefetch_from(resources: list[dict[str, Any]], patient_id: str) -> dict[str, Any]:
    """What an EHR would prefetch for the service's templates from a record's resources."""
    prefetch: dict[str, Any] = {key: bundle() for key in set(KEYS.values())}
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Patient" and resource.get("id") == patient_id:
            prefetch["patient"] = resource
        elif kind in KEYS:
            prefetch[KEYS[kind]]["entry"].append(
                {"fullUrl": f"urn:uuid:{resource.get('id')}", "resource": resource}
            )
    return prefetch


def sample(name: str) -> list[dict[str, Any]]:
    if SAMPLES is None or not (SAMPLES / name).exists():
        pytest.skip("../shared/fhir-samples is not here")
    data = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return [e["resource"] for e in data["entry"]] if isinstance(data, dict) else data


def option_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cards if c["summary"].startswith(("#", "Alongside: "))]


def test_the_example_request_of_the_docs(server: Server, bundled: Rulebase, verbatim: Any) -> None:
    call = json.loads((EXAMPLES / "patient-view.json").read_text(encoding="utf-8"))
    cards = cards_of(post(server.base, PV, call))
    assert verbatim(cards) > 10
    resources = [call["prefetch"]["patient"]] + [
        e["resource"]
        for key, value in call["prefetch"].items()
        if key != "patient"
        for e in value["entry"]
    ]
    reading = read_fhir(resources, patient="example-mbc-1")
    evaluation = bundled.evaluate(reading.profile)
    places = sorted({o.rank for o in evaluation.options if o.role != "supportive"})
    assert [c["summary"].split(" ", 1)[0] for c in option_cards(cards)] == [
        f"#{places.index(o.rank) + 1}" if o.role != "supportive" else "Alongside:"
        for o in evaluation.options
    ]
    assert all("letrozole" not in c["summary"] for c in option_cards(cards))
    warning = cards[0]
    assert warning["indicator"] == "warning"
    assert "PIK3CA status" in warning["summary"]  # after an aromatase inhibitor, alpelisib waits
    assert "PIK3CA status" in option_cards(cards)[0]["detail"]  # listed among the unknowns


def test_the_example_order_select_warns_of_a_drug_that_failed(server: Server) -> None:
    call = json.loads((EXAMPLES / "order-select.json").read_text(encoding="utf-8"))
    cards = cards_of(post(server.base, OS, call))
    assert len(cards) == 1
    assert cards[0]["indicator"] == "warning"
    assert cards[0]["summary"].startswith("Letrozole: ")
    assert "the cancer already grew on it" in cards[0]["summary"]
    assert cards[0]["suggestions"][0]["actions"][0]["resourceId"] == (
        "MedicationRequest/draft-letrozole"
    )


def _order_call(*orders: dict[str, Any]) -> dict[str, Any]:
    call = hook_call("order-select", hr_positive_record())
    call["context"]["draftOrders"] = bundle(*orders)
    call["context"]["selections"] = [f"MedicationRequest/{o['id']}" for o in orders]
    return call


def test_order_select_by_rxnorm_code_and_by_name(server: Server, verbatim: Any) -> None:
    fulvestrant = medication_request("o1", "", rxnorm="282357")  # RxNorm ingredient, no text
    fulvestrant["medicationCodeableConcept"].pop("text")
    cards = cards_of(post(server.base, OS, _order_call(fulvestrant)))
    assert [c["indicator"] for c in cards] == ["info"]
    assert cards[0]["summary"].startswith("Fulvestrant: option #")
    assert verbatim(cards) >= 1
    silent = cards_of(post(server.base, OS, _order_call(medication_request("o2", "aspirin"))))
    assert silent == []


def test_conflicting_results_make_a_warning_and_stay_unknown(server: Server) -> None:
    record = hr_positive_record()
    record["observations"]["entry"].append({"resource": marker("er-2", "40556-3", NEGATIVE)})
    cards = cards_of(post(server.base, PV, hook_call("patient-view", record)))
    warning = cards[0]
    assert warning["indicator"] == "warning"
    assert "conflicting ER status" in warning["summary"]
    assert "Observation/er" in warning["detail"]
    assert "Observation/er-2" in warning["detail"]
    assert "ER status" in option_cards(cards)[0]["detail"]  # unknown, on every option card


def test_a_hand_made_her2_positive_record(server: Server, verbatim: Any) -> None:
    record = hr_positive_record()
    record["observations"] = bundle(
        marker("her2", "18474-7", POSITIVE),
        marker("er", "40556-3", NEGATIVE),
        marker("pr", "40557-1", NEGATIVE),
    )
    cards = cards_of(post(server.base, PV, hook_call("patient-view", record)))
    verbatim(cards)
    first = option_cards(cards)[0]
    assert "trastuzumab" in first["summary"].lower() or "her2" in first["detail"].lower()
    refused = [c for c in cards if c["summary"].startswith("Not recommended")]
    assert refused
    assert "hormone therapy" in refused[0]["summary"]


def test_sample_of_metastatic_breast_cancer(server: Server, verbatim: Any) -> None:
    resources = sample("01_ctm-app_query_mbc_bone.json")
    call = hook_call("patient-view", prefetch_from(resources, "utsw-1"), pid="utsw-1")
    cards = cards_of(post(server.base, PV, call))
    assert option_cards(cards)
    assert verbatim(cards) > 5
    assert any("bone-modifying therapy" in c["summary"].lower() for c in option_cards(cards))


@pytest.mark.parametrize(
    ("name", "patient_id"),
    [
        ("03_mcode_stu1_examples_assembled.json", "mCODEPatientExample01"),
        ("04_pathways_Maryam_stage3_nonmet.json", "598550c1-da7b-4a27-a2a9-e45415910ca3"),
        (
            "05_bct-service_patient_data_her2pos_dirty_nonmet.json",
            "1e208b6b-77f1-4808-a32b-9f9caf1ec334",
        ),
        ("06_essex_TrialMatching_Patient_LongHistory_nonmet.json", "patientLongHistory01"),
    ],
)
def test_samples_that_are_not_metastatic_breast_cancer_get_no_options(
    server: Server, name: str, patient_id: str
) -> None:
    call = hook_call("patient-view", prefetch_from(sample(name), patient_id), pid=patient_id)
    cards = cards_of(post(server.base, PV, call))
    assert len(cards) == 1
    assert cards[0]["indicator"] == "warning"
    assert cards[0]["summary"].startswith("Not metastatic breast cancer by this record")
    assert DISCLAIMER in cards[0]["detail"]


def test_a_sample_of_two_patients_sent_whole_leaves_the_other_out_and_says_so(
    server: Server,
) -> None:
    resources = sample("03_mcode_stu1_examples_assembled.json")
    prefetch = prefetch_from(resources, "mCODEPatientExample01")
    prefetch["patient"] = bundle(*[r for r in resources if r["resourceType"] == "Patient"])
    call = hook_call("patient-view", prefetch, pid="mCODEPatientExample01")
    cards = cards_of(post(server.base, PV, call))
    assert len(cards) == 1  # a lung cancer record: out of scope, and the other patient named
    assert cards[0]["summary"].startswith("Not metastatic breast cancer by this record")
    assert "Patient/mCODEPatientExample02" in cards[0]["detail"]
    assert "left out" in cards[0]["detail"]


def test_what_the_prefetch_lacks_is_read_from_the_fhir_server(server: Server) -> None:
    record = hr_positive_record()
    observations = record["observations"]
    first_page = {**bundle(*(e["resource"] for e in observations["entry"][:2])), "link": []}
    second = bundle(*(e["resource"] for e in observations["entry"][2:]))
    routes = {
        "Patient/p1": record["patient"],
        "Condition?patient=p1": record["conditions"],
        "Observation?patient=p1": first_page,
        "Observation?patient=p1&page=2": second,
        "MedicationStatement?patient=p1": bundle(),
        "MedicationRequest?patient=p1": bundle(),
        "MedicationAdministration?patient=p1": bundle(),
    }
    authorization = {
        "access_token": "secret-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "mbc-rules",
    }
    with FhirStub(routes=routes, required_token="secret-token").running() as stub:
        first_page["link"] = [
            {"relation": "next", "url": f"{stub.base}/Observation?patient=p1&page=2"}
        ]
        call = hook_call(
            "patient-view", None, fhirServer=stub.base, fhirAuthorization=authorization
        )
        fetched = cards_of(post(server.base, PV, call))
    assert {path for path, _ in stub.seen} == {f"/fhir/{route}" for route in routes}
    assert {token for _, token in stub.seen} == {"Bearer secret-token"}
    sent = cards_of(post(server.base, PV, hook_call("patient-view", record)))
    assert [c["summary"] for c in fetched] == [c["summary"] for c in sent]


def test_the_out_of_scope_warnings_are_the_readers(bundled: Rulebase) -> None:
    """A record without a breast cancer diagnosis is out of scope, in the reader's words."""
    from mbc_rules.service.hooks import Entry
    from mbc_rules.service.record import read_record

    record = hr_positive_record()
    record["conditions"] = bundle()
    entries = [Entry(record["patient"])] + [
        Entry(e["resource"])
        for key, value in record.items()
        if key != "patient"
        for e in value["entry"]
    ]
    reading = read_record(entries, "p1", bundled)
    assert len(reading.out_of_scope) == 2, reading.warnings
    full = hr_positive_record()
    entries = [Entry(full["patient"])] + [
        Entry(e["resource"])
        for key, value in full.items()
        if key != "patient"
        for e in value["entry"]
    ]
    assert read_record(entries, "p1", bundled).out_of_scope == ()


def test_the_docs_show_the_real_output(server: Server) -> None:
    shown = service_docs.shown(service_docs.PAGE.read_text(encoding="utf-8"))
    fresh = service_docs.outputs(server.base)
    assert set(shown) == set(fresh)
    for name, text in fresh.items():
        assert service_docs.same(shown[name], service_docs.fence(name, text)), (
            f"docs/service.md shows an old {name} output: run python -m tests.service_docs"
        )


def test_order_select_reads_a_referenced_medication(bundled: Rulebase) -> None:
    from mbc_rules.service.cards import ordered_agents
    from mbc_rules.service.hooks import Entry

    contained = {
        "resourceType": "MedicationRequest",
        "id": "o1",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "med",
                "code": {"text": "Faslodex 250 mg/5 mL injection"},
            }
        ],
        "medicationReference": {"reference": "#med"},
    }
    assert [a.id for a in ordered_agents(bundled, contained)] == ["fulvestrant"]
    referenced = {
        **contained,
        "contained": [],
        "medicationReference": {"reference": "Medication/m2"},
    }
    medication = {
        "resourceType": "Medication",
        "id": "m2",
        "code": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "72965"}]
        },
    }
    assert [a.id for a in ordered_agents(bundled, referenced, [Entry(medication)])] == ["letrozole"]
    assert ordered_agents(bundled, referenced) == ()


def test_a_fhir_server_outside_the_allow_list_is_not_read(bundled: Rulebase) -> None:
    from mbc_rules.service.app import ServiceConfig, _Hooks
    from mbc_rules.service.contract import SERVICES, RequestError
    from mbc_rules.service.hooks import parse_request

    hooks = _Hooks(ServiceConfig(rulebase=bundled, fhir_servers=("https://ehr.example.org/",)))
    call = hook_call("patient-view", None, fhirServer="http://169.254.169.254/latest")
    with pytest.raises(RequestError) as refused:
        hooks.answer(SERVICES[0], parse_request(json.dumps(call).encode(), SERVICES[0]))
    assert refused.value.status == 412
    assert "not among the servers this service reads" in refused.value.message
