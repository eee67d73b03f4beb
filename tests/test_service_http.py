"""The CDS Hooks service over real HTTP: discovery, hostile input, 412 and the FHIR server path.

The server is the real one (``mbc-rules serve`` under uvicorn) on a free port of 127.0.0.1.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servicekit import (
    FhirStub,
    Server,
    bundle,
    cards_of,
    condition,
    error_of,
    free_port,
    hook_call,
    hr_positive_record,
    patient,
    post,
    request,
    running_server,
)

PV = "mbc-rules-patient-view"
OS = "mbc-rules-order-select"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("service") / "server.log"
    with running_server(log, "--fhir-timeout", "1.5") as running:
        yield running


def test_discovery_lists_both_hooks_with_prefetch_templates(server: Server) -> None:
    answer = request(server.base, "GET", "/cds-services")
    assert answer.status == 200
    services = {s["hook"]: s for s in answer.body["services"]}
    assert set(services) == {"patient-view", "order-select"}
    for service in services.values():
        assert service["id"]
        assert service["title"]
        assert "not medical advice" in service["description"]
        templates = service["prefetch"]
        assert templates["patient"] == "Patient/{{context.patientId}}"
        for kind in (
            "Condition",
            "Observation",
            "MedicationStatement",
            "MedicationRequest",
            "MedicationAdministration",
        ):
            assert any(
                t.startswith(f"{kind}?") and "{{context.patientId}}" in t
                for t in templates.values()
            ), kind


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("not JSON", b'{"hook": "patient-view",', "not valid JSON"),
    ("not UTF-8", b'{"hook": "\xff\xfe"}', "not UTF-8"),
    ("an array", b"[1, 2, 3]", "must be a JSON object, not list"),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "not usable JSON"),
    ("a 5000-digit number", b'{"hook": ' + b"9" * 5000 + b"}", "not usable JSON"),
]


@pytest.mark.parametrize(("case", "body", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_malformed_bodies_get_400_with_a_json_reason(
    server: Server, case: str, body: bytes, message: str
) -> None:
    assert message in error_of(post(server.base, PV, body), 400)


def _call(**changes: Any) -> dict[str, Any]:
    call = hook_call("patient-view", hr_positive_record())
    for key, value in changes.items():
        if value is None:
            call.pop(key, None)
        else:
            call[key] = value
    return call


BAD_CALLS: list[tuple[str, dict[str, Any], str, str]] = [
    ("wrong hook", _call(hook="order-select"), "hook", "serves patient-view"),
    ("hook not a string", _call(hook=7), "hook", "must be a non-empty string, not 7"),
    ("missing hookInstance", _call(hookInstance=None), "hookInstance", "is required"),
    ("missing context", _call(context=None), "context", "must be an object, not null"),
    ("no patientId", _call(context={"userId": "x"}), "context.patientId", "is required"),
    (
        "patientId not a FHIR id",
        _call(context={"patientId": "../../etc"}),
        "context.patientId",
        "is not a FHIR id",
    ),
    ("prefetch a string", _call(prefetch="everything"), "prefetch", "must be an object"),
    (
        "prefetch key a number",
        _call(prefetch={**hr_positive_record(), "observations": 5}),
        "prefetch.observations",
        "must be a FHIR resource",
    ),
    (
        "prefetch entry not an object",
        _call(
            prefetch={
                **hr_positive_record(),
                "conditions": {"resourceType": "Bundle", "entry": ["x"]},
            }
        ),
        "prefetch.conditions.entry[0]",
        "must be an object",
    ),
    (
        "resource without a type",
        _call(prefetch={**hr_positive_record(), "patient": {"id": "p1"}}),
        "prefetch.patient.resourceType",
        "must name the resource type",
    ),
    (
        "unknown prefetch key",
        _call(prefetch={**hr_positive_record(), "labs": None}),
        "prefetch",
        "unknown key",
    ),
    ("fhirServer not a URL", _call(fhirServer="file:///etc/passwd"), "fhirServer", "http(s) URL"),
    (
        "fhirAuthorization without token",
        _call(fhirServer="http://127.0.0.1:9", fhirAuthorization={"token_type": "Bearer"}),
        "fhirAuthorization.access_token",
        "is required",
    ),
]


@pytest.mark.parametrize(
    ("case", "call", "field", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_hook_calls_name_the_field(
    server: Server, case: str, call: dict[str, Any], field: str, message: str
) -> None:
    answer = post(server.base, PV, call)
    assert message in error_of(answer, 400)
    assert answer.body["field"] == field


def test_order_select_needs_its_draft_orders(server: Server) -> None:
    call = hook_call("order-select", hr_positive_record())
    assert "draftOrders" in error_of(post(server.base, OS, call), 400)
    call["context"]["draftOrders"] = bundle()
    call["context"]["selections"] = ["MedicationRequest/none"]
    answer = post(server.base, OS, call)
    assert "is not among the draftOrders" in error_of(answer, 400)
    assert answer.body["field"] == "context.selections[0]"


def test_prefetch_resources_of_another_patient_are_left_out_with_a_card_not_a_422(
    server: Server,
) -> None:
    # The bug: one foreign Condition failed the whole request with a 422; the clinician saw
    # nothing.
    other = hr_positive_record()
    other["conditions"]["entry"].append(
        {"resource": condition("c9", "94222008", "bone", pid="someone-else")}
    )
    cards = cards_of(post(server.base, PV, hook_call("patient-view", other)))
    warning = cards[0]
    assert warning["indicator"] == "warning"
    assert "another patient left out" in warning["summary"]
    assert "Condition/c9" in warning["detail"]
    assert "Patient/someone-else" in warning["detail"]
    assert len(cards) > 1  # the patient's own options are still shown


def test_a_prefetch_whose_patient_is_someone_else_shows_why_no_options_are_shown(
    server: Server,
) -> None:
    other = hr_positive_record()
    other["patient"] = patient("p2")
    cards = cards_of(post(server.base, PV, hook_call("patient-view", other)))
    assert len(cards) == 1
    assert cards[0]["indicator"] == "warning"
    assert (
        cards[0]["summary"] == "Another patient's data in this request: no treatment options shown"
    )
    assert "Patient/p2" in cards[0]["detail"]
    assert "'p1'" in cards[0]["detail"]


def test_unknown_service_wrong_method_and_content_type(server: Server) -> None:
    assert "no service" in error_of(post(server.base, "nope", _call()), 404)
    assert "not allowed" in error_of(request(server.base, "GET", f"/cds-services/{PV}"), 405)
    assert "discovery" in error_of(request(server.base, "GET", "/elsewhere"), 404)
    body = json.dumps(_call()).encode()
    answer = request(
        server.base, "POST", f"/cds-services/{PV}", body, {"Content-Type": "text/plain"}
    )
    assert "application/json" in error_of(answer, 415)


def test_a_body_over_20_mb_is_refused(server: Server) -> None:
    filler = "x" * (20 * 1024 * 1024)
    body = json.dumps({**_call(), "padding": filler}).encode()
    assert "larger than" in error_of(post(server.base, PV, body), 413)
    # Announced but never sent: refused from the header, without waiting for the body.
    with socket.create_connection(("127.0.0.1", int(server.base.rsplit(":", 1)[1])), 10) as sock:
        sock.sendall(
            f"POST /cds-services/{PV} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {30 * 1024 * 1024}\r\n\r\n".encode()
        )
        reply = ""
        while not reply.rstrip().endswith("}"):
            chunk = sock.recv(65536).decode()
            if not chunk:
                break
            reply += chunk
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    assert '"status":413' in reply.replace(" ", "")


def test_a_chunked_body_over_20_mb_is_cut_off(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"hook": "patient-view", "padding": "'
        for _ in range(22):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    host, port = server.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request(
            "POST",
            f"/cds-services/{PV}",
            body=chunks(),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
    assert response.status == 413
    assert "larger than" in body["message"]


def test_412_without_the_data_and_without_a_fhir_server(server: Server) -> None:
    answer = post(server.base, PV, hook_call("patient-view", None))
    message = error_of(answer, 412)
    assert "patient; conditions; observations" in message
    assert "fhirServer" in message
    partial: dict[str, Any] = hr_positive_record()
    for key in ("medicationStatements", "medicationRequests", "medicationAdministrations"):
        partial[key] = None
    message = error_of(post(server.base, PV, hook_call("patient-view", partial)), 412)
    assert "one of medicationStatements, medicationRequests" in message


def test_412_when_the_fhir_server_is_unreachable_or_too_slow(server: Server) -> None:
    closed = f"http://127.0.0.1:{free_port()}/fhir"
    message = error_of(
        post(server.base, PV, hook_call("patient-view", None, fhirServer=closed)), 412
    )
    assert "could not give them" in message
    assert closed in message
    with FhirStub(routes={"Patient/p1": patient()}, delay=3).running() as stub:
        call = hook_call(
            "patient-view", {**hr_positive_record(), "patient": None}, fhirServer=stub.base
        )
        message = error_of(post(server.base, PV, call), 412)
    assert "timed out" in message or "within" in message


def test_412_when_the_fhir_server_refuses_the_token(server: Server) -> None:
    with FhirStub(routes={"Patient/p1": patient()}, required_token="good").running() as stub:
        call = hook_call(
            "patient-view",
            {**hr_positive_record(), "patient": None},
            fhirServer=stub.base,
            fhirAuthorization={
                "access_token": "bad",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "cds",
            },
        )
        message = error_of(post(server.base, PV, call), 412)
    assert "answered 401" in message
    assert stub.seen == [("/fhir/Patient/p1", "Bearer bad")]


def test_every_request_is_logged_on_one_line(server: Server) -> None:
    request(server.base, "GET", "/cds-services")
    post(server.base, PV, b"{")
    lines = server.log_text().splitlines()
    assert any(re.search(r'"GET /cds-services" 200 [\d.]+ ms', line) for line in lines)
    refused = [
        line for line in lines if re.search(rf'"POST /cds-services/{PV}" 400 [\d.]+ ms', line)
    ]
    assert any("refused: 'the body is not valid JSON" in line for line in refused)
    assert not any(line.startswith("400 ") or " 400 mbc-rules" in line for line in lines)
    assert "Traceback" not in server.log_text()


def test_the_server_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    with running_server(tmp_path / "log") as running:
        assert request(running.base, "GET", "/cds-services").status == 200
        assert running.stop() == 0
    assert "Finished server process" in running.log_text() or "Shutting down" in running.log_text()


def test_serve_takes_a_rule_directory_and_an_engine(tmp_path: Path) -> None:
    rules = Path(__file__).resolve().parents[1] / "rules"
    with running_server(tmp_path / "log", "--rules", str(rules), "--engine", "python") as running:
        assert request(running.base, "GET", "/cds-services").status == 200
    assert "engine=python>" in running.log_text()


def test_serve_reports_bad_options_without_a_traceback(tmp_path: Path) -> None:
    from mbc_rules.cli import main

    err = io.StringIO()
    assert main(["serve", "--rules", str(tmp_path / "none")], out=io.StringIO(), err=err) == 1
    assert "not a directory of rule files" in err.getvalue()
    err = io.StringIO()
    assert main(["serve", "--trust", "no-equals"], out=io.StringIO(), err=err) == 1
    assert "--trust" in err.getvalue()
    assert "ISSUER=KEYFILE" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_browsers_of_an_allowed_origin_may_call(tmp_path: Path) -> None:
    origin = "https://sandbox.cds-hooks.org"
    with running_server(tmp_path / "log", "--cors-origin", origin) as running:
        host, port = running.base.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        }
        connection.request("OPTIONS", f"/cds-services/{PV}", headers=headers)
        allowed = connection.getresponse()
        allowed.read()
        connection.request(
            "OPTIONS",
            f"/cds-services/{PV}",
            headers={**headers, "Origin": "https://elsewhere.example"},
        )
        other = connection.getresponse()
        other.read()
        connection.close()
    assert allowed.status == 200
    assert allowed.getheader("access-control-allow-origin") == origin
    assert other.getheader("access-control-allow-origin") is None
