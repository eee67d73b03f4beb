"""Reading a hook request: the JSON body checked against the CDS Hooks 2.0 request tables.

Every problem becomes a :class:`RequestError` naming the field and showing the bad value, so
that the EHR's integrators see what to fix; nothing here raises anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mbc_rules.service.contract import MEDICATION_PREFETCH, PREFETCH, RequestError, Service

# FHIR's id datatype: what a patientId can be, and all a URL template may receive.
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_MAX_TEXT = 2048
Resource = dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """One resource of the request, with the ``fullUrl`` its Bundle gave it (references use it)."""

    resource: Resource
    full_url: str | None = None


@dataclass(frozen=True)
class FhirAuthorization:
    """The access token the EHR lends for reading its FHIR server."""

    access_token: str
    token_type: str
    scope: str | None = None


@dataclass(frozen=True)
class HookRequest:
    """A hook call, checked: what the service needs of it."""

    hook: str
    hook_instance: str
    patient_id: str
    context: Mapping[str, Any]
    # Each prefetch key the request answered, as a list of resources (a key sent as null, an
    # OperationOutcome, or not sent at all is absent here: the data still has to be found).
    prefetch: Mapping[str, list[Entry]]
    fhir_server: str | None = None
    fhir_authorization: FhirAuthorization | None = None
    draft_orders: tuple[Entry, ...] = field(default=())

    def missing_prefetch(self) -> list[str]:
        """The prefetch keys the request did not fill, in the order they are declared."""
        return [key for key in PREFETCH if key not in self.prefetch]

    def medications_missing(self) -> bool:
        """True when no key of the treatment history came."""
        return not any(key in self.prefetch for key in MEDICATION_PREFETCH)


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _bad(field_path: str, message: str) -> RequestError:
    return RequestError(400, f"{field_path}: {message}", field_path)


def parse_json(body: bytes) -> Any:
    """The request body as JSON, or a 400 that says where the text stops being JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(400, f"the body is not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RequestError(
            400,
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        ) from None
    except (RecursionError, ValueError) as error:
        # Hostile nesting, or a number of more digits than Python converts.
        raise RequestError(400, f"the body is not usable JSON: {error}") from None


def _required(data: Mapping[str, Any], key: str, where: str) -> str:
    value = _string(data, key, where)
    if value is None:
        raise _bad(f"{where}{key}", "is required")
    return value


def _string(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where}{key}", f"must be a non-empty string, not {_shown(value)}")
    if len(value) > _MAX_TEXT:
        raise _bad(f"{where}{key}", f"is longer than {_MAX_TEXT} characters")
    return value


def _resource(value: Any, where: str) -> Resource:
    if not isinstance(value, dict):
        raise _bad(where, f"must be a FHIR resource (a JSON object), not {_shown(value)}")
    kind = value.get("resourceType")
    if not isinstance(kind, str) or not kind:
        raise _bad(f"{where}.resourceType", f"must name the resource type, not {_shown(kind)}")
    return value


def resources_of(value: Any, where: str) -> list[Entry] | None:
    """The resources in a prefetch value: one resource or a Bundle of them.

    Returns None for an OperationOutcome, which is how a client says it could not fetch.
    """
    resource = _resource(value, where)
    if resource["resourceType"] == "OperationOutcome":
        return None
    if resource["resourceType"] != "Bundle":
        return [Entry(resource)]
    entries = resource.get("entry", [])
    if not isinstance(entries, list):
        raise _bad(f"{where}.entry", f"must be a list of entries, not {_shown(entries)}")
    found: list[Entry] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _bad(f"{where}.entry[{index}]", f"must be an object, not {_shown(entry)}")
        if "resource" not in entry:
            continue  # a deleted or search-outcome entry carries no data
        inner = _resource(entry["resource"], f"{where}.entry[{index}].resource")
        if inner["resourceType"] == "Bundle":
            raise _bad(f"{where}.entry[{index}].resource", "a Bundle inside a Bundle is not read")
        full_url = entry.get("fullUrl")
        if full_url is not None and not isinstance(full_url, str):
            raise _bad(
                f"{where}.entry[{index}].fullUrl", f"must be a string, not {_shown(full_url)}"
            )
        if inner["resourceType"] != "OperationOutcome":
            found.append(Entry(inner, full_url))
    return found


