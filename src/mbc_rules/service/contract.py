"""What the service promises: its hooks, prefetch templates, response schema and error shape.

Nothing here imports the web framework, so the cards and the request checks can be used and
tested without it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any

# One key per kind of resource the reader uses. A key may come as one resource or a Bundle.
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}",
}
# Without these the answer would rest on nothing: every status would be unknown.
ESSENTIAL_PREFETCH = ("patient", "conditions", "observations")
# The treatment history: at least one of these must come, or the history is not known at all.
MEDICATION_PREFETCH = ("medicationStatements", "medicationRequests", "medicationAdministrations")

MAX_BODY_BYTES = 20 * 1024 * 1024
SUMMARY_LIMIT = 140


@dataclass(frozen=True)
class Service:
    """One CDS Service of the discovery document."""

    hook: str
    id: str
    title: str
    description: str

    def discovery(self) -> dict[str, Any]:
        """The service's entry in ``GET /cds-services``."""
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": dict(PREFETCH),
        }


SERVICES: tuple[Service, ...] = (
    Service(
        hook="patient-view",
        id="mbc-rules-patient-view",
        title="Metastatic breast cancer: cited treatment options",
        description=(
            "Reads the record (FHIR R4 / mCODE) and lists the treatment options that five "
            "published sources give for it, ranked, each with verbatim excerpts; what is not "
            "recommended; and what the record lacks or contradicts. Decision support that cites "
            "its sources, not medical advice."
        ),
    ),
    Service(
        hook="order-select",
        id="mbc-rules-order-select",
        title="Metastatic breast cancer: check a drug against the sources",
        description=(
            "When a drug is chosen, warns if the sources advise against it for this record or "
            "the cancer already grew on it, and otherwise cites the option it belongs to. "
            "Decision support that cites its sources, not medical advice."
        ),
    ),
)


class RequestError(Exception):
    """A request the service cannot answer with cards: becomes a 4xx with a JSON body."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        """The JSON body: see ``error.schema.json``."""
        return error_body(self.status, self.message, self.field)


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    """An error answer's body (the shape of ``error.schema.json``)."""
    body: dict[str, Any] = {
        "status": status,
        "error": HTTPStatus(status).phrase,
        "message": message,
    }
    if field:
        body["field"] = field
    return body


@functools.cache
def _schema_text(name: str) -> str:
    return resources.files("mbc_rules.service").joinpath(name).read_text(encoding="utf-8")


def _schema(name: str) -> dict[str, Any]:
    # A fresh copy each time: a caller may edit what it gets without changing anyone else's.
    schema: dict[str, Any] = json.loads(_schema_text(name))
    return schema


def response_schema() -> dict[str, Any]:
    """The JSON Schema of a CDS Hooks 2.0 response, as shipped in the package."""
    return _schema("cds_hooks_response.schema.json")


def error_schema() -> dict[str, Any]:
    """The JSON Schema of the service's error bodies."""
    return _schema("error.schema.json")
