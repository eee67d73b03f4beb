"""What the service tests share: a real server in a subprocess, a FHIR server stub, the schemas,
the shared samples, and hand-made FHIR resources."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema

from mbc_rules.service.contract import error_schema, response_schema

ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """``../shared`` beside the repository (in a git worktree: beside the main checkout)."""
    candidates = [ROOT.parent / "shared"]
    dot_git = ROOT / ".git"
    if dot_git.is_file():  # a worktree: .git names the main checkout's git directory
        text = dot_git.read_text(encoding="utf-8").strip()
        if text.startswith("gitdir:"):
            git_dir = Path(text.split(":", 1)[1].strip())
            candidates.append(git_dir.parents[2].parent / "shared")
    return next((c for c in candidates if c.is_dir()), None)


SHARED = shared_dir()
SAMPLES = SHARED / "fhir-samples" if SHARED else None
SOURCES = SHARED / "sources" if SHARED else None

RESPONSE_VALIDATOR = jsonschema.Draft202012Validator(
    response_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
ERROR_VALIDATOR = jsonschema.Draft202012Validator(error_schema())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]


def request(
    base: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    """One HTTP request; the body read as JSON (every answer of the service is JSON)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise AssertionError(
            f"{method} {path}: {response.status}, not JSON: {raw[:300]!r}"
        ) from error
    return Answer(response.status, parsed, dict(response.getheaders()))


def post(base: str, service: str, payload: Any, headers: Mapping[str, str] | None = None) -> Answer:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", **(headers or {})}
    return request(base, "POST", f"/cds-services/{service}", body, sent)


def cards_of(answer: Answer) -> list[dict[str, Any]]:
    """The cards of a 200 answer, after checking it against the shipped response schema."""
    assert answer.status == 200, answer.body
    RESPONSE_VALIDATOR.validate(answer.body)
    cards: list[dict[str, Any]] = answer.body["cards"]
    return cards


def error_of(answer: Answer, status: int) -> str:
    """The message of an error answer, after checking its status and shape."""
    assert answer.status == status, (answer.status, answer.body)
    ERROR_VALIDATOR.validate(answer.body)
    assert answer.body["status"] == status
    message: str = answer.body["message"]
    assert "Traceback" not in message
    return message


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def running_server(log: Path, *args: str) -> Iterator[Server]:
    """``mbc-rules serve`` on a free port of 127.0.0.1, until the block ends."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mbc_rules",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise AssertionError(f"the server exited early:\n{server.log_text()}")
            try:
                if request(server.base, "GET", "/cds-services", timeout=5).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the server did not start:\n{server.log_text()}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()


@dataclass
class FhirStub:
    """A tiny FHIR server on 127.0.0.1: answers searches from a dict of path -> resource."""

    routes: dict[str, Any] = field(default_factory=dict)
    delay: float = 0.0
    required_token: str | None = None
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    base: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[FhirStub]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.seen.append((self.path, self.headers.get("Authorization")))
                if stub.delay:
                    time.sleep(stub.delay)
                if stub.required_token and self.headers.get("Authorization") != (
                    f"Bearer {stub.required_token}"
                ):
                    self._send(401, {"resourceType": "OperationOutcome", "issue": []})
                    return
                path = self.path.split("/fhir/", 1)[-1]
                if path in stub.routes:
                    self._send(200, stub.routes[path])
                else:
                    self._send(404, {"resourceType": "OperationOutcome", "issue": []})

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        self.base = f"http://127.0.0.1:{httpd.server_address[1]}/fhir"
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()


# Hand-made FHIR R4 resources (codes as in ../shared/fhir-samples/README.md).
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
POSITIVE, NEGATIVE = "10828004", "260385009"


def patient(pid: str = "p1", gender: str = "female") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": gender}


def condition(cid: str, code: str, display: str, pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
    }


def marker(oid: str, loinc: str, value: str, pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": value}]},
    }


def menopause(oid: str, value: str = "307429007", pid: str = "p1") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": SNOMED, "code": "161712005"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": value}]},
    }


def medication_statement(
    mid: str, rxnorm: str, name: str, status: str = "completed", pid: str = "p1"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": status,
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": name}],
            "text": name,
        },
        "subject": {"reference": f"Patient/{pid}"},
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def hr_positive_record(pid: str = "p1") -> dict[str, Any]:
    """Prefetch of a woman after menopause: ER+ PR+ HER2- breast cancer spread to bone."""
    return {
        "patient": patient(pid),
        "conditions": bundle(
            condition("c1", "372137005", "Primary malignant neoplasm of breast", pid),
            condition("c2", "94222008", "Secondary malignant neoplasm of bone", pid),
        ),
        "observations": bundle(
            marker("er", "40556-3", POSITIVE, pid),
            marker("pr", "40557-1", POSITIVE, pid),
            marker("her2", "18474-7", NEGATIVE, pid),
            menopause("meno", pid=pid),
        ),
        "medicationStatements": bundle(),
        "medicationRequests": bundle(),
        "medicationAdministrations": bundle(),
    }


def hook_call(
    hook: str, prefetch: Mapping[str, Any] | None, pid: str = "p1", **extra: Any
) -> dict[str, Any]:
    call: dict[str, Any] = {
        "hook": hook,
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": pid},
        **extra,
    }
    if prefetch is not None:
        call["prefetch"] = dict(prefetch)
    return call


def medication_request(rid: str, name: str, rxnorm: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": name}
    if rxnorm:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": name}]
    return {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": "Patient/p1"},
    }


Check = Callable[[Answer], None]
