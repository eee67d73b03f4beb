"""Fetching what the prefetch lacks from the EHR's FHIR server, with its token and a timeout.

The standard library's HTTP client is enough for a handful of searches per hook call; it follows
no redirects (a token is never carried to another host) and only follows a Bundle's ``next``
links that stay on the same server.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from typing import Any

from mbc_rules.service.contract import MAX_BODY_BYTES, PREFETCH, RequestError
from mbc_rules.service.hooks import Entry, FhirAuthorization, Resource, resources_of

MAX_PAGES = 20


class FetchError(Exception):
    """The FHIR server could not give what was asked: down, slow, refusing or not FHIR."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _query(template: str, patient_id: str) -> str:
    return template.replace("{{context.patientId}}", patient_id)


def _get(url: str, authorization: FhirAuthorization | None, timeout: float) -> Any:
    headers = {"Accept": "application/fhir+json, application/json"}
    if authorization is not None:
        headers["Authorization"] = f"Bearer {authorization.access_token}"
    request = urllib.request.Request(url, headers=headers, method="GET")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise FetchError(f"GET {url}: the FHIR server answered {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise FetchError(f"GET {url}: {reason}") from None
    if len(body) > MAX_BODY_BYTES:
        raise FetchError(f"GET {url}: more than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise FetchError(f"GET {url}: the answer is not JSON") from None


def _next_link(bundle: Resource) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) else None
    return None


def fetch_key(
    server: str,
    key: str,
    patient_id: str,
    authorization: FhirAuthorization | None,
    *,
    timeout: float,
) -> list[Entry]:
    """The resources of one prefetch key, read from ``server`` (search pages followed).

    Raises:
        FetchError: naming the URL and what went wrong.
    """
    url: str | None = f"{server}/{_query(PREFETCH[key], patient_id)}"
    deadline = time.monotonic() + timeout
    found: list[Entry] = []
    for _ in range(MAX_PAGES):
        if url is None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"GET {url}: no answer within {timeout:g} s")
        data = _get(url, authorization, remaining)
        try:
            resources = resources_of(data, key)
        except RequestError as error:
            raise FetchError(f"GET {url}: not a FHIR resource or Bundle: {error}") from None
        if resources is None:
            raise FetchError(f"GET {url}: the FHIR server answered an OperationOutcome")
        found.extend(resources)
        following = _next_link(data) if data.get("resourceType") == "Bundle" else None
        url = following if following and following.startswith(server + "/") else None
    raise FetchError(f"{key}: more than {MAX_PAGES} pages of search results")


def fetch_missing(
    server: str,
    keys: Iterable[str],
    patient_id: str,
    authorization: FhirAuthorization | None,
    *,
    timeout: float,
) -> dict[str, list[Entry]]:
    """Fetch each of ``keys``; the first failure stops (the answer would rest on a gap).

    Raises:
        FetchError: naming the URL and what went wrong.
    """
    return {key: fetch_key(server, key, patient_id, authorization, timeout=timeout) for key in keys}