def _prefetch(data: Mapping[str, Any]) -> dict[str, list[Entry]]:
    raw = data.get("prefetch")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _bad("prefetch", f"must be an object of prefetch keys, not {_shown(raw)}")
    unknown = sorted(set(raw) - set(PREFETCH))
    if unknown:
        raise _bad(
            "prefetch",
            f"unknown key {_shown(unknown[0])}; this service asks for {', '.join(PREFETCH)}",
        )
    prefetch: dict[str, list[Entry]] = {}
    for key, value in raw.items():
        if value is None:
            continue
        found = resources_of(value, f"prefetch.{key}")
        if found is not None:
            prefetch[key] = found
    return prefetch


def _authorization(data: Mapping[str, Any]) -> FhirAuthorization | None:
    raw = data.get("fhirAuthorization")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad("fhirAuthorization", f"must be an object, not {_shown(raw)}")
    token = _required(raw, "access_token", "fhirAuthorization.")
    token_type = _required(raw, "token_type", "fhirAuthorization.")
    if token_type != "Bearer":
        raise _bad("fhirAuthorization.token_type", f"must be 'Bearer', not {_shown(token_type)}")
    scope = _string(raw, "scope", "fhirAuthorization.")
    return FhirAuthorization(access_token=token, token_type=token_type, scope=scope)


def _fhir_server(data: Mapping[str, Any]) -> str | None:
    server = _string(data, "fhirServer", "")
    if server is not None and not re.match(r"https?://[^\s/?#]+", server):
        raise _bad("fhirServer", f"must be an http(s) URL, not {_shown(server)}")
    return server.rstrip("/") if server else None


def _draft_orders(context: Mapping[str, Any]) -> tuple[Entry, ...]:
    if "draftOrders" not in context:
        raise _bad("context.draftOrders", "is required for order-select")
    orders = resources_of(context["draftOrders"], "context.draftOrders")
    selections = context.get("selections")
    if selections is None:
        return tuple(orders or [])
    if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
        raise _bad("context.selections", f"must be a list of strings, not {_shown(selections)}")
    by_reference = {f"{e.resource['resourceType']}/{e.resource.get('id')}": e for e in orders or []}
    chosen = []
    for index, selection in enumerate(selections):
        if selection not in by_reference:
            raise _bad(
                f"context.selections[{index}]",
                f"{_shown(selection)} is not among the draftOrders",
            )
        chosen.append(by_reference[selection])
    return tuple(chosen)


def parse_request(body: bytes, service: Service) -> HookRequest:
    """Check a hook call posted to ``service`` and return what it says.

    Raises:
        RequestError: (400) naming the field that is wrong and showing its value.
    """
    data = parse_json(body)
    if not isinstance(data, dict):
        raise RequestError(400, f"the body must be a JSON object, not {type(data).__name__}")
    hook = _required(data, "hook", "")
    if hook != service.hook:
        raise _bad(
            "hook", f"{_shown(hook)} was posted to {service.id}, which serves {service.hook}"
        )
    instance = _required(data, "hookInstance", "")
    context = data.get("context")
    if not isinstance(context, dict):
        raise _bad("context", f"must be an object, not {_shown(context)}")
    patient_id = _required(context, "patientId", "context.")
    if not _FHIR_ID.fullmatch(patient_id):
        raise _bad("context.patientId", f"is not a FHIR id: {_shown(patient_id)}")
    _string(context, "userId", "context.")
    orders = _draft_orders(context) if service.hook == "order-select" else ()
    return HookRequest(
        hook=service.hook,
        hook_instance=instance,
        patient_id=patient_id,
        context=context,
        prefetch=_prefetch(data),
        fhir_server=_fhir_server(data),
        fhir_authorization=_authorization(data),
        draft_orders=orders,
    )
